"""The control-plane command schema: one pydantic model per command, a discriminated union on
``type``, and the reply / audit record every command gets.

A command names its target (trader id and strategy id), carries a unique command id, the sender's
wall-clock timestamp (unix nanoseconds) and a one-time nonce. Timestamp and nonce are what the
signature and the replay guard work on (see :mod:`nautilus_ai.control.signing` and
:mod:`nautilus_ai.control.replay`).

Validation is strict (:func:`nautilus_ai.config_check.check`): unknown fields are refused with
the nearest valid one (a typo such as ``min_confidense`` must not be silently dropped), types are
not coerced (``"0.5"`` is not a number), numbers must be finite and in range, and every error
names the field. A ``switch_model`` config is plain JSON with a ``kind``: the strategy checks it
(``AIPatternStrategy`` against the backend registry, strictly).
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from nautilus_ai.config_check import ConfigFieldError, check, nearest

__all__ = [
    "COMMANDS",
    "COMMAND_TYPES",
    "MAX_RISK_MULTIPLIER",
    "MAX_SWITCH_CONFIG_BYTES",
    "CliOption",
    "CommandReply",
    "CommandSpec",
    "ControlCommand",
    "FlattenCommand",
    "InvalidCommandError",
    "PauseCommand",
    "ReplyStatus",
    "ResumeCommand",
    "SetRiskCommand",
    "StatusCommand",
    "SwitchModelCommand",
    "canonical_json",
    "parse_command",
]

# A fat-finger guard: a multiplier above this is refused, not clamped.
MAX_RISK_MULTIPLIER = 10.0
# A model config is a small dict ({"kind": "rule", ...}); anything larger is a mistake or abuse.
MAX_SWITCH_CONFIG_BYTES = 16_384

_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def canonical_json(value: Any) -> str:
    """The one JSON spelling that is signed: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


class InvalidCommandError(ValueError):
    """A command body that is not valid JSON or does not match the schema; says why."""


