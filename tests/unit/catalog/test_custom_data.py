"""FeatureSnapshot / DecisionOutcome are real Nautilus custom data: write_data and query work,
and query reads what the fast logger wrote."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest
from catalog_helpers import MINUTE, T0, TinySpec, feature_row, prediction, record_rows
from nautilus_trader.model.data import CustomData
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog import ParquetDataCatalog

import nautilus_ai.catalog.snapshot as snapshot_module
from nautilus_ai.catalog import (
    DecisionOutcome,
    FeatureLogConfig,
    FeatureLogger,
    FeatureSnapshot,
    read_snapshots,
)

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def _snapshot(i: int) -> FeatureSnapshot:
    p = prediction(i)
    return FeatureSnapshot(
        T0 + i * MINUTE, T0 + i * MINUTE + 1,
        instrument_id=InstrumentId.from_str("EUR/USD.SIM"), bar_type=BAR_TYPE,
        run_id="objects", spec_hash=TinySpec().hash, features=tuple(feature_row(i)),
        model_id=p.model_id, action=p.action.value, confidence=p.confidence,
        risk_score=p.risk_score, latency_s=p.latency, reason=p.reason, intent="enter",
        quantity=1000.0, order_sent=True,
    )  # fmt: skip


def test_module_keeps_real_annotations() -> None:
    # @customdataclass reads the annotations as classes: a __future__ import would break it.
    assert FeatureSnapshot.__annotations__["confidence"] is float
    assert DecisionOutcome.__annotations__["decision_ts"] is int
    assert "\nfrom __future__" not in inspect.getsource(snapshot_module)


def test_write_data_and_query_round_trip(tmp_path: Path) -> None:
    catalog = ParquetDataCatalog(str(tmp_path))
    objects = [_snapshot(i) for i in range(5)]
    catalog.write_data(objects)
    back = catalog.query(FeatureSnapshot)
    assert all(isinstance(item, CustomData) for item in back)
    assert [item.data.to_dict() for item in back] == [o.to_dict() for o in objects]
    assert back[1].data.features_array().tolist() == feature_row(1).tolist()


def test_query_reads_the_logger_parts(tmp_path: Path) -> None:
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(tmp_path), run_id="fast", flush_rows=4),
        spec=TinySpec(), instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE,
    )  # fmt: skip
    record_rows(logger, 10)
    logger.record_outcome(SimpleNamespace(
        ts_opened=T0, ts_closed=T0 + MINUTE, side="long", quantity=1000.0, avg_px_open=1.0,
        avg_px_close=1.001, realized_pnl=1.0, model_id="model/0", exit_reason="take_profit",
        decision_ts=T0,
    ))  # fmt: skip
    logger.close()
    catalog = ParquetDataCatalog(str(tmp_path))
    queried = [item.data for item in catalog.query(FeatureSnapshot, identifiers=["fast"])]
    fast = read_snapshots(tmp_path, "fast")
    assert [q.ts_event for q in queried] == fast.ts_event.tolist()
    assert [list(q.features) for q in queried] == fast.features.tolist()
    assert [q.action for q in queried] == fast.table.column("action").to_pylist()
    assert str(queried[0].instrument_id) == "EUR/USD.SIM"
    window = catalog.query(FeatureSnapshot, start=T0 + 2 * MINUTE, end=T0 + 5 * MINUTE)
    assert [w.data.ts_event for w in window] == [T0 + i * MINUTE for i in range(2, 6)]
    outcomes = [item.data for item in catalog.query(DecisionOutcome)]
    assert len(outcomes) == 1 and outcomes[0].decision_ts == T0
    assert outcomes[0].holding_ns == MINUTE and outcomes[0].exit_reason == "take_profit"


def test_snapshot_requires_its_fields() -> None:
    with pytest.raises(TypeError):
        FeatureSnapshot(0, 0, bar_type="x")
