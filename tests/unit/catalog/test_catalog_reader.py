"""Columnar readers: run selection, filters, joins and bad data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from catalog_helpers import MINUTE, T0, TinySpec, record_rows

from nautilus_ai.catalog import (
    CatalogReadError,
    FeatureLogConfig,
    FeatureLogger,
    decisions_with_outcomes,
    list_runs,
    logged_feature_spec,
    read_outcomes,
    read_snapshots,
)


def _log(root: Path, run_id: str, rows: int, start: int = 0) -> FeatureLogger:
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(root), run_id=run_id, flush_rows=5, fsync=False),
        spec=TinySpec(), instrument_id="EUR/USD.SIM", bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
    )  # fmt: skip
    record_rows(logger, rows, start=start)
    return logger


def test_run_selection(tmp_path: Path) -> None:
    with pytest.raises(CatalogReadError, match="0 logged runs"):
        read_snapshots(tmp_path)
    _log(tmp_path, "one", 3).close()
    assert len(read_snapshots(tmp_path)) == 3  # the only run
    _log(tmp_path, "two", 4).close()
    assert list_runs(tmp_path) == ["one", "two"]
    with pytest.raises(CatalogReadError, match="2 logged runs"):
        read_snapshots(tmp_path)
    with pytest.raises(CatalogReadError, match="no logged run 'three'"):
        read_snapshots(tmp_path, "three")
    assert len(read_snapshots(tmp_path, "two")) == 4
    assert logged_feature_spec(tmp_path, "two") == (TinySpec().hash, {"version": 1, "tiny": True})


def test_time_filter_is_half_open_on_ts_event(tmp_path: Path) -> None:
    _log(tmp_path, "r", 12).close()
    snaps = read_snapshots(tmp_path, "r", start_ns=T0 + 3 * MINUTE, end_ns=T0 + 9 * MINUTE)
    np.testing.assert_array_equal(snaps.ts_event, [T0 + i * MINUTE for i in range(3, 9)])
    assert snaps.features.shape == (6, 3) and snaps.table.num_rows == 6


def test_ragged_vectors_and_mixed_specs_are_refused(tmp_path: Path) -> None:
    _log(tmp_path, "r", 5).close()
    part = next((tmp_path / "data" / "custom_feature_snapshot" / "r").glob("*.parquet"))
    table = pq.read_table(part)
    features = table.column("features").to_pylist()
    features[2] = features[2][:2]
    bad = table.set_column(4, "features", pa.array(features, pa.list_(pa.float64())))
    pq.write_table(bad.replace_schema_metadata(table.schema.metadata), part)
    with pytest.raises(CatalogReadError, match="not all of length 3"):
        read_snapshots(tmp_path, "r")

    other = tmp_path / "other"
    _log(other, "r", 5).close()
    later = _log(other, "r", 4, start=5)  # still buffered (flush_rows=5)
    later._metadata["nautilus_ai.spec_hash"] = "different0000000"
    later.close()
    with pytest.raises(CatalogReadError, match="different feature specs"):
        read_snapshots(other, "r")


def test_decisions_join_their_outcomes(tmp_path: Path) -> None:
    logger = _log(tmp_path, "r", 6)  # rows 0, 2, 4 are 'enter' with order_sent
    logger.record_outcome(SimpleNamespace(
        ts_opened=T0 + 2 * MINUTE, ts_closed=T0 + 3 * MINUTE, side="short", quantity=1000.0,
        avg_px_open=1.1, avg_px_close=1.09, realized_pnl=9.0, model_id="model/0",
        exit_reason="signal_exit", decision_ts=T0 + 2 * MINUTE,
    ))  # fmt: skip
    logger.close()
    joined = decisions_with_outcomes(tmp_path, "r").to_pydict()
    assert joined["ts_event"] == [T0, T0 + 2 * MINUTE, T0 + 4 * MINUTE]
    assert joined["realized_pnl"] == [None, 9.0, None]
    assert joined["exit_reason"] == [None, "signal_exit", None]
    assert joined["holding_ns"] == [None, MINUTE, None]


@pytest.mark.parametrize("fault", ["truncated", "no spec"])
def test_a_bad_part_is_named(tmp_path: Path, fault: str) -> None:
    # A part cut short (a copy, a full disk) failed every read with pyarrow's bare "Parquet
    # magic bytes not found in footer", and a Parquet file without the logged spec with
    # "'NoneType' object has no attribute 'get'" / KeyError, naming no file.
    _log(tmp_path, "r", 12).close()
    first, *_, last = sorted(
        (tmp_path / "data" / "custom_feature_snapshot" / "r").glob("*.parquet")
    )
    if fault == "truncated":
        last.write_bytes(last.read_bytes()[:200])
        expected = "unreadable Parquet part"
    else:
        pq.write_table(pq.read_table(last).replace_schema_metadata(None), last)
        expected = "no nautilus_ai.spec_hash, nautilus_ai.feature_names, nautilus_ai.feature_spec"
    readers = [lambda: read_snapshots(tmp_path, "r"), lambda: decisions_with_outcomes(tmp_path)]
    for read in readers:
        with pytest.raises(CatalogReadError, match=expected) as caught:
            read()
        assert str(caught.value).startswith(f"{last}: ")
    first.write_bytes(first.read_bytes()[:200])
    with pytest.raises(CatalogReadError, match=f"{first}: unreadable Parquet part"):
        logged_feature_spec(tmp_path, "r")


def test_outcomes_of_a_run_never_logged_are_refused(tmp_path: Path) -> None:
    # A misspelt run id read as an empty table: "this run closed no position".
    _log(tmp_path, "quiet", 4).close()  # logged, closed no position
    assert read_outcomes(tmp_path, "quiet").num_rows == 0
    with pytest.raises(CatalogReadError, match=r"no logged run 'quite' \(runs: quiet\)"):
        read_outcomes(tmp_path, "quite")
