"""Feature engine speed on the real data: incremental us/bar, vectorised rows/s, max abs diff.

Run: ``.venv/bin/python -m benchmarks.bench_features [--repeat 3] [--data-dir DIR]``.
Targets: incremental <= 15 us/bar (pure Python), vectorised >= 2M rows/s, diff <= 1e-9.
Input: all HistData EUR/USD M1 bars of Jan-Jun 2017 (186,348 bars, America/New_York wall
time, bar-start stamps; converted to UTC close times here).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from nautilus_ai.features import FeatureEngine, FeatureSpec, compute_features
from nautilus_ai.paths import shared_data_dir

NS = 1_000_000_000


def load_histdata_m1(paths: list[Path]) -> tuple[np.ndarray, ...]:
    """``(ts_close_ns, open, high, low, close, volume)`` from HistData M1 files (New York time)."""
    new_york = ZoneInfo("America/New_York")
    ts: list[int] = []
    cols: list[list[float]] = [[], [], [], [], []]
    hour_start: dict[str, int] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            stamp, *values = line.split(";")
            key = stamp[:11]
            if key not in hour_start:
                local = datetime.strptime(key, "%Y%m%d %H").replace(tzinfo=new_york)
                hour_start[key] = int(local.astimezone(UTC).timestamp())
            ts.append((hour_start[key] + int(stamp[11:13]) * 60 + int(stamp[13:15]) + 60) * NS)
            for col, value in zip(cols, values, strict=True):
                col.append(float(value))
    return (np.array(ts, dtype=np.int64), *(np.array(col) for col in cols))


def _incremental(spec: FeatureSpec, bars: tuple[np.ndarray, ...]) -> tuple[float, np.ndarray]:
    rows_in = list(zip(*(a.tolist() for a in bars), strict=True))
    engine = FeatureEngine(spec)
    update = engine.update
    start = time.perf_counter()
    rows = [update(*row) for row in rows_in]
    elapsed = time.perf_counter() - start
    return elapsed, np.array(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_features", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per path (median)")
    parser.add_argument("--data-dir", default=None, help="shared data folder")
    args = parser.parse_args(argv)

    paths = sorted((shared_data_dir(args.data_dir) / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*"))
    bars = load_histdata_m1(paths)
    n = bars[0].shape[0]
    spec = FeatureSpec()
    print(f"bars: {n:,} (HistData EUR/USD M1 2017-01..06), features: {len(spec.names)}")
    print(f"spec hash: {spec.hash}, warmup_bars: {spec.warmup_bars}")

    start = time.perf_counter()
    x = compute_features(spec, *bars)
    cold = time.perf_counter() - start
    vec_c = []
    vec_f = []
    for _ in range(max(args.repeat, 5)):
        start = time.perf_counter()
        x = compute_features(spec, *bars)
        vec_c.append(time.perf_counter() - start)
        start = time.perf_counter()
        compute_features(spec, *bars, order="F")
        vec_f.append(time.perf_counter() - start)

    inc = []
    y = x
    for _ in range(args.repeat):
        elapsed, y = _incremental(spec, bars)
        inc.append(elapsed)

    same_nan = bool(np.array_equal(np.isnan(x), np.isnan(y)))
    diff = float(np.abs(np.nan_to_num(x - y, nan=0.0)).max())
    exact_columns = sum(
        bool(np.array_equal(x[:, j], y[:, j], equal_nan=True)) for j in range(x.shape[1])
    )
    us_per_bar = statistics.median(inc) / n * 1e6
    rows_per_s = n / statistics.median(vec_c)
    print(
        f"incremental: {us_per_bar:.2f} us/bar (median of {len(inc)}; "
        f"min {min(inc) / n * 1e6:.2f})  target <= 15"
    )
    print(
        f"vectorised:  {rows_per_s / 1e6:.2f} M rows/s (median of {len(vec_c)}, C order; "
        f"best {n / min(vec_c) / 1e6:.2f}; F order {n / statistics.median(vec_f) / 1e6:.2f}; "
        f"first call {n / cold / 1e6:.2f})  target >= 2"
    )
    print(
        f"max abs diff: {diff:.3g} (target <= 1e-9); NaN positions equal: {same_nan}; "
        f"bit-identical columns: {exact_columns}/{x.shape[1]}"
    )
    return 0 if same_nan and diff <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
