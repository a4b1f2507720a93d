"""Feedback from closed positions into the pattern memory (issue 15): the decision's pattern
joins with the trade as its outcome, and only once the position closed (no look-ahead)."""

from __future__ import annotations

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.models import LearnsFromOutcomes, MarketContext, TradeOutcome
from nautilus_ai.models.registry import build_predictor
from nautilus_ai.patterns import PatternMemory, build_from_bars, save_memory

MINUTE = 60_000_000_000


def answer(prediction: object) -> tuple[object, ...]:
    """A prediction without its (timing) latency."""
    return (prediction.action, prediction.confidence, prediction.risk_score,  # type: ignore[attr-defined]
            prediction.reason)  # type: ignore[attr-defined]  # fmt: skip


@pytest.fixture(scope="module")
def memory_setup(real_bars: tuple, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ts, ohlcv = real_bars
    spec = FeatureSpec()
    folder = tmp_path_factory.mktemp("memory")
    patterns = build_from_bars(ts[:8_000], ohlcv[:8_000], instrument_id="EUR/USD.SIM")
    save_memory(PatternMemory(patterns), folder)
    features = compute_features(spec, ts, *ohlcv.T)
    table = np.column_stack([ts.astype(np.float64), ohlcv])
    return spec, folder, features, table, ts


def context_at(spec: FeatureSpec, table: np.ndarray, row: int, shift_ns: int = 0) -> MarketContext:
    bars = table[row - 63 : row + 1].copy()
    bars[:, 0] += shift_ns  # the same bars later in time: the same pattern vector
    return MarketContext("EUR/USD.SIM", int(bars[-1, 0]), spec.names, spec.hash, bars)


def test_feedback_adds_the_pattern_only_after_the_position_closed(memory_setup) -> None:  # type: ignore[no-untyped-def]
    spec, folder, features, table, _ts = memory_setup
    config = {"kind": "pattern_memory", "path": str(folder), "k": 10, "learn_live": False,
              "prior_strength": 1.0}  # fmt: skip
    taught, control = build_predictor(config, spec), build_predictor(config, spec)
    assert isinstance(taught, LearnsFromOutcomes)
    row = 8_500
    decision = context_at(spec, table, row)
    first = taught.predict(features[row], decision)
    assert answer(control.predict(features[row], decision)) == answer(first)
    close = float(table[row, 4])
    atr = float(features[row, spec.index("atr_close")]) * close
    outcome = TradeOutcome(
        client_order_id="O-1", instrument_id="EUR/USD.SIM", model_id=taught.model_id,
        decision_ts=decision.ts_event, features=tuple(features[row]), action="buy",
        confidence=first.confidence, side=1, quantity=10_000.0, avg_px_open=close,
        avg_px_close=close + 6 * atr, realized_pnl=60.0, ts_opened=decision.ts_event,
        ts_closed=decision.ts_event + 30 * MINUTE, exit_reason="take_profit",
    )  # fmt: skip
    foreign = TradeOutcome(**{**outcome.to_dict(), "features": (), "model_id": "other/1"})  # type: ignore[arg-type]
    assert taught.feedback(foreign) is False  # not its decision
    stored = len(taught.memory)  # type: ignore[attr-defined]
    assert taught.feedback(outcome) is True
    assert len(taught.memory) == stored + 1  # type: ignore[attr-defined]
    assert taught.memory.label[-1] == 1  # a 6 ATR rise beyond the 3 ATR barrier  # type: ignore[attr-defined]
    assert taught.feedback(outcome) is False  # already held

    # Before the position closed the pattern is not eligible: same answer as without it.
    before = context_at(spec, table, row, shift_ns=29 * MINUTE)
    assert answer(taught.predict(features[row], before)) == answer(
        control.predict(features[row], before)
    )
    # After it closed the same pattern finds itself at distance 0: the answer changes.
    after = context_at(spec, table, row, shift_ns=31 * MINUTE)
    with_feedback = taught.predict(features[row], after)
    without = control.predict(features[row], after)
    assert answer(with_feedback) != answer(without)
    assert "(d 0.00)" in with_feedback.reason and "+6.0 ATR" in with_feedback.reason
    assert with_feedback.reason.split(";")[0] != without.reason.split(";")[0]


def test_outcome_round_trips_and_refuses_bad_fields() -> None:
    outcome = TradeOutcome("O-2", "EUR/USD.SIM", "m/1", 1, (0.5,), "sell", 0.7, -1, 1.0,
                           1.1, 1.0, 5.0, 2, 3, "stop_loss")  # fmt: skip
    assert TradeOutcome.from_dict(outcome.to_dict()) == outcome
    with pytest.raises(ValueError, match="decision_ts"):
        TradeOutcome.from_dict({k: v for k, v in outcome.to_dict().items() if k != "decision_ts"})
    with pytest.raises(ValueError, match="side"):
        TradeOutcome.from_dict({**outcome.to_dict(), "side": 0})
    with pytest.raises(ValueError, match="ts_opened"):
        TradeOutcome.from_dict({**outcome.to_dict(), "ts_closed": 1})
