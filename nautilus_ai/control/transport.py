"""Redis plumbing for the control plane: stream names, a client with explicit timeouts and no
hidden retries, and the reconnect back-off.

Why Redis Streams (not pub/sub): a stream keeps commands sent while the node is down or
reconnecting, a consumer group tracks what was delivered but not acknowledged (so a crash between
receipt and apply is recovered on restart), and the reply stream is a durable audit trail that
``XRANGE`` can read back. Pub/sub drops every message nobody is subscribed to at that instant.

Keys, for trader ``T`` and prefix ``P`` (default ``nautilus-ai:control``):

* ``P:T:commands``  signed commands (``XADD``), read by the node's consumer group;
* ``P:T:replies``   one reply / audit record per command received, accepted or not;
* ``P:T:nonce:<n>`` replay-guard keys, expiring with the command's time window;
* ``P:T:node``      the running node's claim on the trader id (:mod:`.presence`).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_REDIS_URL",
    "REDIS_URL_ENV",
    "Backoff",
    "RedisSettings",
    "StreamNames",
    "connect",
    "redis_url_from_env",
]

REDIS_URL_ENV = "NAUTILUS_AI_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "nautilus-ai:control"


def redis_url_from_env(explicit: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``explicit``, else ``$NAUTILUS_AI_REDIS_URL``, else ``redis://127.0.0.1:6379/0``."""
    if explicit:
        return explicit
    source = os.environ if env is None else env
    return source.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL


@dataclass(frozen=True, slots=True)
class StreamNames:
    """The Redis keys of one trader's control plane."""

    trader_id: str
    prefix: str = DEFAULT_PREFIX
    group: str = "nautilus-ai-control"

    def __post_init__(self) -> None:
        if not self.trader_id or any(c.isspace() for c in self.trader_id):
            raise ValueError(f"trader_id must be non-empty without spaces, was {self.trader_id!r}")

    @property
    def commands(self) -> str:
        return f"{self.prefix}:{self.trader_id}:commands"

    @property
    def replies(self) -> str:
        return f"{self.prefix}:{self.trader_id}:replies"

    @property
    def presence(self) -> str:
        return f"{self.prefix}:{self.trader_id}:node"

    @property
    def nonce_prefix(self) -> str:
        return f"{self.prefix}:{self.trader_id}:nonce:"


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """How to reach Redis, with every timeout explicit.

    Parameters
    ----------
    url : str
        ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS). Keep passwords in the
        environment (``$NAUTILUS_AI_REDIS_URL``), not in config files.
    connect_timeout : float
        Seconds to establish a connection.
    socket_timeout : float
        Seconds any reply may take. Blocking reads add their block time to this.
    """

    url: str = DEFAULT_REDIS_URL
    connect_timeout: float = 2.0
    socket_timeout: float = 2.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"url must start with redis://, rediss:// or unix://, was {_redact(self.url)!r}"
            )
        problem = _url_problem(self.url)
        if problem is not None:  # else a traceback on connect, or a typo read as database 0
            raise ValueError(f"url {_redact(self.url)!r}: {problem}")
        for name in ("connect_timeout", "socket_timeout"):
            value = getattr(self, name)
            if not (0 < value < math.inf):  # inf (or NaN) is a wait without end
                raise ValueError(f"{name} must be a finite number > 0 seconds, was {value!r}")

    @property
    def redacted_url(self) -> str:
        """The URL without its password, for logs."""
        return _redact(self.url)


def connect(settings: RedisSettings, *, extra_socket_timeout: float = 0.0) -> Any:
    """A ``redis.Redis`` client with explicit timeouts and **no** automatic retries.

    redis-py 8 retries a failed command 3 times with back-off by default, which hides outages
    and makes shutdown block; the control plane does its own reconnecting, so retries are off.
    ``extra_socket_timeout`` is added to the socket timeout for clients that block on
    ``XREAD(GROUP) BLOCK``. Connecting is lazy: nothing is sent until the first command.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.socket_timeout + extra_socket_timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        decode_responses=True,
        encoding_errors="replace",
        health_check_interval=0,
    )


class Backoff:
    """Capped exponential back-off with full jitter: delay n is uniform in
    ``[initial/2, min(cap, initial * 2**n)]``.

    Parameters
    ----------
    initial : float
        First delay's upper bound, seconds.
    cap : float
        Largest delay, seconds.
    rng : random.Random, optional
        Injectable for tests.
    """

    def __init__(self, initial: float = 0.05, cap: float = 5.0, rng: random.Random | None = None):
        if not (0 < initial <= cap):
            raise ValueError(f"need 0 < initial <= cap, were {initial!r} and {cap!r}")
        self._initial = initial
        self._cap = cap
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        ceiling = min(self._cap, self._initial * 2.0 ** min(self._attempt, 62))
        self._attempt += 1
        return self._rng.uniform(min(self._initial / 2.0, ceiling), ceiling)

    def reset(self) -> None:
        self._attempt = 0


def _url_problem(url: str) -> str | None:
    """What redis-py would refuse when connecting (port, query options), or the database
    path it would silently ignore (``/zero`` is read as database 0); ``None`` when well formed."""
    from urllib.parse import urlsplit

    from redis.connection import parse_url

    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        return str(exc)
    parts = urlsplit(url)
    database = parts.path.strip("/") if parts.scheme in ("redis", "rediss") else ""
    if database and not database.isdigit():
        return f"the database after the last '/' must be a number, was {database!r}"
    return None


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"
