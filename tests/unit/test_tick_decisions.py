"""TickDecider (pure core of the tick mode): cadence, rule, delivery-order independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.features import FeatureSpec
from nautilus_ai.tick_decisions import BUY, HOLD, SELL, TickDecider, TickModeConfig, tick_rule

MS = 1_000_000
SPEC = FeatureSpec()


def bar_row(atr_close: float = 1e-4, warm: float = 1.0) -> np.ndarray:
    row = np.zeros(len(SPEC.names))
    row[SPEC.index("atr_close")] = atr_close
    row[SPEC.index("warm")] = warm
    return row


def feed(decider: TickDecider, mids: list[float], start_ms: int, step_ms: int) -> None:
    for i, mid in enumerate(mids):
        decider.on_tick((start_ms + i * step_ms) * MS, mid - 1e-5, mid + 1e-5, 1.0, 1.0)


def test_every_tick_every_nth_and_every_k_ms() -> None:
    for config, expected in (
        (TickModeConfig(every_ticks=1), 10),
        (TickModeConfig(every_ticks=3), 4),  # ticks 1, 4, 7, 10
        (TickModeConfig(every_ms=250.0), 4),  # 100 ms apart: ticks 1, 4, 7, 10 (0, 300, ...)
    ):
        decider = TickDecider(SPEC, config)
        decider.on_bar(1000 * MS, bar_row())
        feed(decider, [1.1] * 10, 1001, 100)
        assert len(decider.ts) == expected, config
        assert decider.ticks_seen == 10


def test_no_decision_before_a_warm_bar() -> None:
    decider = TickDecider(SPEC, TickModeConfig())
    feed(decider, [1.1] * 3, 0, 10)
    decider.on_bar(100 * MS, bar_row(warm=0.0))
    feed(decider, [1.1] * 3, 101, 10)
    assert decider.ts == []
    decider.on_bar(200 * MS, bar_row())
    feed(decider, [1.1] * 2, 201, 10)
    assert len(decider.ts) == 2


def test_the_rule_buys_and_sells_on_the_move_since_the_bar_opened() -> None:
    config = TickModeConfig(entry_atr=0.5, max_spread_atr=0.5)
    assert tick_rule(1e-4, 0.5e-4, 0.1e-4, config) == (BUY, 0.5)
    assert tick_rule(1e-4, -1e-4, 0.1e-4, config) == (SELL, 1.0)
    assert tick_rule(1e-4, 0.4e-4, 0.1e-4, config)[0] == HOLD
    assert tick_rule(1e-4, 1e-4, 0.6e-4, config)[0] == HOLD  # spread too wide
    decider = TickDecider(SPEC, config)
    decider.on_bar(1000 * MS, bar_row(atr_close=1e-4))
    feed(decider, [1.0, 1.0001, 0.9999], 1001, 10)
    assert decider.actions == [HOLD, BUY, SELL]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=40), st.integers(1, 4))
def test_bar_or_tick_first_at_a_tie_gives_the_same_decisions(steps: list[int], n: int) -> None:
    """A tick stamped at a bar's close gets the same answer whichever is delivered first."""
    ticks = np.cumsum(np.asarray(steps)) * 10 * MS + 10 * MS
    bars = [t for t in range(0, int(ticks[-1]) + 1, 20 * MS)]
    runs = []
    for bar_first in (True, False):
        decider = TickDecider(SPEC, TickModeConfig(every_ticks=n), keep_features=True)
        b = 0
        for i, t in enumerate(ticks.tolist()):
            while b < len(bars) and (bars[b] <= t if bar_first else bars[b] < t):
                decider.on_bar(bars[b], bar_row(atr_close=1e-4 * (1 + b)))
                b += 1
            mid = 1.0 + 1e-5 * (i % 7)
            decider.on_tick(t, mid - 1e-5, mid + 1e-5, float(i % 3), 1.0)
        runs.append(
            (decider.ts, decider.actions, decider.bar_ts, np.asarray(decider.features).tobytes())
        )
    assert runs[0] == runs[1]


def test_a_v1_spec_and_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="tick_mode needs feature spec version >= 2"):
        TickDecider(FeatureSpec(version=1), TickModeConfig())
    with pytest.raises(ValueError, match="every_ticks: must be >= 1"):
        TickModeConfig(every_ticks=0)
    with pytest.raises(ValueError, match="every_ms: must be > 0"):
        TickModeConfig(every_ms=0.0)
    with pytest.raises(ValueError, match="entry_atr: expected a number > 0"):
        TickModeConfig(entry_atr=-1.0)


def test_reset_forgets_everything() -> None:
    decider = TickDecider(SPEC, TickModeConfig(), keep_features=True)
    decider.on_bar(1000 * MS, bar_row())
    feed(decider, [1.1] * 3, 1001, 10)
    decider.reset()
    assert decider.ts == [] and decider.features == [] and decider.ticks_seen == 0
    feed(decider, [1.1] * 3, 2001, 10)
    assert decider.ts == []
