"""HMAC signing: round trip, tamper detection, secret loading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.control import (
    SECRET_ENV,
    MissingSecretError,
    SignedEnvelope,
    load_secret,
    parse_command,
    seal,
    sign,
    verify_signature,
)

SECRET = b"s" * 32


def test_seal_verifies_and_fields_round_trip() -> None:
    command = parse_command(
        {
            "type": "resume",
            "trader_id": "T-1",
            "strategy_id": "S-1",
            "command_id": "abc",
            "timestamp_ns": 123,
            "nonce": "n" * 16,
        }
    )
    envelope = seal(command, SECRET)
    again = SignedEnvelope.from_fields(envelope.to_fields())
    assert again == envelope
    assert verify_signature(SECRET, again.body, again.timestamp_ns, again.nonce, again.signature)
    assert not verify_signature(b"t" * 32, again.body, 123, again.nonce, again.signature)


@given(
    body=st.text(max_size=100),
    ts=st.integers(min_value=0, max_value=2**63),
    nonce=st.text(alphabet="abcdef0123456789", min_size=16, max_size=32),
    which=st.sampled_from(["body", "ts", "nonce", "sig"]),
)
def test_any_change_breaks_the_signature(body: str, ts: int, nonce: str, which: str) -> None:
    signature = sign(SECRET, body, ts, nonce)
    assert verify_signature(SECRET, body, ts, nonce, signature)
    if which == "body":
        body += "x"
    elif which == "ts":
        ts += 1
    elif which == "nonce":
        nonce += "0"
    else:
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not verify_signature(SECRET, body, ts, nonce, signature)


def test_timestamp_and_nonce_are_separated() -> None:
    # "12" + "3abc..." must not sign the same as "123" + "abc...".
    assert sign(SECRET, "{}", 12, "3" + "a" * 16) != sign(SECRET, "{}", 123, "a" * 16)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "{}", "ts": "1", "nonce": "n"}, "sig"),
        ({"body": "{}", "ts": "1.5", "nonce": "n", "sig": "x"}, "ts"),
        ({"body": "{}", "ts": "-1", "nonce": "n", "sig": "x"}, "ts"),
        ({"body": "{}", "ts": "9" * 40, "nonce": "n", "sig": "x"}, "ts"),
    ],
)
def test_malformed_envelope_names_the_field(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SignedEnvelope.from_fields(fields)


def test_load_secret_names_the_variable() -> None:
    with pytest.raises(MissingSecretError, match=SECRET_ENV):
        load_secret({})
    with pytest.raises(MissingSecretError, match="at least 16"):
        load_secret({SECRET_ENV: "short"})
    with pytest.raises(MissingSecretError, match="MY_SECRET"):
        load_secret({}, variable="MY_SECRET")
    assert load_secret({SECRET_ENV: "k" * 16}) == b"k" * 16
