"""A circuit breaker: stop calling a backend that keeps failing, try again later.

``closed`` (normal) -> ``failure_threshold`` consecutive failures -> ``open`` (calls refused at
once, so the fallback answers without waiting for timeouts) -> after ``reset_timeout_s`` ->
``half_open`` (one trial call allowed) -> success closes it, failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Thread-safe consecutive-failure circuit breaker.

    Parameters
    ----------
    failure_threshold : int
        Consecutive failures that open the circuit.
    reset_timeout_s : float
        How long it stays open before a trial call is let through.
    clock : callable
        Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, was {failure_threshold!r}")
        if not (reset_timeout_s > 0):
            raise ValueError(f"reset_timeout_s must be > 0, was {reset_timeout_s!r}")
        self._threshold = failure_threshold
        self._reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self.times_opened = 0

    @property
    def state(self) -> CircuitState:
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> CircuitState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset_timeout_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go ahead now (in half-open state: only one trial at a time)."""
        with self._lock:
            state = self._state_locked()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            trial_failed = self._trial_running
            self._trial_running = False
            if trial_failed or (self._opened_at is None and self._failures >= self._threshold):
                if self._opened_at is None or trial_failed:
                    self.times_opened += 1
                self._opened_at = self._clock()

    def seconds_until_retry(self) -> float:
        """0 when closed or half-open, else how long until a trial call is allowed."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._reset_timeout_s - (self._clock() - self._opened_at))
