"""Backtest run files: a Nautilus ``BacktestRunConfig`` plus a name, a sample label and a
report folder, in YAML or JSON, with ``${VAR}`` / ``${VAR:-default}`` taken from the environment.

Example (``backtests/demo.yaml``)::

    name: demo-eurusd-rule
    sample: in-sample
    report_dir: ${NAUTILUS_AI_REPORTS:-reports}
    run:                      # a BacktestRunConfig, verbatim
      venues: [...]
      data: [...]
      engine: {strategies: [...]}

Two Nautilus defaults are overridden on purpose (both hide failures): ``raise_exception`` is
forced on, and ``dispose_on_completion`` off until the runner has read the results. Bar data
configs get ``data_cls`` resolved to the class, because Nautilus 1.221 only applies ``bar_spec``
/ ``bar_types`` filters when ``data_cls is Bar`` (with the dotted string, every bar of the
instrument is loaded - twice if two data configs name BID and ASK).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml
from nautilus_trader.backtest.config import BacktestDataConfig, BacktestRunConfig
from nautilus_trader.common.config import resolve_path
from nautilus_trader.model.data import Bar

__all__ = [
    "ENV_PLACEHOLDER",
    "ConfigError",
    "RunFile",
    "load_run_file",
    "parse_run_file",
    "read_config_file",
    "substitute_env",
]

#: ``${VAR}`` or ``${VAR:-default}``: group 1 the name, group 2 the default (None when absent).
#: The placeholder syntax of every run file (backtest and live configs).
ENV_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SAMPLES = ("in-sample", "out-of-sample", "unspecified")


class ConfigError(ValueError):
    """A run file is missing, unreadable or invalid; the message names the file and field."""


@dataclass(frozen=True)
class RunFile:
    """A loaded run file."""

    path: Path
    name: str
    sample: str
    report_dir: Path
    description: str
    run: BacktestRunConfig
    raw: Mapping[str, Any]


def substitute_env(value: Any, *, where: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a nested structure."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable ${name} is not set")

        return ENV_PLACEHOLDER.sub(repl, value)
    if isinstance(value, Mapping):
        return {
            k: substitute_env(v, where=f"{where}.{k}" if where else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute_env(v, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def read_config_file(path: Path, what: str, error: type[ValueError]) -> Any:
    """The parsed content of a YAML (``.yaml`` / ``.yml``) or else JSON config file.

    Raises
    ------
    error
        For an unreadable file (``cannot read <what> <path>: ...``) or one that does not parse.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from exc


def load_run_file(path: str | Path) -> RunFile:
    """Read, substitute and validate a run file (YAML or JSON)."""
    path = Path(path)
    return parse_run_file(read_config_file(path, "run file", ConfigError), path)


def parse_run_file(raw: Any, path: Path) -> RunFile:
    """Validate an already-read run file mapping (``path`` is used in messages and reports)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    unknown = set(raw) - {"name", "sample", "report_dir", "description", "run"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level field(s) {sorted(unknown)}")
    if "run" not in raw:
        raise ConfigError(f"{path}: missing 'run' (a Nautilus BacktestRunConfig)")
    data = substitute_env(raw, where=str(path))
    sample = str(data.get("sample", "unspecified"))
    if sample not in SAMPLES:
        raise ConfigError(f"{path}: sample must be one of {SAMPLES}, was {sample!r}")
    run_dict = dict(data["run"])
    run_dict["raise_exception"] = True
    run_dict["dispose_on_completion"] = False
    try:
        run = BacktestRunConfig.parse(json.dumps(run_dict))
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid run config: {exc}") from exc
    run = msgspec.structs.replace(run, data=[_resolve_bar_cls(d) for d in run.data])
    return RunFile(
        path=path,
        name=str(data.get("name") or path.stem),
        sample=sample,
        report_dir=Path(str(data.get("report_dir") or "reports")),
        description=str(data.get("description", "")),
        run=run,
        raw=data,
    )


def _resolve_bar_cls(config: BacktestDataConfig) -> BacktestDataConfig:
    if isinstance(config.data_cls, str) and resolve_path(config.data_cls) is Bar:
        return msgspec.structs.replace(config, data_cls=Bar)
    return config
