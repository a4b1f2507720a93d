"""Command schedules: control commands at given (simulated) times, for backtests.

A backtest has no Redis and no operator, but the same pause / flatten / set-risk handlers should
be exercised. A schedule is a list of plain dicts (so it fits a msgspec / JSON config)::

    [{"at": "2017-01-03T10:00:00Z", "type": "pause", "strategy_id": "AIPattern-001",
      "reason": "ECB"},
     {"at": 1483441200000000000, "type": "resume", "strategy_id": "AIPattern-001"}]

``at`` is unix nanoseconds or an ISO-8601 time (a naive time is refused: say ``Z``). Every other
key is the command's own field; ``trader_id``, ``command_id``, ``timestamp_ns`` and ``nonce`` are
filled in. Schedules are trusted configuration, so they are not signed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nautilus_ai.control.schema import (
    CommandReply,
    ControlCommand,
    InvalidCommandError,
    ReplyStatus,
    parse_command,
)
from nautilus_ai.timefmt import MAX_NS, utc_seconds

__all__ = ["ScheduledCommand", "parse_schedule", "schedule_problems"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILLED = ("trader_id", "command_id", "timestamp_ns", "nonce")


@dataclass(frozen=True, slots=True)
class ScheduledCommand:
    """One command and the time (unix ns, on the node's clock) it is due."""

    at_ns: int
    command: ControlCommand


def parse_schedule(items: Sequence[Mapping[str, Any]], trader_id: str) -> list[ScheduledCommand]:
    """Validate a schedule; returns it sorted by time (stable for equal times).

    Raises
    ------
    InvalidCommandError
        An entry is not a mapping, has a bad ``at``, sets a field that is filled in, or fails
        the command schema; the message names the entry's index.
    """
    parsed: list[ScheduledCommand] = []
    for index, item in enumerate(items):
        where = f"schedule[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidCommandError(f"{where} must be a mapping, was {type(item).__name__}")
        if "at" not in item:
            raise InvalidCommandError(f"{where} has no 'at' (unix ns or ISO-8601 time)")
        clash = [key for key in _FILLED if key in item]
        if clash:
            raise InvalidCommandError(f"{where} sets {', '.join(clash)}; these are filled in")
        at_ns = _parse_at(item["at"], where)
        body = {key: value for key, value in item.items() if key != "at"}
        body.update(
            trader_id=trader_id,
            command_id=f"schedule-{index}",
            timestamp_ns=at_ns,
            nonce=f"schedule-{index:010d}",
        )
        try:
            command = parse_command(body)
        except InvalidCommandError as exc:
            raise InvalidCommandError(f"{where}: {exc}") from None
        parsed.append(ScheduledCommand(at_ns, command))
    parsed.sort(key=lambda entry: entry.at_ns)
    return parsed


def _parse_at(value: Any, where: str) -> int:
    at_ns = _at_ns(value, where)
    if at_ns > MAX_NS:  # the node's clock refused it at start (OverflowError), after --check
        raise InvalidCommandError(
            f"{where}.at is after 2262-04-11T23:47:16Z, the latest time a nanosecond clock "
            f"holds (extra zeros?), was {value!r}"
        )
    return at_ns


def _at_ns(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise InvalidCommandError(f"{where}.at must be unix ns or an ISO-8601 time, was {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise InvalidCommandError(f"{where}.at must be > 0 unix ns, was {value!r}")
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidCommandError(f"{where}.at is not an ISO-8601 time: {value!r}") from None
        if moment.tzinfo is None:
            raise InvalidCommandError(f"{where}.at has no time zone: {value!r} (append Z for UTC)")
        at_ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1_000
        if at_ns <= 0:
            raise InvalidCommandError(f"{where}.at must be after 1970, was {value!r}")
        return at_ns
    raise InvalidCommandError(
        f"{where}.at must be unix ns or an ISO-8601 time, was {type(value).__name__}"
    )


def schedule_problems(
    schedule: Sequence[ScheduledCommand], replies: Sequence[CommandReply]
) -> list[str]:
    """What became of a run's schedule, as reasons: each entry that was not applied (rejected
    or failed, with the reply's reason) or never ran (the run ended before it was due). Empty
    when every entry was applied."""
    by_id = {reply.command_id: reply for reply in replies}
    problems = []
    for entry in schedule:
        command = entry.command
        what = (
            f"control {command.command_id.replace('-', '[', 1)}] ({command.type} for "
            f"{command.strategy_id} at {utc_seconds(entry.at_ns)})"
        )
        reply = by_id.get(command.command_id)
        if reply is None:
            problems.append(f"{what} never ran: the run ended before it was due")
        elif reply.status is not ReplyStatus.APPLIED:
            verdict = "was rejected" if reply.status is ReplyStatus.REJECTED else "failed"
            problems.append(f"{what} {verdict}: {reply.reason}")
    return problems
