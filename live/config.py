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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from nautilus_trader.common.config import msgspec_decoding_hook, resolve_path
from nautilus_trader.config import (
    ImportableActorConfig,
    ImportableControllerConfig,
    TradingNodeConfig,
)

from nautilus_ai.adapters.venues import resolve_client
from nautilus_ai.backtest.config import ENV_PLACEHOLDER, read_config_file
from nautilus_ai.compat import node_config_dict
from nautilus_ai.control import SECRET_ENV

__all__ = [
    "ClientSpec",
    "LiveConfigError",
    "LiveRunFile",
    "MissingEnvironmentError",
    "RunOptions",
    "check_environment",
    "load_live_config",
]

_WHOLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*):-\}$")
_TOP = frozenset(
    {"name", "description", "environment", "node", "data_clients", "exec_clients", "control", "run"}
)
_RUN = frozenset({"trade_log", "stop_after_replay", "replay_grace_secs", "max_runtime_secs"})

CONTROLLER_PATH = "nautilus_ai.strategies.controller:RemoteController"
CONTROLLER_CONFIG_PATH = "nautilus_ai.strategies.controller:RemoteControllerConfig"
TRADE_LOG_PATH = "nautilus_ai.live.trade_log:TradeLogActor"
TRADE_LOG_CONFIG_PATH = "nautilus_ai.live.trade_log:TradeLogConfig"


class LiveConfigError(ValueError):
    """A live config is unreadable or invalid; the message names the file and field."""


class MissingEnvironmentError(LiveConfigError):
    """Environment variables the config needs are not set; ``missing`` maps each to its use."""

    def __init__(self, path: Path, missing: dict[str, str]) -> None:
        self.missing = missing
        lines = "\n".join(f"  {name}: {purpose}" for name, purpose in missing.items())
        super().__init__(
            f"{path}: cannot start, {len(missing)} environment variable(s) not set:\n{lines}"
        )


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
    """Every environment variable the config needs but ``env`` lacks, with its purpose."""
    purposes: dict[str, str] = {}
    required_values: dict[str, str] = {}
    declared = raw.get("environment") or {}
    if not isinstance(declared, Mapping):
        raise LiveConfigError("environment must map variable names to what they are for")
    for name, purpose in declared.items():
        if isinstance(purpose, Mapping):  # {purpose: ..., must_equal: ...}
            purposes[str(name)] = str(purpose.get("purpose", ""))
            if "must_equal" in purpose:
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
    for name, where in _placeholders(raw, ""):
        if name not in env and name not in missing:
            missing[name] = purposes.get(name, f"used at {where}")
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
        Anything else wrong, naming the file and field.
    """
    path = Path(path)
    environ = os.environ if env is None else env
    raw = read_config_file(path, "live config", LiveConfigError)
    if not isinstance(raw, dict):
        raise LiveConfigError(f"{path}: the top level must be a mapping")
    unknown = sorted(set(raw) - _TOP)
    if unknown:
        raise LiveConfigError(
            f"{path}: unknown top-level field(s) {unknown}; known: {sorted(_TOP)}"
        )
    if "node" not in raw:
        raise LiveConfigError(f"{path}: missing 'node' (TradingNodeConfig fields)")

    missing = check_environment(raw, environ)
    if missing:
        raise MissingEnvironmentError(path, missing)
    data = _substitute(raw, environ)

    node_dict = dict(_mapping(data["node"], f"{path}: node"))
    for clients in ("data_clients", "exec_clients"):
        if clients in node_dict:
            raise LiveConfigError(f"{path}: node.{clients}: put clients under top-level {clients}")
    run = _run_options(path, data.get("run") or {})
    if data.get("control") is not None:
        if node_dict.get("controller") is not None:
            raise LiveConfigError(f"{path}: give either control or node.controller, not both")
        node_dict["controller"] = {
            "controller_path": CONTROLLER_PATH,
            "config_path": CONTROLLER_CONFIG_PATH,
            "config": dict(_mapping(data["control"], f"{path}: control")),
        }
    data_clients = _clients(path, "data", data.get("data_clients") or {})
    exec_clients = _clients(path, "exec", data.get("exec_clients") or {})
    node_dict["data_clients"] = {}
    node_dict["exec_clients"] = {}
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
    node_dict = node_config_dict(node_dict)  # field names that differ between Nautilus releases
    node = _convert(node_dict, TradingNodeConfig, f"{path}: node")
    node = msgspec.structs.replace(
        node,
        data_clients={name: spec.config for name, spec in data_clients.items()},
        exec_clients={name: spec.config for name, spec in exec_clients.items()},
    )
    _check_importable(path, node)
    return LiveRunFile(
        path=path,
        name=str(data.get("name") or path.stem),
        description=str(data.get("description") or ""),
        node=node,
        data_clients=data_clients,
        exec_clients=exec_clients,
        run=run,
        raw=data,
    )


def _placeholders(value: Any, where: str) -> list[tuple[str, str]]:
    """(variable, location) for every ``${VAR}`` without a default."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        for match in ENV_PLACEHOLDER.finditer(value):
            if match.group(2) is None:
                found.append((match.group(1), where or "top level"))
    elif isinstance(value, Mapping):
        if where == "" and "environment" in value:
            value = {k: v for k, v in value.items() if k != "environment"}
        for key, item in value.items():
            found += _placeholders(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _placeholders(item, f"{where}[{index}]")
    return found


def _substitute(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole is not None and not env.get(whole.group(1)):
            return None
        return ENV_PLACEHOLDER.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, Mapping):
        return {key: _substitute(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, env) for item in value]
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LiveConfigError(f"{where} must be a mapping, was {type(value).__name__}")
    return value


def _decode_hook(obj_type: type, obj: Any) -> Any:
    # MessageBusConfig.types_filter is list[type]: accept "package.module:Class" strings.
    if obj_type is type and isinstance(obj, str):
        return resolve_path(obj)
    return msgspec_decoding_hook(obj_type, obj)


def _convert(value: Any, cls: type, where: str) -> Any:
    try:
        try:
            return msgspec.convert(value, type=cls, dec_hook=_decode_hook, strict=False)
        except TypeError as exc:
            if "is not supported" not in str(exc) or not isinstance(value, Mapping):
                raise
            # A field type msgspec cannot handle (IB's ibapi enums): convert field by field.
            return _convert_fields(value, cls)
    except (msgspec.ValidationError, TypeError, ValueError, KeyError, ImportError) as exc:
        raise LiveConfigError(f"{where}: invalid {cls.__name__}: {exc}") from None


def _convert_fields(value: Mapping[str, Any], cls: Any) -> Any:
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}")
    kwargs = {}
    for name, item in value.items():
        kwargs[name] = msgspec.convert(
            item, type=fields[name].type, dec_hook=_decode_hook, strict=False
        )
    return cls(**kwargs)


