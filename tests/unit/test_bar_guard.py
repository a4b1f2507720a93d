"""The bar gate: timestamps that are implausible against ts_init / the clock, and outliers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.bar_guard import (
    ACCEPT,
    HOLD,
    REANCHOR,
    REASON_EVENT_AFTER_INIT,
    REASON_INIT_AFTER_CLOCK,
    REASON_OUTLIER,
    REASON_STALE,
    BarGate,
    OutlierGuard,
    timestamp_problem,
)

S = 1_000_000_000
NOW = 1_700_000_000 * S


@pytest.mark.parametrize(
    ("ts_event", "ts_init", "max_age", "expected"),
    [
        (NOW - 60 * S, NOW, None, None),  # a bar that closed a minute ago
        (NOW + 5 * S, NOW, None, None),  # within the 5 s tolerance
        (NOW + 6 * S, NOW, None, REASON_EVENT_AFTER_INIT),  # from the future
        (NOW + 86_400 * S, NOW + 86_400 * S, None, REASON_INIT_AFTER_CLOCK),
        (NOW - 3 * 365 * 86_400 * S, NOW, None, None),  # a replay: historical ts, live clock
        (NOW - 301 * S, NOW, 300 * S, REASON_STALE),
        (NOW - 299 * S, NOW, 300 * S, None),
    ],
)
def test_timestamp_problem_table(
    ts_event: int, ts_init: int, max_age: int | None, expected: str | None
) -> None:
    assert timestamp_problem(ts_event, ts_init, NOW, 5 * S, max_age) == expected


ts = st.integers(min_value=0, max_value=2**62)


@given(ts, ts, ts, st.integers(0, 10 * S), st.none() | st.integers(1, 10**6 * S))
def test_timestamp_problem_is_none_exactly_when_every_rule_holds(
    ts_event: int, ts_init: int, now: int, tolerance: int, max_age: int | None
) -> None:
    plausible = (
        ts_event <= ts_init + tolerance
        and ts_init <= now + tolerance
        and (max_age is None or now - ts_event <= max_age)
    )
    assert (timestamp_problem(ts_event, ts_init, now, tolerance, max_age) is None) == plausible


def test_outlier_guard_holds_then_accepts_a_new_level() -> None:
    guard = OutlierGuard(max_move_pct=5.0, atr_multiple=None, max_holds=3)
    assert guard.check(1.2, 1.0) == ACCEPT  # no reference yet
    guard.accepted(1.10, math.nan)
    assert guard.band == pytest.approx((1.045, 1.155))
    assert guard.check(1.15, 1.05) == ACCEPT
    assert [guard.check(11.0, 10.9) for _ in range(4)] == [HOLD, HOLD, HOLD, REANCHOR]
    guard.accepted(10.95, math.nan)  # the caller accepted the new level
    assert guard.held == 0 and guard.check(11.0, 10.9) == ACCEPT


def test_outlier_guard_a_single_bad_print_is_held_once() -> None:
    guard = OutlierGuard(max_move_pct=None, atr_multiple=10.0)
    guard.accepted(1.1000, 0.0002)  # ATR 2 pips: the band is 20 pips either side
    assert guard.check(1.1030, 1.0999) == HOLD  # 30 pips up
    assert guard.check(1.1005, 1.0995) == ACCEPT  # back to normal: no re-anchoring needed
    guard.accepted(1.1001, 0.0002)
    assert guard.held == 0


def test_outlier_guard_uses_the_tighter_bound_and_ignores_a_missing_atr() -> None:
    guard = OutlierGuard(max_move_pct=1.0, atr_multiple=10.0)
    guard.accepted(100.0, 0.05)  # 10 ATR = 0.5, tighter than 1 % = 1.0
    assert guard.band == pytest.approx((99.5, 100.5))
    guard.accepted(100.0, math.nan)  # before warm-up: the % bound alone
    assert guard.band == pytest.approx((99.0, 101.0))
    off = OutlierGuard(None, None)
    assert not off.enabled
    off.accepted(1.0, 0.1)
    assert off.check(1e9, 1e-9) == ACCEPT


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_move_pct": 0.0, "atr_multiple": None},
        {"max_move_pct": None, "atr_multiple": -1.0},
        {"max_move_pct": 5.0, "atr_multiple": None, "max_holds": -1},
    ],
)
def test_outlier_guard_refuses_bad_bounds(kwargs: dict[str, float | None]) -> None:
    with pytest.raises(ValueError, match="must be"):
        OutlierGuard(**kwargs)  # type: ignore[arg-type]


moves = st.lists(st.floats(min_value=-0.5, max_value=0.5), min_size=1, max_size=60)


@given(moves, st.integers(0, 5))
def test_outlier_guard_never_holds_more_than_max_holds_in_a_row(
    returns: list[float], max_holds: int
) -> None:
    guard = OutlierGuard(max_move_pct=2.0, atr_multiple=None, max_holds=max_holds)
    price, in_a_row = 1.0, 0
    guard.accepted(price, math.nan)
    for r in returns:
        candidate = price * (1.0 + r)
        verdict = guard.check(candidate, candidate)
        if verdict == HOLD:
            in_a_row += 1
            assert in_a_row <= max_holds
            continue
        in_a_row = 0
        low, high = guard.band
        assert verdict == REANCHOR or low <= candidate <= high
        price = candidate
        guard.accepted(price, math.nan)


def test_bar_gate_names_the_reason_and_the_values() -> None:
    gate = BarGate(5.0, None, 5.0, None)
    assert gate.admit(NOW - 60 * S, NOW, NOW, 1.1, 1.0) is None
    assert gate.accepted(1.05, math.nan) is None
    assert gate.admit(NOW + 3600 * S, NOW, NOW, 1.1, 1.0) == REASON_EVENT_AFTER_INIT
    assert f"ts_event={NOW + 3600 * S}" in gate.detail
    assert gate.admit(NOW, NOW, NOW, 2.0, 1.9) == REASON_OUTLIER
    assert "outside" in gate.detail
    for _ in range(2):
        assert gate.admit(NOW, NOW, NOW, 2.0, 1.9) == REASON_OUTLIER
    assert gate.admit(NOW, NOW, NOW, 2.0, 1.9) is None  # re-anchors on the fourth
    message = gate.accepted(1.95, math.nan)
    assert message is not None and "new price level" in message
    assert gate.accepted(1.95, math.nan) is None


@pytest.mark.parametrize(
    "args", [(-1.0, None, None, None), (5.0, 0.0, None, None), (5.0, None, -2.0, None)]
)
def test_bar_gate_refuses_bad_settings(
    args: tuple[float, float | None, float | None, None],
) -> None:
    with pytest.raises(ValueError, match="must be"):
        BarGate(*args)
