"""``FeedbackSender``: trade outcomes to a model server over HTTP, never blocking the caller.

The event loop calls :meth:`FeedbackSender.offer`, which only puts the outcome on a bounded
queue (a full queue drops it and counts the drop: trading never waits for a model server). One
worker thread POSTs each outcome as JSON to ``url`` with ``Authorization: Bearer <token>``, with
a connect and a read timeout on every call. Counters (``status()``): ``queued``, ``sent``,
``dropped`` (queue full), ``refused`` (401 / 403: wrong or missing token), ``failed`` (other
answers, timeouts, connection errors) and the last error. Nothing is retried: feedback is
best-effort, and every loss is counted.

The receiving end can be :mod:`nautilus_ai.serving.feedback_endpoint` or any server that takes
:meth:`~nautilus_ai.models.base.TradeOutcome.to_dict` JSON.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from typing import Any

import requests

from nautilus_ai.models.base import TradeOutcome

__all__ = ["FeedbackSender"]

_STOP = object()


class FeedbackSender:
    """Posts outcomes from a bounded queue on one worker thread (see the module docstring).

    Parameters
    ----------
    url : str
        The endpoint, e.g. ``http://127.0.0.1:8095/feedback``.
    token : str
        The bearer token the endpoint expects.
    queue_size : int
        Outcomes waiting at most; more are dropped (counted).
    connect_timeout_s, read_timeout_s : float
        Per call.
    session : requests.Session, optional
        Injected for tests; one is created (and closed) otherwise.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        queue_size: int = 1000,
        connect_timeout_s: float = 0.5,
        read_timeout_s: float = 2.0,
        session: requests.Session | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, was {url!r}")
        if not token:
            raise ValueError("token must not be empty")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, was {queue_size!r}")
        if not (connect_timeout_s > 0 and read_timeout_s > 0):
            raise ValueError("connect_timeout_s and read_timeout_s must be > 0")
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._counts = {"queued": 0, "sent": 0, "dropped": 0, "refused": 0, "failed": 0}
        self._last_error: str | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="nautilus-ai-feedback", daemon=True)
        self._thread.start()

    def offer(self, outcome: TradeOutcome) -> bool:
        """Queue ``outcome`` for sending; never blocks. False (and counted) when dropped."""
        with self._lock:
            if self._closed:
                self._counts["dropped"] += 1
                return False
        try:
            self._queue.put_nowait(outcome)
        except queue.Full:
            with self._lock:
                self._counts["dropped"] += 1
            return False
        with self._lock:
            self._counts["queued"] += 1
        return True

    def status(self) -> dict[str, Any]:
        """Counters and the last error (JSON-ready)."""
        with self._lock:
            return {**self._counts, "pending": self._queue.qsize(), "last_error": self._last_error}

    def close(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Send what is queued (within ``timeout_s``), stop the worker; returns the final
        status. Idempotent."""
        with self._lock:
            already = self._closed
            self._closed = True
        if not already:
            deadline = time.monotonic() + timeout_s
            # Full: the worker is stuck on a slow server (a daemon thread: it is left behind).
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout_s)
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if self._owns_session and not self._thread.is_alive():
                self._session.close()
        return self.status()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, TradeOutcome)
            self._send(item)

    def _send(self, outcome: TradeOutcome) -> None:
        body = json.dumps(outcome.to_dict())
        try:
            response = self._session.post(
                self.url, data=body, headers=self._headers, timeout=self._timeout
            )
        except requests.RequestException as exc:
            self._count("failed", f"{type(exc).__name__}: {exc}")
            return
        if 200 <= response.status_code < 300:
            self._count("sent")
        elif response.status_code in (401, 403):
            self._count("refused", f"HTTP {response.status_code}: {response.text[:200]}")
        else:
            self._count("failed", f"HTTP {response.status_code}: {response.text[:200]}")

    def _count(self, what: str, error: str | None = None) -> None:
        with self._lock:
            self._counts[what] += 1
            if error is not None:
                self._last_error = error
