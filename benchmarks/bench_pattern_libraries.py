"""ANN libraries for the pattern memory, side by side: speed, recall, build time, bytes per pattern.

Run: ``python -m benchmarks.bench_pattern_libraries [--patterns 1000000] [--dims 64]
[--libs ours,faiss-ivf,faiss-pq,faiss-hnsw,hnswlib,usearch]``.

The vectors are the demo's real EUR/USD pattern vectors (186k) resampled with small noise up to
``--patterns`` (as ``bench_patterns``). k = 20, 300 queries one at a time, every library pinned
to one thread for queries (faiss ``omp_set_num_threads(1)``, hnswlib ``set_num_threads(1)``,
usearch ``threads=1``, numpy's BLAS through threadpoolctl). Recall@20 against exact search
(faiss ``IndexFlatL2``).

Only ``ours`` (``nautilus_ai.patterns.PatternIndex``) answers the memory's question, "the k
nearest of the first m rows" with no look-ahead; the others are measured on the whole set (their
best case) to show what the choice costs. hnswlib and usearch are not dependencies of the package:
``pip install hnswlib usearch`` to measure them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.bench_patterns import BAR_TYPE, _vectors

K = 20


def _timed(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[Any, ...]:
    """p50 / p90 latency (ms) of one query at a time, then the answers (separately: the recall
    computation must not disturb the timing)."""
    from threadpoolctl import threadpool_limits

    search(queries[:1])  # warm
    latencies = []
    with threadpool_limits(limits=1):  # numpy's BLAS on one thread too: one core
        for i in range(queries.shape[0]):
            started = time.perf_counter()
            search(queries[i : i + 1])
            latencies.append(time.perf_counter() - started)
    answers = [search(queries[i : i + 1]) for i in range(queries.shape[0])]
    return (
        round(1e3 * float(np.percentile(latencies, 50)), 3),
        round(1e3 * float(np.percentile(latencies, 90)), 3),
        answers,
    )


def _recall(answers: list[np.ndarray], exact: np.ndarray) -> float:
    pairs = zip(answers, exact, strict=True)
    hits = [len(set(np.ravel(a)[:K].tolist()) & set(e.tolist())) / K for a, e in pairs]
    return round(float(np.mean(hits)), 4)


def _file_bytes(save: Callable[[str], Any]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "index")
        save(path)
        return os.path.getsize(path)


def run(vectors: np.ndarray, queries: np.ndarray, libs: list[str]) -> list[dict[str, Any]]:
    import faiss

    faiss.omp_set_num_threads(1)
    n, dims = vectors.shape
    flat = faiss.IndexFlatL2(dims)
    flat.add(vectors)
    _, exact = flat.search(queries, K)
    del flat
    rows: list[dict[str, Any]] = []

    def record(name: str, setting: str, build_s: float, nbytes: float, timed: tuple[Any, ...]):
        p50, p90, answers = timed
        row = {
            "index": name,
            "setting": setting,
            "build_s": round(build_s, 1),
            "p50_ms": p50,
            "p90_ms": p90,
            "recall_at_20": _recall(answers, exact),
            "bytes_per_pattern": round(nbytes / n, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    if "ours" in libs:
        from nautilus_ai.patterns import IndexConfig, PatternIndex

        started = time.perf_counter()
        index = PatternIndex.build(vectors, IndexConfig())
        built = time.perf_counter() - started
        counts = np.array([n])
        index.search(queries[:1], counts, K)  # builds the scanning lists once
        for nprobe in (16, 24, 32):
            index.config = IndexConfig(nprobe=nprobe)
            timed = _timed(lambda q: index.search(q, counts, K)[0], queries)
            record("nautilus PatternIndex (faiss IVF-flat lists)", f"nprobe {nprobe}", built,
                   index.nbytes, timed)  # fmt: skip
        del index
    if "faiss-ivf" in libs:
        for nlist in (1024, 4096):
            started = time.perf_counter()
            quantizer = faiss.IndexFlatL2(dims)
            ivf = faiss.IndexIVFFlat(quantizer, dims, nlist)
            ivf.cp.max_points_per_centroid = 64  # 64 x nlist training rows (one thread: minutes)
            ivf.train(vectors)
            ivf.add(vectors)
            built = time.perf_counter() - started
            nbytes = _file_bytes(lambda p, ivf=ivf: faiss.write_index(ivf, p))
            for nprobe in (8, 16, 32):
                ivf.nprobe = nprobe
                timed = _timed(lambda q, ivf=ivf: ivf.search(q, K)[1], queries)
                record(f"faiss IVF{nlist},Flat", f"nprobe {nprobe}", built, nbytes, timed)
            del ivf
    if "faiss-pq" in libs:
        # OPQ was left out: its rotation trained in 325 s on one thread here (30k rows).
        m = dims // 4
        started = time.perf_counter()
        base = faiss.index_factory(dims, f"IVF1024,PQ{m}")
        faiss.extract_index_ivf(base).cp.max_points_per_centroid = 64
        base.train(vectors[: min(n, 65_536)])
        refine = faiss.IndexRefineFlat(base)
        refine.add(vectors)
        built = time.perf_counter() - started
        nbytes = _file_bytes(lambda p: faiss.write_index(refine, p))
        for nprobe, factor in ((16, 4), (32, 4), (32, 8)):
            params = faiss.IndexRefineSearchParameters(
                k_factor=factor, base_index_params=faiss.SearchParametersIVF(nprobe=nprobe)
            )
            timed = _timed(lambda q, p=params: refine.search(q, K, params=p)[1], queries)
            record(f"faiss IVF1024,PQ{m} + exact re-rank", f"nprobe {nprobe}, "
                   f"re-rank {factor}k", built, nbytes, timed)  # fmt: skip
        del refine, base
    if "faiss-hnsw" in libs:
        started = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dims, 16)
        hnsw.hnsw.efConstruction = 64
        hnsw.add(vectors)
        built = time.perf_counter() - started
        nbytes = _file_bytes(lambda p: faiss.write_index(hnsw, p))
        for ef in (32, 64, 128):
            hnsw.hnsw.efSearch = ef
            timed = _timed(lambda q: hnsw.search(q, K)[1], queries)
            record("faiss HNSW16,Flat", f"efConstruction 64, efSearch {ef}", built, nbytes, timed)
        del hnsw
    if "hnswlib" in libs:
        import hnswlib

        started = time.perf_counter()
        graph = hnswlib.Index(space="l2", dim=dims)
        graph.init_index(max_elements=n, M=16, ef_construction=64, random_seed=1)
        graph.add_items(vectors, np.arange(n), num_threads=1)
        built = time.perf_counter() - started
        graph.set_num_threads(1)
        nbytes = _file_bytes(graph.save_index)
        for ef in (32, 64, 128):
            graph.set_ef(ef)
            timed = _timed(lambda q: graph.knn_query(q, k=K, num_threads=1)[0], queries)
            record("hnswlib 0.8.0", f"M 16, ef_construction 64, ef {ef}", built, nbytes, timed)
        del graph
    if "usearch" in libs:
        from usearch.index import Index

        started = time.perf_counter()
        graph = Index(ndim=dims, metric="l2sq", dtype="f32", connectivity=16, expansion_add=64)
        graph.add(np.arange(n), vectors, threads=1)
        built = time.perf_counter() - started
        nbytes = float(graph.memory_usage)
        for ef in (32, 64, 128):
            graph.expansion_search = ef
            timed = _timed(lambda q: graph.search(q, K, threads=1).keys, queries)
            record("usearch 2.26.6 (f32)", f"connectivity 16, expansion_add 64, expansion_search "
                   f"{ef}", built, nbytes, timed)  # fmt: skip
        del graph
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_pattern_libraries")
    parser.add_argument("--patterns", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--libs", default="ours,faiss-ivf,faiss-pq,faiss-hnsw,hnswlib,usearch")
    args = parser.parse_args(argv)

    from nautilus_ai.patterns import build_from_catalog
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(args.catalog)
    base = build_from_catalog(catalog, BAR_TYPE).vectors
    vectors = _vectors(base, args.patterns, args.dims)
    queries = _vectors(base, args.queries, args.dims, seed=2)
    print(f"{args.patterns:,} patterns x {args.dims} dims, k = {K}, one thread", flush=True)
    run(vectors, queries, args.libs.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
