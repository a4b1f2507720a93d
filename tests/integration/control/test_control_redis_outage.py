"""Redis outages and node restarts: trading goes on, nothing sent after Redis is back is lost,
pending commands are recovered, replays stay refused across restarts."""

from __future__ import annotations

import logging
import time

import pytest
from fixtures.control_harness import STRATEGY, LoopHarness, StandInStrategy, wait_for

from nautilus_ai.control import ControlClient, LocalRedisServer, ReplyStatus, seal


def test_kill_and_restart_redis_loses_nothing_sent_after_it_is_back(
    harness: LoopHarness,
    client: ControlClient,
    redis_server: LocalRedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="nautilus_ai.control")
    strategy = harness.strategies[STRATEGY]
    assert client.request(client.command("pause", STRATEGY)).ok

    redis_server.kill()  # SIGKILL: a crash, and an empty Redis afterwards (no persistence)
    assert wait_for(lambda: not harness.plane.connected, timeout=5)
    ticks = harness.ticks
    time.sleep(0.3)
    assert harness.ticks > ticks + 5, "the loop (trading) must keep running while Redis is down"
    assert strategy.paused  # last state kept

    redis_server.restart()
    # Sent the moment Redis is back, before the listener has reconnected.
    early = [
        client.command("set_risk", STRATEGY, risk_multiplier=0.5),
        client.command("resume", STRATEGY),
    ]
    cursor = client.reply_cursor()
    for command in early:
        client.send(command)
    replies = [client.wait_for_reply(c.command_id, cursor, timeout=10) for c in early]
    assert [r.status for r in replies] == [ReplyStatus.APPLIED] * 2
    assert harness.plane.connected
    later = [client.request(client.command("status", STRATEGY)) for _ in range(20)]
    assert all(r.ok for r in later)
    assert strategy.calls == ["pause", "set_risk", "resume"]
    assert strategy.risk_multiplier == 0.5 and not strategy.paused

    text = caplog.text
    assert "Redis unreachable" in text and "trading continues on the last state" in text
    assert "Redis is back after" in text
    assert "recreating it" in text or "created consumer group" in text


def test_graceful_redis_restart_keeps_the_stream_position(
    harness: LoopHarness, client: ControlClient, redis_server: LocalRedisServer
) -> None:
    redis_server.stop()  # SIGTERM
    assert wait_for(lambda: not harness.plane.connected, timeout=5)
    redis_server.restart()
    reply = client.request(client.command("flatten", STRATEGY), timeout=10)
    assert reply.ok and reply.result["position"] == 0.0


def test_pending_command_is_recovered_after_a_node_crash(
    plane_factory: object, client: ControlClient
) -> None:
    # Node 1 receives the command but "crashes" before applying it (nothing drains its inbox).
    first = plane_factory()  # type: ignore[operator]
    first.start(lambda: None)
    assert first.listener.wait_connected(5)
    command = client.command("pause", STRATEGY, reason="before crash")
    cursor = client.reply_cursor()
    client.send(command)
    assert wait_for(lambda: len(first.inbox) == 1)
    # The crash: its threads end and its inbox is lost (a graceful plane.stop() would answer
    # the command "node stopping" instead: test_control_stop_replies.py).
    first.listener.stop(timeout=2)
    assert client._client.xpending(client.names.commands, "nautilus-ai-control")["pending"] == 1

    # Node 2 (same consumer name, fresh process state) finds and applies it.
    second = plane_factory()  # type: ignore[operator]
    strategy = StandInStrategy(STRATEGY)
    harness = LoopHarness(second, strategy).start()
    try:
        reply = client.wait_for_reply(command.command_id, cursor, timeout=5)
        assert reply.ok, reply.reason
        assert strategy.calls == ["pause"] and strategy.wrong_thread_calls == 0
        assert wait_for(lambda: second.listener.stats.recovered == 1)
    finally:
        harness.stop()


def test_replay_is_refused_by_a_restarted_node(
    plane_factory: object, client: ControlClient, control_secret: bytes
) -> None:
    command = client.command("resume", STRATEGY)
    fields = seal(command, control_secret).to_fields()
    first = LoopHarness(plane_factory(), StandInStrategy(STRATEGY)).start()  # type: ignore[operator]
    assert first.plane.listener.wait_connected(5)
    cursor = client.reply_cursor()
    client._client.xadd(client.names.commands, fields)
    assert client.wait_for_reply(command.command_id, cursor, 5).ok
    first.stop()

    second = LoopHarness(plane_factory(), StandInStrategy(STRATEGY)).start()  # type: ignore[operator]
    try:
        cursor = client.reply_cursor()
        client._client.xadd(client.names.commands, fields)  # captured and re-sent
        reply = client.wait_for_reply(command.command_id, cursor, 5)
        assert reply.status is ReplyStatus.REJECTED
        assert "replayed nonce" in reply.reason
    finally:
        second.stop()


def test_stop_does_not_hang_while_redis_is_down(
    harness: LoopHarness, redis_server: LocalRedisServer
) -> None:
    redis_server.kill()
    assert wait_for(lambda: not harness.plane.connected, timeout=5)
    start = time.monotonic()
    harness.plane.stop(timeout=3)
    assert time.monotonic() - start < 3.5
