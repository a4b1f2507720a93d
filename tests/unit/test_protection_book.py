"""Protective exits: where they go, and the book of what the venue holds for the position."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.protection import (
    STOP_LOSS,
    TAKE_PROFIT,
    ProtectionBook,
    ProtectionPlan,
    plan_exits,
)

S = 1_000_000_000


def test_plan_exits_long_and_short() -> None:
    long = plan_exits(1, 1.1000, 0.0010, 3.0, 4.5)
    assert long is not None and long.roles == (STOP_LOSS, TAKE_PROFIT)
    assert long.stop_loss == pytest.approx(1.0970) and long.take_profit == pytest.approx(1.1045)
    short = plan_exits(-1, 1.1000, 0.0010, 3.0, None)
    assert short == ProtectionPlan(-1, pytest.approx(1.1030), None)
    assert short is not None and short.roles == (STOP_LOSS,)


@pytest.mark.parametrize("atr", [0.0, -0.001, math.nan])
def test_plan_exits_refuses_an_entry_without_a_stop_distance(atr: float) -> None:
    assert plan_exits(1, 1.1, atr, 3.0, 4.5) is None


def test_plan_exits_without_exits_and_impossible_prices() -> None:
    assert plan_exits(1, 1.1, math.nan, None, None) == ProtectionPlan(1, None, None)
    assert plan_exits(1, 1.0, 0.5, 3.0, None) is None  # the stop would be <= 0
    with pytest.raises(ValueError, match="side"):
        plan_exits(0, 1.1, 0.001, 3.0, 4.5)


def test_plan_exits_refuses_prices_an_order_cannot_carry() -> None:
    """stop_loss_atr 1e300 planned a short's stop at 9e295: the entry filled, building the stop
    order raised (PRICE_MAX 1.7e13) inside the fill handler, and the position stayed open with
    no exits. Such a plan is now no plan: the entry is not made."""
    assert plan_exits(-1, 1.06, 9e-5, 1e300, 4.5, max_price=1.7e13) is None  # the stop
    assert plan_exits(1, 1.06, 9e-5, 3.0, 1e300, max_price=1.7e13) is None  # the target
    assert plan_exits(-1, 1.06, 10.0, 1e308, None) is None  # beyond any float: inf
    assert plan_exits(1, 1.06, 9e-5, 3.0, 4.5, max_price=1.7e13) is not None


@given(
    st.sampled_from([1, -1]),
    st.floats(0.5, 200.0),
    st.floats(1e-6, 1.0),
    st.none() | st.floats(0.1, 10.0),
    st.none() | st.floats(0.1, 10.0),
)
def test_plan_exits_stop_is_against_the_position_and_target_with_it(
    side: int, close: float, atr_fraction: float, sl: float | None, tp: float | None
) -> None:
    plan = plan_exits(side, close, close * atr_fraction * 0.01, sl, tp)
    assert plan is not None and plan.side == side
    if plan.stop_loss is not None:
        assert (close - plan.stop_loss) * side > 0
    if plan.take_profit is not None:
        assert (plan.take_profit - close) * side > 0


def test_book_lifecycle_of_one_position() -> None:
    book = ProtectionBook(grace_ns=10 * S)
    book.plan("E1", ProtectionPlan(1, 1.09, 1.12))
    assert book.is_entry("E1")
    assert book.check(True, True, 0) is None  # the entry is filling: grace
    plan = book.entry_done("E1")
    assert plan is not None and not book.is_entry("E1")
    book.activate({"SL1": STOP_LOSS, "TP1": TAKE_PROFIT})
    assert not book.working
    book.acknowledge("SL1")
    book.acknowledge("TP1")
    assert book.working and book.check(True, True, 11 * S) is None
    book.filled("SL1")  # the stop was taken; the venue cancels the target
    assert book.position_closed() == ["TP1"]
    assert book.ended("TP1") is None  # retired: its cancellation is expected
    assert book.check(False, True, 100 * S) is None


def test_book_reports_a_lost_exit_and_a_gap_past_the_grace() -> None:
    book = ProtectionBook(grace_ns=10 * S)
    book.activate({"SL1": STOP_LOSS, "TP1": TAKE_PROFIT})
    book.acknowledge("SL1")
    assert book.ended("SL1") == STOP_LOSS  # rejected / cancelled by the venue
    assert book.check(True, True, 0) is None
    assert book.check(True, True, 10 * S) is None
    problem = book.check(True, True, 11 * S)
    assert problem is not None and "not acknowledged" in problem
    assert book.check(True, False, 20 * S) is None  # protection not asked for


def test_book_retired_orders_are_not_failures() -> None:
    book = ProtectionBook(grace_ns=0)
    book.activate({"SL1": STOP_LOSS})
    assert book.retire() == ["SL1"] and "SL1" in book.retired
    assert book.ended("SL1") is None and "SL1" not in book.retired
    assert book.ended("unknown") is None
    with pytest.raises(ValueError, match="grace_ns"):
        ProtectionBook(-1)


# A model-based property: random sequences of what the venue and the strategy do.
ops = st.lists(
    st.tuples(
        st.sampled_from(["open", "close", "protect", "ack", "lose", "retire", "wait"]),
        st.integers(0, 20),
    ),
    max_size=40,
)


@given(ops)
def test_book_reports_every_unprotected_stretch_longer_than_the_grace(
    steps: list[tuple[str, int]],
) -> None:
    grace = 10 * S
    book = ProtectionBook(grace)
    now, position_open, n = 0, False, 0
    active: set[str] = set()
    acked: set[str] = set()
    unprotected_since: int | None = None
    for op, seconds in steps:
        if op == "open" and not position_open:
            position_open = True
        elif op == "close" and position_open:
            position_open = False
            book.position_closed()
            active.clear()
            acked.clear()
        elif op == "protect":
            n += 1
            book.activate({f"SL{n}": STOP_LOSS})
            active.add(f"SL{n}")
        elif op == "ack" and active:
            order = sorted(active)[0]
            book.acknowledge(order)
            acked.add(order)
        elif op == "lose" and active:
            order = sorted(active)[-1]
            assert book.ended(order) == STOP_LOSS
            active.discard(order)
            acked.discard(order)
        elif op == "retire":
            book.retire()
            active.clear()
            acked.clear()
        now += seconds * S
        working = bool(active) and acked == active
        if not position_open or working:
            unprotected_since = None
        elif unprotected_since is None:
            unprotected_since = now
        problem = book.check(position_open, True, now)
        expected = unprotected_since is not None and now - unprotected_since > grace
        assert (problem is not None) == expected
