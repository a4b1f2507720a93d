"""SIGKILL during a logged backtest (a real subprocess) leaves a readable catalog: every part
flushed before the kill is complete, nothing half-written is visible, only the buffer is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.catalog import FeatureSnapshot, read_bars, read_snapshots
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features

HERE = Path(__file__).resolve().parent
FLUSH_ROWS = 3_000
KILL_AFTER_PARTS = 4


def test_sigkill_mid_run_leaves_every_flushed_part_readable(
    demo_catalog: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "custom_feature_snapshot" / "killed"
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "logged_backtest.py"), str(demo_catalog), str(tmp_path),
             "killed", str(FLUSH_ROWS)],
            stdout=subprocess.DEVNULL, stderr=stderr, env=dict(os.environ, PYTHONPATH=str(HERE)),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"run ended before the kill: {errors.read_text()[-2000:]}")
            if folder.is_dir() and len(list(folder.glob("*.parquet"))) >= KILL_AFTER_PARTS:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("no parts appeared within 300 s")
        os.kill(process.pid, signal.SIGKILL)  # mid-run: the backtest has ~186k bars to go through
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)

    parts = sorted(folder.glob("*.parquet"))
    assert len(parts) >= KILL_AFTER_PARTS
    for part in parts:  # complete files: footer, row count = one flush
        assert pq.ParquetFile(part).metadata.num_rows == FLUSH_ROWS
    snaps = read_snapshots(tmp_path, "killed")
    assert len(snaps) == FLUSH_ROWS * len(parts) < 186_000  # only the buffer was lost
    queried = ParquetDataCatalog(str(tmp_path)).query(FeatureSnapshot, identifiers=["killed"])
    assert [q.data.ts_event for q in queried] == snaps.ts_event.tolist()
    # what was kept is right: the logged vectors are the features of those bars
    ts, ohlcv = read_bars(demo_catalog, "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")
    keep = accepted_bars_mask(ts, *ohlcv.T)
    features = compute_features(FeatureSpec(), ts[keep], *ohlcv[keep].T)
    rows = np.searchsorted(ts[keep], snaps.ts_event)
    np.testing.assert_array_equal(snaps.features, features[rows])
    # a temp file from the interrupted flush (if any) is invisible to every reader
    assert all(p.name.endswith(".parquet") and not p.name.startswith(".") for p in parts)