class _CommandBase(BaseModel):
    """Fields every command carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    trader_id: str
    strategy_id: str
    command_id: str
    timestamp_ns: int = Field(gt=0)
    nonce: str

    @field_validator("trader_id", "strategy_id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(
                f"must be 1-64 characters of letters, digits and . _ : - (was {value!r})"
            )
        return value

    @field_validator("command_id")
    @classmethod
    def _command_id(cls, value: str) -> str:
        if not _COMMAND_ID.match(value):
            raise ValueError(f"must be 1-64 characters of letters, digits, _ and - (was {value!r})")
        return value

    @field_validator("nonce")
    @classmethod
    def _nonce(cls, value: str) -> str:
        if not _NONCE.match(value):
            raise ValueError(
                f"must be 16-128 characters of letters, digits, _ and - (was {value!r})"
            )
        return value

    def to_json(self) -> str:
        """Canonical JSON of this command (what is signed and sent)."""
        return canonical_json(self.model_dump(mode="json"))


class PauseCommand(_CommandBase):
    """Stop opening new positions; exits, stops and position management keep working."""

    type: Literal["pause"] = "pause"
    reason: str = Field(default="", max_length=500)


class ResumeCommand(_CommandBase):
    """Allow new entries again after ``pause`` or ``flatten``."""

    type: Literal["resume"] = "resume"


class FlattenCommand(_CommandBase):
    """Cancel open orders, close every position and stay paused."""

    type: Literal["flatten"] = "flatten"
    reason: str = Field(default="", max_length=500)


class SetRiskCommand(_CommandBase):
    """Change risk settings; a field left out (``None``) keeps its current value.

    Parameters
    ----------
    min_confidence : float, optional
        The lowest model confidence that may open a position, in [0, 1].
    max_position : float, optional
        The largest position, in the strategy's size units (> 0).
    risk_multiplier : float, optional
        A scale on the sizer's output, in (0, ``MAX_RISK_MULTIPLIER``].
    """

    type: Literal["set_risk"] = "set_risk"
    min_confidence: float | None = None
    max_position: float | None = None
    risk_multiplier: float | None = None

    @field_validator("min_confidence")
    @classmethod
    def _confidence(cls, value: float | None) -> float | None:
        # < 1, as the strategy's own min_confidence: at 1 the sizer has no range to size in
        # (the command was accepted here and then failed in the strategy)
        if value is not None and not (0.0 <= value < 1.0):  # also refuses NaN
            raise ValueError(f"must be in [0, 1) (was {value!r})")
        return value

    @field_validator("max_position")
    @classmethod
    def _max_position(cls, value: float | None) -> float | None:
        if value is not None and not (value > 0.0 and math.isfinite(value)):
            raise ValueError(f"must be a finite number > 0 (was {value!r})")
        return value

    @field_validator("risk_multiplier")
    @classmethod
    def _multiplier(cls, value: float | None) -> float | None:
        if value is not None and not (0.0 < value <= MAX_RISK_MULTIPLIER):
            raise ValueError(f"must be in (0, {MAX_RISK_MULTIPLIER}] (was {value!r})")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> SetRiskCommand:
        if (
            self.min_confidence is None
            and self.max_position is None
            and (self.risk_multiplier is None)
        ):
            raise ValueError(
                "set_risk needs at least one of min_confidence, max_position, risk_multiplier"
            )
        return self


class SwitchModelCommand(_CommandBase):
    """Replace the strategy's predictor with one built from ``config`` (``{"kind": ...}``)."""

    type: Literal["switch_model"] = "switch_model"
    # Plain JSON with a "kind": the strategy owns its model configs (AIPatternStrategy checks
    # them against the backend registry, strictly, when it builds the model).
    config: dict[str, JsonValue]

    @field_validator("config")
    @classmethod
    def _config(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        kind = value.get("kind")
        if not isinstance(kind, str) or not kind.strip():
            raise ValueError(f"must have a non-empty string 'kind' (was {kind!r})")
        try:
            size = len(canonical_json(value))
        except ValueError as exc:  # NaN / infinity have no JSON spelling
            raise ValueError(f"must be plain JSON: {exc}") from None
        if size > MAX_SWITCH_CONFIG_BYTES:
            raise ValueError(f"is {size} bytes of JSON, more than {MAX_SWITCH_CONFIG_BYTES}")
        return value


class StatusCommand(_CommandBase):
    """Ask for the strategy's control status (paused, risk, model, position, last decision)."""

    type: Literal["status"] = "status"


ControlCommand = Annotated[
    PauseCommand
    | ResumeCommand
    | FlattenCommand
    | SetRiskCommand
    | SwitchModelCommand
    | StatusCommand,
    Field(discriminator="type"),
]
"""Any control command; ``type`` picks the model."""


# -- The command registry: each command's schema (above) and its handler, in one place ---------


@dataclass(frozen=True, slots=True)
class CliOption:
    """One ``nautilus-ai control VERB`` option: ``--flag`` fills the command field ``field``."""

    flag: str
    field: str
    help: str
    type: Callable[[str], Any] = str
    default: Any = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """Everything the control plane knows about one command.

    Parameters
    ----------
    name : str
        The command's ``type`` (the CLI verb is it with ``-`` for ``_``).
    model : type
        Its schema.
    help : str
        One line for the CLI.
    apply : callable
        ``apply(strategy, command)``: the strategy call it stands for (on the strategy's thread).
    options : tuple of CliOption
        Its CLI options (a command with a special CLI form, ``switch_model``, adds them there).
    changes_state : bool
        The strategy's state is saved after it (restarts come back in that state).
    needs_running : bool
        Refused unless the strategy is running (it sends orders).
    """

    name: str
    model: type[BaseModel]
    help: str
    apply: Callable[[Any, Any], None]
    options: tuple[CliOption, ...] = ()
    changes_state: bool = True
    needs_running: bool = False

    @property
    def verb(self) -> str:
        return self.name.replace("_", "-")


_REASON = CliOption("--reason", "reason", "recorded in the log and the audit trail", default="")

COMMANDS: Mapping[str, CommandSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            CommandSpec(
                "pause", PauseCommand, "no new entries (exits and stops keep working)",
                lambda target, c: target.pause_trading(c.reason or "paused by control command"),
                (_REASON,),
            ),
            CommandSpec(
                "resume", ResumeCommand, "allow new entries again",
                lambda target, c: target.resume_trading(),
            ),
            CommandSpec(
                "flatten", FlattenCommand, "cancel orders, close positions and stay paused",
                lambda target, c: target.flatten(c.reason or "flattened by control command"),
                (_REASON,), needs_running=True,
            ),
            CommandSpec(
                "set_risk", SetRiskCommand,
                "change min confidence, max position and/or the risk multiplier",
                lambda target, c: target.set_risk(
                    c.min_confidence, c.max_position, c.risk_multiplier
                ),
                (
                    CliOption("--min-confidence", "min_confidence", "in [0, 1)", float),
                    CliOption("--max-position", "max_position",
                              "> 0, in the strategy's size units", float),
                    CliOption("--risk-multiplier", "risk_multiplier",
                              f"in (0, {MAX_RISK_MULTIPLIER:g}]", float),
                ),
            ),
            CommandSpec(
                "status", StatusCommand,
                "print paused flag, risk settings, model, position, last decision",
                lambda target, c: None, changes_state=False,
            ),
            CommandSpec(
                "switch_model", SwitchModelCommand,
                "switch the predictor (config JSON with a 'kind')",
                lambda target, c: target.switch_model(dict(c.config)),
            ),
        )
    }
)  # fmt: skip
"""Every command by ``type``: add a command here (its model above) and the strategy method its
``apply`` calls; the parser, the applier, the controller and the CLI read this table."""

