"""A run whose feature log never closed (killed, crashed, lost rows, or still running) is not
read as a complete one: the readers refuse it naming the run and why, unless asked to read it
as it is. A closed run, and a run logged before the open-run record existed, read as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from catalog_helpers import MINUTE, T0, TinySpec, record_rows

from nautilus_ai.catalog import (
    FeatureLogConfig,
    FeatureLogger,
    OpenRunError,
    PartWriter,
    PartWriterError,
    decisions_with_outcomes,
    read_outcomes,
    read_snapshots,
)
from nautilus_ai.catalog.run_state import OPEN_RECORD


def _logger(root: Path, run_id: str = "run-1", **overrides: Any) -> FeatureLogger:
    return FeatureLogger(
        FeatureLogConfig(catalog_path=str(root), run_id=run_id, flush_rows=4, **overrides),
        spec=TinySpec(),
        instrument_id="EUR/USD.SIM",
        bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
    )


def test_a_closed_run_leaves_no_record_and_reads(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    record_rows(logger, 6)
    assert (logger.snapshot_folder / OPEN_RECORD).is_file()  # open while writing
    logger.close()
    assert not (logger.snapshot_folder / OPEN_RECORD).exists()
    assert len(read_snapshots(tmp_path, "run-1")) == 6
    assert read_outcomes(tmp_path, "run-1").num_rows == 0


@pytest.mark.parametrize("background", [False, True])
def test_a_run_not_closed_is_refused_by_every_reader(tmp_path: Path, background: bool) -> None:
    logger = _logger(tmp_path, background=background)
    record_rows(logger, 9)  # two parts flushed, one row buffered: the process "dies" here
    folder = logger.snapshot_folder
    deadline = time.monotonic() + 30  # the writer thread writes the record before its part
    while len(list(folder.glob("*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    for read in (
        lambda: read_snapshots(tmp_path, "run-1"),
        lambda: read_snapshots(tmp_path),
        lambda: read_outcomes(tmp_path, "run-1"),
        lambda: decisions_with_outcomes(tmp_path, "run-1"),
    ):
        with pytest.raises(OpenRunError, match=r"run run-1: its feature log was never closed"):
            read()
    with pytest.raises(OpenRunError, match=rf"pid {os.getpid()}, still running.*{OPEN_RECORD}"):
        read_snapshots(tmp_path, "run-1")
    assert (folder / OPEN_RECORD).is_file()
    logger.close()
    assert len(read_snapshots(tmp_path, "run-1")) == 9


def test_a_killed_process_is_named_and_allow_open_reads_what_is_there(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    record_rows(logger, 8)  # two parts on disk, never closed
    record = json.loads((logger.snapshot_folder / OPEN_RECORD).read_text())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    record["sessions"][0]["pid"] = int(dead.stdout)  # that process has exited
    (logger.snapshot_folder / OPEN_RECORD).write_text(json.dumps(record))
    with pytest.raises(OpenRunError, match="no longer running: killed or crashed"):
        read_snapshots(tmp_path, "run-1")
    snaps = read_snapshots(tmp_path, "run-1", allow_open=True)
    np.testing.assert_array_equal(snaps.ts_event, [T0 + i * MINUTE for i in range(8)])
    assert decisions_with_outcomes(tmp_path, "run-1", allow_open=True).num_rows >= 0


def test_rows_lost_to_failed_writes_keep_the_run_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: PartWriter, table: Any, metadata: Any = None) -> Path:
        raise PartWriterError("read-only (simulated)")

    real = PartWriter.write
    logger = _logger(tmp_path)
    record_rows(logger, 4)  # written
    monkeypatch.setattr(PartWriter, "write", broken)
    record_rows(logger, 3, start=4)
    stats = logger.close()
    assert stats.shortfall() is not None
    monkeypatch.setattr(PartWriter, "write", real)
    with pytest.raises(OpenRunError, match=r"4 of 7 decision rows.*read-only"):
        read_snapshots(tmp_path, "run-1")


def test_a_session_reopening_a_killed_run_does_not_clear_it(tmp_path: Path) -> None:
    killed = _logger(tmp_path)
    record_rows(killed, 4)  # never closed
    again = _logger(tmp_path)
    record_rows(again, 4, start=10)  # a restarted live node, same run id, later bars
    again.close()
    with pytest.raises(OpenRunError, match="never closed by the session started"):
        read_snapshots(tmp_path, "run-1")
    assert len(read_snapshots(tmp_path, "run-1", allow_open=True)) == 8


def test_a_run_logged_before_the_record_existed_reads_as_before(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    record_rows(logger, 5)
    logger.close()
    assert not (logger.snapshot_folder / OPEN_RECORD).exists()  # what old runs look like
    assert len(read_snapshots(tmp_path, "run-1")) == 5


def test_an_unreadable_record_is_named(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    record_rows(logger, 4)
    (logger.snapshot_folder / OPEN_RECORD).write_text("{cut sh")
    with pytest.raises(OpenRunError, match="open-run record that cannot be read"):
        read_snapshots(tmp_path, "run-1")
    logger.close()  # a record it cannot read is kept, not taken for closed
    with pytest.raises(OpenRunError):
        read_snapshots(tmp_path, "run-1")
