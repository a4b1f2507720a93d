"""Replay protection: each nonce is accepted once while its command could still pass the time
window.

A nonce is remembered until ``timestamp + max_age`` of the command that carried it; after that
the command would be refused as expired anyway, so the nonce can be forgotten. That is what bounds
the store in time; ``capacity`` bounds it in size, and a full store refuses new commands rather
than forget a live nonce (failing closed: only holders of the secret can fill it, because nonces
are claimed after the signature check).

The same stream entry delivered twice (a consumer-group redelivery after a crash) is not a replay:
a nonce is claimed together with the stream entry id that carried it.

Two stores: :class:`MemoryNonceStore` (survives Redis restarts) and :class:`RedisNonceStore`
(survives node restarts, one ``SET NX GET PXAT`` round trip); :class:`LayeredNonceStore` asks
both.
"""

from __future__ import annotations

import enum
import heapq
import threading
from typing import Any, Protocol

__all__ = [
    "LayeredNonceStore",
    "MemoryNonceStore",
    "NonceStore",
    "NonceVerdict",
    "RedisNonceStore",
]


class NonceVerdict(enum.Enum):
    """The answer to a nonce claim."""

    FRESH = "fresh"
    """Never seen: accepted and now remembered."""
    REDELIVERY = "redelivery"
    """Seen before on the same stream entry: a redelivery, not a replay."""
    REPLAY = "replay"
    """Seen before on another entry: refuse."""
    FULL = "full"
    """The store is at capacity with live nonces: refuse (fail closed)."""

    @property
    def accepted(self) -> bool:
        return self in (NonceVerdict.FRESH, NonceVerdict.REDELIVERY)


class NonceStore(Protocol):
    """Claims nonces; see the module docstring for the rules."""

    def claim(self, nonce: str, entry_id: str, expires_ns: int, now_ns: int) -> NonceVerdict:
        """Claim ``nonce`` for stream entry ``entry_id`` until ``expires_ns`` (unix ns)."""
        ...


class MemoryNonceStore:
    """An in-process store bounded by ``capacity`` and by each nonce's expiry.

    Parameters
    ----------
    capacity : int
        Most live nonces kept; beyond it claims return ``FULL``.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, was {capacity!r}")
        self._capacity = capacity
        self._entries: dict[str, tuple[str, int]] = {}
        self._expiries: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, nonce: str, entry_id: str, expires_ns: int, now_ns: int) -> NonceVerdict:
        with self._lock:
            self._purge(now_ns)
            seen = self._entries.get(nonce)
            if seen is not None:
                if entry_id and seen[0] == entry_id:
                    return NonceVerdict.REDELIVERY
                return NonceVerdict.REPLAY
            if len(self._entries) >= self._capacity:
                return NonceVerdict.FULL
            self._entries[nonce] = (entry_id, expires_ns)
            heapq.heappush(self._expiries, (expires_ns, nonce))
            return NonceVerdict.FRESH

    def _purge(self, now_ns: int) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now_ns:
            expires_ns, nonce = heapq.heappop(heap)
            entry = self._entries.get(nonce)
            if entry is not None and entry[1] == expires_ns:
                del self._entries[nonce]


class RedisNonceStore:
    """Nonces as Redis keys that expire with the command (``SET key entry NX GET PXAT``).

    Parameters
    ----------
    client : redis.Redis
        An injected client (with timeouts set; see :func:`nautilus_ai.control.transport.connect`).
    prefix : str
        Key prefix, e.g. ``"nautilus-ai:control:TRADER-001:nonce:"``.
    """

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def claim(self, nonce: str, entry_id: str, expires_ns: int, now_ns: int) -> NonceVerdict:
        # PXAT is absolute unix ms; round up so the key never expires before the window closes.
        expires_ms = max(-(-expires_ns // 1_000_000), now_ns // 1_000_000 + 1)
        previous = self._client.set(
            self._prefix + nonce, entry_id, nx=True, get=True, pxat=expires_ms
        )
        if previous is None:
            return NonceVerdict.FRESH
        if isinstance(previous, bytes):
            previous = previous.decode("utf-8", "replace")
        if entry_id and previous == entry_id:
            return NonceVerdict.REDELIVERY
        return NonceVerdict.REPLAY


class LayeredNonceStore:
    """Ask each store in turn; the first refusal wins (memory first: it is free)."""

    def __init__(self, *stores: NonceStore) -> None:
        if not stores:
            raise ValueError("LayeredNonceStore needs at least one store")
        self._stores = stores

    def claim(self, nonce: str, entry_id: str, expires_ns: int, now_ns: int) -> NonceVerdict:
        verdict = NonceVerdict.FRESH
        for store in self._stores:
            answer = store.claim(nonce, entry_id, expires_ns, now_ns)
            if not answer.accepted:
                return answer
            if answer is NonceVerdict.REDELIVERY:
                verdict = answer
        return verdict
