"""A command whose checks were cut short by Redis (the connection dropped, or Redis refused the
replay guard's ``SET``, between reading the entry and claiming its nonce) is checked again once
the listener is back, and answered.

Before, its stream entry stayed marked "in flight" in the listener, so the re-read of the pending
entries after the reconnect skipped it: the command was never applied nor answered (the operator's
``nautilus-ai control`` timed out with exit 3) until the node restarted.
"""

from __future__ import annotations

import pytest
from fixtures.control_harness import STRATEGY, LoopHarness, StandInStrategy, wait_for
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from nautilus_ai.control import ControlClient, MemoryNonceStore, NonceVerdict


class _FailingOnce:
    """A nonce store whose first claim fails as Redis would; then an in-memory store."""

    def __init__(self, error: Exception) -> None:
        self._error: Exception | None = error
        self._store = MemoryNonceStore()

    def claim(self, nonce: str, entry_id: str, expires_ns: int, now_ns: int) -> NonceVerdict:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._store.claim(nonce, entry_id, expires_ns, now_ns)


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("Connection reset by peer"),
        ResponseError("OOM command not allowed when used memory > 'maxmemory'"),
    ],
    ids=["connection", "refused"],
)
def test_a_command_whose_nonce_claim_failed_is_answered_after_the_retry(
    plane_factory: object, client: ControlClient, error: Exception
) -> None:
    plane = plane_factory(nonce_store=_FailingOnce(error))  # type: ignore[operator]
    harness = LoopHarness(plane, StandInStrategy(STRATEGY)).start()
    try:
        assert plane.listener.wait_connected(5)
        reply = client.request(client.command("pause", STRATEGY, reason="news"), timeout=8)
        assert reply.ok, reply.reason
        assert wait_for(lambda: harness.strategies[STRATEGY].paused)
        assert harness.strategies[STRATEGY].calls == ["pause"]
    finally:
        harness.stop()
