from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.models.base import Action
from nautilus_ai.models.latency import EmpiricalLatency, FixedLatency, LogNormalLatency
from nautilus_ai.models.scheduler import DecisionScheduler
from nautilus_ai.models.testing import ScriptedPredictor, market_context

MINUTE = 60_000_000_000
FEATURES = np.array([0.5, 0.1])


class SequencePredictor(ScriptedPredictor):
    """Answers with the request's ts in the reason, so tests can match decisions to bars."""

    def predict(self, features, context):  # type: ignore[no-untyped-def]
        prediction = super().predict(features, context)
        return type(prediction)(
            prediction.action, prediction.confidence, prediction.risk_score,
            prediction.model_id, prediction.latency, reason=str(context.ts_event),
        )  # fmt: skip


class GatedPredictor(SequencePredictor):
    """A SequencePredictor whose calls set ``started``, then wait for ``gate`` (5 s at most)."""

    def __init__(self, gate: threading.Event, started: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.started = started if started is not None else threading.Event()

    def predict(self, features, context):  # type: ignore[no-untyped-def]
        self.started.set()
        self.gate.wait(5)
        return super().predict(features, context)


def _run_backtest(scheduler: DecisionScheduler, bars: int) -> dict[int, list]:  # type: ignore[type-arg]
    applied: dict[int, list] = {}  # type: ignore[type-arg]
    for i in range(bars):
        ts = (i + 1) * MINUTE
        scheduler.submit(ts, FEATURES, market_context(None).__class__("X", ts))
        applied[ts] = scheduler.poll(ts)
    return applied


def test_without_latency_the_decision_applies_on_its_own_bar() -> None:
    scheduler = DecisionScheduler(SequencePredictor(), mode="backtest")
    applied = _run_backtest(scheduler, 5)
    for ts, decisions in applied.items():
        assert len(decisions) == 1
        assert decisions[0].requested_at_ns == ts == decisions[0].applied_at_ns
        assert decisions[0].prediction.reason == str(ts)


def test_fixed_latency_shifts_decisions_to_the_first_bar_at_or_after_arrival() -> None:
    # 90 s on 1-minute bars: the decision for bar t arrives mid bar t+1, applies at bar t+2.
    scheduler = DecisionScheduler(
        SequencePredictor(), mode="backtest", latency_model=FixedLatency(90_000_000_000)
    )
    applied = _run_backtest(scheduler, 6)
    assert applied[MINUTE] == [] and applied[2 * MINUTE] == []
    for k in range(3, 7):
        (decision,) = applied[k * MINUTE]
        assert decision.requested_at_ns == (k - 2) * MINUTE
        assert decision.available_at_ns == decision.requested_at_ns + 90_000_000_000
        assert decision.delay_ns == 2 * MINUTE
        assert decision.prediction.action is Action.BUY
        assert not decision.late
    # exact arrival on a bar boundary applies on that bar
    exact = DecisionScheduler(SequencePredictor(), latency_model=FixedLatency(MINUTE))
    applied = _run_backtest(exact, 3)
    assert applied[2 * MINUTE][0].requested_at_ns == MINUTE


def test_deadline_turns_a_late_answer_into_a_hold() -> None:
    scheduler = DecisionScheduler(
        SequencePredictor(),
        latency_model=FixedLatency(5 * MINUTE),
        deadline_ns=2 * MINUTE,
    )
    applied = _run_backtest(scheduler, 4)
    (decision,) = applied[3 * MINUTE]
    assert decision.late
    assert decision.prediction.action is Action.HOLD
    assert decision.available_at_ns == MINUTE + 2 * MINUTE
    assert "late" in decision.prediction.reason and "was buy" in decision.prediction.reason
    assert scheduler.stats.late == 2


def test_older_answers_arriving_with_or_after_newer_ones_are_stale() -> None:
    # latencies 150 s, 10 s, 10 s...: bar 1's answer arrives after bar 2's and 3's.
    scheduler = DecisionScheduler(
        SequencePredictor(),
        latency_model=_Scripted([150_000_000_000, 10_000_000_000, 10_000_000_000, 10_000_000_000]),
    )
    applied = _run_backtest(scheduler, 4)
    assert applied[MINUTE] == []
    assert applied[2 * MINUTE] == []
    assert applied[3 * MINUTE][0].requested_at_ns == 2 * MINUTE
    assert applied[4 * MINUTE][0].requested_at_ns == 3 * MINUTE
    assert scheduler.stats.stale == 1  # bar 1's answer, ready at 3.5 min, superseded by bar 3's


def test_precomputed_predictions_get_the_same_schedule() -> None:
    latency = FixedLatency(90_000_000_000)
    inline = DecisionScheduler(SequencePredictor(), latency_model=latency)
    pre = DecisionScheduler(SequencePredictor(), latency_model=latency)
    predictor = SequencePredictor()
    for i in range(5):
        ts = (i + 1) * MINUTE
        context = market_context(None).__class__("X", ts)
        inline.submit(ts, FEATURES, context)
        pre.submit_prediction(ts, predictor.predict(FEATURES, context))
        a, b = inline.poll(ts), pre.poll(ts)
        assert [(d.requested_at_ns, d.applied_at_ns) for d in a] == [
            (d.requested_at_ns, d.applied_at_ns) for d in b
        ]


def test_predictor_failure_becomes_a_hold() -> None:
    scheduler = DecisionScheduler(ScriptedPredictor(fail=True))
    scheduler.submit(MINUTE, FEATURES, market_context(None))
    (decision,) = scheduler.poll(MINUTE)
    assert decision.prediction.action is Action.HOLD
    assert "failed on purpose" in decision.prediction.reason


@settings(max_examples=60, deadline=None)
@given(
    latencies=st.lists(st.integers(0, 5 * MINUTE), min_size=1, max_size=40),
    deadline=st.one_of(st.none(), st.integers(1, 4 * MINUTE)),
)
def test_schedule_invariants(latencies: list[int], deadline: int | None) -> None:
    scheduler = DecisionScheduler(
        SequencePredictor(), latency_model=_Scripted(latencies), deadline_ns=deadline
    )
    last_request = -1
    for i in range(len(latencies) + 6):
        ts = (i + 1) * MINUTE
        if i < len(latencies):
            scheduler.submit(ts, FEATURES, market_context(None).__class__("X", ts))
        for decision in scheduler.poll(ts):
            assert decision.applied_at_ns == ts
            assert decision.available_at_ns <= ts  # never before it is available
            assert decision.requested_at_ns > last_request  # never out of order
            last_request = decision.requested_at_ns
            if deadline is not None:
                assert decision.available_at_ns - decision.requested_at_ns <= deadline
                assert decision.late == (latencies[decision.sequence] > deadline)
    stats = scheduler.stats
    assert stats.applied + stats.stale == stats.submitted == len(latencies)


class _Scripted:
    def __init__(self, values: list[int]) -> None:
        self.values = values

    def sampler(self):  # type: ignore[no-untyped-def]
        iterator = iter(self.values)
        return lambda: next(iterator)


# -- live mode ----------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def _wait_for(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "condition not reached"
        time.sleep(0.005)


def test_live_submit_does_not_block_and_answers_apply_on_a_later_poll() -> None:
    gate = threading.Event()

    clock = _Clock()
    scheduler = DecisionScheduler(GatedPredictor(gate), mode="live", clock=clock)
    try:
        started = time.perf_counter()
        assert scheduler.submit(MINUTE, FEATURES, market_context(None).__class__("X", MINUTE))
        assert time.perf_counter() - started < 1.0  # the call runs on the worker thread (gated)
        assert scheduler.poll(MINUTE) == []
        clock.now = MINUTE + 5_000_000_000
        gate.set()
        _wait_for(lambda: scheduler.pending == 1 and scheduler._ready)
        clock.now = 2 * MINUTE
        (decision,) = scheduler.poll(2 * MINUTE)
        assert decision.requested_at_ns == MINUTE
        assert decision.available_at_ns == MINUTE + 5_000_000_000
        assert decision.applied_at_ns == 2 * MINUTE
        assert decision.prediction.reason == str(MINUTE)
    finally:
        gate.set()
        scheduler.close()


def test_live_deadline_gives_a_hold_and_drops_the_late_answer() -> None:
    gate = threading.Event()

    clock = _Clock()
    scheduler = DecisionScheduler(
        GatedPredictor(gate), mode="live", deadline_ns=30_000_000_000, clock=clock
    )
    try:
        clock.now = MINUTE
        scheduler.submit(MINUTE, FEATURES, market_context(None).__class__("X", MINUTE))
        clock.now = 2 * MINUTE
        (decision,) = scheduler.poll(2 * MINUTE)  # 60 s later, no answer: deadline passed
        assert decision.late and decision.prediction.action is Action.HOLD
        assert "deadline" in decision.prediction.reason
        clock.now = 2 * MINUTE + 1
        gate.set()
        _wait_for(lambda: scheduler.pending == 0)
        assert scheduler.poll(3 * MINUTE) == []  # the real answer came too late: dropped
        assert scheduler.stats.stale == 1
    finally:
        gate.set()
        scheduler.close()


def test_live_answer_after_the_deadline_is_a_hold() -> None:
    clock = _Clock()

    class Slow(SequencePredictor):
        def predict(self, features, context):  # type: ignore[no-untyped-def]
            clock.now = context.ts_event + 45_000_000_000  # answered 45 s after the bar
            return super().predict(features, context)

    scheduler = DecisionScheduler(Slow(), mode="live", deadline_ns=30_000_000_000, clock=clock)
    try:
        clock.now = MINUTE
        scheduler.submit(MINUTE, FEATURES, market_context(None).__class__("X", MINUTE))
        _wait_for(lambda: scheduler.pending == 1 and scheduler._ready)
        clock.now = MINUTE + 50_000_000_000
        (decision,) = scheduler.poll(MINUTE + 50_000_000_000)
        assert decision.late and decision.prediction.action is Action.HOLD
    finally:
        scheduler.close()


def test_live_busy_worker_keeps_the_newest_request() -> None:
    gate = threading.Event()
    started = threading.Event()

    scheduler = DecisionScheduler(
        GatedPredictor(gate, started), mode="live", max_in_flight=2, clock=_Clock()
    )
    try:
        ctx = market_context(None).__class__
        assert scheduler.submit(MINUTE, FEATURES, ctx("X", MINUTE))  # running
        started.wait(5)
        assert scheduler.submit(2 * MINUTE, FEATURES, ctx("X", 2 * MINUTE))  # queued
        assert scheduler.submit(3 * MINUTE, FEATURES, ctx("X", 3 * MINUTE))  # replaces queued
        assert scheduler.stats.cancelled == 1
        gate.set()
        _wait_for(lambda: scheduler.pending == 2 and len(scheduler._ready) == 2)
        (decision,) = scheduler.poll(10 * MINUTE)
        assert decision.requested_at_ns == 3 * MINUTE
        assert scheduler.stats.stale == 1
    finally:
        gate.set()
        scheduler.close()

    single = DecisionScheduler(GatedPredictor(gate, started), mode="live", max_in_flight=1)
    gate.clear()
    try:
        assert single.submit(MINUTE, FEATURES, market_context(None))
        _wait_for(lambda: started.is_set())
        assert not single.submit(2 * MINUTE, FEATURES, market_context(None))  # running: skipped
        assert single.stats.skipped_busy == 1
    finally:
        gate.set()
        single.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "paper"}, "mode"),
        ({"deadline_ns": 0}, "deadline_ns"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"mode": "live", "latency_model": FixedLatency(1)}, "latency_model"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DecisionScheduler(ScriptedPredictor(), **kwargs)  # type: ignore[arg-type]


def test_lognormal_latency_runs_are_reproducible() -> None:
    latency = LogNormalLatency(median_ns=50_000_000_000, sigma=1.0, seed=11)

    def run() -> list[tuple[int, int]]:
        scheduler = DecisionScheduler(SequencePredictor(), latency_model=latency)
        applied = _run_backtest(scheduler, 50)
        return [(d.requested_at_ns, d.applied_at_ns) for ds in applied.values() for d in ds]

    assert run() == run()
    assert EmpiricalLatency((1,)).sampler()() == 1
