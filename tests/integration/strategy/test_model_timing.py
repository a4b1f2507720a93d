"""A model that answers too late (past ``decision_deadline_ms``) or not at all (async, still busy)
makes the strategy hold: it must also say so, in the log (throttled) and in
``control_status()`` (``health.predictions_late`` / ``predictions_skipped``, an alert), not go
quiet."""

from __future__ import annotations

from typing import Any

import numpy as np
from fixtures.synthetic_engine import bars_from_closes, plain_engine

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def run_bars(n: int = 150, **config: Any) -> AIPatternStrategy:
    engine, _ = plain_engine()
    closes = 1.1 + np.cumsum(np.random.default_rng(1).normal(0, 2e-4, n))
    bars = bars_from_closes(BAR_TYPE, closes)
    engine.add_data(bars)
    strategy = AIPatternStrategy(
        AIPatternConfig(instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE, **config)
    )
    engine.add_strategy(strategy)
    engine.run()
    engine.dispose()
    return strategy


def test_answers_past_the_deadline_are_holds_that_say_so() -> None:
    strategy = run_bars(
        decision_latency={"kind": "fixed", "latency_ms": 300}, decision_deadline_ms=100.0
    )
    records = list(strategy.decisions)
    assert records and all(r.action == "hold" and "deadline" in r.reason for r in records)
    health = strategy.control_status()["health"]
    assert health["predictions_late"] == len(records)
    assert health["last_alert"]["kind"] == "model_timing"
    assert "deadline" in health["last_alert"]["message"]
    # Said at 1, 2, 4, ... late answers, not once a simulated minute (every 1-minute bar).
    assert health["alerts"] == len(records).bit_length() < len(records)  # 6 lines, not 36


def test_a_busy_async_model_skips_bars_and_says_so() -> None:
    strategy = run_bars(
        predictor={"kind": "delayed", "backend": {"kind": "rule"}, "min_ms": 300, "max_ms": 300},
        async_predictions=True,
    )
    health = strategy.control_status()["health"]
    assert health["predictions_skipped"] > 0
    assert health["last_alert"]["kind"] == "model_timing"
    assert "busy" in health["last_alert"]["message"]
    assert health["alerts"] <= health["predictions_skipped"].bit_length()


def test_a_sub_nanosecond_deadline_is_one_nanosecond_not_a_crash() -> None:
    # decision_deadline_ms=1e-7 passed the config (> 0), rounded to a 0 ns deadline and the
    # strategy raised ValueError in on_start.
    strategy = run_bars(
        decision_latency={"kind": "fixed", "latency_ms": 1}, decision_deadline_ms=1e-7
    )
    records = list(strategy.decisions)
    assert records and all("deadline" in r.reason for r in records)
