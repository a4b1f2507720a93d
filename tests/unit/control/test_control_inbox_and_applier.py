"""Inbox hand-over (coalesced wake-ups, bounded) and the applier (methods, failures, status)."""

from __future__ import annotations

import math
import threading
from decimal import Decimal
from typing import Any

import pytest

from nautilus_ai.control import (
    Accepted,
    CommandInbox,
    Controllable,
    InboxFullError,
    ReplyStatus,
    apply_command,
    parse_command,
)


class StandIn:
    """A stand-in strategy recording every control call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.paused = False
        self.model = "rule/1"

    def pause_trading(self, reason: str) -> None:
        self.calls.append(("pause", (reason,)))
        self.paused = True

    def resume_trading(self) -> None:
        self.calls.append(("resume", ()))
        self.paused = False

    def flatten(self, reason: str) -> None:
        self.calls.append(("flatten", (reason,)))
        self.paused = True

    def set_risk(
        self,
        min_confidence: float | None,
        max_position: float | None,
        risk_multiplier: float | None,
    ) -> None:
        self.calls.append(("set_risk", (min_confidence, max_position, risk_multiplier)))

    def switch_model(self, config: dict[str, Any]) -> None:
        if config["kind"] == "torch_random":  # a valid config whose build fails
            raise ValueError("cannot build torch_random")
        self.calls.append(("switch_model", (config,)))
        self.model = config["kind"]

    def control_status(self) -> dict[str, Any]:
        return {
            "paused": self.paused,
            "model_id": self.model,
            "position": Decimal("1.5"),
            "pnl": math.nan,
        }


def command(kind: str, **fields: object) -> Any:
    return parse_command(
        {
            "type": kind,
            "trader_id": "T",
            "strategy_id": "S",
            "command_id": f"id-{kind}",
            "timestamp_ns": 1,
            "nonce": "n" * 16,
            **fields,
        }
    )


def test_stand_in_is_controllable() -> None:
    assert isinstance(StandIn(), Controllable)


def test_each_command_calls_its_method_and_reports_status() -> None:
    target = StandIn()
    reply = apply_command(target, command("pause", reason="news"), entry_id="5-0")
    assert reply.status is ReplyStatus.APPLIED
    assert reply.entry_id == "5-0"
    assert reply.result == {"paused": True, "model_id": "rule/1", "position": "1.5", "pnl": None}
    apply_command(target, command("resume"))
    apply_command(target, command("flatten"))
    apply_command(target, command("set_risk", max_position=2.0))
    apply_command(target, command("switch_model", config={"kind": "torch", "path": "p"}))
    status = apply_command(target, command("status"))
    assert [name for name, _ in target.calls] == [
        "pause",
        "resume",
        "flatten",
        "set_risk",
        "switch_model",
    ]
    assert target.calls[2] == ("flatten", ("flattened by control command",))
    assert target.calls[3] == ("set_risk", (None, 2.0, None))
    assert status.result["model_id"] == "torch"
    assert status.to_json()  # JSON-clean even with Decimal / NaN in the status


def test_strategy_failure_is_a_failed_reply_not_a_crash() -> None:
    reply = apply_command(
        StandIn(), command("switch_model", config={"kind": "torch_random", "seed": 1})
    )
    assert reply.status is ReplyStatus.FAILED
    assert reply.reason == "ValueError: cannot build torch_random"


def test_no_target_is_a_rejected_reply_naming_the_strategy() -> None:
    reply = apply_command(None, command("pause"), entry_id="7-0", received_ns=5, clock=lambda: 9)
    assert reply.status is ReplyStatus.REJECTED
    assert reply.reason == f"no running strategy {reply.strategy_id!r} on this trader"
    assert (reply.entry_id, reply.received_ns, reply.completed_ns) == ("7-0", 5, 9)
    assert reply.command_type == "pause"


def accepted(i: int) -> Accepted:
    return Accepted(command("status"), f"{i}-0", i)


def test_inbox_wakes_once_per_burst_and_drains_in_order() -> None:
    wakeups: list[int] = []
    inbox = CommandInbox(wakeup=lambda: wakeups.append(1))
    for i in range(5):
        inbox.put(accepted(i))
    assert len(wakeups) == 1
    assert [a.entry_id for a in inbox.drain()] == [f"{i}-0" for i in range(5)]
    inbox.put(accepted(9))
    assert len(wakeups) == 2
    assert inbox.drain()[0].entry_id == "9-0"
    assert inbox.drain() == []


def test_inbox_is_bounded_and_late_wakeup_fires_for_waiting_items() -> None:
    inbox = CommandInbox(capacity=2)
    inbox.put(accepted(1))
    inbox.put(accepted(2))
    with pytest.raises(InboxFullError, match="2 undrained"):
        inbox.put(accepted(3))
    fired: list[int] = []
    inbox.set_wakeup(lambda: fired.append(1))
    assert fired == [1]


def test_failed_wakeup_rearms() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("loop closed")

    inbox = CommandInbox(wakeup=broken)
    with pytest.raises(RuntimeError):
        inbox.put(accepted(1))
    with pytest.raises(RuntimeError):
        inbox.put(accepted(2))
    assert len(calls) == 2


def test_inbox_is_thread_safe() -> None:
    inbox = CommandInbox(capacity=100_000)
    taken: list[Accepted] = []

    def producer(offset: int) -> None:
        for i in range(2000):
            inbox.put(accepted(offset + i))

    threads = [threading.Thread(target=producer, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        taken.extend(inbox.drain())
    taken.extend(inbox.drain())
    assert len(taken) == 8000
    assert len({a.entry_id for a in taken}) == 8000
