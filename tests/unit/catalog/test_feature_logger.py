"""FeatureLogger: buffering, flush triggers, round trip, failures kept for retry, threads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from catalog_helpers import MINUTE, T0, TinySpec, feature_row, prediction, record_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nautilus_ai.catalog import (
    FeatureLogConfig,
    FeatureLogger,
    PartWriter,
    PartWriterError,
    read_outcomes,
    read_snapshots,
)


def _logger(root: Path, **overrides: Any) -> FeatureLogger:
    fields: dict[str, Any] = {"catalog_path": str(root), "run_id": "run-1", "flush_rows": 4}
    fields.update(overrides)
    extra = {k: fields.pop(k) for k in ("clock_ns", "monotonic", "on_error") if k in fields}
    return FeatureLogger(
        FeatureLogConfig(**fields),
        spec=TinySpec(),
        instrument_id="EUR/USD.SIM",
        bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
        **extra,
    )


def _parts(logger: FeatureLogger) -> list[Path]:
    return sorted(logger.snapshot_folder.glob("*.parquet"))


def test_flushes_every_flush_rows_and_on_close(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    record_rows(logger, 10)
    assert [pq.ParquetFile(p).metadata.num_rows for p in _parts(logger)] == [4, 4]
    stats = logger.close()
    assert [pq.ParquetFile(p).metadata.num_rows for p in _parts(logger)] == [4, 4, 2]
    assert (stats.rows_recorded, stats.rows_written, stats.files_written) == (10, 10, 3)
    assert stats.write_errors == 0 and stats.last_error is None


def test_every_column_round_trips(tmp_path: Path) -> None:
    ticks = iter(range(T0 + 7, T0 + 7 + 6 * MINUTE, MINUTE))  # decisions 7 ns after the bar
    logger = _logger(tmp_path, clock_ns=lambda: next(ticks))
    record_rows(logger, 6)
    logger.close()
    snaps = read_snapshots(tmp_path, "run-1")
    assert snaps.feature_names == ("a", "b", "c") and snaps.spec_hash == TinySpec().hash
    assert snaps.feature_spec == {"version": 1, "tiny": True}
    np.testing.assert_array_equal(snaps.features, np.array([feature_row(i) for i in range(6)]))
    np.testing.assert_array_equal(snaps.ts_event, [T0 + i * MINUTE for i in range(6)])
    table = snaps.table.to_pydict()
    for i in range(6):
        p = prediction(i)
        assert table["action"][i] == p.action.value
        assert table["confidence"][i] == p.confidence
        assert table["risk_score"][i] == p.risk_score
        assert table["latency_s"][i] == p.latency
        assert table["model_id"][i] == p.model_id
        assert table["reason"][i] == p.reason
        assert table["intent"][i] == ("enter", "none")[i % 2]
        assert table["quantity"][i] == 1000.0 * (i % 4)
        assert table["order_sent"][i] == (i % 2 == 0)
    assert table["ts_init"] == [T0 + 7 + i * MINUTE for i in range(6)]
    assert set(table["instrument_id"]) == {"EUR/USD.SIM"}
    assert set(table["run_id"]) == {"run-1"}
    assert set(table["type"]) == {"FeatureSnapshot"}


def test_flushes_when_the_interval_has_passed(tmp_path: Path) -> None:
    now = [0.0]
    logger = _logger(tmp_path, flush_rows=1000, flush_interval_s=5.0, monotonic=lambda: now[0])
    record_rows(logger, 3)
    assert _parts(logger) == []
    now[0] = 5.0
    record_rows(logger, 1, start=3)  # this row triggers the time flush
    assert [pq.ParquetFile(p).metadata.num_rows for p in _parts(logger)] == [4]
    logger.close()


def test_flush_if_due_is_what_a_timer_calls(tmp_path: Path) -> None:
    now = [0.0]
    logger = _logger(tmp_path, flush_rows=1000, flush_interval_s=5.0, monotonic=lambda: now[0])
    assert not logger.flush_if_due()  # nothing buffered
    record_rows(logger, 2)
    now[0] = 4.9
    assert not logger.flush_if_due() and _parts(logger) == []
    now[0] = 5.0  # no new row arrives (weekend), the timer flushes anyway
    assert logger.flush_if_due()
    assert [pq.ParquetFile(p).metadata.num_rows for p in _parts(logger)] == [2]
    assert not logger.flush_if_due()
    logger.close()


def test_outcomes_are_logged_with_their_decision(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    trade = SimpleNamespace(
        ts_opened=T0, ts_closed=T0 + 5 * MINUTE, side="long", quantity=2000.0,
        avg_px_open=1.05, avg_px_close=1.06, realized_pnl=19.5, model_id="m/1",
        exit_reason="take_profit", decision_ts=T0,
    )  # fmt: skip
    logger.record_outcome(trade)
    stats = logger.close()
    assert stats.outcomes_written == 1
    row = read_outcomes(tmp_path, "run-1").to_pylist()[0]
    assert row["decision_ts"] == T0 and row["holding_ns"] == 5 * MINUTE
    assert row["realized_pnl"] == 19.5 and row["exit_reason"] == "take_profit"
    assert row["ts_event"] == row["ts_init"] == T0 + 5 * MINUTE
    assert row["type"] == "DecisionOutcome" and row["instrument_id"] == "EUR/USD.SIM"


def test_a_failed_write_keeps_the_rows_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = PartWriter.write
    failures = [1]

    def flaky(self: PartWriter, table: Any, metadata: Any = None) -> Path:
        if failures[0]:
            failures[0] -= 1
            raise PartWriterError("disk full (simulated)")
        return real_write(self, table, metadata)

    monkeypatch.setattr(PartWriter, "write", flaky)
    errors: list[str] = []
    logger = _logger(tmp_path, on_error=errors.append)
    record_rows(logger, 4)  # first flush fails
    assert _parts(logger) == [] and len(errors) == 1 and "disk full" in errors[0]
    record_rows(logger, 4, start=4)  # the retry writes both batches, oldest first
    stats = logger.close()
    assert (stats.rows_written, stats.rows_dropped, stats.write_errors) == (8, 0, 1)
    np.testing.assert_array_equal(read_snapshots(tmp_path, "run-1").ts_event,
                                  [T0 + i * MINUTE for i in range(8)])  # fmt: skip


def test_pending_rows_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: PartWriter, table: Any, metadata: Any = None) -> Path:
        raise PartWriterError("read-only (simulated)")

    monkeypatch.setattr(PartWriter, "write", broken)
    logger = _logger(tmp_path, max_pending_rows=6)
    record_rows(logger, 12)
    stats = logger.close()
    assert stats.rows_dropped == 6 and stats.rows_written == 0 and stats.write_errors >= 3


def test_a_second_session_cannot_rewrite_the_same_time_range(tmp_path: Path) -> None:
    first = _logger(tmp_path)
    record_rows(first, 4)
    first.close()
    before = {p.name: p.read_bytes() for p in _parts(first)}
    errors: list[str] = []
    again = _logger(tmp_path, on_error=errors.append)
    record_rows(again, 4)  # same timestamps, same run id
    stats = again.close()
    assert stats.rows_written == 0 and errors and "not after the last stored" in errors[0]
    assert {p.name: p.read_bytes() for p in _parts(first)} == before


def test_background_writer_writes_the_same_parts(tmp_path: Path) -> None:
    sync = _logger(tmp_path / "sync")
    threaded = _logger(tmp_path / "thread", background=True)
    for logger in (sync, threaded):
        record_rows(logger, 11)
        assert logger.close().rows_written == 11
    a = read_snapshots(tmp_path / "sync", "run-1")
    b = read_snapshots(tmp_path / "thread", "run-1")
    np.testing.assert_array_equal(a.features, b.features)
    assert a.table.equals(b.table)
    assert len(_parts(threaded)) == 3


def test_records_after_close_are_ignored(tmp_path: Path) -> None:
    logger = _logger(tmp_path)
    record_rows(logger, 2)
    logger.close()
    record_rows(logger, 2, start=2)
    assert logger.close().rows_recorded == 2


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"run_id": "a/b"}, "run_id"),
        ({"flush_rows": 0}, "flush_rows"),
        ({"flush_interval_s": 0}, "flush_interval_s"),
        ({"catalog_path": ""}, "catalog_path"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_config_errors_name_the_field(fields: dict[str, Any], name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        FeatureLogConfig(**{"catalog_path": "x", **fields})


def test_default_run_ids_are_unique(tmp_path: Path) -> None:
    a = _logger(tmp_path, run_id=None)
    b = _logger(tmp_path, run_id=None)
    assert a.run_id != b.run_id and a.run_id.startswith("EURUSD.SIM-")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.integers(0, 40), flush_rows=st.integers(1, 9))
def test_whatever_the_flush_size_every_row_comes_back(
    tmp_path_factory: pytest.TempPathFactory, rows: int, flush_rows: int
) -> None:
    root = tmp_path_factory.mktemp("prop")
    logger = _logger(root, flush_rows=flush_rows, fsync=False)
    record_rows(logger, rows)
    stats = logger.close()
    assert stats.rows_written == rows
    assert stats.files_written == -(-rows // flush_rows)
    if rows:
        snaps = read_snapshots(root, "run-1")
        np.testing.assert_array_equal(snaps.features, [feature_row(i) for i in range(rows)])


def test_record_holds_logs_what_record_would_for_quiet_decisions(tmp_path: Path) -> None:
    """The precomputed path's bulk call writes the same rows as one record() per quiet bar,
    across part boundaries (flush_rows=4, 10 rows)."""
    n = 10
    preds = [prediction(i) for i in range(n)]
    one_by_one = _logger(tmp_path / "a")
    for i, p in enumerate(preds):
        one_by_one.record(T0 + i * MINUTE, feature_row(i), p, "none", 0.0, False)
    one_by_one.close()
    bulk = _logger(tmp_path / "b")
    bulk.record_holds(
        np.array([T0 + i * MINUTE for i in range(n)]),
        np.stack([feature_row(i) for i in range(n)]),
        [p.confidence for p in preds], [p.risk_score for p in preds],
        [p.latency for p in preds], [p.action.value for p in preds], "model/0",
        [p.reason for p in preds],
    )  # fmt: skip
    stats = bulk.close()
    assert stats.rows_written == n and stats.files_written == 3
    a, b = read_snapshots(tmp_path / "a", "run-1"), read_snapshots(tmp_path / "b", "run-1")
    assert np.array_equal(a.features, b.features) and np.array_equal(a.ts_event, b.ts_event)
    drop = ["model_id", "ts_init"]  # the bulk call logs one model id; ts_init = ts_event here
    assert a.table.drop_columns(drop).equals(b.table.drop_columns(drop))


def test_a_hung_background_writer_never_blocks_the_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a disk that stops answering (a hung NFS mount) held the writer thread; once its queue of
    # 4 parts filled, flush() on the strategy's thread blocked forever, and close() too
    import threading
    import time

    from nautilus_ai.catalog import logger as logger_module

    release = threading.Event()
    real_write = PartWriter.write

    def hung(self: PartWriter, table: Any, metadata: Any = None) -> Path:
        release.wait(30)
        return real_write(self, table, metadata)

    monkeypatch.setattr(PartWriter, "write", hung)
    monkeypatch.setattr(logger_module, "_PUT_TIMEOUT_S", 0.2)
    errors: list[str] = []
    logger = _logger(tmp_path, background=True, on_error=errors.append, max_pending_rows=1000)
    started = time.monotonic()
    try:
        record_rows(logger, 40)  # 10 flushes of 4 rows: the queue (4) and the thread (1) fill
        stats = logger.close()
        assert time.monotonic() - started < 10
        assert errors and any("writer" in e for e in errors)
        assert stats.rows_dropped == 0
    finally:
        release.set()


def test_data_info_lists_a_logged_run_with_its_time_range(tmp_path: Path) -> None:
    # 'data info' listed decision logs like instrument definitions: the row count but no first
    # / last time (and no overlap check), so the period a log covers could not be seen.
    from nautilus_ai.data.catalog import catalog_info
    from nautilus_ai.timefmt import utc_millis

    logger = _logger(tmp_path)
    record_rows(logger, 10)
    logger.close()
    info = catalog_info(tmp_path)
    (snapshots,) = [d for d in info.datasets if d.data_type == "custom_feature_snapshot"]
    assert (snapshots.identifier, snapshots.rows, snapshots.files) == ("run-1", 10, 3)
    assert (snapshots.first_ns, snapshots.last_ns) == (T0, T0 + 9 * MINUTE)
    assert snapshots.sources == () and not snapshots.overlapping_files
    assert f"{utc_millis(T0)} .. {utc_millis(T0 + 9 * MINUTE)}" in info.to_text()
