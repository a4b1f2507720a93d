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

The whole file is checked strictly before anything runs (:func:`parse_run_file`). Two Nautilus
defaults are overridden on purpose (both hide failures): ``raise_exception`` is forced on, and
``dispose_on_completion`` off until the runner has read the results; a file that sets either
the other way is refused. Bar data
configs get ``data_cls`` resolved to the class, because Nautilus 1.221 only applies ``bar_spec``
/ ``bar_types`` filters when ``data_cls is Bar`` (with the dotted string, every bar of the
instrument is loaded - twice if two data configs name BID and ASK).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
from nautilus_trader.backtest.config import BacktestDataConfig, BacktestRunConfig
from nautilus_trader.common.config import resolve_path
from nautilus_trader.core.datetime import dt_to_unix_nanos
from nautilus_trader.model.data import Bar

from nautilus_ai.config_check import ConfigFieldError, check
from nautilus_ai.config_env import ENV_PLACEHOLDER, substitute
from nautilus_ai.config_files import read_config_file
from nautilus_ai.config_nautilus import NAUTILUS_HOOKS

__all__ = [
    "ENV_PLACEHOLDER",
    "ConfigError",
    "RunFile",
    "RunFileSchema",
    "load_run_file",
    "parse_run_file",
    "read_config_file",
    "substitute_env",
]

SAMPLES = ("in-sample", "out-of-sample", "unspecified")
# Set by the runner, never by the file: a file that says otherwise is refused, not rewritten.
_FORCED = {"raise_exception": True, "dispose_on_completion": False}


class ConfigError(ValueError):
    """A run file is missing, unreadable or invalid; the message names the file and key path.

    ``field_error`` is the :class:`~nautilus_ai.config_check.ConfigFieldError` behind it, when
    one value is at fault.
    """

    def __init__(self, message: str, field_error: ConfigFieldError | None = None) -> None:
        super().__init__(message)
        self.field_error = field_error


class RunFileSchema(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The top level of a run file (checked strictly, down to every strategy's config).

    Parameters
    ----------
    run : BacktestRunConfig
        Nautilus' run config, verbatim; each ``config`` dict is checked against the class its
        ``config_path`` names.
    name : str, optional
        Report name (default: the file name).
    sample : {"in-sample", "out-of-sample", "unspecified"}
        What the report says about the data.
    report_dir : str, optional
        Parent folder of report folders (default ``reports``).
    description : str
        Free text.
    """

    run: BacktestRunConfig
    name: str | None = None
    sample: Literal["in-sample", "out-of-sample", "unspecified"] = "unspecified"
    report_dir: str | None = None
    description: str = ""


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
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a nested structure.

    Raises :class:`ConfigError` naming the key path (after ``where``) of an unset variable
    without a default or a malformed placeholder.
    """
    try:
        return substitute(value, os.environ)
    except ConfigFieldError as exc:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}{exc}", exc) from None


def load_run_file(path: str | Path) -> RunFile:
    """Read, substitute and strictly check a run file (YAML or JSON)."""
    path = Path(path)
    return parse_run_file(read_config_file(path, "run file", ConfigError), path)


def parse_run_file(raw: Any, path: Path) -> RunFile:
    """Check an already-read run file mapping (``path`` is used in messages and reports).

    Every key at every depth is checked (:mod:`nautilus_ai.config_check`): unknown keys,
    wrong types and out-of-range values are refused with their key path, including inside
    each strategy / actor / fee model / fill model ``config`` (against its ``config_path``
    class) and inside the strategy's ``predictor``, ``sizing`` and other nested dicts.

    Raises
    ------
    ConfigError
        ``<file>: <key path>: <problem> (received ...); did you mean ...?``
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{path}: the top level must be a mapping (name, sample, run...), "
            f"was a {type(raw).__name__}"
        )
    data = substitute_env(raw, where=str(path))
    try:
        checked = check(data, RunFileSchema, hooks=NAUTILUS_HOOKS)
        run_dict = dict(checked["run"])
        for key, value in _FORCED.items():
            if key in run_dict and run_dict[key] != value:
                raise ConfigFieldError(
                    ("run", key),
                    f"must be {str(value).lower()} (the runner sets it: failures are not hidden"
                    " and results are read before the engine is disposed)",
                    received=run_dict[key],
                )
        run_dict.update(_FORCED)
        _fill_precompute_end(run_dict)
        try:
            run = BacktestRunConfig.parse(json.dumps(run_dict))
        except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError) as exc:
            raise ConfigFieldError(("run",), f"invalid run config: {exc}") from None
    except ConfigFieldError as exc:
        raise ConfigError(f"{path}: {exc}", exc) from None
    run = msgspec.structs.replace(run, data=[_resolve_bar_cls(d) for d in run.data])
    return RunFile(
        path=path,
        name=str(checked.get("name") or path.stem),
        sample=str(checked.get("sample", "unspecified")),
        report_dir=Path(str(checked.get("report_dir") or "reports")),
        description=str(checked.get("description", "")),
        run=run,
        raw=data,
    )


def _fill_precompute_end(run_dict: dict[str, Any]) -> None:
    """Give each strategy config with a ``precompute_end_time`` field it left unset the run's
    data end (the latest ``end_time`` of the data configs, when every one has one), so the
    precomputed path reads and computes the run's bars, not the whole catalog (a one-week run
    in a ten-year catalog). A value the file sets is kept."""
    ends = [data.get("end_time") for data in run_dict.get("data") or []]
    if not ends or any(end is None for end in ends):
        return
    end_ns = max(int(dt_to_unix_nanos(end)) for end in ends)  # as Nautilus reads them
    for strategy in (run_dict.get("engine") or {}).get("strategies") or []:
        config = strategy.get("config")
        if not isinstance(config, dict) or config.get("precompute_end_time") is not None:
            continue
        config_cls = resolve_path(strategy["config_path"])
        if "precompute_end_time" in getattr(config_cls, "__struct_fields__", ()):
            strategy["config"] = {**config, "precompute_end_time": end_ns}


def _resolve_bar_cls(config: BacktestDataConfig) -> BacktestDataConfig:
    if isinstance(config.data_cls, str) and resolve_path(config.data_cls) is Bar:
        return msgspec.structs.replace(config, data_cls=Bar)
    return config
