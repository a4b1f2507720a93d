"""A command the listener accepted but the strategies' thread never applied (the node was
stopping) gets a reply: refused, node stopping. Before, the sender waited for its timeout."""

from __future__ import annotations

from typing import Any

from fixtures.control_harness import STRATEGY, wait_for

from nautilus_ai.control import ControlClient, ReplyStatus


def test_a_command_accepted_as_the_node_stops_is_answered(
    plane_factory: Any, client: ControlClient
) -> None:
    plane = plane_factory()
    plane.start(lambda: None)  # the node's loop is stopping: nothing drains the inbox any more
    assert plane.listener.wait_connected(5)
    cursor = client.reply_cursor()
    command = client.command("pause", STRATEGY, reason="late")
    client.send(command)
    assert wait_for(lambda: plane.listener.stats.accepted == 1, timeout=5)

    refused = plane.stop(timeout=2)

    reply = client.wait_for_reply(command.command_id, cursor, timeout=5)
    assert reply.status is ReplyStatus.REJECTED
    assert reply.reason.startswith("node stopping")
    assert [r.command_id for r in refused] == [command.command_id]
    pending = client._client.xpending(client.names.commands, client.names.group)
    assert pending["pending"] == 0  # acknowledged: not re-applied by the next start
