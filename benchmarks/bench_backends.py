"""Backends: chart rendering, tiny-model generation, TorchServe round trips, cached backtests.

Sections (each can be skipped with ``--skip NAME``):

- ``charts``: 64-bar candlestick chart, 448x448, as a PIL image / array / PNG bytes;
- ``tiny``: tiny random-weight MiniCPM-V 4.6 and Llama-style text models built offline, CPU,
  1 torch thread: restricted scoring (one forward) and JSON generation (greedy, 16 tokens);
- ``torchserve``: a real TorchServe on loopback (token auth on) serving a torch MLP artifact
  (28 -> 64 -> 3, default FeatureSpec) through our handler: ``TorchServePredictor`` round trip for
  one vector and a batch of 64, next to the in-process model;
- ``backtest``: the demo's 186k real EUR/USD bars in a ``BacktestNode``, one process: the no-op
  strategy, then AIPatternStrategy (observe-only) whose predictions come from a warm
  ``CachedPredictor`` (the cache is filled by a first, unmeasured run), precomputed and bar by bar;
  for reference the same strategy with the uncached torch model and with the rule (whose batch
  path is exact, so it is precomputed too: the strategy's own floor).

Run: ``python -m benchmarks.bench_backends [--skip backtest] [--calls N]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _timings(fn: Callable[[], object], calls: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _fmt(samples: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * unit

    return (
        f"p50 {pct(0.5):8.3f} {suffix}  p90 {pct(0.9):8.3f}  p99 {pct(0.99):8.3f}  "
        f"(n={len(samples)})"
    )


def bench_charts(calls: int) -> None:
    from nautilus_ai.charts import chart_array, chart_png, render_chart
    from nautilus_ai.models.testing import synthetic_bars

    bars = synthetic_bars(64, seed=1)
    print("charts (64 bars, 448x448):")
    for name, fn in (("render_chart (PIL)", render_chart), ("chart_array", chart_array)):
        print(f"  {name:24s} {_fmt(_timings(lambda f=fn: f(bars), calls))}")
    print(f"  {'chart_png':24s} {_fmt(_timings(lambda: chart_png(bars), calls))}")
    print(
        f"  png size {len(chart_png(bars)):,} bytes; identical bytes on repeat: "
        f"{chart_png(bars) == chart_png(bars.copy())}"
    )


def bench_tiny(calls: int) -> None:
    import logging

    import torch

    # random weights answer junk JSON: that is expected here, keep the output readable
    logging.getLogger("nautilus_ai.models.transformers_backend").setLevel(logging.ERROR)

    from nautilus_ai.models.testing import market_context, synthetic_bars
    from nautilus_ai.models.tiny_models import build_tiny_minicpmv, build_tiny_text_model
    from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor

    torch.set_num_threads(1)
    features = np.array([0.52, -0.001])
    contexts = [market_context(synthetic_bars(64, seed=i)) for i in range(8)]
    batch = np.tile(features, (8, 1))
    print("tiny models (CPU, 1 torch thread):")
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "MiniCPM-V 4.6 tiny (chart)": build_tiny_minicpmv(Path(tmp) / "vlm"),
            "text tiny (Llama-style)": build_tiny_text_model(Path(tmp) / "text"),
        }
        for label, path in models.items():
            for mode, tokens in (("score", 0), ("json", 16)):
                predictor = TransformersPredictor(
                    TransformersConfig(
                        model_dir=path, answer_mode=mode, max_new_tokens=max(1, tokens)
                    )
                )
                one = _timings(
                    lambda p=predictor: p.predict_items(features[None], contexts[:1]), calls
                )
                eight = _timings(
                    lambda p=predictor: p.predict_items(batch, contexts), max(3, calls // 4)
                )
                what = (
                    "restricted scoring" if mode == "score" else f"JSON generation, {tokens} tokens"
                )
                print(f"  {label:28s} {what:30s} one: {_fmt(one)}")
                print(
                    f"  {'':28s} {'':30s} batch of 8, per row: "
                    f"{statistics.median(eight) / 8 * 1e3:8.3f} ms"
                )
                predictor.close()
        # raw generate() of 32 new tokens, no prompt machinery
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            models["text tiny (Llama-style)"], local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            models["text tiny (Llama-style)"], local_files_only=True
        )
        ids = tokenizer("Instrument: EURUSD features rsi = 0.5", return_tensors="pt")

        def generate() -> None:
            with torch.inference_mode():
                model.generate(
                    **ids,
                    max_new_tokens=32,
                    min_new_tokens=32,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )

        samples = _timings(generate, max(5, calls // 4))
        print(
            f"  text tiny generate(32 tokens) {_fmt(samples)}; "
            f"{statistics.median(samples) / 32 * 1e3:.3f} ms/token"
        )


def bench_torchserve(calls: int) -> None:
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.base import MarketContext
    from nautilus_ai.models.torch_mlp import TorchPredictor, save_artifact
    from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor
    from nautilus_ai.serving import TorchServeProcess, TorchServeSettings, build_archive

    spec = FeatureSpec()
    local = TorchPredictor.random(spec, seed=7)
    rng = np.random.default_rng(0)
    rows = rng.normal(0.0, 0.5, (64, len(spec.names)))
    context = MarketContext("EUR/USD.SIM", 0, tuple(spec.names), spec.hash)
    contexts = [context] * 64
    print("torchserve (loopback, token auth on, 1 worker, torch_threads=1):")
    with tempfile.TemporaryDirectory(prefix="bench-ts-") as tmp:
        root = Path(tmp)
        artifact = save_artifact(local.module, local.card, root / "artifacts")
        build_archive(
            artifact, kind="torch", model_name="mlp", export_dir=root / "store", batch_size=1
        )
        settings = TorchServeSettings(
            model_store=root / "store", workdir=root / "w", models=("mlp=mlp.mar",)
        )
        started = time.perf_counter()
        with TorchServeProcess(settings) as server:
            print(f"  start -> worker READY: {time.perf_counter() - started:.1f} s")
            client = TorchServePredictor(
                TorchServeConfig(
                    model_name="mlp", url=server.inference_url, key_file=server.key_file
                )
            )
            one = _timings(lambda: client.predict(rows[0], context), calls, warmup=20)
            batch = _timings(lambda: client.predict_items(rows, contexts), max(20, calls // 2))
            inproc = _timings(lambda: local.predict(rows[0], context), calls, warmup=20)
            same = [client.predict(r, context) for r in rows[:8]]
            mine = [local.predict(r, context) for r in rows[:8]]
            equal = all(
                (a.action, a.confidence, a.risk_score) == (b.action, b.confidence, b.risk_score)
                for a, b in zip(same, mine, strict=True)
            )
            print(f"  one vector, round trip     {_fmt(one)}   target p50 <= 5 ms")
            print(f"  batch of 64, round trip    {_fmt(batch)}   target p50 <= 10 ms")
            print(f"  in-process TorchPredictor  {_fmt(inproc, 1e6, 'us')}")
            print(f"  served == in-process (action, confidence, risk), 8 rows: {equal}")
            client.close()


def bench_backtest(repeat: int) -> None:
    import yaml

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(None)
    base = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    base["run"]["data"][0]["catalog_path"] = str(catalog)
    ai = dict(base["run"]["engine"]["strategies"][0]["config"])
    ai["catalog_path"] = str(catalog)
    bar_type = ai["bar_type"]

    def variant(name: str, strategy: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(base)
        data["name"] = name
        data["run"]["engine"]["strategies"] = [strategy]
        return data

    def strategy(**changes: Any) -> dict[str, Any]:
        config = dict(ai)
        config.update(changes)
        return {
            "strategy_path": "nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
            "config_path": "nautilus_ai.strategies.ai_pattern:AIPatternConfig",
            "config": config,
        }

    def run(name: str, spec: dict[str, Any]) -> float:
        rates = []
        for _ in range(repeat):
            outcome = run_backtest(
                parse_run_file(variant(name, spec), REPO / "benchmarks"), write=False
            )
            rates.append(outcome.summary.bars_per_s)
        return statistics.median(rates)

    print("backtest (demo catalog, BacktestNode, observe-only):")
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        inner = {"kind": "torch_random", "seed": 7, "hidden": [64]}
        cache_path = str(Path(tmp) / "predictions.parquet")
        fill = {"kind": "cached", "backend": inner, "path": cache_path}
        warm = {"kind": "cached", "backend": inner, "path": cache_path, "read_only": True}
        for source in ("precomputed", "incremental"):  # fill both key sets (with/without ts)
            started = time.perf_counter()
            run(
                f"fill/{source}", strategy(observe_only=True, feature_source=source, predictor=fill)
            )
            print(f"  (cache filled by a {source} run in {time.perf_counter() - started:.1f} s)")
        noop = run(
            "noop",
            {
                "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
                "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
                "config": {"bar_type": bar_type},
            },
        )
        results = {
            "noop": noop,
            "cached/precomputed": run(
                "cached/pre",
                strategy(observe_only=True, feature_source="precomputed", predictor=warm),
            ),
            "cached/incremental": run(
                "cached/inc",
                strategy(observe_only=True, feature_source="incremental", predictor=warm),
            ),
            "torch/precomputed (no cache)": run(
                "torch/pre",
                strategy(observe_only=True, feature_source="precomputed", predictor=inner),
            ),
            "rule/precomputed (reference)": run(
                "rule/pre",
                strategy(
                    observe_only=True, feature_source="precomputed", predictor={"kind": "rule"}
                ),
            ),
        }
    for name, rate in results.items():
        print(f"  {name:30s} {rate:>10,.0f} bars/s   ratio to no-op {rate / noop:.2f}")
    print("  target: cached-prediction backtest >= 0.5 of the no-op strategy's bars/s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_backends")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["charts", "tiny", "torchserve", "backtest"]
    )
    parser.add_argument("--calls", type=int, default=300, help="timed calls per figure")
    parser.add_argument("--repeat", type=int, default=1, help="backtest runs per variant")
    args = parser.parse_args(argv)
    sections: dict[str, Callable[[], None]] = {
        "charts": lambda: bench_charts(args.calls),
        "tiny": lambda: bench_tiny(max(10, args.calls // 10)),
        "torchserve": lambda: bench_torchserve(args.calls),
        "backtest": lambda: bench_backtest(args.repeat),
    }
    for name, section in sections.items():
        if name not in args.skip:
            section()
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
