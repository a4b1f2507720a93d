"""One live node per trader id on one Redis: a second node is refused at start, in one line
naming the trader and the holder; a stopped node releases its claim, a killed one's claim lapses
(at once when it ran on this host)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from fixtures.control_harness import TRADER, wait_for

from nautilus_ai.control import StreamNames, TraderClaimedError
from nautilus_ai.control.presence import Holder
from nautilus_ai.processes import pid_namespace, process_start_ticks

KEY = StreamNames(TRADER).presence


def test_a_second_node_with_the_same_trader_id_is_refused(plane_factory: Any) -> None:
    first = plane_factory()
    first.start(lambda: None)
    assert first.listener.wait_connected(5)
    second = plane_factory()
    with pytest.raises(TraderClaimedError) as refused:
        second.start(lambda: None)
    message = str(refused.value)
    assert "\n" not in message
    assert f"trader {TRADER} is already live" in message
    assert KEY in message and f"pid {os.getpid()}" in message
    assert "expires in" in message
    assert not second.listener.connected  # it reads nothing: no command goes to it

    first.stop(timeout=2)  # a stopped node releases its claim
    assert first._client.get(KEY) is None
    second.start(lambda: None)
    assert second.listener.wait_connected(5)


def test_the_running_node_keeps_its_claim_past_its_time_to_live(plane_factory: Any) -> None:
    plane = plane_factory(claim_ttl_ms=1000)
    plane.start(lambda: None)
    until = time.monotonic() + 2.5  # 2.5 x the time to live: refreshed, never lapsed
    while time.monotonic() < until:
        assert plane._client.get(KEY) is not None, "the claim lapsed while the node ran"
        time.sleep(0.05)


def test_a_killed_node_elsewhere_blocks_until_its_claim_lapses(plane_factory: Any) -> None:
    plane = plane_factory()
    other = Holder("another-host", 4242, None, time.time_ns())
    plane._client.set(KEY, other.to_json(), px=1500)
    with pytest.raises(TraderClaimedError, match=r"another-host \(pid 4242.*expires in 1\.\d s"):
        plane.start(lambda: None)
    assert wait_for(lambda: plane._client.get(KEY) is None, timeout=5)
    plane.start(lambda: None)
    assert plane.listener.wait_connected(5)


def test_a_killed_node_on_this_host_does_not_block_a_restart(plane_factory: Any) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = process_start_ticks(child.pid)
    child.kill()
    child.wait(10)
    plane = plane_factory()
    dead = Holder(socket.gethostname(), child.pid, started, time.time_ns(), pid_namespace())
    plane._client.set(KEY, dead.to_json(), px=60_000)
    plane.start(lambda: None)  # taken over at once, not after a minute
    assert plane.listener.wait_connected(5)
    assert Holder.from_json(plane._client.get(KEY)) != dead


def test_a_node_whose_trader_id_another_node_took_says_so_to_its_owner(
    plane_factory: Any,
) -> None:
    """A claim lost mid-run (Redis unreachable past the time to live, then another node took the
    trader id): the listener stopped reading commands and logged it, and the node traded on
    with no pause or flatten reaching it, its run ending 'ok'. Its owner now hears why (the
    live runner stops the node and fails the run)."""
    refusals: list[str] = []
    plane = plane_factory(claim_ttl_ms=1000)
    plane.start(lambda: None, on_refused=refusals.append)
    assert plane.listener.wait_connected(5)
    other = Holder("another-host", 4242, None, time.time_ns())
    plane._client.set(KEY, other.to_json(), px=60_000)  # as if ours had lapsed and it claimed
    assert wait_for(lambda: bool(refusals), timeout=5), "the owner was never told"
    assert len(refusals) == 1 and "\n" not in refusals[0]
    assert f"trader {TRADER} was claimed by a node on another-host (pid 4242" in refusals[0]
    assert not plane.listener.connected


def test_a_node_in_another_container_with_this_host_name_is_not_taken_for_gone(
    plane_factory: Any,
) -> None:
    """Containers may share a host name but not a pid namespace: a live node's pid in another
    container means nothing here (no such process), and its claim was taken over at once."""
    plane = plane_factory()
    elsewhere = Holder(socket.gethostname(), 999_999, None, time.time_ns(), "pid:[1]")
    plane._client.set(KEY, elsewhere.to_json(), px=60_000)
    with pytest.raises(TraderClaimedError, match="expires in"):
        plane.start(lambda: None)
    assert Holder.from_json(plane._client.get(KEY)) == elsewhere
