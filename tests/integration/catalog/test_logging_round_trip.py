"""Decisions logged during a real backtest come back through catalog.query with the same
values; their feature vectors equal the vectorised features of the same catalog bars; every
closed position is logged and joined to the decision that opened it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from logged_backtest import BID, run_logged_backtest
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.catalog import (
    DecisionOutcome,
    FeatureSnapshot,
    decisions_with_outcomes,
    read_bars,
    read_outcomes,
    read_snapshots,
)
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features


@pytest.fixture(scope="module")
def logged(demo_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    log = tmp_path_factory.mktemp("log")
    # The demo's exits (3 / 4.5 ATR): January then has reversals, whose opening decisions the
    # outcome join must keep apart. (With 2 / 3 ATR the one January reversal was of a position
    # whose stop the venue had rejected; such a position is now closed at once.)
    strategy = run_logged_backtest(
        str(demo_catalog), str(log), "jan-precomputed", flush_rows=7000,
        stop_loss_atr=3.0, take_profit_atr=4.5,
    )  # fmt: skip
    return log, strategy


def test_read_bars_equals_the_bar_objects(demo_catalog: Path) -> None:
    end = 1_484_179_200_000_000_000  # 2017-01-12: a window, half-open
    ts, ohlcv = read_bars(demo_catalog, BID, start_ns=end - 3 * 86_400 * 10**9, end_ns=end)
    bars = ParquetDataCatalog(str(demo_catalog)).bars(bar_types=[BID])
    bars = [b for b in bars if end - 3 * 86_400 * 10**9 <= b.ts_event < end]
    assert ts.tolist() == [b.ts_event for b in bars] and len(bars) > 3_000
    for column, name in enumerate(("open", "high", "low", "close", "volume")):
        expected = [getattr(b, name).as_double() for b in bars]
        assert ohlcv[:, column].tolist() == expected  # bit for bit, what on_bar sees


def test_query_returns_every_decision_with_the_same_values(logged: tuple[Path, object]) -> None:
    log, strategy = logged
    decisions = strategy.decisions  # type: ignore[attr-defined]
    queried = [item.data for item in ParquetDataCatalog(str(log)).query(FeatureSnapshot)]
    assert len(queried) == len(decisions) > 30_000
    for snap, record in zip(queried, decisions, strict=True):
        assert snap.ts_event == record.ts_event == snap.ts_init
        assert (snap.action, snap.confidence, snap.risk_score) == (
            record.action, record.confidence, record.risk_score,
        )  # fmt: skip
        assert (snap.intent, snap.quantity, snap.order_sent, snap.model_id, snap.reason) == (
            record.intent, record.quantity, record.order_sent, record.model_id, record.reason,
        )  # fmt: skip
        assert snap.run_id == "jan-precomputed" and snap.bar_type == BID
    assert len(list((log / "data" / "custom_feature_snapshot" / "jan-precomputed").iterdir())) == 5


def test_logged_vectors_equal_the_vectorised_features(
    logged: tuple[Path, object], demo_catalog: Path
) -> None:
    log, _ = logged
    snaps = read_snapshots(log, "jan-precomputed")
    spec = FeatureSpec()
    assert snaps.spec_hash == spec.hash and snaps.feature_names == spec.names
    ts, ohlcv = read_bars(demo_catalog, BID)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    features = compute_features(spec, ts[keep], *ohlcv[keep].T)
    rows = np.searchsorted(ts[keep], snaps.ts_event)
    np.testing.assert_array_equal(ts[keep][rows], snaps.ts_event)
    np.testing.assert_array_equal(snaps.features, features[rows])


def test_incremental_features_agree_to_an_ulp(demo_catalog: Path, tmp_path: Path) -> None:
    strategy = run_logged_backtest(
        str(demo_catalog), str(tmp_path), "jan-incremental", end="2017-01-09",
        feature_source="incremental",
    )  # fmt: skip
    snaps = read_snapshots(tmp_path, "jan-incremental")
    assert len(snaps) == len(strategy.decisions) > 5_000
    ts, ohlcv = read_bars(demo_catalog, BID, end_ns=int(snaps.ts_event[-1]) + 1)
    features = compute_features(FeatureSpec(), ts, *ohlcv.T)
    rows = np.searchsorted(ts, snaps.ts_event)
    np.testing.assert_allclose(snaps.features, features[rows], rtol=1e-12, atol=1e-15)


def test_outcomes_join_the_opening_decisions(logged: tuple[Path, object]) -> None:
    log, strategy = logged
    trades = strategy.trades  # type: ignore[attr-defined]
    outcomes = read_outcomes(log, "jan-precomputed").to_pylist()
    assert len(outcomes) == len(trades) > 50
    for row, trade in zip(outcomes, trades, strict=True):
        assert row["decision_ts"] == trade.decision_ts
        assert row["realized_pnl"] == trade.realized_pnl
        assert row["exit_reason"] == trade.exit_reason
        assert row["holding_ns"] == trade.ts_closed - trade.ts_opened
        # bars fill at the decision bar: the position opens at the decision it is keyed by
        assert row["ts_opened"] == row["decision_ts"]
    joined = decisions_with_outcomes(log, "jan-precomputed").to_pydict()
    assert set(joined["intent"]) == {"enter", "reverse"}
    # a reversal closes one position and opens the next on the same bar: each keeps its own
    # opening decision (the old one must not be relabelled with the new decision)
    assert any(t.exit_reason == "reversal" for t in trades)
    closed = [pnl for pnl in joined["realized_pnl"] if pnl is not None]
    assert len(closed) == len(trades)
    assert sum(closed) == pytest.approx(sum(t.realized_pnl for t in trades))
    queried = [c.data for c in ParquetDataCatalog(str(log)).query(DecisionOutcome)]
    assert [q.decision_ts for q in queried] == [t.decision_ts for t in trades]


def test_bad_feature_log_config_fails_fast(demo_catalog: Path) -> None:
    from nautilus_ai.strategies.ai_pattern import AIPatternConfig

    with pytest.raises(ValueError, match=r"feature_log\.flush_rows: Input should be greater"):
        AIPatternConfig(
            instrument_id="EUR/USD.SIM", bar_type=BID,
            feature_log={"catalog_path": str(demo_catalog), "flush_rows": 0},
        )  # fmt: skip


def test_with_decision_latency_snapshots_hold_what_the_model_saw(
    demo_catalog: Path, tmp_path: Path
) -> None:
    """A simulated model latency applies bar t's decision on a later bar: the snapshot is still
    keyed by t, holds t's features, and the positions it opens join it."""
    strategy = run_logged_backtest(
        str(demo_catalog), str(tmp_path), "latency", end="2017-01-14",
        decision_latency={"kind": "fixed", "latency_ms": 90_000},
    )  # fmt: skip
    snaps = read_snapshots(tmp_path, "latency")
    applied = [d.ts_event for d in strategy.decisions]
    assert len(snaps) == len(applied) > 5_000
    lag = np.asarray(applied) - snaps.ts_event
    assert (lag >= 90 * 10**9).all()  # applied at least 90 s after the bar it was made for
    ts, ohlcv = read_bars(demo_catalog, BID, end_ns=int(snaps.ts_event[-1]) + 1)
    features = compute_features(FeatureSpec(), ts, *ohlcv.T)
    rows = np.searchsorted(ts, snaps.ts_event)
    np.testing.assert_array_equal(snaps.features, features[rows])
    ts_init = snaps.table.column("ts_init").to_numpy()
    np.testing.assert_array_equal(ts_init, applied)  # decided on the clock of the later bar
    opened = {o["decision_ts"] for o in read_outcomes(tmp_path, "latency").to_pylist()}
    sent = snaps.table.column("order_sent").to_numpy()
    assert opened and opened <= set(snaps.ts_event[sent].tolist())
