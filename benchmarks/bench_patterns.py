"""Pattern memory speed: query latency and recall over 1M patterns, build rate, memory per
pattern, and an observe-only backtest against the no-op strategy.

Run: ``python -m benchmarks.bench_patterns [--patterns 1000000] [--backtest] [--charts]``.

* query: k = 20, one query at a time on one core (faiss on one thread), p50 / p90 latency and
  recall@20 against exact search, for vectors of the feature spec's width (28) and of 64 dims.
  The vectors are real EUR/USD pattern vectors (the demo's 186k bars) repeated with small noise
  up to the count, so the index sees the real distribution;
* build: patterns per second from bars (features + shapes + outcomes), on the demo's bars;
* memory: bytes per pattern (columns + vectors + IVF epochs);
* backtest (``--backtest``): observe-only on 1-12 May 2017, the memory predictor (precomputed
  and incremental) vs the no-op strategy, same BacktestNode set-up and bars;
* kernels (``--only-kernels``): the backtest window's queries searched in time-ordered blocks
  by the batch path (numpy/BLAS list by list) and by faiss's compiled IVF scan
  (``search_preassigned`` of a whole block, a range selector on the prefix eligible at the
  block's start, the rows that become eligible inside the block scored by numpy, float64
  re-rank): seconds per step, and whether every answer equals the batch path's.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def _vectors(base: np.ndarray, count: int, dims: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if base.shape[1] >= dims:
        source = base[:, :dims]
    else:
        source = np.hstack([base, base[:, : dims - base.shape[1]]])
    rows = rng.integers(0, source.shape[0], count)
    noise = rng.normal(0.0, 0.02, (count, dims)).astype(np.float32)
    out: np.ndarray = (source[rows] + noise).astype(np.float32)
    return out


def bench_queries(base: np.ndarray, count: int, dims: int, queries: int = 300) -> dict[str, Any]:
    """One query at a time (live), then the same queries as one batch (a backtest)."""
    from nautilus_ai.patterns import IndexConfig, PatternIndex, brute_force

    vectors = _vectors(base, count, dims)
    started = time.perf_counter()
    index = PatternIndex.build(vectors, IndexConfig())
    built = time.perf_counter() - started
    probe = _vectors(base, queries, dims, seed=2)
    counts = np.full(queries, count)
    index.search(probe[:1], counts[:1], 20)  # packs the lists (once, after the adds)
    from threadpoolctl import threadpool_limits

    latencies, recalls = [], []
    for i in range(queries):
        with threadpool_limits(limits=1):  # one core: numpy's BLAS too (faiss is on one)
            t0 = time.perf_counter()
            ids, _ = index.search(probe[i : i + 1], counts[i : i + 1], 20)
            latencies.append(time.perf_counter() - t0)
        if i < 100:
            exact, _ = brute_force(vectors, probe[i], count, 20)
            recalls.append(len(set(exact.tolist()) & set(ids[0].tolist())) / 20)
    t0 = time.perf_counter()
    index.search(probe, counts, 20)
    batch_us = 1e6 * (time.perf_counter() - t0) / queries
    columns = 8 + 8 + 1 + 5 * 8  # ts_event, available_ns, label, 5 float columns
    return {
        "patterns": count,
        "dims": dims,
        "index_build_s": round(built, 1),
        "epochs": list(index.epoch_rows),
        "p50_ms": round(1e3 * float(np.percentile(latencies, 50)), 3),
        "p90_ms": round(1e3 * float(np.percentile(latencies, 90)), 3),
        "batch_us_per_query": round(batch_us, 1),
        "recall_at_20": round(float(np.mean(recalls)), 4),
        "bytes_per_pattern": round(index.nbytes / count + columns, 1),
    }


def bench_build(catalog: Path) -> dict[str, Any]:
    """Patterns per second from bars (features + outcomes + vectors), against
    ``compute_features`` alone on the same bars in the same run (interleaved, median of 5)."""
    from nautilus_ai.catalog.reader import read_bars
    from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
    from nautilus_ai.patterns import build_from_bars

    ts, ohlcv = read_bars(catalog, BAR_TYPE)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
    spec = FeatureSpec()
    build_from_bars(ts, ohlcv, instrument_id="EUR/USD.SIM")  # warm: imports, zoneinfo tables
    build_s, features_s = [], []
    for _ in range(5):
        started = time.perf_counter()
        patterns = build_from_bars(ts, ohlcv, instrument_id="EUR/USD.SIM")
        build_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        compute_features(spec, ts, *ohlcv.T)
        features_s.append(time.perf_counter() - started)
    build, features = float(np.median(build_s)), float(np.median(features_s))
    return {
        "bars": int(ts.size),
        "patterns": len(patterns),
        "patterns_per_s": round(len(patterns) / build),
        "compute_features_rows_per_s": round(ts.size / features),
        "build_time_over_features_time": round(build / features, 2),
    }


def bench_charts(catalog: Path, bars: int = 2_000) -> dict[str, Any]:
    """Patterns per second with the chart block (a tiny random-weight ViT built offline: 32 px
    charts, 2 layers) against the same bars without it, in the same run."""
    import tempfile

    import torch
    import transformers

    from nautilus_ai.catalog.reader import read_bars
    from nautilus_ai.features import accepted_bars_mask
    from nautilus_ai.patterns import ChartEmbedder, PatternSpec, build_from_bars

    ts, ohlcv = read_bars(catalog, BAR_TYPE)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep][:bars], np.ascontiguousarray(ohlcv[keep][:bars])
    with tempfile.TemporaryDirectory() as folder:
        config = transformers.ViTConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            image_size=32, patch_size=8,
        )  # fmt: skip
        torch.manual_seed(0)
        transformers.ViTModel(config).save_pretrained(folder)
        embedder = ChartEmbedder(folder)
        spec = PatternSpec().with_chart(embedder)
        started = time.perf_counter()
        plain = build_from_bars(ts, ohlcv, instrument_id="EUR/USD.SIM")
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        charted = build_from_bars(
            ts, ohlcv, instrument_id="EUR/USD.SIM", pattern_spec=spec, chart_embedder=embedder
        )
        chart_s = time.perf_counter() - started
    return {
        "patterns": len(charted),
        "dims": charted.dims,
        "without_chart_patterns_per_s": round(len(plain) / plain_s),
        "with_chart_patterns_per_s": round(len(charted) / chart_s),
        "ms_per_chart": round(1e3 * (chart_s - plain_s) / len(charted), 2),
    }


def bench_backtest(
    catalog: Path,
    start: str = "2017-05-01",
    end: str = "2017-05-12",
    repeat: int = 1,
    sources: tuple[str, ...] = ("incremental", "precomputed"),
) -> dict[str, Any]:
    import yaml

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.patterns import PatternMemory, build_from_catalog, save_memory, store_dir

    train_end = int(np.datetime64("2017-04-10", "ns").astype(np.int64))
    memory = PatternMemory(build_from_catalog(catalog, BAR_TYPE, end_ns=train_end))
    save_memory(memory, store_dir(catalog, FeatureSpec().hash, "eurusd-m1-train"))
    base = yaml.safe_load((REPO / "backtests" / "patterns.yaml").read_text())
    base["run"]["data"][0]["catalog_path"] = str(catalog)
    base["run"]["data"][0]["start_time"] = f"{start}T00:00:00Z"
    base["run"]["data"][0]["end_time"] = f"{end}T00:00:00Z"
    ai = base["run"]["engine"]["strategies"][0]
    ai["config"]["predictor"]["catalog_path"] = str(catalog)
    ai["config"]["catalog_path"] = str(catalog)
    variants: dict[str, dict[str, Any]] = {
        "noop": {
            "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
            "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
            "config": {"bar_type": BAR_TYPE},
        },
    }
    for source in sources:
        variant = copy.deepcopy(ai)
        variant["config"].update(observe_only=True, feature_source=source)
        variants[f"observe/{source}"] = variant
    rates: dict[str, list[float]] = {name: [] for name in variants}
    # CPU seconds of the whole run_backtest call (build, run, collect): the box is shared, so
    # the CPU ratio is the steadier one; the engine's bars/s is wall time of node.run().
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    decisions: dict[str, int] = {}
    bars = 0
    print(f"  load average at start: {_load()}", flush=True)
    for _ in range(repeat):  # interleaved: the no-op and the memory share the box's moods
        for name, strategy in variants.items():
            data = copy.deepcopy(base)
            data["name"] = name.replace("/", "-")
            data["run"]["engine"]["strategies"] = [strategy]
            run_file = parse_run_file(data, REPO / "benchmarks")
            started = time.process_time()
            outcome = run_backtest(run_file, write=False)
            cpu[name].append(time.process_time() - started)
            rates[name].append(outcome.summary.bars_per_s)
            decisions[name] = len(outcome.decisions)
            bars = outcome.summary.bars
            print(
                f"  {name:22s} {outcome.summary.bars_per_s:>9,.0f} bars/s  "
                f"{cpu[name][-1]:6.2f} s CPU (whole call)",
                flush=True,
            )
    print(f"  load average at end: {_load()}; bars: {bars:,}", flush=True)
    noop = float(np.median(rates["noop"]))
    noop_cpu = float(np.median(cpu["noop"]))
    return {
        name: {
            "bars_per_s": round(float(np.median(values))),
            "decisions": decisions[name],
            "ratio_to_noop": round(float(np.median(values)) / noop, 3),
            "cpu_s": round(float(np.median(cpu[name])), 2),
            "cpu_ratio_to_noop": round(noop_cpu / float(np.median(cpu[name])), 3),
        }
        for name, values in rates.items()
    }


def bench_kernels(
    catalog: Path, start: str, end: str, block: int = 4096, fetch: int = 32
) -> dict[str, Any]:
    """The window's queries, in blocks of ``block``, through the batch path and faiss's scan."""
    import faiss

    from nautilus_ai.patterns import PatternMemory, build_from_catalog
    from nautilus_ai.patterns import index as ix

    every = build_from_catalog(catalog, BAR_TYPE)
    train_end = int(np.datetime64("2017-04-10", "ns").astype(np.int64))
    lo, hi = (int(np.datetime64(t, "ns").astype(np.int64)) for t in (start, end))
    before = every.ts_event < hi
    memory = PatternMemory(every.take(np.flatnonzero(before & (every.ts_event < train_end))))
    memory.add(every.take(np.flatnonzero(before & (every.ts_event >= train_end))))  # live
    window = np.flatnonzero((every.ts_event >= lo) & (every.ts_event < hi))
    queries = np.ascontiguousarray(every.vectors[window])
    counts = memory.eligible_count(every.ts_event[window])
    index, k = memory.index, 20
    epochs = index._epoch_for(counts)
    if epochs.min() < 0 or (epochs != epochs[0]).any():
        raise SystemExit("the window's queries must all use one IVF epoch")
    epoch = index._epochs[int(epochs[0])]
    index.search(queries[:block], counts[:block], k)  # packs the lists
    started = time.process_time()
    want_ids, want_d = index.search(queries, counts, k)
    batch_s = time.process_time() - started
    index._extend_scan(epoch)
    slack, floor = ix._scan_slack(index.dims)
    split = dict.fromkeys(("lists", "faiss_scan", "block_rows", "rerank"), 0.0)
    ids_out = np.full(want_ids.shape, -1, dtype=np.int64)
    d_out = np.full(want_d.shape, np.inf)
    unproven = 0
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for s in range(0, queries.shape[0], block):
            q, m = queries[s : s + block], counts[s : s + block]
            n, first = q.shape[0], int(m.min())
            t0 = time.process_time()
            probes = ix._nearest_lists(q, epoch.centroids, index.config.nprobe,
                                       augmented=epoch.augmented)  # fmt: skip
            t1 = time.process_time()
            params = faiss.SearchParametersIVF(
                sel=faiss.IDSelectorRange(0, first, True), nprobe=probes.shape[1]
            )
            dist = np.empty((n, fetch), dtype=np.float32)
            ids = np.empty((n, fetch), dtype=np.int64)
            coarse = np.zeros(probes.shape, dtype=np.float32)
            epoch.scan.search_preassigned_c(
                n, faiss.swig_ptr(q), fetch, faiss.swig_ptr(probes), faiss.swig_ptr(coarse),
                faiss.swig_ptr(dist), faiss.swig_ptr(ids), False, params,
            )  # fmt: skip
            t2 = time.process_time()
            found = (ids >= 0).sum(axis=1)
            limit = np.where(found < k, np.inf, dist[:, k - 1].astype(np.float64) * slack + floor)
            unproven += int(((found >= fetch) & (dist[:, -1] <= limit)).sum())
            who, col = np.nonzero((ids >= 0) & (dist.astype(np.float64) <= limit[:, None]))
            rows = ids[who, col]
            top = int(m.max())
            if top > first:  # rows that become eligible inside the block: numpy, per query
                probed = np.zeros((n, epoch.nlist), dtype=bool)
                probed[np.arange(n)[:, None], probes] = True
                fresh = np.arange(first, top)
                r, c = np.nonzero(probed[:, epoch.lists[first:top]] & (fresh < m[:, None]))
                who, rows = np.concatenate([who, r]), np.concatenate([rows, fresh[c]])
            t3 = time.process_time()
            exact = ix._pair_distances(index._rows[:, : index.dims], q.astype(np.float64),
                                       who, rows)  # fmt: skip
            order = np.lexsort((rows, exact, who))
            who, rows, exact = who[order], rows[order], exact[order]
            sizes = np.bincount(who, minlength=n)
            slot = np.arange(who.size) - np.concatenate([[0], np.cumsum(sizes)[:-1]])[who]
            kept = slot < k
            ids_out[s + who[kept], slot[kept]] = rows[kept]
            d_out[s + who[kept], slot[kept]] = exact[kept]
            t4 = time.process_time()
            for name, spent in zip(split, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                split[name] += spent
    finally:
        faiss.omp_set_num_threads(threads)
    equal = bool(np.array_equal(ids_out, want_ids) and d_out.tobytes() == want_d.tobytes())
    n_q = queries.shape[0]
    return {
        "queries": n_q,
        "patterns": len(memory),
        "batch_path_s": round(batch_s, 3),
        "batch_path_us_per_query": round(1e6 * batch_s / n_q, 1),
        "faiss_block_s": round(sum(split.values()), 3),
        "faiss_block_us_per_query": round(1e6 * sum(split.values()) / n_q, 1),
        "faiss_block_split_s": {name: round(v, 3) for name, v in split.items()},
        "faiss_unproven_queries": unproven,
        "faiss_answers_equal_batch_path": equal,
    }


def _load() -> str:
    import os

    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_patterns")
    parser.add_argument("--patterns", type=int, default=1_000_000)
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--backtest", action="store_true")
    parser.add_argument("--only-backtest", action="store_true")
    parser.add_argument("--start", default="2017-05-01", help="backtest window start (UTC)")
    parser.add_argument("--end", default="2017-05-12", help="backtest window end (UTC)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--variants", default="incremental,precomputed", help="memory variants beside the no-op"
    )
    parser.add_argument("--dims", default="native,64", help="query widths: native and/or ints")
    parser.add_argument("--charts", action="store_true", help="also: the chart block's cost")
    parser.add_argument("--only-charts", action="store_true")
    parser.add_argument("--only-kernels", action="store_true", help="batch path vs faiss scan")
    args = parser.parse_args(argv)

    from nautilus_ai.patterns import build_from_catalog
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(args.catalog)
    if args.only_kernels:
        print(f"kernels ({args.start} .. {args.end}):", flush=True)
        print(bench_kernels(catalog, args.start, args.end), flush=True)
        return 0
    if args.charts or args.only_charts:
        print("chart block (tiny ViT):", bench_charts(catalog), flush=True)
        if args.only_charts:
            return 0
    if not args.only_backtest:
        print("build from bars:", bench_build(catalog), flush=True)
        base = build_from_catalog(catalog, BAR_TYPE).vectors
        for width in args.dims.split(","):
            dims = base.shape[1] if width == "native" else int(width)
            print(f"query, {dims} dims:", bench_queries(base, args.patterns, dims), flush=True)
    if args.backtest or args.only_backtest:
        print(f"backtest (observe-only, {args.start} .. {args.end}):")
        sources = tuple(args.variants.split(","))
        print(bench_backtest(catalog, args.start, args.end, args.repeat, sources), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
