"""Signed commands over a real redis-server: applied on the loop, rejected with reasons, audited."""

from __future__ import annotations

import json
import time

import pytest
from fixtures.control_harness import STRATEGY, TRADER, LoopHarness, StandInStrategy, wait_for

from nautilus_ai.control import (
    ControlClient,
    ReplyStatus,
    ReplyTimeoutError,
    StreamNames,
    parse_command,
    seal,
    sign,
)


def test_every_command_is_applied_on_the_loop(harness: LoopHarness, client: ControlClient) -> None:
    strategy = harness.strategies[STRATEGY]
    reply = client.request(client.command("pause", STRATEGY, reason="news"), timeout=5)
    assert reply.status is ReplyStatus.APPLIED, reply.reason
    assert reply.result["paused"] is True and strategy.paused

    reply = client.request(
        client.command("set_risk", STRATEGY, min_confidence=0.7, risk_multiplier=0.5), timeout=5
    )
    assert reply.ok
    assert (reply.result["min_confidence"], reply.result["risk_multiplier"]) == (0.7, 0.5)
    assert reply.result["max_position"] is None  # untouched

    reply = client.request(client.command("switch_model", STRATEGY, config={"kind": "torch"}))
    assert reply.ok and reply.result["model_id"] == "torch/1"

    assert client.request(client.command("resume", STRATEGY)).result["paused"] is False
    reply = client.request(client.command("flatten", STRATEGY))
    assert reply.result["position"] == 0.0 and reply.result["paused"] is True

    status = client.request(client.command("status", STRATEGY))
    assert status.ok and status.command_type == "status"
    assert status.result["model_id"] == "torch/1"

    assert strategy.calls == ["pause", "set_risk", "switch_model", "resume", "flatten"]
    assert strategy.wrong_thread_calls == 0
    assert harness.strategies["Other-002"].calls == []  # targeted by strategy id


def test_strategy_error_is_a_failed_reply(harness: LoopHarness, client: ControlClient) -> None:
    reply = client.request(client.command("switch_model", STRATEGY, config={"kind": "broken"}))
    assert reply.status is ReplyStatus.FAILED
    assert "cannot build predictor 'broken'" in reply.reason
    assert harness.strategies[STRATEGY].model_id == "rule/1"  # kept the old model
    assert client.request(client.command("status", STRATEGY)).ok  # and keeps serving


def _raw_send(client: ControlClient, fields: dict[str, str]) -> str:
    entry: str = client._client.xadd(client.names.commands, fields)
    return entry


def test_bad_commands_are_rejected_and_the_consumer_keeps_going(
    harness: LoopHarness, client: ControlClient, control_secret: bytes
) -> None:
    good = client.command("pause", STRATEGY)
    fields = seal(good, control_secret).to_fields()

    def signed_body(body: dict[str, object]) -> dict[str, str]:
        text = json.dumps(body)
        ts, nonce = int(str(body["timestamp_ns"])), str(body["nonce"])
        return {
            "body": text,
            "ts": str(ts),
            "nonce": nonce,
            "sig": sign(control_secret, text, ts, nonce),
        }

    base = json.loads(fields["body"])
    no_reason = {k: v for k, v in base.items() if k != "reason"}
    fresh = client.command("status", STRATEGY)
    cases: list[tuple[str, dict[str, str], str]] = [
        ("unsigned", {k: v for k, v in fields.items() if k != "sig"}, "missing field(s): sig"),
        ("bad signature", dict(fields, sig="0" * 64), "bad signature"),
        ("wrong secret", seal(fresh, b"x" * 32).to_fields(), "bad signature"),
        ("junk fields", {"hello": "world"}, "malformed envelope"),
        (
            "signed junk",
            signed_body(dict(base, type="explode", nonce="e" * 16)),
            "unknown command type 'explode'",
        ),
        (
            "malformed",
            signed_body(dict(no_reason, type="set_risk", nonce="m" * 16)),
            "at least one",
        ),
        (
            "typo field",
            signed_body(dict(base, resaon="x", nonce="t" * 16)),
            "resaon: unknown key (received 'x'); did you mean 'reason'?",
        ),
        (
            "expired",
            seal(
                parse_command(dict(base, nonce="x" * 16, timestamp_ns=time.time_ns() - 60 * 10**9)),
                control_secret,
            ).to_fields(),
            "expired",
        ),
        (
            "wrong trader",
            seal(
                parse_command(dict(base, nonce="w" * 16, trader_id="T-9")), control_secret
            ).to_fields(),
            "wrong trader",
        ),
        (
            "unknown strategy",
            seal(
                parse_command(dict(base, nonce="u" * 16, strategy_id="X-1")), control_secret
            ).to_fields(),
            "unknown strategy 'X-1'",
        ),
    ]
    sent = {
        _raw_send(client, case_fields): (name, expected) for name, case_fields, expected in cases
    }
    # The good command, then the same entry again: a replay.
    first = _raw_send(client, fields)
    replay = _raw_send(client, fields)
    sent[replay] = ("replay", "replayed nonce")

    assert wait_for(lambda: len(client.replies(100)) >= len(cases) + 2, timeout=5)
    by_entry = {reply.entry_id: reply for reply in client.replies(100)}
    for entry_id, (name, expected) in sent.items():
        reply = by_entry[entry_id]
        assert reply.status is ReplyStatus.REJECTED, name
        assert expected in reply.reason, f"{name}: {reply.reason}"
    assert by_entry[first].status is ReplyStatus.APPLIED

    # The consumer kept going: a fresh command still works, and everything was acknowledged.
    assert client.request(client.command("resume", STRATEGY)).ok
    assert harness.strategies[STRATEGY].calls == ["pause", "resume"]
    redis_client = client._client
    assert wait_for(
        lambda: redis_client.xpending(client.names.commands, "nautilus-ai-control")["pending"] == 0
    )
    assert harness.plane.listener.stats.rejected == len(cases) + 1


