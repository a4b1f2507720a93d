"""Run a blocking call with a deadline: stop waiting (not the call) when time is up.

Python cannot kill a thread, so a call that overruns keeps its worker until it returns; the
runner counts busy workers and refuses new work when all are stuck, so a hung backend costs a
bounded number of threads and the caller moves on at once instead of queueing behind it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from nautilus_ai.models.base import PredictionError

__all__ = ["DeadlineRunner"]

T = TypeVar("T")


class DeadlineRunner:
    """A small thread pool whose ``run`` gives up waiting after a timeout.

    Parameters
    ----------
    max_workers : int
        Calls that may be running (or stuck) at once.
    name : str
        Thread name prefix (shows in stack dumps).
    """

    def __init__(self, max_workers: int = 4, name: str = "nautilus-ai-deadline") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, was {max_workers!r}")
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._max = max_workers
        self._busy = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def busy(self) -> int:
        """Calls still running, including those the caller stopped waiting for."""
        with self._lock:
            return self._busy

    def run(self, fn: Callable[[], T], timeout_s: float, what: str = "call") -> T:
        """Return ``fn()``, or raise :class:`PredictionError` if it is not done in ``timeout_s``.

        Exceptions from ``fn`` propagate unchanged. Raises ``PredictionError`` at once when every
        worker is still busy with earlier (overrun) calls, or when ``timeout_s <= 0``.
        """
        if timeout_s <= 0:
            raise PredictionError(f"{what}: no time left before the deadline")
        future = self._start(fn, what)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            raise PredictionError(f"{what}: no answer within {timeout_s * 1e3:.0f} ms") from None

    def _start(self, fn: Callable[[], T], what: str) -> Future[T]:
        with self._lock:
            if self._closed:
                raise PredictionError(f"{what}: runner is closed")
            if self._busy >= self._max:
                raise PredictionError(
                    f"{what}: all {self._max} workers are still busy with overrun calls"
                )
            self._busy += 1

        def call() -> T:
            try:
                return fn()
            finally:
                with self._lock:
                    self._busy -= 1

        try:
            return self._pool.submit(call)
        except RuntimeError as exc:  # shut down between the check and the submit
            with self._lock:
                self._busy -= 1
            raise PredictionError(f"{what}: runner is closed") from exc

    def run_many(
        self, calls: Sequence[tuple[str, Callable[[], T]]], timeout_s: float
    ) -> list[T | PredictionError]:
        """Run ``(name, fn)`` calls in parallel; each result, or the error, in order.

        Calls not done when ``timeout_s`` runs out (or never started because every worker was
        busy) give a :class:`PredictionError`; an exception from ``fn`` is returned wrapped in
        one unless it already is one.
        """
        started = time.monotonic()
        futures: list[Future[T] | PredictionError] = []
        for name, fn in calls:
            try:
                futures.append(self._start(fn, name))
            except PredictionError as exc:
                futures.append(exc)
        results: list[T | PredictionError] = []
        for (name, _), future in zip(calls, futures, strict=True):
            if isinstance(future, PredictionError):
                results.append(future)
                continue
            remaining = max(0.0, timeout_s - (time.monotonic() - started))
            try:
                results.append(future.result(timeout=remaining))
            except FutureTimeout:
                results.append(
                    PredictionError(f"{name}: no answer within {timeout_s * 1e3:.0f} ms")
                )
            except PredictionError as exc:
                results.append(exc)
            except Exception as exc:
                error = PredictionError(f"{name}: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                results.append(error)
        return results

    def close(self) -> None:
        """Stop accepting work; running calls finish in the background. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
