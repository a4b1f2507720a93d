"""SIGKILL during a logged backtest (a real subprocess) leaves a readable catalog: every part
flushed before the kill is complete, nothing half-written is visible, only the buffer is lost,
and the run is not taken for a complete one (our readers and the CLI name it as never closed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.catalog import FeatureSnapshot, OpenRunError, read_bars, read_snapshots
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
    # the killed run is not taken for a complete one: the readers name it and why
    with pytest.raises(OpenRunError, match=r"run killed: .*never closed.*no longer running"):
        read_snapshots(tmp_path, "killed")
    snaps = read_snapshots(tmp_path, "killed", allow_open=True)
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


def _open_run_catalog(demo_catalog: Path, tmp_path: Path) -> Path:
    """A copy of the demo catalog holding run ``open``: 2,400 decisions recorded, two parts of
    1,000 on disk, the rest in the buffer, and no close (the process "died")."""
    import shutil

    from nautilus_ai.catalog import FeatureLogConfig, FeatureLogger
    from nautilus_ai.models import Action, Prediction

    catalog = tmp_path / "catalog"
    shutil.copytree(demo_catalog, catalog)
    bar_type = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
    ts, ohlcv = read_bars(catalog, bar_type)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep][:3_000], ohlcv[keep][:3_000]
    features = compute_features(FeatureSpec(), ts, *ohlcv.T)
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(catalog), run_id="open", flush_rows=1_000),
        spec=FeatureSpec(), instrument_id="EUR/USD.SIM", bar_type=bar_type,
    )  # fmt: skip
    hold = Prediction(Action.HOLD, 0.5, 0.5, "rule/v1", 0.0, "")
    for t, row in zip(ts[100:2_500], features[100:2_500], strict=True):
        logger.record(int(t), row, hold, "none", 0.0, False)
    return catalog


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from nautilus_ai.cli import main

    capsys.readouterr()
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run open: its feature log was never closed" in err, err
    assert "--allow-open-run" in err


def test_pattern_builds_refuse_a_run_never_closed_in_one_line(
    demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pattern build from a run that never closed says so in one line instead of learning
    from a log that may stop short; --allow-open-run reads it as it is; data info marks it."""
    from nautilus_ai.cli import main

    catalog = _open_run_catalog(demo_catalog, tmp_path)
    build = ["patterns", "build", "--catalog", str(catalog), "--name", "p", "--run-id", "open",
             "--shape-bars", "8", "--horizon", "5", "--index-mode", "exact"]  # fmt: skip
    _refused(build, capsys)
    assert main(["data", "info", "--catalog", str(catalog)]) == 0  # says so where runs are listed
    assert "OPEN RUN: run open: its feature log was never closed" in capsys.readouterr().out
    assert main([*build, "--allow-open-run"]) == 0
    # the 2,000 rows of the two parts on disk (the 400 buffered ones were lost with the
    # process), less those whose shape or outcome window the bars do not cover
    assert "built 1,987 patterns" in capsys.readouterr().out


@pytest.mark.extra("torch")  # `nautilus-ai train` on a core install refuses for the extra first
def test_training_refuses_a_run_never_closed_in_one_line(
    demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _open_run_catalog(demo_catalog, tmp_path)
    _refused(["train", "--catalog", str(catalog), "--out", str(tmp_path / "artifacts"),
              "--train", "2017-01-01", "2017-01-03", "--validation", "2017-01-03", "2017-01-04",
              "--features", "snapshots", "--run-id", "open"], capsys)  # fmt: skip
    assert not (tmp_path / "artifacts").exists()
