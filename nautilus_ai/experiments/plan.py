"""From an experiment to the runs it asks for, each with a key that says when it can be reused.

A **trial** is one family with one choice of its parameters and of the strategy settings, on one
market. A **run** is a trial on one fold with one seed: train (or build) the fold's model, pick
its threshold on the validation window, backtest it on the test window. **Baselines** (the rule
model with the base run's settings, buy & hold, flat) run on the same folds.

Keys are SHA-256 hashes of canonical JSON:

* a model key: family, parameters, seed, market, the fold's training and validation windows,
  label and embargo, the data fingerprint and the code version;
* a run key: the model key, the strategy settings, the test window, the run file (venue, fees,
  fills, strategy defaults) and the cost model.

A run whose key is in the results library is not run again; change the code, the data or any
setting and the key changes. Pure functions: no Nautilus, no Ray.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nautilus_ai.datasets import Fold, Window
from nautilus_ai.experiments.config import Experiment, FamilySpace, Market, ParamRange

__all__ = [
    "ModelSpec",
    "RunSpec",
    "Trial",
    "baseline_runs",
    "canonical_hash",
    "code_version",
    "data_fingerprint",
    "grid_trials",
    "runs_for_trials",
    "seeds_for",
]

#: Families whose model depends on a seed (the others run once per fold).
SEEDED_FAMILIES = frozenset({"mlp", "lightgbm"})
BASELINE_FAMILY = "rule"


def canonical_hash(value: Any, length: int = 24) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys, no spaces), hex, ``length`` long."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


@dataclass(frozen=True)
class Trial:
    """One configuration: a family with its parameters and the strategy settings on a market.

    ``number`` counts the family's trials from 0 (``lightgbm#03``); ``trial_id`` is a hash of
    the configuration (stable across runs of the experiment)."""

    family: str
    number: int
    model_params: Mapping[str, Any]
    strategy_params: Mapping[str, Any]
    market: Market

    @property
    def trial_id(self) -> str:
        return canonical_hash(
            {
                "family": self.family,
                "model": dict(self.model_params),
                "strategy": dict(self.strategy_params),
                "market": [self.market.instrument_id, self.market.bar_type],
            },
            12,
        )

    @property
    def label(self) -> str:
        return f"{self.family}#{self.number:02d}"


@dataclass(frozen=True)
class ModelSpec:
    """What one fold's model is built from (one training per key, shared by its runs)."""

    key: str
    family: str
    model_params: Mapping[str, Any]
    seed: int | None
    fold: Fold
    market: Market
    catalog: str
    label: Mapping[str, Any]
    embargo_bars: int
    signal_rates: tuple[float, ...]


@dataclass(frozen=True)
class RunSpec:
    """One backtest on one fold's test window (a trial's or a baseline's)."""

    key: str
    experiment: str
    role: str  # "trial" | "baseline"
    trial_id: str
    trial_label: str
    family: str
    model_params: Mapping[str, Any]
    strategy_params: Mapping[str, Any]
    seed: int | None
    fold: Fold
    market: Market
    catalog: str
    model: ModelSpec | None
    base_run: Mapping[str, Any] = field(repr=False)
    costs: Mapping[str, Any] = field(repr=False)

    def describe(self) -> str:
        seed = f" seed {self.seed}" if self.seed is not None else ""
        return f"fold {self.fold.index} {self.trial_label}{seed}"

    def config(self) -> dict[str, Any]:
        """Everything that defines the run (what the results library stores as ``config``)."""
        return {
            "role": self.role,
            "family": self.family,
            "model_params": dict(self.model_params),
            "strategy_params": dict(self.strategy_params),
            "seed": self.seed,
            "fold": {"index": self.fold.index, **self.fold.to_dict()},
            "market": {
                "instrument_id": self.market.instrument_id,
                "bar_type": self.market.bar_type,
            },
            "catalog": self.catalog,
            "model_key": self.model.key if self.model is not None else None,
            "costs": dict(self.costs),
        }


# ----------------------------------------------------------------------------- enumeration


def _grid(space: Mapping[str, Sequence[Any] | ParamRange]) -> list[dict[str, Any]]:
    names = sorted(space)
    lists = []
    for name in names:
        values = space[name]
        if isinstance(values, ParamRange):
            raise ValueError(f"{name}: a range cannot be enumerated (use search.method optuna)")
        lists.append(list(values))
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]


def grid_trials(experiment: Experiment) -> list[Trial]:
    """Every combination of each family's parameters with the strategy settings, per market."""
    strategy = _grid(experiment.strategy_space)
    trials: list[Trial] = []
    for family in experiment.families:
        number = 0
        for market in experiment.markets:
            for model_params in _grid(family.space):
                for strategy_params in strategy:
                    trials.append(Trial(family.family, number, model_params, strategy_params,
                                        market))  # fmt: skip
                    number += 1
    return trials


def seeds_for(family: str, seeds: Sequence[int]) -> list[int | None]:
    """The seeds a family runs with (one run without a seed for a deterministic family)."""
    return list(seeds) if family in SEEDED_FAMILIES else [None]


def signal_rates(strategy_params: Iterable[Mapping[str, Any]]) -> tuple[float, ...]:
    rates = set()
    for params in strategy_params:
        value = params.get("min_confidence")
        if isinstance(value, Mapping):
            rates.add(float(value["signal_rate"]))
    return tuple(sorted(rates))


def _window(window: Window | None) -> list[int] | None:
    return None if window is None else [window.start_ns, window.end_ns]


