"""Training speed: dataset build from the catalog, and one epoch over 1M rows.

1. Dataset build from the demo catalog (186k real EUR/USD M1 bars), per stage and end to end:
   read the bars (fixed-point Parquet -> float64), recompute the features (vectorised twin),
   label, split into train / validation / test with purging, embargo and the train-window
   normalisation. Also from logged snapshots: read the vectors, recompute and check them.
   Rows/s = bars in / seconds. Best of ``--repeat``.
2. One training epoch of the default MLP (40 -> 64 -> 32 -> 3, batch 1024, AdamW, class
   weights) over **1M synthetic rows x 40 features** (random normal features, random labels:
   speed does not depend on the values), with 1 and 2 torch threads.

Run: ``python -m benchmarks.bench_training [--repeat N] [--rows N] [--catalog PATH]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def _dataset_figures(catalog: Path, repeat: int) -> None:
    from nautilus_ai.catalog import FeatureLogConfig, FeatureLogger, read_bars
    from nautilus_ai.datasets import Fold, Window, build_dataset
    from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
    from nautilus_ai.labels import LabelSpec, make_labels
    from nautilus_ai.models import Action, Prediction
    from nautilus_ai.training import load_training_frame

    spec, label = FeatureSpec(), LabelSpec(horizon=30, buy_threshold=1.5, sell_threshold=1.5)
    fold = Fold(
        train=Window.parse("2017-01-01", "2017-04-10"),
        validation=Window.parse("2017-04-10", "2017-05-01"),
        test=Window.parse("2017-05-01", "2017-07-01"),
    )
    t_read, (ts, ohlcv) = _best(lambda: read_bars(catalog, BAR_TYPE), repeat)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    t_feat, features = _best(lambda: compute_features(spec, ts[keep], *ohlcv[keep].T), repeat)
    t_label, labels = _best(lambda: make_labels(label, ts, *ohlcv[:, :4].T), repeat)
    t_split, _ = _best(
        lambda: build_dataset(ts, features, spec.names, ohlcv, label, fold, labels=labels), repeat
    )
    n = ts.size

    def from_bars() -> Any:
        frame = load_training_frame(catalog, BAR_TYPE, spec)
        return build_dataset(frame.ts, frame.features, spec.names, frame.ohlcv, label, fold)

    t_total, data = _best(from_bars, repeat)
    print(f"dataset build from the catalog, {n:,} bars -> "
          f"{sum(len(s) for s in data.splits()):,} labelled rows:")  # fmt: skip
    for what, seconds in (
        ("read bars (Parquet, fixed-point decode)", t_read),
        ("features (vectorised)", t_feat),
        ("labels", t_label),
        ("split + purge + embargo + norm", t_split),
        ("END TO END from bars", t_total),
    ):
        print(f"  {what:<42} {1e3 * seconds:8.1f} ms  {n / seconds / 1e6:6.2f} M rows/s")

    # From logged snapshots: a run logged into a scratch copy of the catalog.
    scratch = Path(tempfile.mkdtemp(prefix="bench-training-"))
    try:
        shutil.copytree(catalog / "data" / "bar", scratch / "data" / "bar")
        logger = FeatureLogger(
            FeatureLogConfig(catalog_path=str(scratch), run_id="bench", flush_rows=50_000),
            spec=spec, instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE,
        )  # fmt: skip
        hold = Prediction(Action.HOLD, 0.0, 1.0, "bench/1")
        warm = spec.warmup_bars - 1
        for t, row in zip(ts[keep][warm:].tolist(), features[warm:], strict=True):
            logger.record(t, row, hold, "none", 0.0, False)
        logger.close()

        def from_snapshots() -> Any:
            frame = load_training_frame(scratch, BAR_TYPE, spec, source="snapshots", run_id="bench")
            return build_dataset(frame.ts, frame.features, spec.names, frame.ohlcv, label, fold)

        t_snap, _ = _best(from_snapshots, repeat)
        print(f"  {'END TO END from logged snapshots (checked)':<42} {1e3 * t_snap:8.1f} ms  "
              f"{n / t_snap / 1e6:6.2f} M rows/s")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _epoch_figures(rows: int, features: int) -> None:
    from nautilus_ai.training import TrainConfig, fit_mlp

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features)).astype(np.float64)
    y = rng.integers(0, 3, rows)
    mean, std = np.zeros(features), np.ones(features)
    print(f"one epoch, {rows:,} synthetic rows x {features} features, MLP {features}-64-32-3, "
          "batch 1024:")  # fmt: skip
    for threads in (1, 2):
        config = TrainConfig(epochs=2, threads=threads)
        result = fit_mlp(x, y, None, None, mean=mean, std=std, config=config)
        best = min(h.seconds for h in result.history)
        print(f"  {threads} torch thread(s): {best:6.2f} s/epoch  "
              f"({rows / best / 1e6:.2f} M rows/s)  (target <= 5 s)")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_training")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--catalog", default=None)
    args = parser.parse_args(argv)

    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(args.catalog)
    _dataset_figures(Path(catalog), args.repeat)
    _epoch_figures(args.rows, args.features)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
