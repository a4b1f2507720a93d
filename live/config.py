"""Live config files: a Nautilus ``TradingNodeConfig`` plus its clients, the control plane and a
trade log, in YAML or JSON, with every secret and endpoint taken from the environment.

Layout (see ``paper_replay_eurusd.yaml``, ``paper_ib_eurusd.yaml``, ``ib_idealpro_eurusd.yaml``)::

    name: paper-replay-eurusd
    environment:              # variables this deployment needs, and what each one is for
      NAUTILUS_AI_CONTROL_SECRET: shared HMAC secret for control commands
      I_MEAN_IT: {purpose: acknowledge real orders, must_equal: "yes"}
    node:                     # TradingNodeConfig fields, verbatim (except the clients)
      trader_id: PAPER-001
      cache: {database: {type: redis, host: "${NAUTILUS_AI_REDIS_HOST:-127.0.0.1}"}}
      strategies: [...]
    data_clients:
      REPLAY: {kind: replay, config: {...}}         # or {factory: ..., config_path: ...}
    exec_clients:
      SIM: {kind: sandbox, config: {...}}
    control: {listen: true}   # RemoteControllerConfig fields; becomes node.controller
    run:
      trade_log: reports/live/paper-trades.jsonl
      stop_after_replay: true

``${VAR}`` and ``${VAR:-default}`` are replaced from the environment; a value that is exactly
``${VAR:-}`` with ``VAR`` unset becomes ``null`` (e.g. an optional password). Before anything is
built, :func:`check_environment` collects **every** missing variable (``${VAR}`` without a
default, the ``environment`` section, the control secret when the controller listens) and the
error names each one with its purpose.

Then the whole file is checked strictly (:mod:`nautilus_ai.config_check`, schema
:class:`LiveFileSchema`): an unknown key, a wrong type or an out-of-range value anywhere - in the
node, a strategy's or actor's ``config`` (against its ``config_path`` class), a client's
``config`` (against its kind's config class), ``control`` or ``run`` - is refused with its key
path and the nearest valid key. Values substituted from the environment may be read as numbers
or booleans (``port: ${NAUTILUS_AI_REDIS_PORT:-6379}``); literal values are not converted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec
from nautilus_trader.config import (
    ImportableActorConfig,
    ImportableControllerConfig,
    TradingNodeConfig,
)

from nautilus_ai.adapters.venues import CLIENT_KINDS, resolve_client
from nautilus_ai.backtest.config import read_config_file
from nautilus_ai.compat import node_config_dict
from nautilus_ai.config_check import (
    ConfigFieldError,
    Hooks,
    KeyPath,
    check,
    construct,
    format_path,
    nearest,
)
from nautilus_ai.config_env import find_placeholders, substitute
from nautilus_ai.config_nautilus import NAUTILUS_HOOKS, decode_nautilus
from nautilus_ai.control import SECRET_ENV
from nautilus_ai.strategies.controller import RemoteControllerConfig

__all__ = [
    "ClientSpec",
    "LiveConfigError",
    "LiveFileSchema",
    "LiveRunFile",
    "MissingEnvironmentError",
    "RunOptions",
    "check_environment",
    "load_live_config",
]

CONTROLLER_PATH = "nautilus_ai.strategies.controller:RemoteController"
CONTROLLER_CONFIG_PATH = "nautilus_ai.strategies.controller:RemoteControllerConfig"
TRADE_LOG_PATH = "nautilus_ai.live.trade_log:TradeLogActor"
TRADE_LOG_CONFIG_PATH = "nautilus_ai.live.trade_log:TradeLogConfig"


class LiveConfigError(ValueError):
    """A live config is unreadable or invalid; the message names the file and key path."""


class MissingEnvironmentError(LiveConfigError):
    """Environment variables the config needs are not set; ``missing`` maps each to its use."""

    def __init__(self, path: Path, missing: dict[str, str]) -> None:
        self.missing = missing
        lines = "\n".join(f"  {name}: {purpose}" for name, purpose in missing.items())
        super().__init__(
            f"{path}: cannot start, {len(missing)} environment variable(s) not set:\n{lines}"
        )


# -- the file's schema ----------------------------------------------------------------------


class EnvironmentRequirement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``environment: {VAR: {purpose: ..., must_equal: "yes"}}``."""

    purpose: str = ""
    must_equal: str | None = None


class DataClientEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A data client: ``kind`` (see ``nautilus_ai.adapters.venues``) or ``factory`` +
    ``config_path``; ``config`` is checked against the kind's config class."""

    kind: str | None = None
    factory: str | None = None
    config_path: str | None = None
    config: dict[str, Any] = {}


class ExecClientEntry(DataClientEntry, frozen=True, forbid_unknown_fields=True):
    """An execution client (same fields as :class:`DataClientEntry`)."""


class LiveRunSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``run`` section (see :class:`RunOptions`)."""

    trade_log: str | None = None
    stop_after_replay: bool = False
    replay_grace_secs: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0
    max_runtime_secs: Annotated[float, msgspec.Meta(gt=0.0)] | None = None


class LiveFileSchema(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The top level of a live config (every key at every depth is checked)."""

    node: TradingNodeConfig
    name: str | None = None
    description: str = ""
    environment: dict[str, str | EnvironmentRequirement] = {}
    data_clients: dict[str, DataClientEntry] = {}
    exec_clients: dict[str, ExecClientEntry] = {}
    control: RemoteControllerConfig | None = None
    run: LiveRunSection = LiveRunSection()


def _client_slot(cls: type, data: Mapping[str, Any]) -> tuple[str, Any] | None:
    """A client entry's ``config`` is checked against its kind's config class."""
    if cls not in (DataClientEntry, ExecClientEntry):
        return NAUTILUS_HOOKS.config_slot(cls, data)
    role = "exec" if cls is ExecClientEntry else "data"
    kind = data.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise ConfigFieldError(("kind",), "expected text (a client kind)", received=kind)
    if kind is not None and (role, kind) not in CLIENT_KINDS:
        known = sorted(k for r, k in CLIENT_KINDS if r == role)
        raise ConfigFieldError(
            ("kind",),
            f"unknown {role} client kind; known: {', '.join(known)}",
            received=kind,
            suggestion=nearest(str(kind), known),
        )
    if kind is None and not (data.get("factory") and data.get("config_path")):
        raise ConfigFieldError((), "give 'kind', or both 'factory' and 'config_path'")
    try:
        _, config_cls = resolve_client(role, dict(data), "")
    except ValueError as exc:
        key = "kind" if kind is not None else "factory"
        raise ConfigFieldError((key,), str(exc).removeprefix(": ").strip()) from None
    return "config", config_cls


LIVE_HOOKS = Hooks(
    decode=NAUTILUS_HOOKS.decode,
    field_checks=NAUTILUS_HOOKS.field_checks,
    config_slot=_client_slot,
    importable=NAUTILUS_HOOKS.importable,
)


# -- what the loader returns ----------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    """One data or execution client: its factory class and typed config."""

    name: str
    factory: type
    config: Any


@dataclass(frozen=True)
class RunOptions:
    """How the runner runs the node.

    Parameters
    ----------
    trade_log : Path, optional
        JSON-lines trade log (fills, positions, control outcomes), written as they happen.
    stop_after_replay : bool
        Stop the node when every replay data client has emitted its last bar.
    replay_grace_secs : float
        Seconds to keep running after the replay ends (for the last fills).
    max_runtime_secs : float, optional
        Stop the node after this many seconds.
    """

    trade_log: Path | None = None
    stop_after_replay: bool = False
    replay_grace_secs: float = 1.0
    max_runtime_secs: float | None = None


@dataclass(frozen=True)
class LiveRunFile:
    """A loaded live config, ready for :func:`nautilus_ai.live.runner.run_live`."""

    path: Path
    name: str
    description: str
    node: TradingNodeConfig
    data_clients: dict[str, ClientSpec]
    exec_clients: dict[str, ClientSpec]
    run: RunOptions
    raw: Mapping[str, Any] = field(repr=False)


