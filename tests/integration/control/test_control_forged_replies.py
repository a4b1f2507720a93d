"""Replies are signed by the node: an entry that anyone else with write access to Redis adds to
the reply stream (a made-up "applied", or a real reply of another command relabelled) is never
taken for the node's answer, and the audit trail names it. Before, the operator's client
returned the first entry carrying the command's id: a forged "flatten applied" was believed."""

from __future__ import annotations

import json

import pytest
from fixtures.control_harness import STRATEGY, LoopHarness

from nautilus_ai.control import (
    ControlClient,
    ReplyStatus,
    ReplyTimeoutError,
    sign_reply,
)
from nautilus_ai.control.client import MalformedReplyError


def _forged(client: ControlClient, command_id: str, command_type: str) -> str:
    reply = {
        "command_id": command_id,
        "command_type": command_type,
        "strategy_id": STRATEGY,
        "status": "applied",
        "result": {"position": 0.0, "paused": True},
    }
    fields = {"command_id": command_id, "status": "applied", "reply": json.dumps(reply)}
    entry: str = client._client.xadd(client.names.replies, fields)
    return entry


def test_a_forged_reply_without_a_node_is_not_believed(client: ControlClient) -> None:
    command = client.command("flatten", STRATEGY)
    cursor = client.reply_cursor()
    client.send(command)
    entry = _forged(client, command.command_id, "flatten")
    with pytest.raises(ReplyTimeoutError) as caught:
        client.wait_for_reply(command.command_id, cursor, timeout=1.0)
    assert f"had no valid signature and were ignored ({entry})" in str(caught.value)
    assert "someone without the secret writes to this Redis" in str(caught.value)


def test_the_node_s_reply_wins_over_a_forged_one_and_history_names_the_forgery(
    harness: LoopHarness, client: ControlClient
) -> None:
    command = client.command("pause", STRATEGY, reason="news")
    cursor = client.reply_cursor()
    forged = _forged(client, command.command_id, "pause")  # arrives before the node's reply
    client.send(command)
    reply = client.wait_for_reply(command.command_id, cursor, timeout=5.0)
    assert reply.status is ReplyStatus.APPLIED and reply.result["paused"] is True
    assert harness.strategies[STRATEGY].paused

    history = client.replies()
    errors = [entry for entry in history if isinstance(entry, MalformedReplyError)]
    assert [str(error) for error in errors] == [
        f"entry {forged} of the reply stream has no valid signature (not written by a node "
        f"holding the secret): pause applied for command {command.command_id}"
    ]
    assert [entry.command_id for entry in history if not isinstance(entry, Exception)] == [
        command.command_id
    ]


def test_a_genuine_reply_relabelled_for_another_command_is_not_believed(
    harness: LoopHarness, client: ControlClient
) -> None:
    first = client.request(client.command("status", STRATEGY), timeout=5.0)
    (_entry, fields), *_ = client._client.xrevrange(client.names.replies, count=1)
    assert json.loads(fields["reply"])["command_id"] == first.command_id
    # Someone copies the node's signed reply and relabels it for a flatten nobody answers yet.
    flatten = client.command("flatten", "Nobody-003")
    cursor = client.reply_cursor()
    relabelled = dict(fields, command_id=flatten.command_id)
    client._client.xadd(client.names.replies, relabelled)
    with pytest.raises(ReplyTimeoutError):
        client.wait_for_reply(flatten.command_id, cursor, timeout=1.0)
    # The node's own replies verify with the shared secret, and only with it.
    assert fields["sig"] == sign_reply(client._secret, fields["reply"])
    assert fields["sig"] != sign_reply(b"another-secret-of-enough-bytes", fields["reply"])