COMMAND_TYPES: tuple[str, ...] = tuple(sorted(COMMANDS))


def parse_command(body: str | bytes | dict[str, Any]) -> ControlCommand:
    """Parse and validate one command from JSON text or a dict.

    Raises
    ------
    InvalidCommandError
        Not JSON, not an object, an unknown ``type``, or a field that fails validation; the
        message names the field and what was received.
    """
    if isinstance(body, dict):
        data: Any = body
    else:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidCommandError(f"command body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidCommandError(f"command body must be a JSON object, was {type(data).__name__}")
    kind = data.get("type")
    if kind not in COMMAND_TYPES:
        hint = nearest(kind, COMMAND_TYPES) if isinstance(kind, str) else None
        raise InvalidCommandError(
            f"unknown command type {kind!r}; expected one of {', '.join(COMMAND_TYPES)}"
            + (f"; did you mean {hint!r}?" if hint else "")
        )
    config = data.get("config")
    if kind == "switch_model" and isinstance(config, dict):  # refuse a huge body before walking it
        try:
            size = len(canonical_json(config))
        except (TypeError, ValueError) as exc:
            raise InvalidCommandError(
                f"invalid command: config: must be plain JSON: {exc}"
            ) from None
        if size > MAX_SWITCH_CONFIG_BYTES:
            raise InvalidCommandError(
                f"invalid command: config: is {size} bytes of JSON, more than "
                f"{MAX_SWITCH_CONFIG_BYTES}"
            )
    model = COMMANDS[kind].model
    try:
        check(data, model)
    except ConfigFieldError as exc:
        raise InvalidCommandError(f"invalid command: {exc}") from None
    try:
        command: ControlCommand = model.model_validate(data)  # type: ignore[assignment]
        return command
    except ValidationError as exc:
        raise InvalidCommandError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"]) or "command"
        parts.append(f"{loc}: {error['msg']}")
    return "invalid command: " + "; ".join(parts)


class ReplyStatus(enum.StrEnum):
    """What happened to a command.

    ``applied``: the strategy ran it; ``rejected``: refused before reaching the strategy
    (signature, time window, replay, schema, unknown target); ``failed``: the strategy raised.
    """

    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"


class CommandReply(BaseModel):
    """The one reply (and audit record) written for every command received.

    Parameters
    ----------
    command_id : str
        The command's id, or ``""`` when the body was too broken to carry one.
    status : ReplyStatus
        applied, rejected or failed.
    reason : str
        Why it was rejected or failed (empty when applied).
    command_type : str
        The command's ``type`` as received (may be unknown or empty for junk).
    trader_id, strategy_id : str
        The target as received (empty when unknown).
    entry_id : str
        The Redis stream entry id of the command (``""`` for scheduled backtest commands).
    received_ns, completed_ns : int
        Wall-clock unix ns when the listener received it and when the outcome was known.
    result : dict
        Command output: the status snapshot for ``status``, else the state after the command.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str
    status: ReplyStatus
    reason: str = ""
    command_type: str = ""
    trader_id: str = ""
    strategy_id: str = ""
    entry_id: str = ""
    received_ns: int = 0
    completed_ns: int = 0
    result: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the command was applied."""
        return self.status is ReplyStatus.APPLIED

    def to_json(self) -> str:
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, text: str | bytes) -> CommandReply:
        return cls.model_validate_json(text)
