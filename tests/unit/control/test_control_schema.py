"""Command schema: every command validates its fields and names the bad one."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.control import (
    COMMAND_TYPES,
    CommandReply,
    InvalidCommandError,
    PauseCommand,
    ReplyStatus,
    SetRiskCommand,
    SwitchModelCommand,
    canonical_json,
    parse_command,
)


def body(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "pause",
        "trader_id": "TRADER-001",
        "strategy_id": "AIPattern-001",
        "command_id": "c1",
        "timestamp_ns": 1_700_000_000_000_000_000,
        "nonce": "0123456789abcdef",
    }
    base.update(fields)
    return base


def test_every_type_parses_to_its_model() -> None:
    extra: dict[str, dict[str, object]] = {
        "set_risk": {"min_confidence": 0.6},
        "switch_model": {"config": {"kind": "rule"}},
    }
    for kind in COMMAND_TYPES:
        command = parse_command(body(type=kind, **extra.get(kind, {})))
        assert command.type == kind


def test_json_round_trip_is_canonical_and_stable() -> None:
    command = parse_command(body(reason="ECB at 13:45"))
    assert isinstance(command, PauseCommand)
    text = command.to_json()
    assert text == canonical_json(json.loads(text))
    assert parse_command(text) == command
    assert " " not in text.replace("ECB at 13:45", "")


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"type": "set_risk", "min_confidence": 1.5}, "min_confidence"),
        ({"type": "set_risk", "min_confidence": math.nan}, "min_confidence"),
        ({"type": "set_risk", "max_position": 0.0}, "max_position"),
        ({"type": "set_risk", "max_position": math.inf}, "max_position"),
        ({"type": "set_risk", "risk_multiplier": 11.0}, "risk_multiplier"),
        ({"type": "set_risk", "risk_multiplier": 0.0}, "risk_multiplier"),
        ({"type": "switch_model", "config": {"path": "x"}}, "config"),
        ({"type": "switch_model", "config": {"kind": ""}}, "config"),
        ({"trader_id": "has space"}, "trader_id"),
        ({"strategy_id": ""}, "strategy_id"),
        ({"command_id": "x" * 65}, "command_id"),
        ({"nonce": "short"}, "nonce"),
        ({"timestamp_ns": 0}, "timestamp_ns"),
        ({"reason": "r" * 501}, "reason"),
        ({"min_confidense": 0.5}, "min_confidense"),  # typo: extra fields are refused
    ],
)
def test_bad_field_is_named(fields: dict[str, object], field_name: str) -> None:
    with pytest.raises(InvalidCommandError, match=field_name):
        parse_command(body(**fields))


def test_set_risk_needs_one_setting_and_keeps_none_for_the_rest() -> None:
    with pytest.raises(InvalidCommandError, match="at least one"):
        parse_command(body(type="set_risk"))
    command = parse_command(body(type="set_risk", risk_multiplier=0.5))
    assert isinstance(command, SetRiskCommand)
    assert (command.min_confidence, command.max_position, command.risk_multiplier) == (
        None,
        None,
        0.5,
    )


def test_switch_model_config_is_size_limited() -> None:
    big = {"kind": "rule", "blob": "x" * 20_000}
    with pytest.raises(InvalidCommandError, match="bytes of JSON"):
        parse_command(body(type="switch_model", config=big))
    ok = parse_command(body(type="switch_model", config={"kind": "torch", "path": "a/b"}))
    assert isinstance(ok, SwitchModelCommand)
    assert ok.config == {"kind": "torch", "path": "a/b"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps(body(type="explode")), "unknown command type 'explode'"),
        (json.dumps({k: v for k, v in body().items() if k != "type"}), "unknown command type"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_and_unknown_bodies(raw: str | bytes, message: str) -> None:
    with pytest.raises(InvalidCommandError, match=message):
        parse_command(raw)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_parser_never_crashes_on_junk(raw: str | bytes) -> None:
    with contextlib.suppress(InvalidCommandError):
        parse_command(raw)


@given(
    st.dictionaries(
        st.sampled_from([*body().keys(), "reason", "config", "min_confidence", "junk"]),
        st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=30), st.booleans()),
    )
)
def test_parser_never_crashes_on_junk_objects(data: dict[str, object]) -> None:
    with contextlib.suppress(InvalidCommandError):
        parse_command(data)


def test_reply_round_trip() -> None:
    reply = CommandReply(
        command_id="c1",
        status=ReplyStatus.APPLIED,
        command_type="status",
        result={"paused": True, "risk": {"multiplier": 0.5}},
    )
    assert reply.ok
    assert CommandReply.from_json(reply.to_json()) == reply
    assert json.loads(reply.to_json())["status"] == "applied"
