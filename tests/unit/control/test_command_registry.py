"""The command registry: one entry per command (schema, handler, CLI options, flags)."""

from __future__ import annotations

import argparse
from typing import Any

from nautilus_ai.control import COMMAND_TYPES, COMMANDS, apply_command, parse_command
from nautilus_ai.control.schema import CommandSpec

BASE = {
    "trader_id": "TRADER-001",
    "strategy_id": "S-1",
    "timestamp_ns": 1,
    "nonce": "n" * 16,
}


def test_every_entry_names_its_model_and_every_type_is_registered() -> None:
    assert tuple(sorted(COMMANDS)) == COMMAND_TYPES
    for name, spec in COMMANDS.items():
        assert isinstance(spec, CommandSpec) and spec.name == name
        assert spec.model.model_fields["type"].default == name
        assert spec.verb == name.replace("_", "-")


def test_the_cli_has_one_verb_per_command_with_its_options() -> None:
    from nautilus_ai.cli.control import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    for spec in COMMANDS.values():
        argv = ["control", spec.verb, "--trader", "T", "--strategy", "S"]
        if spec.name == "switch_model":
            argv += ["--config", '{"kind": "rule"}']
        args = parser.parse_args(argv)
        assert args.command_type == spec.name
        assert all(hasattr(args, option.field) for option in spec.options)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.guarded: list[tuple[str, str]] = []

    def pause_trading(self, reason: str) -> None:
        self.calls.append(("pause", reason))

    def resume_trading(self) -> None:
        self.calls.append(("resume", None))

    def flatten(self, reason: str) -> None:
        self.calls.append(("flatten", reason))

    def set_risk(self, *values: Any) -> None:
        self.calls.append(("set_risk", values))

    def switch_model(self, config: dict[str, Any]) -> None:
        self.calls.append(("switch_model", config))

    def control_status(self) -> dict[str, Any]:
        return {"calls": len(self.calls)}

    def before_command(self, spec: CommandSpec) -> None:
        self.guarded.append(("before", spec.name))

    def after_command(self, spec: CommandSpec) -> None:
        self.guarded.append(("after", spec.name))


def test_the_applier_runs_each_entry_between_the_guard_hooks() -> None:
    target = _Recorder()
    command = parse_command({**BASE, "command_id": "c1", "type": "set_risk", "max_position": 2.0})
    reply = apply_command(target, command)
    assert reply.ok and target.calls == [("set_risk", (None, 2.0, None))]
    assert target.guarded == [("before", "set_risk"), ("after", "set_risk")]
    assert COMMANDS["flatten"].needs_running and not COMMANDS["status"].changes_state
