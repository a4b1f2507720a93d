"""Decisions that arrive later than the bar that asked for them, without blocking the event loop.

:class:`DecisionScheduler` sits between a strategy and a (possibly slow) predictor. The strategy
calls it on every bar, in this order::

    scheduler.submit(ts_ns, features, context)   # ask for a decision about bar t
    for decision in scheduler.poll(ts_ns):       # take the decisions that are ready now
        act_on(decision.prediction)

* ``mode="live"``: ``submit`` hands the call to a thread pool and returns at once; an answer is
  applied by the first ``poll`` after it arrives (the next bar at the earliest). Live timing is
  the ``clock``'s (when the request was asked, when the answer arrived, when ``poll`` ran), never
  the bar's ``ts_event``: a replay of historical bars in a live node keeps its bar times as keys
  while its model answers in real time. Every request's timeline (asked, answered, applied on
  which event, or cancelled / skipped / superseded) is kept in :meth:`DecisionScheduler.timeline`
  so a backtest can replay it (:class:`~nautilus_ai.models.latency.RecordedLatency`).
* ``mode="backtest"``: ``submit`` computes the prediction inline and stamps it available at
  ``ts_t + latency`` (a :class:`~nautilus_ai.models.latency.LatencyModel`, fixed or seeded); it is
  applied at the first bar with ``ts >= ts_t + latency``, as it would have been live. With no
  latency model (or zero latency) the decision for bar t is applied at bar t. A
  :class:`~nautilus_ai.models.latency.RecordedLatency` replays a live run's timeline: each
  request's latency in bar time, whether it was late, or that it was never answered.

Both modes share the rules: an answer that takes longer than ``deadline_ns`` becomes a ``hold``
(``late=True``), and an answer older than one already applied, or superseded by a newer one ready
at the same poll, is stale and dropped (counted in :attr:`DecisionScheduler.stats`). Predictor
failures become holds via :func:`~nautilus_ai.models.base.safe_predict`. Nothing here imports
Nautilus.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import MarketContext, Prediction, Predictor, safe_predict
from nautilus_ai.models.latency import LatencyModel, RecordedLatency

__all__ = [
    "AnswerTiming",
    "DecisionScheduler",
    "ScheduledDecision",
    "SchedulerStats",
    "recorded_latency",
]

#: What became of a live request (see :class:`AnswerTiming`).
TimingStatus = Literal["pending", "applied", "stale", "cancelled", "skipped"]


@dataclass(frozen=True, slots=True)
class ScheduledDecision:
    """A decision and its timeline (all times in ns on the strategy's clock).

    Attributes
    ----------
    prediction : Prediction
        What to act on (a ``hold`` when late or failed; ``reason`` says which).
    requested_at_ns : int
        The bar time passed to ``submit``.
    available_at_ns : int
        When the answer was (or, in a backtest, would have been) available.
    applied_at_ns : int
        The ``now_ns`` of the ``poll`` that returned it: the bar it is applied on.
    late : bool
        True when the deadline passed before the answer arrived.
    sequence : int
        Submission number (0, 1, 2...), to match decisions with requests.
    """

    prediction: Prediction
    requested_at_ns: int
    available_at_ns: int
    applied_at_ns: int
    late: bool
    sequence: int

    @property
    def delay_ns(self) -> int:
        """How long after the request the decision was applied."""
        return self.applied_at_ns - self.requested_at_ns


@dataclass(slots=True)
class SchedulerStats:
    """Counters since the scheduler was created."""

    submitted: int = 0
    applied: int = 0
    late: int = 0
    stale: int = 0
    skipped_busy: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class AnswerTiming:
    """One live request's timeline (``*_clock_ns``: the scheduler's clock; others: bar times).

    Attributes
    ----------
    sequence : int
        Submission number.
    requested_at_ns : int
        The bar the decision was asked for.
    asked_clock_ns : int
        When ``submit`` was called.
    status : {"pending", "applied", "stale", "cancelled", "skipped"}
        ``applied``: taken by a poll and acted on; ``stale``: taken by a poll but superseded by
        a newer answer (or older than one already applied); ``cancelled`` / ``skipped``: never
        asked (the worker was busy); ``pending``: no poll has taken it yet.
    late : bool
        The deadline passed first: what was taken is a hold.
    answered_clock_ns : int or None
        When the answer arrived (or, for a late request, when its deadline passed).
    applied_event_ns : int or None
        The ``now_ns`` of the poll that took it: the event it was applied on (or dropped at).
    polled_clock_ns, previous_poll_clock_ns : int or None
        When that poll ran, and when the poll before it ran (-1 if none): the answer was
        applied on the first event after it arrived when ``previous < answered <= polled``.
    """

    sequence: int
    requested_at_ns: int
    asked_clock_ns: int
    status: TimingStatus = "pending"
    late: bool = False
    answered_clock_ns: int | None = None
    applied_event_ns: int | None = None
    polled_clock_ns: int | None = None
    previous_poll_clock_ns: int | None = None

    @property
    def latency_clock_ns(self) -> int | None:
        """Answer time after asking, on the clock (None while unanswered)."""
        if self.answered_clock_ns is None:
            return None
        return self.answered_clock_ns - self.asked_clock_ns


@dataclass(order=True, slots=True)
class _Ready:
    available_at_ns: int
    sequence: int
    requested_at_ns: int = field(compare=False)
    prediction: Prediction = field(compare=False)
    late: bool = field(compare=False)


@dataclass(slots=True)
class _InFlight:
    sequence: int
    requested_at_ns: int
    future: Future[Prediction]
    asked_clock_ns: int = 0
    late_reported: bool = False


class DecisionScheduler:
    """Submit a request per bar; poll the decisions that are ready (see the module docstring).

    Parameters
    ----------
    predictor : Predictor
        The model. In live mode it is called from a worker thread (one at a time with the default
        executor).
    mode : {"backtest", "live"}
        Inline with simulated latency, or off the caller's thread.
    latency_model : LatencyModel or None
        Backtest only: the simulated latency of each decision (None: zero). A
        :class:`~nautilus_ai.models.latency.RecordedLatency` also says which requests were late
        and which were never answered (a live run's timeline).
    deadline_ns : int or None
        An answer later than this becomes a ``hold``: after its bar time in a backtest, after it
        was asked (on ``clock``) live. None: no deadline.
    executor : concurrent.futures.Executor or None
        Live only: where predictions run. None creates a one-thread pool owned (and shut down)
        by the scheduler.
    max_in_flight : int
        Live only: requests running or queued at once. When full, queued requests that have not
        started are cancelled in favour of the newest; if none can be cancelled the new request is
        skipped (``stats.skipped_busy``).
    clock : callable
        Live only: returns "now" in ns on the strategy's clock, to stamp requests, arrivals and
        polls (default ``time.time_ns``; pass the strategy clock's ``timestamp_ns``).
    timeline_size : int
        Live only: the newest requests whose :class:`AnswerTiming` is kept.
    """

    def __init__(
        self,
        predictor: Predictor,
        *,
        mode: Literal["backtest", "live"] = "backtest",
        latency_model: LatencyModel | None = None,
        deadline_ns: int | None = None,
        executor: Executor | None = None,
        max_in_flight: int = 2,
        clock: Callable[[], int] = time.time_ns,
        timeline_size: int = 100_000,
    ) -> None:
        if mode not in ("backtest", "live"):
            raise ValueError(f"mode must be 'backtest' or 'live', was {mode!r}")
        if deadline_ns is not None and deadline_ns <= 0:
            raise ValueError(f"deadline_ns must be > 0 or None, was {deadline_ns!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, was {max_in_flight!r}")
        if mode == "live" and latency_model is not None:
            raise ValueError("latency_model simulates latency in backtests; live latency is real")
        self._predictor = predictor
        self._mode = mode
        self._latency = latency_model.sampler() if latency_model is not None else None
        self._recorded = (
            latency_model.timed_sampler() if isinstance(latency_model, RecordedLatency) else None
        )
        self._deadline_ns = deadline_ns
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._owns_executor = mode == "live" and executor is None
        self._executor: Executor | None = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="nautilus-ai-predict")
            if self._owns_executor
            else executor
        )
        self._ready: list[_Ready] = []  # a heap ordered by (available_at, sequence)
        self._in_flight: list[_InFlight] = []
        self._lock = threading.Lock()  # guards _ready against worker-thread callbacks
        self._sequence = 0
        self._last_applied_request_ns = -1
        self._closed = False
        self._timings: dict[int, AnswerTiming] = {}  # live: sequence -> timeline, oldest first
        self._timeline_size = max(1, timeline_size)
        self._last_poll_clock_ns = -1
        self.stats = SchedulerStats()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def predictor(self) -> Predictor:
        """The model asked."""
        return self._predictor

    @property
    def pending(self) -> int:
        """Requests submitted but not yet returned by ``poll`` or dropped."""
        with self._lock:
            return len(self._ready) + len(self._in_flight)

    def submit(self, ts_ns: int, features: NDArray[np.float64], context: MarketContext) -> bool:
        """Ask for a decision about the bar at ``ts_ns``. Returns False if skipped (live, busy)."""
        if self._closed:
            raise RuntimeError("DecisionScheduler is closed")
        sequence = self._sequence
        self._sequence += 1
        self.stats.submitted += 1
        if self._mode == "backtest":
            self._submit_inline(sequence, ts_ns, features, context)
            return True
        return self._submit_live(sequence, ts_ns, features, context)

    def submit_prediction(self, ts_ns: int, prediction: Prediction) -> None:
        """Backtest only: schedule a prediction computed ahead of time (a precomputed batch).

        It gets the same simulated latency and deadline as one computed by :meth:`submit`, so
        a precomputed run and a bar-by-bar run apply decisions on the same bars.
        """
        if self._closed:
            raise RuntimeError("DecisionScheduler is closed")
        if self._mode != "backtest":
            raise RuntimeError("submit_prediction is for backtests; live predictions use submit")
        sequence = self._sequence
        self._sequence += 1
        self.stats.submitted += 1
        self._schedule_inline(sequence, ts_ns, prediction)

    def poll(self, now_ns: int) -> list[ScheduledDecision]:
        """Decisions to apply at ``now_ns``: the newest ready one (older ready ones are stale).

        Returns an empty list when nothing new is ready. Call it after ``submit`` on each bar.
        """
        live = self._mode == "live"
        ready_at = now_ns
        previous_poll = self._last_poll_clock_ns
        if live:
            # Live timing is the clock's, not the bar's. Read under the lock, as an answer's
            # arrival time is: an answer is then either in the heap with an earlier time, or
            # gets a later one (never timed before this poll yet missing from it).
            with self._lock:
                ready_at = self._clock()
            self._last_poll_clock_ns = ready_at
            self._expire_in_flight(ready_at)
        with self._lock:
            due: list[_Ready] = []
            while self._ready and self._ready[0].available_at_ns <= ready_at:
                due.append(heapq.heappop(self._ready))
        if not due:
            return []
        newest = max(due, key=lambda item: (item.requested_at_ns, item.sequence))
        self.stats.stale += len(due) - 1
        applies = newest.requested_at_ns >= self._last_applied_request_ns
        if live:
            with self._lock:
                for item in due:
                    status: TimingStatus = "applied" if item is newest and applies else "stale"
                    self._timed(
                        item.sequence, status=status, late=item.late,
                        answered_clock_ns=item.available_at_ns, applied_event_ns=now_ns,
                        polled_clock_ns=ready_at, previous_poll_clock_ns=previous_poll,
                    )  # fmt: skip
        if not applies:
            self.stats.stale += 1
            return []
        self._last_applied_request_ns = newest.requested_at_ns
        self.stats.applied += 1
        if newest.late:
            self.stats.late += 1
        return [
            ScheduledDecision(
                prediction=newest.prediction,
                requested_at_ns=newest.requested_at_ns,
                available_at_ns=newest.available_at_ns,
                applied_at_ns=now_ns,
                late=newest.late,
                sequence=newest.sequence,
            )
        ]

    def timeline(self) -> list[AnswerTiming]:
        """Live: the kept requests' timelines, in submission order (empty in backtests)."""
        with self._lock:
            return [self._timings[key] for key in sorted(self._timings)]

    def close(self) -> None:
        """Cancel queued work and shut down the scheduler's own thread pool. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for item in self._in_flight:
            item.future.cancel()
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- backtest -------------------------------------------------------------------------------

    def _submit_inline(
        self, sequence: int, ts_ns: int, features: NDArray[np.float64], context: MarketContext
    ) -> None:
        self._schedule_inline(sequence, ts_ns, safe_predict(self._predictor, features, context))

    def _schedule_inline(self, sequence: int, ts_ns: int, prediction: Prediction) -> None:
        if self._recorded is not None:  # a live run's timeline: lateness is recorded too
            recorded, late = self._recorded()
            if recorded is None:  # never answered live (cancelled or skipped)
                self.stats.cancelled += 1
                return
            latency = recorded
            if late:
                prediction = Prediction.hold(
                    prediction.model_id, reason="late (recorded): the deadline passed first"
                )
            item = _Ready(ts_ns + latency, sequence, ts_ns, prediction, late)
            with self._lock:
                heapq.heappush(self._ready, item)
            return
        latency = self._latency() if self._latency is not None else 0
        late = self._deadline_ns is not None and latency > self._deadline_ns
        if late:
            assert self._deadline_ns is not None
            prediction = _late_hold(prediction, latency, self._deadline_ns)
            latency = self._deadline_ns
        item = _Ready(ts_ns + latency, sequence, ts_ns, prediction, late)
        with self._lock:
            heapq.heappush(self._ready, item)

    # -- live -----------------------------------------------------------------------------------

    def _submit_live(
        self, sequence: int, ts_ns: int, features: NDArray[np.float64], context: MarketContext
    ) -> bool:
        assert self._executor is not None
        with self._lock:
            self._in_flight = [f for f in self._in_flight if not f.future.done()]
            asked = self._clock()
            self._timed(sequence, requested_at_ns=ts_ns, asked_clock_ns=asked)
            if len(self._in_flight) >= self._max_in_flight:
                # Latest wins: drop queued (not yet running) older requests to make room.
                for item in list(self._in_flight):
                    if item.future.cancel():
                        self._in_flight.remove(item)
                        self.stats.cancelled += 1
                        self._timed(item.sequence, status="cancelled")
                        if len(self._in_flight) < self._max_in_flight:
                            break
            if len(self._in_flight) >= self._max_in_flight:
                self.stats.skipped_busy += 1
                self._timed(sequence, status="skipped")
                return False
        vector = np.array(features, dtype=np.float64, copy=True)  # the caller may reuse buffers
        future = self._executor.submit(safe_predict, self._predictor, vector, context)
        entry = _InFlight(sequence, ts_ns, future, asked)
        with self._lock:
            self._in_flight.append(entry)
        future.add_done_callback(lambda done: self._arrived(entry, done))
        return True

    def _arrived(self, entry: _InFlight, future: Future[Prediction]) -> None:
        # Runs on the worker thread (or inline if the future was already done).
        if future.cancelled():
            return
        exception = future.exception()
        if exception is not None:  # safe_predict does not raise; an executor fault might
            prediction = Prediction.failure(_model_id(self._predictor), repr(exception))
        else:
            prediction = future.result()
        with self._lock:
            # Timed under the lock (see poll): timed before a poll means pushed before it.
            arrived_at = self._clock()
            if entry in self._in_flight:
                self._in_flight.remove(entry)
            if entry.late_reported:
                self.stats.stale += 1  # its hold was already delivered
                return
            late = (
                self._deadline_ns is not None
                and arrived_at - entry.asked_clock_ns > self._deadline_ns
            )
            if late:
                assert self._deadline_ns is not None
                prediction = _late_hold(
                    prediction, arrived_at - entry.asked_clock_ns, self._deadline_ns
                )
            heapq.heappush(
                self._ready,
                _Ready(arrived_at, entry.sequence, entry.requested_at_ns, prediction, late),
            )

    def _expire_in_flight(self, clock_ns: int) -> None:
        if self._deadline_ns is None:
            return
        with self._lock:
            for entry in self._in_flight:
                overdue = clock_ns - entry.asked_clock_ns > self._deadline_ns
                if overdue and not entry.late_reported:
                    entry.late_reported = True
                    entry.future.cancel()
                    hold = Prediction.hold(
                        _model_id(self._predictor),
                        reason=f"deadline {self._deadline_ns / 1e6:g} ms passed with no answer",
                    )
                    deadline_at = entry.asked_clock_ns + self._deadline_ns
                    heapq.heappush(
                        self._ready,
                        _Ready(deadline_at, entry.sequence, entry.requested_at_ns, hold, True),
                    )

    def _timed(self, sequence: int, **changes: object) -> None:
        """Create or update a live request's :class:`AnswerTiming` (with the lock held)."""
        if self._mode != "live":
            return
        timing = self._timings.get(sequence)
        if timing is None:
            if "requested_at_ns" not in changes:
                return  # older than the kept timeline
            timings = self._timings
            timings[sequence] = AnswerTiming(sequence=sequence, **changes)  # type: ignore[arg-type]
            while len(timings) > self._timeline_size:
                del timings[next(iter(timings))]
            return
        self._timings[sequence] = replace(timing, **changes)  # type: ignore[arg-type]


def recorded_latency(timeline: list[AnswerTiming]) -> RecordedLatency:
    """A live scheduler's timeline as a backtest latency model: request ``i`` is answered
    ``applied_event_ns - requested_at_ns`` after its bar (late or not, as live), or never.

    Raises ``ValueError`` when the timeline does not start at request 0 or has gaps (it was
    longer than the scheduler's ``timeline_size``), or a request is still pending.
    """
    latencies: list[int | None] = []
    late: list[bool] = []
    for expected, timing in enumerate(timeline):
        if timing.sequence != expected:
            raise ValueError(
                f"timeline has request {timing.sequence} where {expected} was expected "
                "(raise timeline_size to keep every request)"
            )
        if timing.status in ("applied", "stale"):
            assert timing.applied_event_ns is not None
            latencies.append(timing.applied_event_ns - timing.requested_at_ns)
        else:
            latencies.append(None)
        late.append(timing.late)
    return RecordedLatency(tuple(latencies), tuple(late))


def _late_hold(prediction: Prediction, latency_ns: int, deadline_ns: int) -> Prediction:
    return Prediction.hold(
        prediction.model_id,
        reason=(
            f"late: answer took {latency_ns / 1e6:g} ms > deadline {deadline_ns / 1e6:g} ms "
            f"(was {prediction.action.value})"
        ),
        latency=prediction.latency,
    )


def _model_id(predictor: Predictor) -> str:
    try:
        return str(predictor.model_id) or "unknown"
    except Exception:
        return "unknown"