def model_spec(
    experiment: Experiment,
    family: FamilySpace | str,
    model_params: Mapping[str, Any],
    seed: int | None,
    fold: Fold,
    market: Market,
    rates: tuple[float, ...],
    data: Mapping[str, str],
    code: str,
) -> ModelSpec:
    name = family if isinstance(family, str) else family.family
    label = experiment.label.to_dict()
    key = canonical_hash(
        {
            "kind": "model",
            "family": name,
            "params": dict(model_params),
            "seed": seed,
            "market": [market.instrument_id, market.bar_type],
            "train": _window(fold.train),
            "validation": _window(fold.validation),
            "label": label,
            "embargo": experiment.embargo_bars,
            "signal_rates": list(rates),
            "data": data[market.bar_type],
            "code": code,
        }
    )
    return ModelSpec(key, name, dict(model_params), seed, fold, market, str(experiment.catalog),
                     label, experiment.embargo_bars, rates)  # fmt: skip


def run_key(
    spec_fields: Mapping[str, Any], base_run: Mapping[str, Any], data: str, code: str
) -> str:
    return canonical_hash(
        {"kind": "run", **spec_fields, "base_run": base_run, "data": data, "code": code}
    )


def runs_for_trials(
    experiment: Experiment,
    trials: Sequence[Trial],
    base_run: Mapping[str, Any],
    data: Mapping[str, str],
    code: str,
) -> list[RunSpec]:
    """Every fold x seed run of ``trials``; their models are shared where the key is."""
    rates_by_model: dict[tuple[Any, ...], set[float]] = {}
    for trial in trials:
        key = (trial.family, canonical_hash(dict(trial.model_params)), trial.market)
        rates_by_model.setdefault(key, set()).update(signal_rates([trial.strategy_params]))
    runs: list[RunSpec] = []
    costs = experiment.costs.to_dict()
    for trial in trials:
        rates = tuple(sorted(rates_by_model[
            (trial.family, canonical_hash(dict(trial.model_params)), trial.market)]))  # fmt: skip
        for fold in experiment.folds:
            for seed in seeds_for(trial.family, experiment.seeds):
                model = model_spec(experiment, trial.family, trial.model_params, seed, fold,
                                   trial.market, rates, data, code)  # fmt: skip
                spec = RunSpec(
                    key="",
                    experiment=experiment.name,
                    role="trial",
                    trial_id=trial.trial_id,
                    trial_label=trial.label,
                    family=trial.family,
                    model_params=dict(trial.model_params),
                    strategy_params=dict(trial.strategy_params),
                    seed=seed,
                    fold=fold,
                    market=trial.market,
                    catalog=str(experiment.catalog),
                    model=model,
                    base_run=base_run,
                    costs=costs,
                )
                runs.append(_keyed(spec, data, code))
    return runs


def baseline_runs(
    experiment: Experiment, base_run: Mapping[str, Any], data: Mapping[str, str], code: str
) -> list[RunSpec]:
    """The rule model with the base run's strategy settings on every fold and market (buy &
    hold and flat come with it)."""
    runs = []
    for market in experiment.markets:
        trial_id = canonical_hash({"baseline": "rule", "market": market.bar_type}, 12)
        for fold in experiment.folds:
            spec = RunSpec(
                key="",
                experiment=experiment.name,
                role="baseline",
                trial_id=trial_id,
                trial_label="baseline-rule",
                family=BASELINE_FAMILY,
                model_params={},
                strategy_params={},
                seed=None,
                fold=fold,
                market=market,
                catalog=str(experiment.catalog),
                model=None,
                base_run=base_run,
                costs=experiment.costs.to_dict(),
            )
            runs.append(_keyed(spec, data, code))
    return runs


def _keyed(spec: RunSpec, data: Mapping[str, str], code: str) -> RunSpec:
    from dataclasses import replace

    fields = spec.config()
    fields.pop("catalog")  # where the bars are does not matter, what they are does (data)
    key = run_key(fields, spec.base_run, data[spec.market.bar_type], code)
    return replace(spec, key=key)


# ------------------------------------------------------------------- code and data versions


def _package_dirs() -> list[Path]:
    dirs = []
    for name in ("nautilus_ai", "nautilus_ai.strategies"):
        found = importlib.util.find_spec(name)
        if found is not None and found.submodule_search_locations:
            dirs += [Path(p) for p in found.submodule_search_locations]
    return dirs


def code_version() -> str:
    """``<version>+<hash>``: the package version and a hash of every Python source file of
    the package (and its strategies), with the versions of the libraries a run's result
    depends on. An edited file changes it (committed or not)."""
    digest = hashlib.sha256()
    for folder in sorted(set(_package_dirs())):
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    for dist in ("nautilus_trader", "numpy", "lightgbm", "torch", "faiss-cpu", "pyarrow"):
        try:
            digest.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{dist}=none".encode())
    try:
        version = importlib.metadata.version("nautilus-ai")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"{version}+{digest.hexdigest()[:12]}"


def data_fingerprint(catalog: str | Path, bar_type: str, end_ns: int) -> str:
    """A hash of the bars a run may read: ``bar_type`` (and its ``-ASK-`` twin of a ``-BID-``
    series) from the catalog's first bar up to ``end_ns``, timestamps and prices. Data appended
    after ``end_ns`` or a rewrite of the same bars into other files leaves it unchanged."""
    from nautilus_ai.data.catalog import read_bars

    digest = hashlib.sha256()
    types = [bar_type]
    if "-BID-" in bar_type:
        types.append(bar_type.replace("-BID-", "-ASK-"))
    for name in types:
        try:
            bars = read_bars(catalog, name, end_ns=end_ns)
        except FileNotFoundError:
            digest.update(f"{name}:none".encode())
            continue
        digest.update(name.encode())
        for column in (bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume):
            digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()[:24]