def test_audit_trail_has_one_record_per_command(
    harness: LoopHarness, client: ControlClient
) -> None:
    for kind in ("pause", "resume", "status"):
        client.request(client.command(kind, STRATEGY))
    raw = client._client.xrange(client.names.replies)
    assert [fields["status"] for _id, fields in raw] == ["applied"] * 3
    assert [json.loads(fields["reply"])["command_type"] for _id, fields in raw] == [
        "pause",
        "resume",
        "status",
    ]


def test_client_times_out_when_nobody_listens(client: ControlClient) -> None:
    start = time.monotonic()
    with pytest.raises(ReplyTimeoutError, match=TRADER):
        client.request(client.command("status", STRATEGY), timeout=0.3)
    assert time.monotonic() - start < 2


def test_names_are_per_trader(client: ControlClient) -> None:
    assert client.names == StreamNames(TRADER)


def test_slow_preparation_runs_off_the_loop_and_keeps_command_order(
    plane_factory: object, client: ControlClient
) -> None:
    # switch_model's predictor is built by a `prepare` hook on the listener thread (loading a
    # model must not stall the event loop); commands keep their order around it.
    import threading

    prepared: list[tuple[str, int]] = []

    def prepare(command: object) -> None:
        name = command.type  # type: ignore[attr-defined]
        if name == "switch_model":
            time.sleep(0.3)  # a slow model load
        if name == "set_risk":
            raise RuntimeError("preparation fault")  # logged; the command is still applied
        prepared.append((name, threading.get_ident()))

    plane = plane_factory(prepare=prepare)  # type: ignore[operator]
    harness = LoopHarness(plane, StandInStrategy(STRATEGY), StandInStrategy("Other-002")).start()
    try:
        assert plane.listener.wait_connected(5)
        strategy = harness.strategies[STRATEGY]
        ticks_before = harness.ticks
        client.send(client.command("switch_model", STRATEGY, config={"kind": "torch"}))
        client.send(client.command("set_risk", STRATEGY, risk_multiplier=0.5))
        client.send(client.command("pause", STRATEGY))
        assert wait_for(lambda: len(strategy.calls) == 3, timeout=5)
        assert strategy.calls == ["switch_model", "set_risk", "pause"]
        assert [name for name, _ in prepared] == ["switch_model", "pause"]
        loop_thread = strategy.owner_thread
        assert all(thread != loop_thread for _, thread in prepared)
        assert harness.ticks - ticks_before >= 10, "the loop kept ticking during the slow load"
        assert strategy.wrong_thread_calls == 0
    finally:
        harness.stop()
