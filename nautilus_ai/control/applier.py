"""Applying an accepted command to a strategy: the :class:`Controllable` protocol a strategy
implements, and :func:`apply_command`, which calls it and builds the reply.

``apply_command`` must run on the thread that owns the strategy (the node's event loop in live
trading, the engine's thread in a backtest); the Nautilus glue in
``nautilus_ai.strategies.controller`` makes sure of that.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import JsonValue

from nautilus_ai.control.schema import (
    COMMANDS,
    CommandReply,
    CommandSpec,
    ControlCommand,
    ReplyStatus,
)

__all__ = ["Controllable", "GuardedTarget", "apply_command", "json_safe"]


@runtime_checkable
class Controllable(Protocol):
    """What a strategy exposes to the control plane (each call made on the strategy's thread)."""

    def pause_trading(self, reason: str) -> None:
        """No new entries; exits and stops keep working."""
        ...

    def resume_trading(self) -> None:
        """Allow new entries again."""
        ...

    def flatten(self, reason: str) -> None:
        """Cancel orders, close positions, stay paused."""
        ...

    def set_risk(
        self,
        min_confidence: float | None,
        max_position: float | None,
        risk_multiplier: float | None,
    ) -> None:
        """Change the given risk settings (``None`` keeps the current value)."""
        ...

    def switch_model(self, config: dict[str, Any]) -> None:
        """Replace the predictor with one built from ``config``."""
        ...

    def control_status(self) -> dict[str, Any]:
        """Paused flag, risk settings, active model id, position, last decision."""
        ...


def apply_command(
    target: Controllable | None,
    command: ControlCommand,
    *,
    entry_id: str = "",
    received_ns: int = 0,
    clock: Callable[[], int] = time.time_ns,
) -> CommandReply:
    """Call the strategy method for ``command`` and say what happened.

    ``target`` is None when the trader runs no such strategy: the reply is ``rejected``. A
    strategy that raises gives a ``failed`` reply naming the exception (the node keeps running).
    Every applied command's reply carries the strategy's status afterwards.
    """
    status: dict[str, JsonValue] = {}
    if target is None:
        outcome = ReplyStatus.REJECTED
        reason = f"no running strategy {command.strategy_id!r} on this trader"
    else:
        outcome, reason, status = _call(target, command)
    return CommandReply(
        command_id=command.command_id,
        status=outcome,
        reason=reason,
        command_type=command.type,
        trader_id=command.trader_id,
        strategy_id=command.strategy_id,
        entry_id=entry_id,
        received_ns=received_ns,
        completed_ns=clock(),
        result=status,
    )


@runtime_checkable
class GuardedTarget(Protocol):
    """A target that wants to run code around each command (the controller's wrapper: refuse
    order-sending commands unless the strategy runs, save its state after a change)."""

    def before_command(self, spec: CommandSpec) -> None: ...

    def after_command(self, spec: CommandSpec) -> None: ...


def _call(
    target: Controllable, command: ControlCommand
) -> tuple[ReplyStatus, str, dict[str, JsonValue]]:
    """(outcome, reason, status afterwards) of calling the strategy method for ``command``."""
    spec = COMMANDS[command.type]
    guarded = target if isinstance(target, GuardedTarget) else None
    try:
        if guarded is not None:
            guarded.before_command(spec)
        spec.apply(target, command)
        if guarded is not None:
            guarded.after_command(spec)
        return ReplyStatus.APPLIED, "", json_safe(target.control_status())
    except Exception as exc:  # a strategy fault must not take the node down
        return ReplyStatus.FAILED, f"{type(exc).__name__}: {exc}", {}


def json_safe(value: dict[str, Any]) -> dict[str, JsonValue]:
    """A JSON-only copy of ``value``: non-JSON leaves (Decimal, enums, Nautilus objects) become
    strings, NaN and infinities become ``None``, keys become strings."""
    result = _clean(value)
    assert isinstance(result, dict)
    return result


def _clean(value: Any) -> JsonValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return str(value)
