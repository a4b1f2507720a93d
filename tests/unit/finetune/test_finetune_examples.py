"""Supervised examples: the answer format, selection, contexts and no look-ahead."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from finetune_helpers import example_set
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.finetune import (
    AnswerSpec,
    answer_continuation,
    answer_text,
    instrument_of_bar_type,
    select_rows,
)
from nautilus_ai.models.prompting import ACTION_CHOICES, ANSWER_PREFIX, ActionAnswer, parse_answer

BUY, SELL, HOLD = (ACTION_CHOICES.index(a) for a in ("buy", "sell", "hold"))


@given(
    action=st.sampled_from(ACTION_CHOICES),
    risk=st.floats(0.0, 1.0).map(lambda r: round(r, 2)),
)
def test_answer_text_is_what_the_predictor_parses(action: str, risk: float) -> None:
    answer = ActionAnswer(action=action, risk=risk)  # type: ignore[arg-type]
    text = answer_text(answer)
    assert text.startswith(ANSWER_PREFIX)
    assert parse_answer(text) == answer
    assert json.loads(text) == {"action": action, "risk": risk}
    word, rest = answer_continuation(answer)
    assert word == action
    assert ANSWER_PREFIX + word + rest == text


def test_fixed_risk_answers() -> None:
    actions = np.array([BUY, SELL, HOLD])
    risks = AnswerSpec(fixed_risk=0.333).risks(actions, np.array([5.0, -5.0, 0.0]), 1.0, 1.0)
    assert risks.tolist() == [0.33, 0.33, 0.33]


def test_forward_return_risk_answers() -> None:
    spec = AnswerSpec(risk="forward_return")
    actions = np.array([BUY, BUY, BUY, SELL, SELL, HOLD, BUY])
    forward = np.array([4.0, 1.5, -1.0, -3.0, 2.0, 0.1, np.nan])
    risks = spec.risks(actions, forward, buy_threshold=1.0, sell_threshold=1.5)
    # buy: 1 - clip(fr / 2); sell: 1 - clip(-fr / 3); hold: 1; NaN forward return: no strength.
    assert risks.tolist() == [0.0, 0.25, 1.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("field", "value"), [("risk", "vol"), ("fixed_risk", 1.5), ("decimals", -1)]
)
def test_answer_spec_names_the_bad_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"AnswerSpec.{field}"):
        AnswerSpec(**{field: value})  # type: ignore[arg-type]


def test_instrument_of_bar_type() -> None:
    assert instrument_of_bar_type("EUR/USD.SIM-1-MINUTE-BID-EXTERNAL") == "EUR/USD.SIM"
    assert instrument_of_bar_type("BTC-PERP.X-5-MINUTE-LAST-INTERNAL") == "BTC-PERP.X"
    with pytest.raises(ValueError, match="INSTRUMENT-STEP"):
        instrument_of_bar_type("EURUSD")


def test_select_rows_thins_and_down_samples_holds_only() -> None:
    rng = np.random.default_rng(3)
    actions = rng.choice([BUY, SELL, HOLD], size=2000, p=[0.1, 0.1, 0.8]).astype(np.int64)
    assert select_rows(actions).tolist() == list(range(2000))
    strided = select_rows(actions, stride=3)
    assert strided.tolist() == list(range(0, 2000, 3))
    kept = select_rows(actions, stride=2, hold_keep_fraction=0.25, seed=1)
    assert (np.diff(kept) > 0).all() and (kept % 2 == 0).all()
    base = np.arange(0, 2000, 2)
    trades = base[actions[base] != HOLD]
    assert set(trades.tolist()) <= set(kept.tolist())  # every buy and sell kept
    holds = base[actions[base] == HOLD]
    assert (actions[kept] == HOLD).sum() == round(holds.size * 0.25)
    assert kept.tolist() == select_rows(actions, stride=2, hold_keep_fraction=0.25, seed=1).tolist()
    other = select_rows(actions, stride=2, hold_keep_fraction=0.25, seed=2)
    assert kept.tolist() != other.tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"stride": 0}, "stride"), ({"hold_keep_fraction": 0.0}, "hold_keep_fraction")],
)
def test_select_rows_rejects(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_rows(np.zeros(4, dtype=np.int64), **kwargs)  # type: ignore[arg-type]


def test_context_is_what_the_strategy_hands_over() -> None:
    examples = example_set("train", 6, context_bars=32)
    for i in range(len(examples)):
        t = int(examples.rows[i])
        context = examples.context(i)
        assert context.ts_event == int(examples.bar_ts[t])
        assert context.recent_bars is not None
        # The strategy's window: the last context_bars accepted bars up to and including t.
        np.testing.assert_array_equal(context.recent_bars, examples.bars[t - 31 : t + 1])
        assert context.feature_names == examples.feature_names
        assert context.spec_hash == examples.spec_hash
    early = replace(examples, rows=np.array([3, 4]), features=examples.features[:2],
                    actions=examples.actions[:2], risks=examples.risks[:2])  # fmt: skip
    assert early.context(0).recent_bars is not None
    assert len(early.context(0).recent_bars) == 4  # fewer bars exist before t = 3


@settings(max_examples=30, deadline=None)
@given(t=st.integers(100, 115), seed=st.integers(0, 1000))
def test_inputs_never_look_ahead(t: int, seed: int) -> None:
    """Rewriting every bar after t leaves the input of each example at or before t unchanged."""
    examples = example_set("train", 16, context_bars=32)
    changed = examples.bars.copy()
    rng = np.random.default_rng(seed)
    changed[t + 1 :, 1:] *= rng.uniform(0.5, 1.5, size=changed[t + 1 :, 1:].shape)
    other = replace(examples, bars=changed)
    for i in np.flatnonzero(examples.rows <= t):
        a, b = examples.context(int(i)), other.context(int(i))
        assert a.recent_bars is not None and b.recent_bars is not None
        np.testing.assert_array_equal(a.recent_bars, b.recent_bars)
        assert a == b


def test_class_counts_and_subset() -> None:
    examples = example_set("train", 7)
    assert examples.class_counts() == {"buy": 3, "sell": 2, "hold": 2}
    part = examples.subset([5, 0, 5])
    assert part.rows.tolist() == [examples.rows[0], examples.rows[5]]
    assert part.answer(1) == examples.answer(5)
    assert part.bars is examples.bars


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rows": np.array([101, 100, 102, 103, 104, 105])}, "strictly increasing"),
        ({"features": np.full((6, 2), np.nan)}, "finite"),
        ({"actions": np.full(6, 3)}, "actions"),
        ({"risks": np.full(6, 1.5)}, "risks"),
        ({"context_bars": 0}, "context_bars"),
        ({"bar_ts": np.zeros(3, dtype=np.int64)}, "bar_ts"),
    ],
)
def test_example_set_validation_names_the_field(change: dict[str, object], message: str) -> None:
    examples = example_set("train", 6)
    with pytest.raises(ValueError, match=message):
        replace(examples, **change)
