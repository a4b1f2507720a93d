"""Predictor speed: per-bar ``predict`` of each backend, the torch module alone, and batches.

Run: ``.venv/bin/python -m benchmarks.bench_models`` (add ``--rows N`` for the batch size).
Figures are microseconds, the best of 5 repeats (the box is shared and noisy); 1 torch thread.
The feature rows are synthetic but shaped like warm 1-minute EUR/USD v1 features, so the rule
takes all of its branches (its per-call cost depends a little on which one).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray


def synthetic_features(names: tuple[str, ...], n: int, seed: int = 0) -> NDArray[np.float64]:
    """Rows with the ranges of warm v1 features on 1-minute EUR/USD (measured percentiles)."""
    rng = np.random.default_rng(seed)
    col = {name: i for i, name in enumerate(names)}
    x = rng.normal(0.0, 1.0, size=(n, len(names)))
    x[:, col["ret_1"]] *= 1.5e-4
    x[:, col["ret_5"]] *= 3.5e-4
    x[:, col["ret_15"]] *= 6e-4
    x[:, col["rsi"]] = np.clip(0.5 + 0.11 * x[:, col["rsi"]], 0, 1)
    for name in ("macd_line", "macd_signal"):
        x[:, col[name]] *= 1e-4
    x[:, col["macd_hist"]] *= 5e-5
    x[:, col["atr_close"]] = np.abs(1.8e-4 + 8e-5 * x[:, col["atr_close"]]) + 2e-5
    x[:, col["ema20_dist_atr"]] *= 1.4
    x[:, col["ema50_dist_atr"]] *= 2.3
    x[:, col["vol_pct_rank"]] = rng.uniform(0, 1, n)
    x[:, col["vol_regime"]] = np.where(
        x[:, col["vol_pct_rank"]] < 0.2, -1.0, np.where(x[:, col["vol_pct_rank"]] > 0.8, 1.0, 0.0)
    )
    x[:, col["warm"]] = 1.0
    return np.ascontiguousarray(x)


def per_call_us(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Mean time per call in microseconds: the best of ``repeat`` runs (least disturbed)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number * 1e6)
    return min(times)


def per_row_us(fn: Callable[[], object], rows: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of one batch call, per row, in microseconds (after a warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) / rows * 1e6)
    return min(times)


def rows_cycle(rows: NDArray[np.float64]) -> Callable[[], NDArray[np.float64]]:
    items = [rows[i] for i in range(len(rows))]
    state = {"i": 0}

    def next_row() -> NDArray[np.float64]:
        i = state["i"]
        state["i"] = (i + 1) % len(items)
        return items[i]

    return next_row


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_models")
    parser.add_argument("--rows", type=int, default=100_000, help="batch size for batch figures")
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timing repeat")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models import MarketContext
    from nautilus_ai.models.rule import RulePredictor
    from nautilus_ai.models.torch_mlp import TorchPredictor

    spec = FeatureSpec()
    features = synthetic_features(spec.names, args.rows)
    context = MarketContext("EUR/USD.SIM", 0, spec_hash=spec.hash)
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads 1, rows {args.rows}")

    rule = RulePredictor(spec)
    signs, _, _, _ = rule.predict_arrays(features)
    nxt = rows_cycle(features[:4096])
    rule_us = per_call_us(lambda: rule.predict(nxt(), context), args.calls)
    print(
        f"rule predict                      {rule_us:8.2f} us/call "
        f"(fires on {np.mean(signs != 0):.1%} of these rows)"
    )
    arrays_us = per_row_us(lambda: rule.predict_arrays(features), args.rows)
    print(f"rule predict_arrays               {arrays_us:8.3f} us/row")
    batch_us = per_row_us(lambda: rule.predict_batch(features), args.rows)
    print(f"rule predict_batch (Predictions)  {batch_us:8.3f} us/row")

    for hidden, activation in (((64,), "relu"), ((64, 32), "gelu")):
        model = TorchPredictor.random(
            spec, seed=7, hidden=hidden, activation=activation, device="cpu"
        )
        tag = f"mlp {len(spec.names)}->{'->'.join(map(str, hidden))}->3 {activation}"
        nxt = rows_cycle(features[:4096])
        twin_us = per_call_us(lambda m=model, r=nxt: m.predict(r(), context), args.calls)
        module = model.module
        one = torch.from_numpy(features[:1]).float()
        with torch.inference_mode():
            module_us = per_call_us(lambda m=module, x=one: m(x), args.calls // 4)
        print(f"{tag}: numpy-twin predict      {twin_us:8.2f} us/call")
        print(
            f"{tag}: torch module 1 row      {module_us:8.2f} us/call "
            f"(twin is {module_us / twin_us:.1f}x faster)"
        )
        for dtype in ("float64", "float32"):
            batch_model = TorchPredictor.random(
                spec, seed=7, hidden=hidden, activation=activation, device="cpu", batch_dtype=dtype
            )
            proba_us = per_row_us(lambda b=batch_model: b.predict_proba_batch(features), args.rows)
            full_us = per_row_us(lambda b=batch_model: b.predict_batch(features), args.rows)
            print(
                f"{tag}: batch {dtype} proba     {proba_us:8.3f} us/row; "
                f"with Prediction objects {full_us:.3f} us/row"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
