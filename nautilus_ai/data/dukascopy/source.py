"""Where Dukascopy files come from: a ``DataSource`` protocol and its HTTP implementation.

The downloader only sees the protocol, so a second API (Dukascopy's newer JSON API, a mirror, a
test double) plugs in without touching retry or cache logic. ``HttpDataSource`` holds one
``requests.Session`` with a connection pool sized for the worker count; every request has an
explicit (connect, read) timeout. A request that never reaches the server (name resolution
failed, connection refused, connect timed out) or gets no answer within the read timeout (a
server or proxy that accepts connections and never answers) raises :class:`UnreachableError`,
so the downloader can tell a dead network from a busy server.
"""

from __future__ import annotations

import errno
import math
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from nautilus_ai.data.dukascopy.urls import DUKASCOPY_BASE_URL, DukascopyFile

__all__ = [
    "DataSource",
    "FetchError",
    "HttpDataSource",
    "PermanentFetchError",
    "TransientFetchError",
    "UnreachableError",
]


class FetchError(Exception):
    """A file could not be fetched.

    ``retry_after`` is the server's hint in seconds, if any; ``status`` the HTTP status when
    the server answered (None when no answer arrived).
    """

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TransientFetchError(FetchError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections."""


class UnreachableError(TransientFetchError):
    """The request never reached the server, or got no answer: ``cause`` is ``"name resolution
    failed"``, ``"connection refused"``, ``"connect timed out"``, ``"no answer within 20 s"``...
    and ``host`` the server's name."""

    def __init__(self, message: str, host: str, cause: str) -> None:
        super().__init__(message)
        self.host = host
        self.cause = cause


class PermanentFetchError(FetchError):
    """Not worth retrying: 404 (not published) and other 4xx."""


@runtime_checkable
class DataSource(Protocol):
    """Fetches the raw body of one datafeed file.

    Implementations raise :class:`TransientFetchError` or :class:`PermanentFetchError`; they do
    not retry (the downloader does, with one policy for every source).
    """

    name: str

    def fetch(self, file: DukascopyFile) -> bytes: ...


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_ERRNO_CAUSES = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ETIMEDOUT: "connect timed out",
}


def _unreachable_cause(exc: requests.RequestException) -> str | None:
    """Why a request never reached the server, or None if it did (or we cannot tell)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timed out"
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "name resolution failed"
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it first.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        code = getattr(reason.__cause__, "errno", None) or getattr(
            reason.__context__, "errno", None
        )
        return _ERRNO_CAUSES.get(code, "connection failed")  # type: ignore[arg-type]
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return "connect timed out"
    return None


class HttpDataSource:
    """The legacy binary datafeed over HTTP(S).

    Parameters
    ----------
    base_url : str
        Datafeed root; ``https://datafeed.dukascopy.com/datafeed`` by default, or a mirror.
    connect_timeout, read_timeout : float
        Seconds.
    pool_size : int
        Connections kept open (match the downloader's worker count).
    session : requests.Session, optional
        Injected session (tests, proxies); one is created otherwise.
    """

    def __init__(
        self,
        base_url: str = DUKASCOPY_BASE_URL,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        pool_size: int = 8,
        session: requests.Session | None = None,
    ) -> None:
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if not (0 < value < math.inf):  # inf or NaN: a wait without end on a dead server
                raise ValueError(f"{name} must be a finite number > 0 seconds, was {value!r}")
        self.name = f"http:{base_url}"
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, file: DukascopyFile) -> bytes:
        url = file.url(self.base_url)
        try:
            response = self.session.get(url, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            cause = _unreachable_cause(exc)
            if cause is None and isinstance(exc, requests.ReadTimeout):
                # Accepted but never answered: retried like the others, and counted with them,
                # or a stalled server holds every file for (retries + 1) x the read timeout.
                cause = f"no answer within {self.timeout[1]:g} s"
            if cause is not None:
                host = urlsplit(url).hostname or self.base_url
                raise UnreachableError(f"{url}: {cause}", host, cause) from exc
            raise TransientFetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise PermanentFetchError(f"{url}: {exc}") from exc
        status = response.status_code
        if status == 200:
            try:
                return response.content
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                raise TransientFetchError(f"{url}: body cut off: {exc}", status=200) from exc
        if status == 429 or status >= 500:
            raise TransientFetchError(f"{url}: HTTP {status}", _retry_after(response), status)
        raise PermanentFetchError(f"{url}: HTTP {status}", status=status)

    def close(self) -> None:
        self.session.close()