def _clients(path: Path, role: str, section: Any) -> dict[str, ClientSpec]:
    out: dict[str, ClientSpec] = {}
    for name, spec in _mapping(section, f"{path}: {role}_clients").items():
        where = f"{path}: {role}_clients.{name}"
        spec = _mapping(spec, where)
        unknown = sorted(set(spec) - {"kind", "factory", "config_path", "config"})
        if unknown:
            raise LiveConfigError(f"{where}: unknown field(s) {unknown}")
        try:
            factory, config_cls = resolve_client(role, dict(spec), where)
        except ValueError as exc:
            raise LiveConfigError(str(exc)) from None
        config = _convert(dict(spec.get("config") or {}), config_cls, f"{where}.config")
        out[str(name)] = ClientSpec(str(name), factory, config)
    return out


def _run_options(path: Path, section: Any) -> RunOptions:
    section = _mapping(section, f"{path}: run")
    unknown = sorted(set(section) - _RUN)
    if unknown:
        raise LiveConfigError(f"{path}: run: unknown field(s) {unknown}; known: {sorted(_RUN)}")
    try:
        grace = float(section.get("replay_grace_secs", 1.0))
        limit = section.get("max_runtime_secs")
        max_runtime = None if limit is None else float(limit)
    except (TypeError, ValueError) as exc:
        raise LiveConfigError(f"{path}: run: {exc}") from None
    if grace < 0 or (max_runtime is not None and max_runtime <= 0):
        raise LiveConfigError(f"{path}: run: replay_grace_secs >= 0 and max_runtime_secs > 0")
    trade_log = section.get("trade_log")
    return RunOptions(
        trade_log=Path(str(trade_log)) if trade_log else None,
        stop_after_replay=bool(section.get("stop_after_replay", False)),
        replay_grace_secs=grace,
        max_runtime_secs=max_runtime,
    )


def _check_importable(path: Path, node: TradingNodeConfig) -> None:
    """Fail now, naming the entry, if a strategy / actor / controller cannot be built."""
    from nautilus_trader.common.config import ActorFactory
    from nautilus_trader.trading.config import StrategyFactory

    for index, strategy in enumerate(node.strategies):
        try:
            StrategyFactory.create(strategy)
        except Exception as exc:
            raise LiveConfigError(
                f"{path}: node.strategies[{index}] ({strategy.strategy_path}): "
                f"{type(exc).__name__}: {exc}"
            ) from None
    for index, actor in enumerate(node.actors):
        _check_actor(path, index, actor, ActorFactory)
    controller: ImportableControllerConfig | None = node.controller
    if controller is not None:
        from nautilus_trader.common.config import resolve_config_path

        try:
            resolve_config_path(controller.config_path).parse(
                msgspec.json.encode(controller.config)
            )
        except Exception as exc:
            raise LiveConfigError(
                f"{path}: control / node.controller: {type(exc).__name__}: {exc}"
            ) from None


def _check_actor(path: Path, index: int, actor: ImportableActorConfig, factory: Any) -> None:
    try:
        factory.create(actor)
    except Exception as exc:
        raise LiveConfigError(
            f"{path}: node.actors[{index}] ({actor.actor_path}): {type(exc).__name__}: {exc}"
        ) from None
