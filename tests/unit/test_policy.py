from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.models import Action
from nautilus_ai.policy import Intent, PolicyConfig, decide, decide_sign

CFG = PolicyConfig(min_confidence=0.6)


@pytest.mark.parametrize(
    ("action", "confidence", "side", "expected"),
    [
        (Action.BUY, 0.7, 0, (Intent.ENTER, 1)),
        (Action.SELL, 0.7, 0, (Intent.ENTER, -1)),
        (Action.BUY, 0.5, 0, (Intent.NONE, 0)),  # not confident enough
        (Action.HOLD, 0.99, 0, (Intent.NONE, 0)),
        (Action.BUY, 0.7, 1, (Intent.NONE, 0)),  # no pyramiding
        (Action.SELL, 0.7, 1, (Intent.REVERSE, -1)),
        (Action.BUY, 0.7, -1, (Intent.REVERSE, 1)),
        (Action.HOLD, 0.9, 1, (Intent.NONE, 0)),
    ],
)
def test_decide_table(action: Action, confidence: float, side: int, expected: tuple) -> None:
    assert decide(action, confidence, side, 1, False, CFG) == expected


def test_flatten_instead_of_reverse_and_exit_on_hold() -> None:
    cfg = PolicyConfig(min_confidence=0.6, reverse_on_opposite=False, exit_on_hold=True)
    assert decide(Action.SELL, 0.9, 1, 3, False, cfg) == (Intent.EXIT, 0)
    assert decide(Action.HOLD, 0.9, -1, 3, False, cfg) == (Intent.EXIT, 0)
    assert decide(Action.BUY, 0.1, 1, 3, False, cfg) == (Intent.EXIT, 0)


def test_max_holding_bars_closes() -> None:
    cfg = PolicyConfig(min_confidence=0.6, max_holding_bars=10)
    assert decide(Action.BUY, 0.9, 1, 9, False, cfg) == (Intent.NONE, 0)
    assert decide(Action.BUY, 0.9, 1, 10, False, cfg) == (Intent.EXIT_TIMEOUT, 0)


@given(
    action=st.sampled_from(list(Action)),
    confidence=st.floats(0, 1),
    side=st.sampled_from([-1, 0, 1]),
    held=st.integers(0, 1000),
)
def test_paused_never_opens_a_position(
    action: Action, confidence: float, side: int, held: int
) -> None:
    intent, new_side = decide(action, confidence, side, held, True, CFG)
    assert intent not in (Intent.ENTER, Intent.REVERSE)
    assert new_side == 0


@given(
    action=st.sampled_from(list(Action)),
    confidence=st.floats(0, 1),
    side=st.sampled_from([-1, 0, 1]),
)
def test_enter_and_reverse_follow_the_signal(action: Action, confidence: float, side: int) -> None:
    intent, new_side = decide(action, confidence, side, 0, False, CFG)
    if intent in (Intent.ENTER, Intent.REVERSE):
        assert new_side == action.sign != 0
        assert confidence >= CFG.min_confidence
        assert new_side != side


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="min_confidence"):
        PolicyConfig(min_confidence=1.5)
    with pytest.raises(ValueError, match="max_holding_bars"):
        PolicyConfig(max_holding_bars=0)
    with pytest.raises(ValueError, match="position_side"):
        decide(Action.BUY, 0.9, 2, 0, False, CFG)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reverse_on_opposite": "no"}, "reverse_on_opposite must be True or False, was 'no'"),
        ({"exit_on_hold": 1}, "exit_on_hold must be True or False, was 1"),
        ({"exit_on_opposite_when_paused": None}, "exit_on_opposite_when_paused must be True"),
        ({"max_holding_bars": 2.5}, "max_holding_bars must be an int >= 1 or None, was 2.5"),
        ({"max_holding_bars": True}, "max_holding_bars must be an int >= 1 or None, was True"),
        ({"min_confidence": "0.6"}, "min_confidence must be a number in [0, 1], was '0.6'"),
        ({"min_confidence": True}, "min_confidence must be a number in [0, 1], was True"),
    ],
)
def test_config_refuses_wrong_types_naming_the_field(kwargs: dict, message: str) -> None:
    """reverse_on_opposite="no" is truthy and reversed positions; max_holding_bars=2.5 or True
    was taken; min_confidence="0.6" raised a bare TypeError from a comparison."""
    with pytest.raises(ValueError) as error:
        PolicyConfig(**kwargs)
    assert str(error.value).startswith(message)


def test_a_sign_that_is_not_minus_one_zero_or_one_is_refused() -> None:
    """A precomputed signal of 2 was an ENTER on side 2."""
    with pytest.raises(ValueError, match="sign must be -1, 0 or 1, was 2"):
        decide_sign(2, 0.9, 0, 0, False, CFG)
