"""Circuit breaker, deadline runner, fallback chain, ensemble vote, switchable predictor."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.models.base import Action, Prediction, PredictionError, safe_predict
from nautilus_ai.models.circuit import CircuitBreaker
from nautilus_ai.models.deadline import DeadlineRunner
from nautilus_ai.models.ensemble import EnsemblePredictor, vote
from nautilus_ai.models.fallback import FallbackPredictor
from nautilus_ai.models.switchable import SwitchablePredictor
from nautilus_ai.models.testing import ScriptedPredictor, market_context

X = np.array([0.1, 0.2])


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_closes_after_a_good_trial() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow() and breaker.times_opened == 1
    assert breaker.seconds_until_retry() == pytest.approx(10)
    clock.now = 10.0
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # one trial at a time
    breaker.record_failure()  # trial failed: open again
    assert breaker.state == "open" and breaker.times_opened == 2
    clock.now = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_breaker_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=1)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_deadline_runner_gives_up_waiting_and_refuses_when_saturated() -> None:
    runner = DeadlineRunner(max_workers=1)
    release = threading.Event()
    try:
        assert runner.run(lambda: 5, 1.0) == 5
        with pytest.raises(PredictionError, match="no answer within 50 ms"):
            runner.run(lambda: release.wait(5), 0.05, what="stuck")
        started = time.perf_counter()
        with pytest.raises(PredictionError, match="busy"):
            runner.run(lambda: 1, 1.0)
        assert time.perf_counter() - started < 0.5  # refused at once, not after its 1 s
        with pytest.raises(ValueError, match="boom"):
            release.set()
            time.sleep(0.05)
            runner.run(lambda: (_ for _ in ()).throw(ValueError("boom")), 1.0)
        results = runner.run_many([("a", lambda: 1), ("b", lambda: 2)], 1.0)
        assert results[0] == 1 and isinstance(results[1], (int, PredictionError))
    finally:
        release.set()
        runner.close()


def test_fallback_uses_the_next_backend_when_the_first_fails() -> None:
    primary, backup = (
        ScriptedPredictor("remote", fail=True),
        ScriptedPredictor("local", Action.SELL),
    )
    chain = FallbackPredictor([primary, backup], deadline_s=1.0)
    prediction = chain.predict(X, market_context(None))
    assert prediction.model_id == "local" and prediction.action is Action.SELL
    assert "fallback after remote" in prediction.reason and "failed on purpose" in prediction.reason
    assert chain.answered_by == {"remote": 0, "local": 1}
    assert chain.model_id == "fallback(remote,local)"
    chain.close()
    assert primary.closed and backup.closed


def test_fallback_answers_within_the_deadline_when_the_first_is_slow() -> None:
    slow, backup = ScriptedPredictor("remote", delay_s=2.0), ScriptedPredictor("local", Action.HOLD)
    chain = FallbackPredictor([slow, backup], deadline_s=0.1)
    started = time.perf_counter()
    prediction = chain.predict(X, market_context(None))
    assert time.perf_counter() - started < 0.5
    assert prediction.model_id == "local" and "no answer within" in prediction.reason
    chain.close()


def test_fallback_raises_when_every_link_fails_and_safe_predict_holds() -> None:
    chain = FallbackPredictor(
        [ScriptedPredictor("a", fail=True), ScriptedPredictor("b", fail=True)], deadline_s=1
    )
    with pytest.raises(PredictionError, match="every backend"):
        chain.predict(X, market_context(None))
    held = safe_predict(chain, X, market_context(None))
    assert held.action is Action.HOLD and "every backend" in held.reason


def test_fallback_batch_refills_only_failed_rows() -> None:
    class HalfBroken(ScriptedPredictor):
        def predict_items(self, features, contexts=None):  # type: ignore[no-untyped-def]
            return [
                PredictionError("bad row") if i % 2 else Prediction(Action.BUY, 0.9, 0.1, "remote")
                for i in range(len(features))
            ]

    backup = ScriptedPredictor("local", Action.SELL)
    chain = FallbackPredictor([HalfBroken("remote"), backup], deadline_s=1.0)
    out = chain.predict_batch(np.zeros((4, 2)), [market_context(None)] * 4)
    assert [p.action for p in out] == [Action.BUY, Action.SELL, Action.BUY, Action.SELL]
    assert backup.calls == 2


def test_fallback_rejects_mixed_feature_specs() -> None:
    with pytest.raises(ValueError, match="different feature specs"):
        FallbackPredictor(
            [ScriptedPredictor("a", spec_hash="x"), ScriptedPredictor("b", spec_hash="y")],
            deadline_s=1,
        )


def test_vote_is_confidence_weighted() -> None:
    answers = [
        Prediction(Action.BUY, 0.9, 0.2, "a"),
        Prediction(Action.SELL, 0.6, 0.4, "b"),
        Prediction(Action.SELL, 0.5, 0.6, "c"),
    ]
    result = vote(answers, [1.0, 1.0, 1.0], "ens")
    assert result.action is Action.SELL  # 1.1 > 0.9
    assert result.confidence == pytest.approx(1.1 / 3)
    assert result.risk_score == pytest.approx(0.4)
    weighted = vote(answers, [3.0, 1.0, 1.0], "ens")
    assert weighted.action is Action.BUY and weighted.confidence == pytest.approx(2.7 / 5)
    tie = vote([*answers[:1], Prediction(Action.SELL, 0.9, 0.2, "b")], [1.0, 1.0], "ens")
    assert tie.action is Action.HOLD
    with pytest.raises(PredictionError, match="only 1 of the required 2"):
        vote(answers[:1], [1.0], "ens", min_members=2)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Action)), st.floats(0, 1), st.floats(0, 1), st.floats(0.01, 10)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_vote_outputs_are_valid(members: list[tuple[Action, float, float, float]]) -> None:
    answers = [Prediction(a, c, r, f"m{i}") for i, (a, c, r, _) in enumerate(members)]
    result = vote(answers, [w for *_, w in members], "ens")
    assert 0.0 <= result.confidence <= 1.0 and 0.0 <= result.risk_score <= 1.0


def test_ensemble_skips_failed_and_late_members() -> None:
    members = [
        ScriptedPredictor("a", Action.BUY, 0.8),
        ScriptedPredictor("b", fail=True),
        ScriptedPredictor("c", Action.SELL, 0.9, delay_s=2.0),
    ]
    ensemble = EnsemblePredictor(members, deadline_s=0.2)
    started = time.perf_counter()
    result = ensemble.predict(X, market_context(None))
    assert time.perf_counter() - started < 1.0
    assert result.action is Action.BUY and "from 1 members" in result.reason
    strict = EnsemblePredictor(members[:2], min_members=2)
    with pytest.raises(PredictionError, match="only 1 of the required 2"):
        strict.predict(X, market_context(None))
    assert (
        strict.predict_batch(np.zeros((2, 2)), [market_context(None)] * 2)[0].action is Action.HOLD
    )
    ensemble.close()


def test_switch_by_config_keeps_serving_and_closes_the_old_backend() -> None:
    built: list[ScriptedPredictor] = []

    def factory(config):  # type: ignore[no-untyped-def]
        predictor = ScriptedPredictor(
            config["name"], Action(config["action"]), spec_hash=config.get("spec")
        )
        built.append(predictor)
        return predictor

    first = ScriptedPredictor("first", Action.BUY, spec_hash="s1")
    switchable = SwitchablePredictor(first, factory)
    assert switchable.predict(X, market_context(None)).model_id == "first"
    assert switchable.switch({"name": "second", "action": "sell"}) == "second"
    assert first.closed and switchable.model_id == "second"
    assert switchable.predict(X, market_context(None)).action is Action.SELL
    with pytest.raises(ValueError, match="feature spec s2"):
        switchable.switch({"name": "third", "action": "hold", "spec": "s2"})
    assert built[-1].closed and switchable.model_id == "second"
    with pytest.raises(KeyError):
        switchable.switch({"action": "hold"})  # factory failure: old one stays
    assert switchable.model_id == "second"


def test_switch_waits_for_running_calls_before_closing() -> None:
    entered, release = threading.Event(), threading.Event()

    class Blocking(ScriptedPredictor):
        def predict(self, features, context):  # type: ignore[no-untyped-def]
            entered.set()
            release.wait(5)
            assert not self.closed, "closed while a call was running"
            return super().predict(features, context)

    old = Blocking("old")
    switchable = SwitchablePredictor(old, drain_timeout_s=5)
    results: list[Prediction] = []
    worker = threading.Thread(
        target=lambda: results.append(switchable.predict(X, market_context(None)))
    )
    worker.start()
    entered.wait(5)
    switcher = threading.Thread(target=lambda: switchable.switch(ScriptedPredictor("new")))
    switcher.start()
    time.sleep(0.1)
    assert switchable.model_id == "new" and not old.closed  # swapped, old still draining
    release.set()
    worker.join(5)
    switcher.join(5)
    assert old.closed and results[0].model_id == "old"


class _ShortBatch(ScriptedPredictor):
    """A per-row backend (a third-party plugin, say) whose batch answer drops its last row."""

    def predict_items(self, features: object, contexts: object = None) -> list[object]:
        rows = np.asarray(features).shape[0]
        return [Prediction(Action.BUY, 0.9, 0.1, self.name)] * (rows - 1)


def test_a_batch_answer_of_the_wrong_length_is_an_error_and_the_chain_falls_back() -> None:
    # The fallback chain raised ValueError (zip strict) instead of asking its next link, and an
    # ensemble raised IndexError or matched answers to the wrong rows.
    from nautilus_ai.models.itemwise import predict_items

    rows = np.vstack([X, X, X])
    answers = predict_items(_ShortBatch("plugin"), rows, [market_context(None)] * 3)
    assert len(answers) == 3 and all(isinstance(a, PredictionError) for a in answers)
    assert "2 answers for 3 rows" in str(answers[0])
    chain = FallbackPredictor([_ShortBatch("plugin"), ScriptedPredictor("local")], deadline_s=1.0)
    batch = chain.predict_batch(rows, [market_context(None)] * 3)
    assert [p.model_id for p in batch] == ["local"] * 3
    ensemble = EnsemblePredictor([_ShortBatch("plugin"), ScriptedPredictor("local", Action.SELL)])
    assert [p.action for p in ensemble.predict_batch(rows, [market_context(None)] * 3)] == [
        Action.SELL
    ] * 3
