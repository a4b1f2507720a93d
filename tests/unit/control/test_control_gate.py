"""The gate: each kind of bad command is rejected with its reason; good ones pass."""

from __future__ import annotations

import json

import pytest

from nautilus_ai.control import (
    Accepted,
    CommandGate,
    MemoryNonceStore,
    Rejected,
    ReplyStatus,
    TimeWindow,
    parse_command,
    seal,
    sign,
)

SECRET = b"k" * 32
NOW = 1_700_000_000_000_000_000
S = 1_000_000_000


def make(**fields: object) -> dict[str, str]:
    data: dict[str, object] = {
        "type": "pause",
        "trader_id": "TRADER-001",
        "strategy_id": "AI-001",
        "command_id": "cmd1",
        "timestamp_ns": NOW,
        "nonce": "0123456789abcdef",
    }
    data.update(fields)
    return seal(parse_command(data), SECRET).to_fields()


@pytest.fixture
def gate() -> CommandGate:
    return CommandGate(
        SECRET,
        "TRADER-001",
        MemoryNonceStore(),
        TimeWindow(max_age_ns=30 * S, max_future_ns=5 * S),
        strategy_ids=["AI-001"],
        clock=lambda: NOW + S,
    )


def reason(verdict: Accepted | Rejected) -> str:
    assert isinstance(verdict, Rejected), f"expected a rejection, got {verdict}"
    assert verdict.reply.status is ReplyStatus.REJECTED
    return verdict.reply.reason


def test_good_command_passes_once(gate: CommandGate) -> None:
    fields = make()
    verdict = gate.check(fields, "1-0")
    assert isinstance(verdict, Accepted)
    assert verdict.command.command_id == "cmd1"
    assert verdict.received_ns == NOW + S
    assert "replayed nonce" in reason(gate.check(fields, "2-0"))
    # The same entry redelivered (consumer-group recovery) is not a replay.
    assert isinstance(gate.check(fields, "1-0"), Accepted)


def test_bad_signature_wrong_secret_and_tampering(gate: CommandGate) -> None:
    fields = make()
    tampered = dict(fields, body=fields["body"].replace("pause", "flatten"))
    assert reason(gate.check(tampered, "1-0")) == "bad signature"
    other = seal(parse_command(json.loads(fields["body"])), b"x" * 32).to_fields()
    rejected = gate.check(other, "2-0")
    assert reason(rejected) == "bad signature"
    assert isinstance(rejected, Rejected)
    # The sender still learns which command was refused.
    assert rejected.reply.command_id == "cmd1"
    assert rejected.reply.entry_id == "2-0"


def test_unsigned_and_malformed_envelopes(gate: CommandGate) -> None:
    fields = make()
    unsigned = {k: v for k, v in fields.items() if k != "sig"}
    assert "missing field(s): sig" in reason(gate.check(unsigned, "1-0"))
    assert "missing field(s)" in reason(gate.check({"junk": "1"}, "2-0"))
    assert "'ts'" in reason(gate.check(dict(fields, ts="soon"), "3-0"))
    assert "more than" in reason(gate.check(dict(fields, body="x" * 70_000), "4-0"))


def test_expired_and_future_commands(gate: CommandGate) -> None:
    assert "expired" in reason(gate.check(make(timestamp_ns=NOW - 40 * S), "1-0"))
    assert "in the future" in reason(gate.check(make(timestamp_ns=NOW + 10 * S), "2-0"))


def test_signed_but_invalid_or_unknown_commands(gate: CommandGate) -> None:
    def signed(body: dict[str, object]) -> dict[str, str]:
        text = json.dumps(body)
        ts, nonce = int(str(body["timestamp_ns"])), str(body["nonce"])
        return {"body": text, "ts": str(ts), "nonce": nonce, "sig": sign(SECRET, text, ts, nonce)}

    base = json.loads(make()["body"])
    assert "unknown command type 'explode'" in reason(
        gate.check(signed(dict(base, type="explode")), "1-0")
    )
    risk = {k: v for k, v in base.items() if k != "reason"}
    assert "min_confidence: must be in [0, 1)" in reason(
        gate.check(signed(dict(risk, type="set_risk", min_confidence=3)), "2-0")
    )
    # 1.0 too: it was accepted here and then failed in the strategy (the sizer's range is [0, 1))
    assert "min_confidence: must be in [0, 1) (was 1.0)" in reason(
        gate.check(signed(dict(risk, type="set_risk", min_confidence=1.0)), "2-1")
    )
    assert "reason: unknown key" in reason(
        gate.check(signed(dict(base, type="set_risk", min_confidence=0.5)), "3-0")
    )
    # Envelope timestamp differs from the body's: refused even though the HMAC is right.
    text = json.dumps(base)
    sig = sign(SECRET, text, NOW + 1, base["nonce"])
    mismatch = {"body": text, "ts": str(NOW + 1), "nonce": base["nonce"], "sig": sig}
    assert "differ from the signed envelope" in reason(gate.check(mismatch, "3-0"))


def test_wrong_target(gate: CommandGate) -> None:
    assert "wrong trader" in reason(gate.check(make(trader_id="TRADER-002"), "1-0"))
    assert "unknown strategy 'AI-999'" in reason(gate.check(make(strategy_id="AI-999"), "2-0"))


def test_rejected_commands_do_not_consume_nonces(gate: CommandGate) -> None:
    # A command refused for its target must not burn the nonce of a later good command.
    assert "wrong trader" in reason(gate.check(make(trader_id="TRADER-002"), "1-0"))
    assert isinstance(gate.check(make(), "2-0"), Accepted)


def test_full_replay_guard_fails_closed() -> None:
    gate = CommandGate(SECRET, "TRADER-001", MemoryNonceStore(capacity=1), clock=lambda: NOW)
    assert isinstance(gate.check(make(nonce="a" * 16), "1-0"), Accepted)
    assert "replay guard is full" in reason(gate.check(make(nonce="b" * 16), "2-0"))


def test_window_validation() -> None:
    with pytest.raises(ValueError, match="max_age_ns"):
        TimeWindow(max_age_ns=0)
    with pytest.raises(ValueError, match="secret"):
        CommandGate(b"", "T", MemoryNonceStore())
