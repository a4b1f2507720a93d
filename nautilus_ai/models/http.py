"""Resilient HTTP calls for remote backends: one session, timeouts, bounded retries, a breaker.

Used by :class:`~nautilus_ai.models.TorchServePredictor` and
:class:`~nautilus_ai.models.OpenAIPredictor`. Every call has a connect and a read timeout.
Connection failures and 5xx answers are retried (at most ``retries`` times, with a short
backoff); a read timeout is not retried by default (the answer would come too late anyway).
Transport failures and 5xx answers count against the :class:`CircuitBreaker`; while it is open,
calls fail at once so a fallback can answer without waiting. A backend that reads the answer
posts with ``settle=False`` and settles the breaker itself (:meth:`HttpClient.settle`): an answer
it cannot use (malformed, other classes, a 4xx) counts as a failure too, so a server that keeps
answering junk fast opens the breaker as one that keeps failing does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from nautilus_ai.models.base import PredictionError
from nautilus_ai.models.circuit import CircuitBreaker

__all__ = [
    "HttpClient",
    "HttpResponse",
    "ResilienceSettings",
    "RetryPolicy",
    "check_base_url",
]


class ResilienceSettings(Protocol):
    """The timeout, retry and breaker fields every remote backend config carries."""

    @property
    def connect_timeout_s(self) -> float: ...
    @property
    def read_timeout_s(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def backoff_s(self) -> float: ...
    @property
    def failure_threshold(self) -> int: ...
    @property
    def reset_timeout_s(self) -> float: ...


def check_base_url(url: str, *, endpoint: str) -> str:
    """``url`` if it is an ``http(s)://host[:port][/path]`` base that ``endpoint`` (e.g.
    ``/chat/completions``) is appended to; else ``ValueError`` saying what is wrong (not
    quoting ``url``: the caller names where it came from).

    Caught when the config is read: otherwise every call would fail, one bar at a time.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError("must have no ?query or #fragment")
    if f"{parts.path.rstrip('/')}/".find(f"{endpoint}/") >= 0:
        raise ValueError(f"must be the base URL, without {endpoint} (it is appended)")
    try:
        parts.port  # noqa: B018 - raises on a port that is no number or out of range
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return url


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one call is retried.

    Parameters
    ----------
    connect_timeout_s, read_timeout_s : float
        Per-attempt timeouts.
    retries : int
        Extra attempts after a connection error or a 5xx answer.
    backoff_s : float
        Sleep before retry ``n`` is ``backoff_s * 2**(n-1)``.
    retry_read_timeouts : bool
        Also retry when the server accepted the request but did not answer in time.
    """

    connect_timeout_s: float = 0.5
    read_timeout_s: float = 2.0
    retries: int = 1
    backoff_s: float = 0.05
    retry_read_timeouts: bool = False

    def __post_init__(self) -> None:
        if not (self.connect_timeout_s > 0 and self.read_timeout_s > 0):
            raise ValueError("connect_timeout_s and read_timeout_s must be > 0")
        if not (0 <= self.retries <= 10):
            raise ValueError(f"retries must be in 0..10, was {self.retries!r}")
        if self.backoff_s < 0:
            raise ValueError(f"backoff_s must be >= 0, was {self.backoff_s!r}")


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    elapsed_s: float


class HttpClient:
    """POST with retries and a circuit breaker over one ``requests.Session``.

    Parameters
    ----------
    name : str
        Used in error messages (e.g. the model id).
    policy : RetryPolicy
        Timeouts and retries.
    breaker : CircuitBreaker
        Shared failure state.
    headers : callable
        Returns the headers for each attempt (so a refreshed token is picked up).
    session : requests.Session or None
        Injectable for tests; by default a new session with a small connection pool.
    """

    def __init__(
        self,
        name: str,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        headers: Callable[[], Mapping[str, str]],
        session: requests.Session | None = None,
        pool_size: int = 4,
    ) -> None:
        self.name = name
        self.policy = policy
        self.breaker = breaker
        self._headers = headers
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session

    @classmethod
    def from_settings(
        cls,
        name: str,
        settings: ResilienceSettings,
        headers: Callable[[], Mapping[str, str]],
        session: requests.Session | None = None,
        pool_size: int = 4,
    ) -> HttpClient:
        """A client with its own :class:`CircuitBreaker` and :class:`RetryPolicy` from a
        backend config (``client.breaker`` is the breaker)."""
        breaker = CircuitBreaker(settings.failure_threshold, settings.reset_timeout_s)
        policy = RetryPolicy(
            settings.connect_timeout_s,
            settings.read_timeout_s,
            settings.retries,
            settings.backoff_s,
        )
        return cls(name, policy, breaker, headers, session=session, pool_size=pool_size)

    def post(
        self,
        url: str,
        body: bytes,
        content_type: str = "application/json",
        *,
        settle: bool = True,
    ) -> HttpResponse:
        """POST ``body``; returns any non-5xx answer (the caller checks 4xx).

        With ``settle=False`` a returned answer is not counted as a success: the caller reads it
        and calls :meth:`settle` (failures that raise here are counted here either way).

        Raises
        ------
        PredictionError
            Circuit open, connection failure, timeout or 5xx after the retries.
        """
        if not self.breaker.allow():
            raise PredictionError(
                f"{self.name}: circuit open after repeated failures; retry in "
                f"{self.breaker.seconds_until_retry():.1f} s"
            )
        policy = self.policy
        timeout = (policy.connect_timeout_s, policy.read_timeout_s)
        attempt = 0
        while True:
            started = time.perf_counter()
            problem: str
            retryable: bool
            try:
                headers = {"Content-Type": content_type, **self._headers()}
                response = self.session.post(
                    url, data=body, headers=headers, timeout=timeout, stream=True
                )
                # The read timeout bounds each wait for bytes; the answer as a whole must come
                # within both timeouts (a trickling server would hold the call for ever).
                content = _read_body(
                    response, started, policy.connect_timeout_s + policy.read_timeout_s
                )
                elapsed = time.perf_counter() - started
                if response.status_code < 500:
                    if settle:
                        self.breaker.record_success()
                    return HttpResponse(response.status_code, content, elapsed)
                problem = f"HTTP {response.status_code}: {content[:200].decode(errors='replace')!r}"
                retryable = True
            except _BodyError as exc:
                problem, retryable = str(exc), False
            except requests.ConnectTimeout:
                problem, retryable = f"connect timeout ({policy.connect_timeout_s:g} s)", True
            except requests.ReadTimeout:
                problem = f"no answer within {policy.read_timeout_s:g} s"
                retryable = policy.retry_read_timeouts
            except requests.ConnectionError as exc:
                problem, retryable = f"connection failed: {_short(exc)}", True
            except requests.RequestException as exc:
                problem, retryable = f"{type(exc).__name__}: {_short(exc)}", False
            except Exception as exc:  # never leave the breaker's trial slot taken
                self.breaker.record_failure()
                raise PredictionError(f"{self.name}: {type(exc).__name__}: {_short(exc)}") from exc
            attempt += 1
            if not retryable or attempt > policy.retries:
                self.breaker.record_failure()
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise PredictionError(f"{self.name}: {problem}{tries} ({url})")
            time.sleep(policy.backoff_s * 2 ** (attempt - 1))

    def read_answer(
        self, response: HttpResponse, url: str, read: Callable[[bytes], _T], model_id: str
    ) -> _T:
        """``read(body)`` of an answer from ``post(..., settle=False)``; a non-200 status, or
        a body ``read`` refuses, is settled as a failure (a server answering junk fast opens
        the breaker as errors do) and raised. The caller settles a usable answer itself."""
        try:
            if response.status != 200:
                raise PredictionError(
                    f"{model_id}: HTTP {response.status} from {url}: {response.body[:300]!r}"
                )
            return read(response.body)
        except BaseException:
            self.settle(False)
            raise

    def settle(self, usable: bool) -> None:
        """Count an answer returned by ``post(..., settle=False)`` against the breaker: a success
        when the caller could use it, a failure when not (malformed, unexpected status)."""
        if usable:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """A plain GET with the policy's timeouts and no retries (management calls)."""
        timeout = (self.policy.connect_timeout_s, self.policy.read_timeout_s)
        started = time.perf_counter()
        try:
            response = self.session.get(url, headers=dict(headers), timeout=timeout)
        except requests.RequestException as exc:
            raise PredictionError(f"{self.name}: GET {url} failed: {_short(exc)}") from None
        return HttpResponse(response.status_code, response.content, time.perf_counter() - started)

    def close(self) -> None:
        self.session.close()


#: The largest answer read (a prediction batch is far smaller; more is a misbehaving server).
MAX_BODY_BYTES = 64 << 20


class _BodyError(Exception):
    """The answer did not arrive whole in time, or is too large."""


def _read_body(response: requests.Response, started: float, budget_s: float) -> bytes:
    """The body of a ``stream=True`` response, whole by ``started + budget_s``
    (``perf_counter``), else :class:`_BodyError`."""
    raw = getattr(response, "raw", None)
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # not a urllib3 response (an injected test session)
        return bytes(response.content)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.perf_counter() - started > budget_s:
                raise _BodyError(f"no complete answer within {budget_s:g} s ({size} bytes so far)")
            chunk = read1(65536, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _BodyError(f"answer larger than {MAX_BODY_BYTES >> 20} MiB")
            chunks.append(chunk)
    finally:
        response.close()


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."
