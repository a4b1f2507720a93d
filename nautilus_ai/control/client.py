"""The sender side: build, sign and send commands, and wait for the matching reply.

>>> client = ControlClient(connect(RedisSettings(url)), StreamNames("TRADER-001"), secret)
>>> reply = client.request(client.command("pause", "AIPatternStrategy-001", reason="news"))
>>> reply.status
<ReplyStatus.APPLIED: 'applied'>
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from nautilus_ai.control.schema import CommandReply, ControlCommand, parse_command
from nautilus_ai.control.signing import seal, verify_reply
from nautilus_ai.control.transport import StreamNames

__all__ = ["ControlClient", "MalformedReplyError", "ReplyTimeoutError"]


class ReplyTimeoutError(TimeoutError):
    """No reply with the command's id arrived in time (is the node running and listening?)."""


class MalformedReplyError(ValueError):
    """A reply stream entry that is not a command reply the node wrote: no reply at all, or one
    without a valid signature (anyone who can write to Redis can add such an entry)."""


class ControlClient:
    """Sends signed commands to one trader and reads its replies.

    Parameters
    ----------
    client : redis.Redis
        Injected client (``decode_responses=True``) whose socket timeout exceeds ``poll_ms``.
    names : StreamNames
        The trader's stream keys.
    secret : bytes
        The shared HMAC secret.
    command_maxlen : int
        Approximate cap on the command stream (``XADD MAXLEN ~``).
    poll_ms : int
        Longest single ``XREAD BLOCK`` while waiting for a reply.
    clock : Callable[[], int]
        Wall-clock unix ns for command timestamps.
    """

    def __init__(
        self,
        client: Any,
        names: StreamNames,
        secret: bytes,
        *,
        command_maxlen: int = 10_000,
        poll_ms: int = 500,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._client = client
        self._names = names
        self._secret = secret
        self._command_maxlen = command_maxlen
        self._poll_ms = poll_ms
        self._clock = clock

    @property
    def names(self) -> StreamNames:
        return self._names

    def command(self, command_type: str, strategy_id: str, **fields: Any) -> ControlCommand:
        """A new, validated command for this trader with a fresh id, timestamp and nonce.

        Raises ``InvalidCommandError`` naming a bad field.
        """
        body = {
            "type": command_type,
            "trader_id": self._names.trader_id,
            "strategy_id": strategy_id,
            "command_id": uuid.uuid4().hex,
            "timestamp_ns": self._clock(),
            "nonce": secrets.token_hex(16),
            **fields,
        }
        return parse_command(body)

    def send(self, command: ControlCommand) -> str:
        """Sign and ``XADD`` ``command``; returns its stream entry id."""
        envelope = seal(command, self._secret)
        entry_id: str = self._client.xadd(
            self._names.commands,
            envelope.to_fields(),
            maxlen=self._command_maxlen,
            approximate=True,
        )
        return entry_id

    def reply_cursor(self) -> str:
        """The reply stream's last entry id (``"0-0"`` when empty): wait for replies after it."""
        last = self._client.xrevrange(self._names.replies, count=1)
        return str(last[0][0]) if last else "0-0"

    def request(self, command: ControlCommand, timeout: float = 5.0) -> CommandReply:
        """Send ``command`` and wait up to ``timeout`` seconds for its reply.

        Raises
        ------
        ReplyTimeoutError
            No reply arrived in time.
        """
        cursor = self.reply_cursor()
        self.send(command)
        return self.wait_for_reply(command.command_id, cursor, timeout)

    def wait_for_reply(self, command_id: str, cursor: str, timeout: float) -> CommandReply:
        """Read the reply stream after ``cursor`` until a reply for ``command_id`` arrives."""
        deadline = time.monotonic() + timeout
        unsigned: list[str] = []
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                forged = (
                    f"; {len(unsigned)} entr(ies) claiming to answer it had no valid signature "
                    f"and were ignored ({', '.join(unsigned[:5])}): someone without the secret "
                    "writes to this Redis"
                    if unsigned
                    else ""
                )
                raise ReplyTimeoutError(
                    f"no reply to command {command_id} within {timeout:g} s on "
                    f"{self._names.replies}; {self._who_listens()}{forged}"
                )
            response = self._client.xread(
                {self._names.replies: cursor},
                count=256,
                block=max(1, min(remaining_ms, self._poll_ms)),
            )
            for _stream, entries in response or ():
                for entry_id, fields in entries:
                    cursor = entry_id
                    if fields.get("command_id") != command_id:
                        continue
                    reply = self._signed_reply(entry_id, fields)
                    if isinstance(reply, CommandReply) and reply.command_id == command_id:
                        return reply
                    unsigned.append(entry_id)  # not the node's: keep waiting for the real one

    def _who_listens(self) -> str:
        """Whether a live node holds the trader (its claim, :mod:`.presence`), for a timeout."""
        from redis.exceptions import RedisError

        from nautilus_ai.control.presence import Holder

        trader = self._names.trader_id
        try:
            text = self._client.get(self._names.presence)
        except (RedisError, OSError):
            return f"is the node for trader {trader!r} running with the control plane on?"
        if text is None:
            return (
                f"no live node holds trader {trader!r} on this Redis (no {self._names.presence}): "
                "the command waits in the stream for a node that starts within its max age"
            )
        holder = Holder.from_json(text)
        who = holder.describe() if holder is not None else "a node"
        return (
            f"trader {trader!r} is held by {who}, which did not answer in time (busy, stopping, "
            "or its strategies' loop is blocked)"
        )

    def replies(self, count: int = 100) -> list[CommandReply | MalformedReplyError]:
        """The most recent ``count`` replies, oldest first (the audit trail); an entry that is no
        reply stands in its place as a :class:`MalformedReplyError` naming its entry id, so one
        junk entry neither hides the others nor goes unnoticed. So does a reply without a valid
        signature, unless this client has no secret (then none is checked)."""
        entries = self._client.xrevrange(self._names.replies, count=count)
        return [self._signed_reply(entry_id, fields) for entry_id, fields in reversed(entries)]

    def _signed_reply(self, entry_id: str, fields: Any) -> CommandReply | MalformedReplyError:
        """The entry's reply if the node wrote it (its ``sig`` verifies), else the error."""
        try:
            text = fields["reply"]
            reply = CommandReply.from_json(text)
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError
            detail = "no 'reply' field" if isinstance(exc, KeyError) else " ".join(str(exc).split())
            return MalformedReplyError(
                f"entry {entry_id} of the reply stream is not a command reply: {detail[:200]}"
            )
        if self._secret and not verify_reply(self._secret, text, fields.get("sig")):
            return MalformedReplyError(
                f"entry {entry_id} of the reply stream has no valid signature (not written by a "
                f"node holding the secret): {reply.command_type} {reply.status.value} for "
                f"command {reply.command_id}"
            )
        return reply
