from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.models.base import Action, PredictionError
from nautilus_ai.models.prompting import (
    ActionAnswer,
    action_distribution,
    build_prompt,
    input_fingerprint,
    normalised_entropy,
    parse_answer,
)
from nautilus_ai.models.testing import market_context, synthetic_bars


def test_prompt_is_deterministic_and_lists_features_and_bars() -> None:
    bars = synthetic_bars(20)
    context = market_context(bars)
    features = np.array([0.51234567, -0.0012])
    first = build_prompt(features, context, bars_in_prompt=5, with_chart=True)
    assert first == build_prompt(features.copy(), context, bars_in_prompt=5, with_chart=True)
    assert "rsi = 0.512346" in first
    assert "ema_gap = -0.0012" in first
    assert "Last 5 bars" in first
    assert "candlestick chart" in first
    assert first.count("\n  1.0") == 5  # five bar rows


def test_prompt_without_names_uses_positions_and_rejects_length_mismatch() -> None:
    context = market_context(None, names=())
    assert "f1 = 2" in build_prompt(np.array([1.0, 2.0]), context)
    with pytest.raises(PredictionError, match="3 values but context names 2"):
        build_prompt(np.array([1.0, 2.0, 3.0]), market_context(None))


def test_fingerprint_changes_with_inputs() -> None:
    bars = synthetic_bars(30)
    context = market_context(bars)
    features = np.array([0.5, 0.1])
    base = input_fingerprint(features, context, "cfg", bars_used=10)
    assert base == input_fingerprint(features.copy(), context, "cfg", bars_used=10)
    assert base != input_fingerprint(features + 1e-12, context, "cfg", bars_used=10)
    assert base != input_fingerprint(features, context, "cfg2", bars_used=10)
    moved = bars.copy()
    moved[-1, 4] += 1e-5
    assert base != input_fingerprint(features, market_context(moved), "cfg", bars_used=10)
    # bars outside the used window do not matter
    early = bars.copy()
    early[0, 4] += 1e-5
    assert base == input_fingerprint(features, market_context(early), "cfg", bars_used=10)


@pytest.mark.parametrize(
    ("text", "action", "risk"),
    [
        ('{"action": "buy", "risk": 0.25}', "buy", 0.25),
        ('Sure! ```json\n{"action": "hold", "risk": 1}\n```', "hold", 1.0),
        ('{"action": "sell", "risk": 0, "why": "trend"} trailing', "sell", 0.0),
    ],
)
def test_parse_valid_answers(text: str, action: str, risk: float) -> None:
    answer = parse_answer(text)
    assert answer == ActionAnswer(action=action, risk=risk)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I think you should buy", "no JSON object"),
        ('{"action": "buy", "risk": ', "not valid JSON"),
        ('{"action": "moon", "risk": 0.1}', "action"),
        ('{"action": "buy", "risk": 1.5}', "risk"),
        ('{"action": "buy"}', "risk: Field required"),
        # an answer that says two things, or a risk that is no number, was read as one
        ('{"action": "buy", "risk": 0.1, "action": "sell"}', "'action' twice"),
        ('{"action": "buy", "risk": true}', "risk"),
        ('{"action": "buy", "risk": "0.3"}', "risk"),
    ],
)
def test_parse_rejects_malformed_answers_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PredictionError, match=message):
        parse_answer(text)


@given(st.text(max_size=300))
def test_parse_never_raises_anything_but_prediction_error(text: str) -> None:
    with contextlib.suppress(PredictionError):
        parse_answer(text)


def test_action_distribution_is_a_softmax_over_three_choices() -> None:
    dist = action_distribution({"buy": math.log(0.2), "sell": math.log(0.2), "hold": math.log(0.6)})
    assert dist[Action.HOLD] == pytest.approx(0.6)
    assert sum(dist.values()) == pytest.approx(1.0)
    only = action_distribution({"buy": -3.0})
    assert only == {Action.BUY: 1.0, Action.SELL: 0.0, Action.HOLD: 0.0}
    with pytest.raises(PredictionError, match="no action choice"):
        action_distribution({})
    with pytest.raises(PredictionError, match="NaN"):
        action_distribution([0.0, float("nan"), 0.0])


@given(st.lists(st.floats(-50, 50), min_size=3, max_size=3))
def test_distribution_and_entropy_stay_in_range(scores: list[float]) -> None:
    dist = action_distribution(scores)
    assert sum(dist.values()) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in dist.values())
    assert 0.0 <= normalised_entropy(dist) <= 1.0


def test_entropy_extremes() -> None:
    assert normalised_entropy({Action.BUY: 1.0, Action.SELL: 0.0, Action.HOLD: 0.0}) == 0.0
    uniform = {a: 1 / 3 for a in Action}
    assert normalised_entropy(uniform) == pytest.approx(1.0)
