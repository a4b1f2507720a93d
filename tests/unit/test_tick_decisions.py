"""Tick decisions' pure core: cadence, delivery-order independence, the tick_rule backend, and
decide_on_tick through the decision core (pause, faults, records made on a tick)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.decision import DecisionCore, RiskControls
from nautilus_ai.features import FeatureSpec, TickVectorSpec
from nautilus_ai.models import (
    MarketContext,
    Prediction,
    PredictionError,
    SpecMismatchError,
    build_predictor,
)
from nautilus_ai.models.tick_rule import TickRuleConfig, TickRulePredictor
from nautilus_ai.policy import PolicyConfig
from nautilus_ai.sizing import SizingConfig
from nautilus_ai.tick_decisions import TickDecider, TickModeConfig, decide_on_tick, tick_problem

MS = 1_000_000
SPEC = FeatureSpec()
VECTOR = TickVectorSpec(SPEC)
K = len(SPEC.names)


def bar_row(atr_close: float = 1e-4, warm: float = 1.0) -> np.ndarray:
    row = np.zeros(K)
    row[SPEC.index("atr_close")] = atr_close
    row[SPEC.index("warm")] = warm
    return row


def feed(decider: TickDecider, mids: list[float], start_ms: int, step_ms: int) -> list[np.ndarray]:
    vectors = []
    for i, mid in enumerate(mids):
        v = decider.on_tick((start_ms + i * step_ms) * MS, mid - 1e-5, mid + 1e-5, 1.0, 1.0)
        if v is not None:
            vectors.append(v)
    return vectors


def test_every_tick_every_nth_and_every_k_ms() -> None:
    for config, expected in (
        (TickModeConfig(every_ticks=1), 10),
        (TickModeConfig(every_ticks=3), 4),  # ticks 1, 4, 7, 10
        (TickModeConfig(every_ms=250.0), 4),  # 100 ms apart: ticks 1, 4, 7, 10 (0, 300, ...)
    ):
        decider = TickDecider(SPEC, config)
        decider.on_bar(1000 * MS, bar_row())
        vectors = feed(decider, [1.1] * 10, 1001, 100)
        assert len(decider.ts) == len(vectors) == expected, config
        assert decider.ticks_seen == 10
        assert all(v.shape == (len(VECTOR.names),) for v in vectors)


def test_no_decision_before_a_warm_bar() -> None:
    decider = TickDecider(SPEC, TickModeConfig())
    feed(decider, [1.1] * 3, 0, 10)
    decider.on_bar(100 * MS, bar_row(warm=0.0))
    feed(decider, [1.1] * 3, 101, 10)
    assert decider.ts == []
    decider.on_bar(200 * MS, bar_row())
    assert len(feed(decider, [1.1] * 2, 201, 10)) == 2


def test_the_vector_is_the_last_bar_then_the_tick_features() -> None:
    decider = TickDecider(SPEC, TickModeConfig())
    row = bar_row(atr_close=2e-4)
    decider.on_bar(1000 * MS, row)
    first, second = feed(decider, [1.0, 1.0001], 1001, 10)
    assert np.array_equal(second[:K], row)
    names = VECTOR.names
    assert second[names.index("tick_count")] == 2.0
    assert second[names.index("tick_mid_ret")] == pytest.approx(1e-4)
    assert first[names.index("tick_mid_ret")] == 0.0


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
            if b < len(bars) and bars[b] == t and not bar_first:
                decider.on_bar(bars[b], bar_row(atr_close=1e-4 * (1 + b)))
                b += 1
        runs.append((decider.ts, decider.bar_ts, np.asarray(decider.features).tobytes()))
    assert runs[0] == runs[1]


def test_a_v1_spec_and_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="need feature spec version >= 2"):
        TickDecider(FeatureSpec(version=1), TickModeConfig())
    with pytest.raises(ValueError, match="every_ticks: must be >= 1"):
        TickModeConfig(every_ticks=0)
    with pytest.raises(ValueError, match="every_ms: must be > 0"):
        TickModeConfig(every_ms=0.0)
    with pytest.raises(TypeError, match="entry_atr"):  # the rule's thresholds are the model's
        TickModeConfig(entry_atr=1.0)  # type: ignore[call-arg]


def test_reset_forgets_everything() -> None:
    decider = TickDecider(SPEC, TickModeConfig(), keep_features=True)
    decider.on_bar(1000 * MS, bar_row())
    feed(decider, [1.1] * 3, 1001, 10)
    decider.reset()
    assert decider.ts == [] and decider.features == [] and decider.ticks_seen == 0
    assert feed(decider, [1.1] * 3, 2001, 10) == []


# -- the tick vector spec and the tick_rule backend -----------------------------------------


def test_the_tick_vector_spec_has_its_own_hash_and_reads_back() -> None:
    assert VECTOR.names == (*SPEC.names, *SPEC.tick_names)
    assert VECTOR.hash != SPEC.hash and len(VECTOR.hash) == 16
    assert TickVectorSpec.from_dict(VECTOR.to_dict()) == VECTOR
    assert TickVectorSpec(FeatureSpec(atr_period=10)).hash != VECTOR.hash
    with pytest.raises(ValueError, match="not a tick vector spec"):
        TickVectorSpec.from_dict(SPEC.to_dict())


def tick_vector(atr: float, mid_ret: float, spread: float) -> np.ndarray:
    vector = np.zeros(len(VECTOR.names))
    vector[VECTOR.index("atr_close")] = atr
    vector[VECTOR.index("tick_mid_ret")] = mid_ret
    vector[VECTOR.index("tick_spread")] = spread
    return vector


CONTEXT = MarketContext("EUR/USD.SIM", 0, VECTOR.names, VECTOR.hash)


def test_the_tick_rule_buys_and_sells_on_the_move_since_the_bar_opened() -> None:
    rule = build_predictor({"kind": "tick_rule", "entry_atr": 0.5}, VECTOR)
    assert isinstance(rule, TickRulePredictor) and rule.model_id.startswith("tick-rule/")
    buy = rule.predict(tick_vector(1e-4, 0.5e-4, 0.1e-4), CONTEXT)
    assert (buy.action.value, buy.confidence) == ("buy", 0.5)
    assert buy.risk_score == pytest.approx(0.2)  # a fifth of the widest spread traded
    sell = rule.predict(tick_vector(1e-4, -1e-4, 0.1e-4), CONTEXT)
    assert (sell.action.value, sell.confidence) == ("sell", 1.0)
    assert rule.predict(tick_vector(1e-4, 0.4e-4, 0.1e-4), CONTEXT).action.value == "hold"
    wide = rule.predict(tick_vector(1e-4, 1e-4, 0.6e-4), CONTEXT)
    assert (wide.action.value, wide.reason) == ("hold", "hold: spread too wide")
    assert rule.predict(tick_vector(0.0, 1e-4, 0.0), CONTEXT).reason == "hold: no ATR"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 1e-5, 1e-4, 3e-4]),
            st.floats(-5e-4, 5e-4, allow_nan=False),
            st.floats(-1e-4, 2e-4, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    ),
    st.floats(0.1, 3.0),
)
def test_the_tick_rule_batch_equals_predict_bit_for_bit(
    rows: list[tuple[float, float, float]], entry: float
) -> None:
    rule = TickRulePredictor(VECTOR, TickRuleConfig(entry_atr=entry))
    x = np.stack([tick_vector(*row) for row in rows])
    one = [rule.predict(v, CONTEXT) for v in x]
    batch = rule.predict_batch(x)
    signals = rule.predict_signals(x)
    key = [(p.action, p.confidence, p.risk_score, p.reason) for p in one]
    assert key == [(p.action, p.confidence, p.risk_score, p.reason) for p in batch]
    assert [p.action.sign for p in one] == signals.sign
    assert [p.confidence for p in one] == signals.confidence
    # The per-tick fast path (plain values from a list of Python floats): predict's answer.
    plain = [rule.predict_signal(v.tolist()) for v in x]
    assert plain == [(p.action.sign, p.confidence, p.risk_score, p.reason) for p in one]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_tick_rule_gives_no_plain_answer_where_predict_refuses(bad: float) -> None:
    rule = TickRulePredictor(VECTOR)
    row = tick_vector(1e-4, 2e-4, 1e-5).tolist()
    assert rule.predict_signal(row) == (1, 1.0, 0.2, "buy: mid up since the bar opened")
    assert rule.predict_signal(row[:-1]) is None and rule.predict_signal([*row, 0.0]) is None
    for name in ("atr_close", "tick_mid_ret", "tick_spread"):
        broken = list(row)
        broken[VECTOR.names.index(name)] = bad
        assert rule.predict_signal(broken) is None
        with pytest.raises(PredictionError, match=name):
            rule.predict(np.array(broken), CONTEXT)
    # A column the rule does not read is not checked on either path (the per-tick path is hot).
    other = list(row)
    other[VECTOR.names.index("tick_count")] = bad
    answer = rule.predict(np.array(other), CONTEXT)
    assert rule.predict_signal(other) == (1, 1.0, 0.2, answer.reason)


def test_a_tick_model_is_refused_on_bar_vectors_naming_the_feature() -> None:
    with pytest.raises(SpecMismatchError, match=r"tick feature 'tick_mid_ret'.*tick_mode"):
        build_predictor({"kind": "tick_rule"}, SPEC)


# -- decide_on_tick: the bar decisions' path ------------------------------------------------


class Account:
    def __init__(self, side: int = 0) -> None:
        self.side = side

    def position_side(self) -> int:
        return self.side

    def equity_and_free_margin(self) -> tuple[float, float]:
        return 100_000.0, 100_000.0

    def orders_in_flight(self) -> bool:
        return False


def core(observe_only: bool = False, paused: bool = False) -> DecisionCore:
    return DecisionCore(
        PolicyConfig(), SizingConfig(), RiskControls(min_confidence=0.55, paused=paused),
        stop_loss_atr=2.0, take_profit_atr=3.0, observe_only=observe_only,
    )  # fmt: skip


I_ATR, I_VOL = SPEC.index("atr_close"), SPEC.index("vol_regime")


def test_a_tick_decision_sizes_and_protects_like_a_bar_decision() -> None:
    decisions = core()
    rule = build_predictor({"kind": "tick_rule"}, VECTOR)
    vector = tick_vector(1e-4, 1e-4, 0.1e-4)
    prediction, decision = decide_on_tick(
        decisions, rule, vector, 5 * MS, 1.1, CONTEXT, Account(), I_ATR, I_VOL
    )
    assert prediction.action.value == "buy" and decision.send and decision.quantity > 0
    assert decision.intent.value == "enter" and decision.plan is not None
    assert decision.plan.stop_loss == pytest.approx(1.1 - 2.0 * 1e-4 * 1.1)
    (record,) = decisions.tick_decisions
    assert record.on_tick and record.ts_event == 5 * MS and list(decisions.decisions) == []


def test_pause_and_observe_only_apply_to_tick_decisions() -> None:
    rule = build_predictor({"kind": "tick_rule"}, VECTOR)
    vector = tick_vector(1e-4, 1e-4, 0.1e-4)
    paused = core(paused=True)
    _, decision = decide_on_tick(paused, rule, vector, 1, 1.1, CONTEXT, Account(), I_ATR, I_VOL)
    assert decision.intent.value == "none" and not decision.send
    observing = core(observe_only=True)
    _, decision = decide_on_tick(observing, rule, vector, 1, 1.1, CONTEXT, Account(), I_ATR, I_VOL)
    assert decision.intent.value == "enter" and not decision.send


class Broken:
    model_id, spec_hash, batch_exact = "broken/1", VECTOR.hash, False

    def predict(self, features: np.ndarray, context: MarketContext) -> Prediction:
        raise RuntimeError("boom")

    def predict_batch(self, features: np.ndarray, contexts: object = None) -> list[Prediction]:
        raise RuntimeError("boom")

    def close(self) -> None:
        pass


def test_a_model_fault_on_a_tick_is_a_hold_that_says_why() -> None:
    decisions = core()
    prediction, decision = decide_on_tick(
        decisions, Broken(), tick_vector(1e-4, 1e-4, 0.0), 1, 1.1, CONTEXT, Account(1),
        I_ATR, I_VOL,
    )  # fmt: skip
    assert prediction.error == "RuntimeError: boom"
    assert decision is None  # a hold in a kept position: nothing to do
    record = decisions.tick_decisions[0]
    assert record.error == "RuntimeError: boom"
    assert record.intent == "none" and not record.order_sent and record.quantity == 0.0


def test_the_strategy_config_refuses_what_tick_mode_does_not_support() -> None:
    from nautilus_ai.config_check import ConfigFieldError
    from nautilus_ai.strategies.ai_pattern import AIPatternConfig

    base = {"instrument_id": "EUR/USD.SIM", "bar_type": "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"}
    for extra, match in (
        ({"tick_mode": {"entry_atr": 1.0}}, "tick_mode.entry_atr: unknown key"),
        ({"tick_mode": {"every_ticks": 0}}, "tick_mode.every_ticks"),
        ({"tick_mode": {}, "async_predictions": True}, "not supported with tick_mode"),
        ({"tick_mode": {}, "decision_deadline_ms": 100.0}, "not supported with tick_mode"),
        ({"tick_mode": {}, "feature_spec": {"version": 1}}, "feature spec version >= 2"),
    ):
        with pytest.raises((ConfigFieldError, ValueError), match=match):
            AIPatternConfig(**base, **extra)  # type: ignore[arg-type]
    assert AIPatternConfig(**base, tick_mode={"every_ms": 250.0}).tick_mode == {"every_ms": 250.0}


@pytest.mark.parametrize(
    ("ts", "bid", "ask", "reason"),
    [
        (10, 1.1, 1.1001, None),
        (5, 1.1, 1.1001, None),  # the same time as the last tick
        (10, 1.1002, 1.1, None),  # crossed: kept
        (10, 0.0, 0.0, "non_positive_price"),
        (10, 0.0, 1.1, "non_positive_price"),
        (10, -1.1, -1.0, "non_positive_price"),
        (10, float("nan"), 1.1, "non_finite"),
        (10, 1.1, float("inf"), "non_finite"),
        (4, 1.1, 1.1001, "out_of_order"),
        (10, 1.2, 1.2001, "outlier"),
    ],
)
def test_a_bad_quote_tick_is_named(ts: int, bid: float, ask: float, reason: str | None) -> None:
    assert tick_problem(ts, 5, bid, ask, 1.0, 1.15) == reason