def check_environment(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Every environment variable the config needs but ``env`` lacks, with its purpose.

    Raises
    ------
    LiveConfigError
        For a malformed ``environment`` section or placeholder (naming the key path).
    """
    purposes: dict[str, str] = {}
    required_values: dict[str, str] = {}
    declared = raw.get("environment") or {}
    try:
        checked = check(declared, dict[str, str | EnvironmentRequirement], path=("environment",))
    except ConfigFieldError as exc:
        raise LiveConfigError(str(exc)) from None
    for name, purpose in checked.items():
        if isinstance(purpose, Mapping):  # {purpose: ..., must_equal: ...}
            purposes[str(name)] = str(purpose.get("purpose", ""))
            if purpose.get("must_equal") is not None:
                required_values[str(name)] = str(purpose["must_equal"])
        else:
            purposes[str(name)] = str(purpose)
    missing: dict[str, str] = {}
    for name in purposes:
        value = env.get(name)
        if not value:
            missing[name] = purposes[name]
        elif name in required_values and value != required_values[name]:
            missing[name] = f"{purposes[name]} (must be {required_values[name]!r}, is {value!r})"
    body = {k: v for k, v in raw.items() if k != "environment"}
    try:
        placeholders = find_placeholders(body)
    except ConfigFieldError as exc:
        raise LiveConfigError(str(exc)) from None
    for placeholder in placeholders:
        name = placeholder.name
        if placeholder.default is None and name not in env and name not in missing:
            missing[name] = purposes.get(name, f"used at {format_path(placeholder.path)}")
    control = raw.get("control")
    if isinstance(control, Mapping) and control.get("listen"):
        secret_env = str(control.get("secret_env") or SECRET_ENV)
        if not env.get(secret_env) and secret_env not in missing:
            missing[secret_env] = purposes.get(
                secret_env, "shared HMAC secret for signed control commands (control.listen)"
            )
    return missing


def load_live_config(path: str | Path, env: Mapping[str, str] | None = None) -> LiveRunFile:
    """Read, check and build a live config.

    Raises
    ------
    MissingEnvironmentError
        Listing every variable that is not set (nothing is built or connected).
    LiveConfigError
        Anything else wrong, naming the file and key path (one line).
    """
    path = Path(path)
    environ = os.environ if env is None else env
    raw = read_config_file(path, "live config", LiveConfigError)
    if not isinstance(raw, Mapping):
        raise LiveConfigError(
            f"{path}: the top level must be a mapping (name, node, data_clients...), "
            f"was a {type(raw).__name__}"
        )
    try:
        missing = check_environment(raw, environ)
    except LiveConfigError as exc:
        raise LiveConfigError(f"{path}: {exc}") from None
    if missing:
        raise MissingEnvironmentError(path, missing)
    try:
        return _build(path, raw, environ)
    except ConfigFieldError as exc:
        raise LiveConfigError(f"{path}: {exc}") from None


def _build(path: Path, raw: Mapping[str, Any], environ: Mapping[str, str]) -> LiveRunFile:
    body = {k: v for k, v in raw.items() if k != "environment"}
    data = dict(substitute(body, environ))
    data["environment"] = raw.get("environment") or {}
    node_raw = data.get("node")
    if isinstance(node_raw, Mapping):
        # field names that differ between Nautilus releases (nautilus_ai/compat.py)
        node_raw = data["node"] = node_config_dict(node_raw)
        for clients in ("data_clients", "exec_clients"):
            if clients in node_raw:
                raise ConfigFieldError(
                    ("node", clients), f"put clients under the top-level {clients}"
                )
        if data.get("control") is not None and node_raw.get("controller") is not None:
            raise ConfigFieldError(
                ("node", "controller"), "give either control or node.controller, not both"
            )
    checked = check(data, LiveFileSchema, hooks=LIVE_HOOKS)
    run = _run_options(checked.get("run") or {})
    node_dict = dict(checked["node"])
    if checked.get("control") is not None:
        node_dict["controller"] = {
            "controller_path": CONTROLLER_PATH,
            "config_path": CONTROLLER_CONFIG_PATH,
            "config": dict(checked["control"]),
        }
    data_clients = _clients("data", checked.get("data_clients") or {})
    exec_clients = _clients("exec", checked.get("exec_clients") or {})
    if run.trade_log is not None:
        actors = list(node_dict.get("actors") or [])
        actors.append(
            {
                "actor_path": TRADE_LOG_PATH,
                "config_path": TRADE_LOG_CONFIG_PATH,
                "config": {"path": str(run.trade_log)},
            }
        )
        node_dict["actors"] = actors
    node = _construct(TradingNodeConfig, node_dict, ("node",))
    node = msgspec.structs.replace(
        node,
        data_clients={name: spec.config for name, spec in data_clients.items()},
        exec_clients={name: spec.config for name, spec in exec_clients.items()},
    )
    _check_importable(node)
    return LiveRunFile(
        path=path,
        name=str(checked.get("name") or path.stem),
        description=str(checked.get("description") or ""),
        node=node,
        data_clients=data_clients,
        exec_clients=exec_clients,
        run=run,
        raw=data,
    )


def _construct(cls: type, data: Mapping[str, Any], where: KeyPath) -> Any:
    try:
        return construct(cls, data, decode_nautilus)
    except (msgspec.ValidationError, TypeError, ValueError, KeyError, ImportError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigFieldError(where, f"invalid {cls.__name__}: {message}") from None


def _clients(role: str, section: Mapping[str, Any]) -> dict[str, ClientSpec]:
    out: dict[str, ClientSpec] = {}
    for name, spec in section.items():
        where: KeyPath = (f"{role}_clients", str(name))
        factory, config_cls = resolve_client(role, dict(spec), format_path(where))
        config = _construct(config_cls, dict(spec.get("config") or {}), (*where, "config"))
        out[str(name)] = ClientSpec(str(name), factory, config)
    return out


def _run_options(section: Mapping[str, Any]) -> RunOptions:
    trade_log = section.get("trade_log")
    if trade_log is not None and not str(trade_log).strip():  # was read as "no trade log"
        raise ConfigFieldError(
            ("run", "trade_log"),
            "is empty: give a file path, or leave the key out for no trade log",
            received=trade_log,
        )
    limit = section.get("max_runtime_secs")
    return RunOptions(
        trade_log=None if trade_log is None else Path(str(trade_log)),
        stop_after_replay=bool(section.get("stop_after_replay", False)),
        replay_grace_secs=float(section.get("replay_grace_secs", 1.0)),
        max_runtime_secs=None if limit is None else float(limit),
    )


def _check_importable(node: TradingNodeConfig) -> None:
    """Fail now, naming the entry, if a strategy / actor / controller cannot be built."""
    from nautilus_trader.common.config import ActorFactory, resolve_config_path
    from nautilus_trader.trading.config import StrategyFactory

    for index, strategy in enumerate(node.strategies):
        try:
            StrategyFactory.create(strategy)
        except Exception as exc:  # the strategy's own constructor: any error is a config error
            raise ConfigFieldError(
                ("node", "strategies", index),
                f"{strategy.strategy_path} cannot be built: {type(exc).__name__}: {exc}",
            ) from None
    for index, actor in enumerate(node.actors):
        _check_actor(index, actor, ActorFactory)
    controller: ImportableControllerConfig | None = node.controller
    if controller is not None:
        try:
            resolve_config_path(controller.config_path).parse(
                msgspec.json.encode(controller.config)
            )
        except Exception as exc:
            raise ConfigFieldError(("control",), f"{type(exc).__name__}: {exc}") from None


def _check_actor(index: int, actor: ImportableActorConfig, factory: Any) -> None:
    try:
        factory.create(actor)
    except Exception as exc:
        raise ConfigFieldError(
            ("node", "actors", index),
            f"{actor.actor_path} cannot be built: {type(exc).__name__}: {exc}",
        ) from None
