"""One live node per trader on one Redis: the node's claim on its trader id.

Every node of a trader reads the same command stream as the same consumer (its trader id): two
nodes started with one trader id would split the commands between them, each command applied by
one of them at random. So a listening node first claims the trader: ``SET P:T:node <holder> NX
PX <ttl>``. The running node refreshes the claim (every third of its time to live) and deletes
it when it stops; a second node finds the claim and is refused, in one line naming the trader,
the holder and when the claim expires.

A node that was killed cannot delete its claim. Its claim then lapses after its time to live
(15 s by default), or at once when the holder ran on this host and its process is gone (same
host name, and no process with its pid and start time): a restart right after a crash is not
refused.

A node that keeps Nautilus' own state in Redis (``node.cache.database``) claims its trader there
as well, under :func:`database_claim_key`, listening or not (the live runner, with a
:class:`ClaimKeeper` refreshing it): two nodes of one trader id on one state store would
overwrite each other's orders, positions and strategy state.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nautilus_ai.processes import pid_alive, pid_namespace, process_start_ticks

__all__ = [
    "DEFAULT_CLAIM_TTL_MS",
    "ClaimKeeper",
    "Holder",
    "TraderClaim",
    "TraderClaimedError",
    "database_claim_key",
]

_log = logging.getLogger(__name__)

DEFAULT_CLAIM_TTL_MS = 15_000
"""How long a claim outlives its last refresh (a killed node's claim lapses after this)."""

# Refresh / release only our own claim (compare-and-act, atomic in Redis).
_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 2 or 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class TraderClaimedError(RuntimeError):
    """Another live node holds the trader id on this Redis (the message is one line)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: host, pid, the process's start time (ticks since boot, Linux), when it
    claimed (unix ns) and its pid namespace (Linux; containers may share a host name)."""

    host: str
    pid: int
    started: int | None
    since_ns: int
    pid_ns: str | None = None

    @classmethod
    def this_process(cls) -> Holder:
        return cls(
            socket.gethostname(), os.getpid(), process_start_ticks(os.getpid()), time.time_ns(),
            pid_namespace(),
        )  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(
            {"host": self.host, "pid": self.pid, "started": self.started, "since": self.since_ns,
             "pid_ns": self.pid_ns},
            sort_keys=True,
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            pid_ns = data.get("pid_ns")
            return cls(
                str(data["host"]), int(data["pid"]), data.get("started"), int(data["since"]),
                pid_ns if isinstance(pid_ns, str) else None,
            )  # fmt: skip
        except (ValueError, TypeError, KeyError):
            return None

    def gone(self) -> bool:
        """True only when the holder ran on this host, in this pid namespace, and its process
        no longer exists."""
        if self.host != socket.gethostname() or self.pid_ns != pid_namespace():
            return False  # cannot tell (another machine or container): wait for it to lapse
        if self.pid == os.getpid():
            return False  # this process: another plane of ours holds it
        started = process_start_ticks(self.pid)
        if started is None:
            return not pid_alive(self.pid)
        return self.started is not None and started != self.started  # the pid was reused

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since_ns / 1e9))
        return f"a node on {self.host} (pid {self.pid}, since {since})"


