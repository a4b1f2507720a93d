"""The gate every received command passes: envelope, signature, time window, schema, target and
replay checks, in that order, each refusal with a reason.

The order is chosen for cost and safety: nothing from an unauthenticated sender is parsed as a
command (only a best-effort peek at ``command_id`` so that the sender still gets a reply), and a
nonce is claimed only by a command that passed every other check, so junk cannot fill the store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from nautilus_ai.control.replay import NonceStore, NonceVerdict
from nautilus_ai.control.schema import (
    CommandReply,
    ControlCommand,
    InvalidCommandError,
    ReplyStatus,
    parse_command,
)
from nautilus_ai.control.signing import SignedEnvelope, verify_signature

__all__ = [
    "MAX_BODY_BYTES",
    "Accepted",
    "CommandGate",
    "Rejected",
    "TimeWindow",
]

MAX_BODY_BYTES = 65_536
"""A longer body is refused before its signature is even computed."""

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How old (or how far in the future, for clock skew) a command's timestamp may be.

    Parameters
    ----------
    max_age_ns : int
        Oldest accepted timestamp, relative to the receiver's wall clock (default 30 s).
    max_future_ns : int
        Furthest accepted timestamp ahead of the receiver's clock (default 5 s).
    """

    max_age_ns: int = 30 * _NS
    max_future_ns: int = 5 * _NS

    def __post_init__(self) -> None:
        if self.max_age_ns <= 0:
            raise ValueError(f"max_age_ns must be > 0, was {self.max_age_ns!r}")
        if self.max_future_ns < 0:
            raise ValueError(f"max_future_ns must be >= 0, was {self.max_future_ns!r}")

    @classmethod
    def from_seconds(cls, max_age: float, max_future: float) -> TimeWindow:
        return cls(int(max_age * _NS), int(max_future * _NS))

    def refusal(self, timestamp_ns: int, now_ns: int) -> str | None:
        """Why ``timestamp_ns`` is outside the window, or ``None`` when it is inside."""
        age = now_ns - timestamp_ns
        if age > self.max_age_ns:
            return f"expired: sent {age / _NS:.3f} s ago, the window is {self.max_age_ns / _NS:g} s"
        if -age > self.max_future_ns:
            return (
                f"timestamp is {-age / _NS:.3f} s in the future (clock skew?), at most "
                f"{self.max_future_ns / _NS:g} s is allowed"
            )
        return None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A command that passed the gate, with where and when it was received."""

    command: ControlCommand
    entry_id: str
    received_ns: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A refused command: the reply to send (status ``rejected``, with the reason)."""

    reply: CommandReply


class CommandGate:
    """Checks received commands for one trader.

    Parameters
    ----------
    secret : bytes
        The shared HMAC secret.
    trader_id : str
        This deployment's trader id; commands for another trader are refused.
    nonce_store : NonceStore
        Where nonces are claimed.
    window : TimeWindow
        Accepted timestamp range.
    strategy_ids : Iterable[str], optional
        Strategies that may be targeted; ``None`` accepts any (the applier then refuses unknown
        ones).
    clock : Callable[[], int]
        Wall-clock unix ns (injectable for tests).
    """

    def __init__(
        self,
        secret: bytes,
        trader_id: str,
        nonce_store: NonceStore,
        window: TimeWindow | None = None,
        strategy_ids: Iterable[str] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not secret:
            raise ValueError("secret must not be empty")
        self._secret = secret
        self._trader_id = trader_id
        self._nonces = nonce_store
        self._window = window or TimeWindow()
        self._strategy_ids = None if strategy_ids is None else frozenset(strategy_ids)
        self._clock = clock

    @property
    def window(self) -> TimeWindow:
        return self._window

    def check(self, fields: Mapping[str, str], entry_id: str) -> Accepted | Rejected:
        """Run every check on one stream entry's fields; never raises for bad input.

        Redis errors from a Redis-backed nonce store do propagate (the caller retries the entry).
        """
        received_ns = self._clock()

        def reject(reason: str, peek: Mapping[str, str] | None = None) -> Rejected:
            info = peek or {}
            return Rejected(
                CommandReply(
                    command_id=info.get("command_id", ""),
                    status=ReplyStatus.REJECTED,
                    reason=reason,
                    command_type=info.get("type", ""),
                    trader_id=info.get("trader_id", ""),
                    strategy_id=info.get("strategy_id", ""),
                    entry_id=entry_id,
                    received_ns=received_ns,
                    completed_ns=self._clock(),
                )
            )

        body = fields.get("body", "")
        if len(body) > MAX_BODY_BYTES:
            return reject(f"body is {len(body)} bytes, more than {MAX_BODY_BYTES}")
        peek = _peek(body)
        try:
            envelope = SignedEnvelope.from_fields(fields)
        except ValueError as exc:
            return reject(f"malformed envelope: {exc}", peek)
        if not verify_signature(
            self._secret, envelope.body, envelope.timestamp_ns, envelope.nonce, envelope.signature
        ):
            return reject("bad signature", peek)
        refusal = self._window.refusal(envelope.timestamp_ns, received_ns)
        if refusal is not None:
            return reject(refusal, peek)
        try:
            command = parse_command(envelope.body)
        except InvalidCommandError as exc:
            return reject(str(exc), peek)
        if command.timestamp_ns != envelope.timestamp_ns or command.nonce != envelope.nonce:
            return reject("body timestamp / nonce differ from the signed envelope", peek)
        if command.trader_id != self._trader_id:
            return reject(
                f"wrong trader: command is for {command.trader_id!r}, this is {self._trader_id!r}",
                peek,
            )
        if self._strategy_ids is not None and command.strategy_id not in self._strategy_ids:
            return reject(
                f"unknown strategy {command.strategy_id!r}; this trader runs "
                f"{', '.join(sorted(self._strategy_ids)) or 'none'}",
                peek,
            )
        verdict = self._nonces.claim(
            command.nonce, entry_id, command.timestamp_ns + self._window.max_age_ns, received_ns
        )
        if verdict is NonceVerdict.REPLAY:
            return reject("replayed nonce: this nonce was already used", peek)
        if verdict is NonceVerdict.FULL:
            return reject("replay guard is full: too many commands in the time window", peek)
        return Accepted(command, entry_id, received_ns)


_PEEK_KEYS = ("command_id", "type", "trader_id", "strategy_id")


def _peek(body: str) -> dict[str, str]:
    """Best-effort identification of a (possibly bad) command, for its reply only."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: data[key][:64] for key in _PEEK_KEYS if isinstance(data.get(key), str)}
