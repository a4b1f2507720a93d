"""Tick mode on bad quote ticks: a zero, negative, non-finite, out-of-order or outlying quote
is refused (no feature, no decision; out of order: ``tick_problem``'s unit test, as the
engine sorts its data), counted in the status's health and alerted once, and the
strategy goes on deciding on the good ticks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fixtures.synthetic_engine import plain_engine
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.objects import Price, Quantity

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
T0 = 1_600_000_000_000_000_000
MINUTE = 60_000_000_000

Ticks = list[list[float]]


def run_ticks(
    change: Callable[[Ticks], None] | None = None,
    n: int = 200,
    lost_bars: range = range(0),
) -> AIPatternStrategy:
    """Synthetic bars and three quotes per bar (``change`` edits the quotes: [ts, bid, ask];
    the bars numbered in ``lost_bars`` never reach the engine: a bar feed that stops)."""
    engine, instrument = plain_engine()
    bar_type = BarType.from_str(BAR_TYPE)
    rng = np.random.default_rng(1)
    closes = 1.1 + np.cumsum(rng.normal(0, 2e-4, n))
    bars, ticks = [], []
    for i, c in enumerate(closes):
        ts = T0 + (i + 1) * MINUTE
        o = closes[i - 1] if i else c
        h, low = max(o, c) + 1e-4, min(o, c) - 1e-4
        bars.append(Bar(bar_type, *(Price(x, 5) for x in (o, h, low, c)), Quantity(1000, 0),
                        ts, ts))  # fmt: skip
        for k in (1, 2, 3):
            mid = c + rng.normal(0, 5e-5)
            ticks.append([ts + k * 15_000_000_000, mid - 5e-5, mid + 5e-5])
    if change is not None:
        change(ticks)
    size = Quantity(1e6, 0)
    quotes = [
        QuoteTick(instrument.id, Price(b, 5), Price(a, 5), size, size, int(t), int(t))
        for t, b, a in ticks
    ]
    engine.add_data([bar for i, bar in enumerate(bars) if i not in lost_bars])
    engine.add_data(quotes)
    config = AIPatternConfig(
        instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE, predictor={"kind": "tick_rule"},
        tick_mode={"every_ticks": 1}, observe_only=True,
    )  # fmt: skip
    strategy = AIPatternStrategy(config)
    engine.add_strategy(strategy)
    engine.run()
    engine.dispose()
    return strategy


def _set(index: int, bid: float, ask: float) -> Callable[[Ticks], None]:
    def change(ticks: Ticks) -> None:
        ticks[index] = [ticks[index][0], bid, ask]

    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set(450, 0.0, 0.0), "non_positive_price"),
        (_set(449, 0.0, 1.1), "non_positive_price"),  # the forming bar's first quote
        (_set(450, -1.0, -0.9), "non_positive_price"),
        (_set(450, 1000.0, 1000.1), "outlier"),
    ],
)
def test_a_bad_quote_is_refused_counted_and_the_run_goes_on(
    change: Callable[[Ticks], None], reason: str
) -> None:
    good = run_ticks()
    bad = run_ticks(change)
    health: dict[str, Any] = bad.control_status()["health"]
    assert health["ticks_rejected"] == {reason: 1} and health["ticks_rejected_total"] == 1
    assert health["last_alert"]["kind"] == "bad_ticks" and reason in health["last_alert"]["message"]
    # Only the refused quote is missing: every other tick decides as in the clean run.
    assert len(bad.tick_decisions) == len(good.tick_decisions) - 1
    assert health["predictor_errors"] == 0
    assert all(r.error is None and np.isfinite(r.confidence) for r in bad.tick_decisions)


def test_ticks_after_a_late_bar_are_held_counted_and_alerted() -> None:
    """The bar feed stops for ten minutes while quotes go on: the bar due after the last one
    (closing at minute 151) is one period late at minute 152; every quote from then until the
    next bar takes effect (minute 161) is held, not decided on stale features."""
    good = run_ticks()
    stale = run_ticks(lost_bars=range(150, 160))  # bars closing at minutes 151 ... 160
    health: dict[str, Any] = stale.control_status()["health"]
    window = (T0 + 152 * MINUTE, T0 + 161 * MINUTE)
    held = [r.ts_event for r in good.tick_decisions if window[0] < r.ts_event <= window[1]]
    assert len(held) == 27  # 9 minutes x 3 quotes
    assert health["ticks_held_stale"] == 27 and health["ticks_rejected_total"] == 0
    assert health["last_alert"]["kind"] == "stale_bars"
    message = health["last_alert"]["message"]
    assert f"last bar closed at {T0 + 150 * MINUTE}, the one due at {T0 + 151 * MINUTE}" in message
    assert not [r for r in stale.tick_decisions if window[0] < r.ts_event <= window[1]]
    assert len(stale.tick_decisions) == len(good.tick_decisions) - 27
    # Until the first lost bar was due, the decisions are the clean run's (in the grace minute
    # after it they see the bar before, one period older than in the clean run).
    before = [r for r in good.tick_decisions if r.ts_event <= T0 + 151 * MINUTE]
    assert [r for r in stale.tick_decisions if r.ts_event <= T0 + 151 * MINUTE] == before
