"""The research facade's cost over the engine functions it wraps, on six months of real bars.

Run: ``.venv/bin/python -m benchmarks.bench_research``. Imports the demo catalog (HistData
EUR/USD M1, Jan-Jun 2017, 186k bars) into a temporary folder, then times each facade call
against the bare engine call on the same input, in one run (the ratio is the figure; the box is
shared and noisy). Best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def best_ms(call: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_research")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np

    import nautilus_ai.research as nr
    from nautilus_ai.data.catalog import read_bars
    from nautilus_ai.features import FeatureSpec, compute_features
    from nautilus_ai.models import build_predictor
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    with tempfile.TemporaryDirectory(prefix="bench-research-") as folder:
        catalog, _ = ensure_demo_catalog(Path(folder) / "catalog")
        spec = FeatureSpec()
        raw = read_bars(catalog, BID)
        columns = (raw.open, raw.high, raw.low, raw.close, raw.volume)
        bars = nr.bars(catalog, BID)
        X = nr.features(bars)
        matrix = X.to_numpy()
        accepted = (matrix[:, spec.index("warm")] == 1.0) & np.isfinite(matrix).all(axis=1)
        rule = build_predictor({"kind": "rule"}, spec)
        predictions = nr.predict(X, rule)
        labels = nr.labels(bars)
        report = nr.evaluate(predictions, bars)
        r = args.repeats
        pairs = [
            (
                "read the catalog: nr.bars vs read_bars",
                best_ms(lambda: nr.bars(catalog, BID), r),
                best_ms(lambda: read_bars(catalog, BID), r),
            ),
            (
                "features: nr.features vs compute_features",
                best_ms(lambda: nr.features(bars), r),
                best_ms(lambda: compute_features(spec, raw.ts_event, *columns), r),
            ),
            (
                "rule predictions: nr.predict vs predict_batch (accepted rows)",
                best_ms(lambda: nr.predict(X, rule), r),
                best_ms(lambda: rule.predict_batch(matrix[accepted]), r),
            ),
        ]
        print(f"{len(bars):,} bars, {spec.warmup_bars - 1} warm-up rows held; best of {r}")
        print(f"{'call':<64} {'facade ms':>10} {'engine ms':>10} {'ratio':>7}")
        for name, facade, engine in pairs:
            print(f"{name:<64} {facade:>10.1f} {engine:>10.1f} {facade / engine:>7.2f}")
        singles = [
            ("nr.labels (forward return, 30 bars)", lambda: nr.labels(bars)),
            ("nr.size (default sizer, every call)", lambda: nr.size(predictions, X, bars)),
            ("nr.evaluate (horizon 30)", lambda: nr.evaluate(predictions, bars)),
        ]
        for name, call in singles:
            print(f"{name:<64} {best_ms(call, r):>10.1f}")
        png = Path(folder) / "plot.png"
        plots = [
            ("plot_features (last 2,000 bars) + PNG", lambda: nr.plot_features(bars, X)),
            ("plot_label_balance (26 weeks) + PNG", lambda: nr.plot_label_balance(labels)),
            (
                "plot_confidence with reliability + PNG",
                lambda: nr.plot_confidence(predictions, labels),
            ),
            ("plot_signals (last 2,000 bars) + PNG", lambda: nr.plot_signals(bars, predictions)),
            ("plot_evaluation + PNG", lambda: nr.plot_evaluation(report)),
        ]
        for name, make in plots:
            print(f"{name:<64} {best_ms(lambda m=make: m().savefig(png, dpi=100), r):>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