class TraderClaim:
    """This node's claim on ``trader_id`` (key ``key``) in the injected Redis client.

    Parameters
    ----------
    client : redis.Redis
        ``decode_responses=True``.
    key : str
        The claim's key (:attr:`~nautilus_ai.control.transport.StreamNames.presence`).
    trader_id : str
        For messages.
    ttl_ms : int
        How long the claim outlives its last refresh.
    where : str
        The Redis, for messages (a redacted URL).
    """

    def __init__(
        self,
        client: Any,
        key: str,
        trader_id: str,
        *,
        ttl_ms: int = DEFAULT_CLAIM_TTL_MS,
        where: str = "this Redis",
    ) -> None:
        if ttl_ms < 1000:
            raise ValueError(f"ttl_ms must be >= 1000, was {ttl_ms!r}")
        self._client = client
        self.key = key
        self.trader_id = trader_id
        self.ttl_ms = ttl_ms
        self.where = where
        self._value = Holder.this_process().to_json()
        self.held = False

    @property
    def refresh_secs(self) -> float:
        """How often the running node refreshes the claim."""
        return self.ttl_ms / 3000.0

    def acquire(self) -> None:
        """Claim the trader (or keep our own claim).

        Raises
        ------
        TraderClaimedError
            Another node's claim is live.
        redis.RedisError
            Redis cannot be reached (nothing is known then).
        """
        for _ in range(3):
            if self._client.set(self.key, self._value, nx=True, px=self.ttl_ms):
                self.held = True
                return
            text = self._client.get(self.key)
            if text is None:
                continue  # lapsed between the two calls
            if text == self._value:
                self.held = True
                self._client.pexpire(self.key, self.ttl_ms)
                return
            holder = Holder.from_json(text)
            if holder is not None and holder.gone():
                # a node on this host that was killed: its claim is void; take it over
                self._client.eval(_RELEASE, 1, self.key, text)
                continue
            raise TraderClaimedError(self.refusal(holder, self._client.pttl(self.key)))
        raise TraderClaimedError(self.refusal(None, self._client.pttl(self.key)))

    def check(self) -> None:
        """Raise :class:`TraderClaimedError` when another live node holds the trader (a read:
        nothing is claimed)."""
        text = self._client.get(self.key)
        if text is None or text == self._value:
            return
        holder = Holder.from_json(text)
        if holder is not None and holder.gone():
            return  # void: the start takes it over
        raise TraderClaimedError(self.refusal(holder, self._client.pttl(self.key)))

    def refusal(self, holder: Holder | None, pttl_ms: int | None) -> str:
        who = holder.describe() if holder is not None else "another node"
        if pttl_ms is not None and pttl_ms > 0:
            expires = (
                f"its claim expires in {pttl_ms / 1000:.1f} s unless that node is running and "
                "refreshes it (a node that was killed releases it then)"
            )
        else:
            expires = "its claim is about to expire"
        return (
            f"trader {self.trader_id} is already live on {self.where}: {self.key} is held by "
            f"{who}; {expires}. Stop that node or give this one another trader_id"
        )

    def refresh(self) -> bool:
        """Extend our claim (re-take it when it lapsed, e.g. Redis restarted without data);
        ``False`` when another node holds it now."""
        held = bool(self._client.eval(_REFRESH, 1, self.key, self._value, self.ttl_ms))
        self.held = held
        return held

    def release(self) -> None:
        """Delete the claim if it is still ours."""
        if self.held:
            self._client.eval(_RELEASE, 1, self.key, self._value)
            self.held = False

    def holder_now(self) -> str:
        """Who holds the key now, for a log line."""
        text = self._client.get(self.key)
        holder = Holder.from_json(text) if text else None
        return holder.describe() if holder is not None else "nobody"


def database_claim_key(trader_id: str) -> str:
    """The key a node claims its trader under on a Redis it keeps Nautilus' own state in
    (``node.cache.database`` / ``node.message_bus.database``): two nodes of one trader id there
    would overwrite each other's orders, positions and strategy state, whether or not either
    listens for control commands."""
    return f"nautilus-ai:database:{trader_id}:node"


class ClaimKeeper:
    """Keeps a held :class:`TraderClaim` alive from a daemon thread while a node runs.

    Every :attr:`TraderClaim.refresh_secs` the claim is refreshed; when another node holds the
    trader now, ``on_lost`` is called once (from the keeper's thread) with one line naming the
    new holder, and the keeper ends. A Redis that does not answer is retried at the next
    refresh (the claim lapses after its time to live meanwhile, and is re-taken when it comes
    back and nobody else took it). :meth:`stop` ends the thread and releases the claim.
    """

    def __init__(self, claim: TraderClaim, on_lost: Callable[[str], None]) -> None:
        self._claim = claim
        self._on_lost = on_lost
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"claim-{claim.trader_id}", daemon=True
        )
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        claim = self._claim
        while not self._stopped.wait(claim.refresh_secs):
            try:
                if claim.refresh():
                    continue
                holder = claim.holder_now()
            except Exception as exc:  # the Redis client's errors: retried at the next refresh
                self.errors += 1
                _log.warning("cannot refresh the claim %s (%s); retrying", claim.key, exc)
                continue
            self._on_lost(
                f"trader {claim.trader_id} was claimed by {holder} on {claim.where} while this "
                f"node could not refresh {claim.key} (Redis unreachable for longer than "
                f"{claim.ttl_ms / 1000:g} s?)"
            )
            return

    def stop(self) -> None:
        """End the refreshes and release the claim (a Redis that does not answer lets it lapse
        after its time to live)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        try:
            self._claim.release()
        except Exception as exc:  # the Redis client's errors
            _log.warning(
                "cannot release the claim %s (%s); it lapses in %.0f s",
                self._claim.key, exc, self._claim.ttl_ms / 1000,
            )  # fmt: skip
