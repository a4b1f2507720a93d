"""HMAC-SHA256 signing of control commands with a shared secret from the environment.

What is signed is ``b"nautilus-ai-control/v1\\n" + timestamp + b"\\n" + nonce + b"\\n" + body``,
where ``body`` is the command's canonical JSON (which itself repeats the timestamp and nonce; the
receiver checks that they agree). The envelope carries timestamp and nonce beside the body so the
receiver can check the signature before it spends anything on parsing JSON from an unknown
sender. Signatures are compared in constant time (:func:`hmac.compare_digest`).

Replies are signed too (:func:`sign_reply`, under their own domain tag so a command's signature
is never a reply's): the reply JSON names its command id, so an operator's client accepts only a
reply the node wrote, never one that anyone else with write access to Redis added.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from nautilus_ai.control.schema import ControlCommand

__all__ = [
    "MIN_SECRET_BYTES",
    "SECRET_ENV",
    "MissingSecretError",
    "SignedEnvelope",
    "load_secret",
    "seal",
    "sign",
    "sign_reply",
    "verify_reply",
    "verify_signature",
]

SECRET_ENV = "NAUTILUS_AI_CONTROL_SECRET"
"""The environment variable holding the shared secret."""

MIN_SECRET_BYTES = 16
"""A shorter secret is refused: HMAC is only as strong as its key."""

_DOMAIN = b"nautilus-ai-control/v1\n"
_REPLY_DOMAIN = b"nautilus-ai-control-reply/v1\n"
_FIELDS = ("body", "ts", "nonce", "sig")


class MissingSecretError(RuntimeError):
    """The control secret is not set (or too short); the message names the variable."""


def load_secret(env: Mapping[str, str] | None = None, variable: str = SECRET_ENV) -> bytes:
    """Read the shared secret from the environment.

    Parameters
    ----------
    env : Mapping[str, str], optional
        Where to look (default ``os.environ``); injectable for tests.
    variable : str
        The variable's name (default ``NAUTILUS_AI_CONTROL_SECRET``).

    Raises
    ------
    MissingSecretError
        The variable is unset, empty, or shorter than ``MIN_SECRET_BYTES`` bytes.
    """
    source = os.environ if env is None else env
    value = source.get(variable, "")
    if not value:
        raise MissingSecretError(
            f"the control plane needs a shared secret: set ${variable} (at least "
            f"{MIN_SECRET_BYTES} bytes, e.g. `openssl rand -hex 32`)"
        )
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise MissingSecretError(
            f"${variable} is {len(secret)} bytes; use at least {MIN_SECRET_BYTES} "
            "(e.g. `openssl rand -hex 32`)"
        )
    return secret


def sign(secret: bytes, body: str, timestamp_ns: int, nonce: str) -> str:
    """Hex HMAC-SHA256 of the domain tag, timestamp, nonce and body."""
    message = b"".join(
        (_DOMAIN, str(timestamp_ns).encode(), b"\n", nonce.encode(), b"\n", body.encode())
    )
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes, body: str, timestamp_ns: int, nonce: str, signature: str
) -> bool:
    """True when ``signature`` is the HMAC of these fields (constant-time compare)."""
    expected = sign(secret, body, timestamp_ns, nonce)
    return hmac.compare_digest(expected.encode(), signature.encode())


def sign_reply(secret: bytes, reply_json: str) -> str:
    """Hex HMAC-SHA256 of the reply domain tag and a reply's JSON (which names its command)."""
    return hmac.new(secret, _REPLY_DOMAIN + reply_json.encode(), hashlib.sha256).hexdigest()


def verify_reply(secret: bytes, reply_json: str, signature: object) -> bool:
    """True when ``signature`` is :func:`sign_reply`'s for this JSON (constant-time compare)."""
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign_reply(secret, reply_json).encode(), signature.encode())


@dataclass(frozen=True, slots=True)
class SignedEnvelope:
    """What goes on the wire: the command body and its signature.

    ``to_fields`` / ``from_fields`` map it to and from the flat string fields of a stream entry.
    """

    body: str
    timestamp_ns: int
    nonce: str
    signature: str

    def to_fields(self) -> dict[str, str]:
        return {
            "body": self.body,
            "ts": str(self.timestamp_ns),
            "nonce": self.nonce,
            "sig": self.signature,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> SignedEnvelope:
        """Rebuild from stream fields; ``ValueError`` names a missing or malformed field."""
        missing = [name for name in _FIELDS if name not in fields]
        if missing:
            raise ValueError(f"envelope is missing field(s): {', '.join(missing)}")
        ts_text = fields["ts"]
        if not (ts_text.isascii() and ts_text.isdigit() and len(ts_text) <= 20):
            raise ValueError(f"envelope field 'ts' must be unix nanoseconds, was {ts_text[:40]!r}")
        return cls(fields["body"], int(ts_text), fields["nonce"], fields["sig"])


def seal(command: ControlCommand, secret: bytes) -> SignedEnvelope:
    """Sign ``command`` (its canonical JSON, timestamp and nonce) with ``secret``."""
    body = command.to_json()
    signature = sign(secret, body, command.timestamp_ns, command.nonce)
    return SignedEnvelope(body, command.timestamp_ns, command.nonce, signature)
