"""Tick mode on stale bar features: a quote in a bar's period makes that bar due; once it is
``max_bar_delay_ms`` late (default one bar period) ticks are held until the next bar. The
incremental decider and its vectorised twin hold the same ticks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.features import FeatureSpec
from nautilus_ai.tick_decisions import (
    TickDecider,
    TickModeConfig,
    bar_period_ns,
    tick_decision_rows,
)

S = 1_000_000_000
MIN = 60 * S
SPEC = FeatureSpec()
K = len(SPEC.names)


def bar_row(b: int) -> np.ndarray:
    row = np.zeros(K)
    row[SPEC.index("atr_close")] = 1e-4 * (1 + b)
    row[SPEC.index("warm")] = 1.0
    return row


def test_bar_period_of_a_bar_type() -> None:
    assert bar_period_ns("EUR/USD.SIM-1-MINUTE-MID-EXTERNAL") == MIN
    assert bar_period_ns("EUR/USD.SIM-15-SECOND-BID-INTERNAL") == 15 * S
    assert bar_period_ns("BTC-PERP.BINANCE-4-HOUR-LAST-EXTERNAL") == 4 * 60 * MIN
    assert bar_period_ns("EUR/USD.SIM-5-MINUTE-MID-INTERNAL@1-MINUTE-EXTERNAL") == 5 * MIN
    for no_period in (
        "EUR/USD.SIM-100-TICK-MID-INTERNAL",
        "EUR/USD.SIM-1-MONTH-MID-EXTERNAL",
        "EUR/USD.SIM-1000000-VOLUME-MID-INTERNAL",
        "not a bar type",
        "EUR/USD.SIM-0-MINUTE-MID-EXTERNAL",
    ):
        assert bar_period_ns(no_period) is None, no_period


def run(decider: TickDecider, bars: list[int], ticks: list[int]) -> list[int]:
    """Feed bars (close times, each delivered before the ticks after it) and ticks in time
    order; the decision ticks' times."""
    b = 0
    for t in ticks:
        while b < len(bars) and bars[b] < t:
            decider.on_bar(bars[b], bar_row(b))
            b += 1
        decider.on_tick(t, 1.1, 1.1001, 1.0, 1.0)
    return list(decider.ts)


def test_a_dead_bar_feed_holds_the_ticks_until_the_next_bar() -> None:
    held: list[tuple[int, int, int]] = []
    decider = TickDecider(SPEC, TickModeConfig(), bar_ns=MIN, on_stale=lambda *a: held.append(a))
    # Bars at 1..3 min, then none until 10 min; a quote every 10 s from 1 min on.
    bars = [MIN, 2 * MIN, 3 * MIN, 10 * MIN]
    ticks = list(range(MIN + 10 * S, 12 * MIN, 10 * S))
    decided = run(decider, bars, ticks)
    # The bar due at 4 min (quotes from 3:10 on) is one period late at 5 min: ticks after
    # 5:00 are held until the 10 min bar takes effect (the first tick after 10:00).
    stale = [t for t in ticks if 5 * MIN < t <= 10 * MIN]
    assert decider.ticks_stale == len(stale) == len(held) == 30
    assert [h[0] for h in held] == stale
    assert {h[1:] for h in held} == {(3 * MIN, 4 * MIN)}
    assert decided == [t for t in ticks if t not in stale]


def test_a_quiet_market_holds_nothing_and_the_delay_is_configurable() -> None:
    bars = [MIN, 2 * MIN]  # no quote between 2:00 and 30:00: no bar was due
    ticks = [MIN + 30 * S, 2 * MIN + 0, 30 * MIN + 5 * S, 30 * MIN + 50 * S]
    decider = TickDecider(SPEC, TickModeConfig(), bar_ns=MIN)
    assert run(decider, bars, ticks) == ticks[:4] and decider.ticks_stale == 0
    # Quotes at 2:10 make the 3:00 bar due; with 5 s of delay allowed, 3:06 is held.
    ticks = [2 * MIN + 10 * S, 3 * MIN + 5 * S, 3 * MIN + 6 * S]
    decider = TickDecider(SPEC, TickModeConfig(max_bar_delay_ms=5_000), bar_ns=MIN)
    assert run(decider, bars, ticks) == ticks[:2] and decider.ticks_stale == 1
    # Without a bar period (tick bars) nothing is held.
    decider = TickDecider(SPEC, TickModeConfig(max_bar_delay_ms=5_000))
    assert run(decider, bars, ticks) == ticks and decider.ticks_stale == 0


def test_bad_delays_are_refused() -> None:
    for bad in (0, -1.0, float("nan"), float("inf"), "60s", True):
        with pytest.raises(ValueError, match="max_bar_delay_ms"):
            TickModeConfig(max_bar_delay_ms=bad)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=80),
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.integers(1, 3),
    st.sampled_from([None, 2_000.0, 15_000.0]),
)
def test_incremental_and_vectorised_hold_the_same_ticks(
    gaps: list[int], delivered: list[bool], every: int, delay: float | None
) -> None:
    """Random quote gaps (1-40 s) and a random set of missing 10 s bars: the decider and
    tick_decision_rows decide on, and hold, the same ticks with the same vectors."""
    bar_ns = 10 * S
    ticks = (np.cumsum(gaps) * S).astype(np.int64)
    bars = [(i + 1) * bar_ns for i in range(30) if delivered[i] and (i + 1) * bar_ns < ticks[-1]]
    config = TickModeConfig(every_ticks=every, max_bar_delay_ms=delay)
    decider = TickDecider(SPEC, config, bar_ns=bar_ns, keep_features=True)
    run(decider, bars, ticks.tolist())
    features = np.stack([bar_row(b) for b in range(len(bars))]) if bars else np.zeros((0, K))
    ones = np.ones(ticks.size)
    rows = tick_decision_rows(
        config, np.asarray(bars, dtype=np.int64), features, SPEC, ticks, ones * 1.1,
        ones * 1.1001, ones, ones, bar_ns=bar_ns,
    )  # fmt: skip
    assert rows.ts.tolist() == decider.ts
    assert rows.held_stale.size == decider.ticks_stale
    if decider.ts:
        assert np.array_equal(rows.features, np.asarray(decider.features))


def test_a_bar_delay_beyond_a_year_is_refused() -> None:
    """max_bar_delay_ms 8e12 (a 'never hold') wrapped the vectorised twin's int64 'due + delay':
    every tick held in training rows and precomputed backtests while the incremental decider
    (live) held none; 1e15 was an OverflowError there. Both are refused by the config."""
    assert TickModeConfig(max_bar_delay_ms=365 * 86_400_000).max_bar_delay_ms is not None
    for delay in (365 * 86_400_000 + 1, 8e12, 1e15):
        with pytest.raises(ValueError, match=r"max_bar_delay_ms: must be <= 31_536_000_000"):
            TickModeConfig(max_bar_delay_ms=delay)
