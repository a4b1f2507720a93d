"""The experiment file: what to test, on which data, over which folds, parameters and seeds.

A strict YAML (or JSON) document, checked whole before anything runs; an unknown key, a wrong
type or an out-of-range value is refused with its key path (``families[0].params.num_leaves[1]:
must be >= 2 (received 1)``), exit 2 from the CLI. ``${VAR}`` / ``${VAR:-default}`` come from
the environment. Example (``backtests/experiment_demo.yaml``)::

    name: demo-walk-forward
    store: ${NAUTILUS_AI_RESULTS:-results}     # the results library (a Parquet dataset)
    base_run: demo                             # venue, fees, fills, strategy defaults
    data:
      catalog: ${NAUTILUS_AI_CATALOG:-catalogs/demo}
      instruments: [EUR/USD.SIM]
      bar_types: [EUR/USD.SIM-1-MINUTE-BID-EXTERNAL]
      start: 2017-01-02
      end: 2017-07-01
    walk_forward: {train: 8w, validation: 2w, test: 2w}   # step defaults to the test length
    label: {horizon: 30, buy_threshold: 1.5, sell_threshold: 1.5}
    families:
      - family: lightgbm
        params: {num_leaves: [7, 15]}         # lists are candidates; {low, high} a range
      - family: rule
    strategy:
      min_confidence: [{signal_rate: 0.03}]   # chosen on each fold's validation window
      stop_loss_atr: [2.0, 3.0]
    seeds: [7]

Leakage rules the plan follows (and a test perturbs): a fold's model is fitted on its training
window and calibrated on its validation window, rows whose label horizon crosses a window's end
are purged, every window after the first skips ``embargo_bars`` bars (default: the label
horizon), and a ``{signal_rate}`` threshold is chosen on the validation window; nothing reads a
bar at or after the fold's test window start. The out-of-sample backtest runs on the test window
and its features start cold at the window's first bar (as every backtest's do, so the incremental
and precomputed paths decide alike): the strategy holds for the spec's warm-up (``warmup_bars``,
114 bars for the default spec) at the start of each fold, the same for every trial.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from nautilus_ai.config_check import ConfigFieldError, KeyPath, check, nearest
from nautilus_ai.config_env import substitute
from nautilus_ai.config_files import read_config_file
from nautilus_ai.datasets import Fold, to_ns, walk_forward_folds
from nautilus_ai.labels import LabelSpec

__all__ = [
    "FAMILIES",
    "CostModel",
    "Experiment",
    "ExperimentConfigError",
    "ExperimentSchema",
    "FamilySpace",
    "Market",
    "ParamRange",
    "SearchSettings",
    "SignalRate",
    "load_experiment",
    "parse_duration",
    "parse_experiment",
]

#: Optuna trials asked at once (``search.batch``). Past TPE's random start-up trials each trial
#: is proposed from the results told before it, so the batch shapes the trials: it is the
#: file's (reproducible on any machine), not the number of cores.
DEFAULT_OPTUNA_BATCH = 4
#: The most runs an experiment plans unless its file raises ``execution.max_runs``.
DEFAULT_MAX_RUNS = 10_000
#: Model families an experiment can search.
FAMILIES = ("mlp", "lightgbm", "rule", "pattern_memory")
NS_PER_DAY = 86_400 * 1_000_000_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([wdhm])\s*$")
_UNIT_NS = {"w": 7 * NS_PER_DAY, "d": NS_PER_DAY, "h": 3_600 * 10**9, "m": 60 * 10**9}


class ExperimentConfigError(ValueError):
    """An experiment file that cannot run: one line naming the file and the key path."""


# ---------------------------------------------------------------------------------- schema


class ParamRange(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A range for Optuna: ``{low, high}``, optionally ``log: true`` or a ``step``. Integers
    when ``low`` and ``high`` are both integers (and the step too)."""

    low: int | float
    high: int | float
    log: bool = False
    step: Annotated[int, msgspec.Meta(gt=0)] | Annotated[float, msgspec.Meta(gt=0)] | None = None


class SignalRate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A confidence threshold chosen on each fold's validation window: the lowest confidence at
    which the model's buy / sell calls cover ``signal_rate`` of the validation bars."""

    signal_rate: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]


Candidates = list[Any] | ParamRange


class DataSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``catalog``, one ``bar_types`` entry per instrument (the bars that drive the strategy;
    a ``-BID-`` series is marked with its ``-ASK-`` twin), and the UTC date range."""

    catalog: str
    instruments: Annotated[list[str], msgspec.Meta(min_length=1)]
    bar_types: Annotated[list[str], msgspec.Meta(min_length=1)]
    start: str
    end: str


class WalkForwardSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Window lengths (``"8w"``, ``"14d"``, ``"12h"``, or a number of days); ``step`` defaults
    to ``test`` (test windows tile the period); ``anchored`` keeps every training window
    starting at ``data.start``; ``max_folds`` keeps the first ones; ``embargo_bars`` (default:
    the label horizon, never less) are skipped at the start of each window after the first."""

    train: str | float
    validation: str | float
    test: str | float
    step: str | float | None = None
    anchored: bool = False
    max_folds: Annotated[int, msgspec.Meta(ge=1)] | None = None
    embargo_bars: Annotated[int, msgspec.Meta(ge=0)] | None = None


class FamilySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One model family and its hyperparameter space (each value a list of candidates, or a
    range for Optuna)."""

    family: Literal["mlp", "lightgbm", "rule", "pattern_memory"]
    params: dict[str, Candidates] = msgspec.field(default_factory=dict)


class StrategySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The strategy grid: candidates for each setting (``None`` / absent: the base run's)."""

    min_confidence: list[float | SignalRate] | ParamRange | None = None
    stop_loss_atr: list[float | None] | ParamRange | None = None
    take_profit_atr: list[float | None] | ParamRange | None = None
    max_holding_bars: list[int | None] | ParamRange | None = None
    sizing: list[dict[str, Any]] | None = None
    reverse_on_opposite: list[bool] | None = None
    exit_on_hold: list[bool] | None = None


class SearchSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``grid`` (every combination) or ``optuna`` (``trials`` per family, TPE, seeded, asked
    ``batch`` at a time: default 4, the trials depend on it, never on the cores);
    ``metric`` ranks trials on the stitched out-of-sample result."""

    method: Literal["grid", "optuna"] = "grid"
    trials: Annotated[int, msgspec.Meta(ge=1)] | None = None
    batch: Annotated[int, msgspec.Meta(ge=1, le=256)] | None = None
    metric: Literal["sharpe", "return_pct", "pnl"] = "sharpe"
    seed: Annotated[int, msgspec.Meta(ge=0)] = 0


class CommissionSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The venue's commission: ``bps`` of the notional with a ``minimum`` per fill."""

    bps: Annotated[float, msgspec.Meta(ge=0.0, lt=100.0)] = 0.2
    minimum: str = "2.00 USD"


class FillSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The fill model's book: ``top_size`` at the touch, ``levels`` deeper ones ``depth_ticks``
    apart (see :mod:`nautilus_ai.backtest.execution`)."""

    top_size: Annotated[float, msgspec.Meta(gt=0.0)] = 2_000_000.0
    depth_ticks: Annotated[int, msgspec.Meta(ge=1)] = 2
    levels: Annotated[int, msgspec.Meta(ge=1)] = 5
    random_seed: int = 42


class CostSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Costs applied to every run's venue; the spread is in the bid / ask bars."""

    commission: CommissionSection = msgspec.field(default_factory=CommissionSection)
    fills: FillSection = msgspec.field(default_factory=FillSection)


class ExecutionSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``retries`` of a run that raised or whose worker died; ``run_timeout_s`` per run;
    ``max_runs``: the most runs the grid (or Optuna's trials) may plan, so a stray candidate
    list is refused before Ray starts rather than planned for hours."""

    retries: Annotated[int, msgspec.Meta(ge=0, le=3)] = 1
    run_timeout_s: Annotated[float, msgspec.Meta(gt=0.0)] = 1_800.0
    max_runs: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = DEFAULT_MAX_RUNS


class ReportSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``trades_window``: ``[start, end]`` (UTC) of the trades-on-price chart (default: the
    best trial's busiest day)."""

    trades_window: Annotated[list[str], msgspec.Meta(min_length=2, max_length=2)] | None = None


class LabelSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """:class:`~nautilus_ai.labels.LabelSpec` fields."""

    kind: Literal["forward_return", "triple_barrier"] = "forward_return"
    horizon: Annotated[int, msgspec.Meta(ge=1)] = 30
    unit: Literal["atr", "pips"] = "atr"
    buy_threshold: Annotated[float, msgspec.Meta(ge=0.0)] = 1.5
    sell_threshold: Annotated[float, msgspec.Meta(ge=0.0)] = 1.5
    spread_pips: Annotated[float, msgspec.Meta(ge=0.0)] = 0.3
    pip_size: Annotated[float, msgspec.Meta(gt=0.0)] = 1e-4
    atr_period: Annotated[int, msgspec.Meta(ge=1)] = 14


class ExperimentSchema(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The top level of an experiment file (see the module docstring)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")]
    data: DataSection
    walk_forward: WalkForwardSection
    families: Annotated[list[FamilySection], msgspec.Meta(min_length=1)]
    description: str = ""
    store: str = "results"
    base_run: str = "demo"
    label: LabelSection = msgspec.field(default_factory=LabelSection)
    strategy: StrategySection = msgspec.field(default_factory=StrategySection)
    search: SearchSection = msgspec.field(default_factory=SearchSection)
    seeds: Annotated[list[Annotated[int, msgspec.Meta(ge=0)]], msgspec.Meta(min_length=1)] = (
        msgspec.field(default_factory=lambda: [7])
    )
    costs: CostSection = msgspec.field(default_factory=CostSection)
    execution: ExecutionSection = msgspec.field(default_factory=ExecutionSection)
    report: ReportSection = msgspec.field(default_factory=ReportSection)


# ---------------------------------------------------------------------------------- resolved


@dataclass(frozen=True)
class Market:
    """An instrument and the bars that drive the strategy on it."""

    instrument_id: str
    bar_type: str

    @property
    def label(self) -> str:
        return self.instrument_id


@dataclass(frozen=True)
class FamilySpace:
    """A family's fixed settings and its searched parameters (name -> candidates or range)."""

    family: str
    space: Mapping[str, Sequence[Any] | ParamRange]

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.space.values() if not isinstance(v, ParamRange))


@dataclass(frozen=True)
class SearchSettings:
    method: str
    trials: int | None
    metric: str
    seed: int
    batch: int = 4


@dataclass(frozen=True)
class CostModel:
    """Commission and fill settings as the venue's fee / fill model configs."""

    commission: Mapping[str, Any]
    fills: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"commission": dict(self.commission), "fills": dict(self.fills)}


@dataclass(frozen=True)
class Experiment:
    """A checked experiment: folds computed, spaces validated, paths resolved."""

    name: str
    description: str
    path: Path | None
    raw: Mapping[str, Any] = field(repr=False)
    store: Path
    base_run: str
    catalog: Path
    markets: tuple[Market, ...]
    start_ns: int
    end_ns: int
    folds: tuple[Fold, ...]
    label: LabelSpec
    embargo_bars: int
    families: tuple[FamilySpace, ...]
    strategy_space: Mapping[str, Sequence[Any] | ParamRange]
    search: SearchSettings
    seeds: tuple[int, ...]
    costs: CostModel
    retries: int
    run_timeout_s: float
    trades_window: tuple[int, int] | None

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else f"experiment {self.name}"


# ---------------------------------------------------------------------------------- parsing


def parse_duration(value: str | float, path: KeyPath) -> int:
    """``"8w"``, ``"14d"``, ``"12h"``, ``"90m"`` or a number of days -> nanoseconds (> 0)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        ns = round(float(value) * NS_PER_DAY)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ConfigFieldError(
                path, "expected a duration like '8w', '14d', '12h', '90m' or days", received=value
            )
        ns = round(float(match.group(1)) * _UNIT_NS[match.group(2)])
    if ns <= 0:
        raise ConfigFieldError(path, "must be a positive duration", received=value)
    return ns


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read and check an experiment file (YAML ``.yaml`` / ``.yml``, else JSON).

    Raises
    ------
    ExperimentConfigError
        ``<file>: <key path>: <problem>``.
    """
    file = Path(path)
    # strict: a key given twice is refused (YAML and JSON would keep the last one silently)
    return parse_experiment(read_config_file(file, "experiment", ExperimentConfigError), file)


def parse_experiment(raw: Any, path: Path | None = None) -> Experiment:
    """Check an already-read experiment mapping (``path`` names it in messages)."""
    where = str(path) if path is not None else "experiment"
    if not isinstance(raw, Mapping):
        raise ExperimentConfigError(
            f"{where}: the top level must be a mapping (name, data, walk_forward, families...), "
            f"was a {type(raw).__name__}"
        )
    try:
        data = substitute(_dates_as_text(raw), os.environ)
        checked = check(data, ExperimentSchema)
        schema = msgspec.convert(checked, ExperimentSchema, strict=False)
        return _resolve(schema, data, path)
    except ConfigFieldError as exc:
        raise ExperimentConfigError(f"{where}: {exc}") from None


def _dates_as_text(value: Any) -> Any:
    """YAML reads ``2017-01-02`` as a date: keep every date as its ISO text."""
    import datetime as dt

    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    return value


def _resolve(schema: ExperimentSchema, data: Mapping[str, Any], path: Path | None) -> Experiment:
    d = schema.data
    if len(d.bar_types) != len(d.instruments):
        raise ConfigFieldError(
            ("data", "bar_types"),
            f"needs one bar type per instrument ({len(d.instruments)} instruments)",
            received=d.bar_types,
        )
    markets = []
    for i, instrument in enumerate(d.instruments):
        if instrument in d.instruments[:i]:
            raise ConfigFieldError(
                ("data", "instruments", i),
                f"listed twice (also data.instruments[{d.instruments.index(instrument)}])",
                received=instrument,
            )
    for i, (instrument, bar_type) in enumerate(zip(d.instruments, d.bar_types, strict=True)):
        if not bar_type.startswith(f"{instrument}-"):
            raise ConfigFieldError(
                ("data", "bar_types", i), f"is not a bar type of {instrument}", received=bar_type
            )
        markets.append(Market(instrument, bar_type))
    start_ns = _date(d.start, ("data", "start"))
    end_ns = _date(d.end, ("data", "end"))
    if end_ns <= start_ns:
        raise ConfigFieldError(
            ("data", "end"), f"must be after data.start ({d.start})", received=d.end
        )
    wf = schema.walk_forward
    lengths = {
        name: parse_duration(getattr(wf, name), ("walk_forward", name))
        for name in ("train", "validation", "test")
    }
    step = parse_duration(wf.step, ("walk_forward", "step")) if wf.step is not None else None
    if step is not None and step < lengths["test"]:
        raise ConfigFieldError(
            ("walk_forward", "step"),
            f"must be >= walk_forward.test ({wf.test}): a shorter step makes the test windows "
            "overlap, and the stitched out-of-sample result would count the overlap twice",
            received=wf.step,
        )
    try:
        folds = walk_forward_folds(
            start_ns, end_ns, train=lengths["train"], validation=lengths["validation"],
            test=lengths["test"], step=step, anchored=wf.anchored,
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigFieldError(("walk_forward",), str(exc)) from None
    if wf.max_folds is not None:
        folds = folds[: wf.max_folds]
    label_fields = msgspec.structs.asdict(schema.label)
    label = LabelSpec(**label_fields)
    embargo = label.horizon if wf.embargo_bars is None else wf.embargo_bars
    if embargo < label.horizon:
        raise ConfigFieldError(
            ("walk_forward", "embargo_bars"),
            f"must be >= the label horizon ({label.horizon} bars): a shorter embargo lets a "
            "training label see the next window",
            received=embargo,
        )
    families = tuple(
        _family_space(f, ("families", i), schema.search.method)
        for i, f in enumerate(schema.families)
    )
    seen: dict[str, int] = {}
    for i, fam in enumerate(families):
        if fam.family in seen:
            raise ConfigFieldError(
                ("families", i, "family"),
                f"listed twice (also families[{seen[fam.family]}]); put its candidates in one "
                "params block",
                received=fam.family,
            )
        seen[fam.family] = i
    strategy = _strategy_space(schema.strategy, schema.search.method)
    search = schema.search
    if search.method == "optuna" and search.trials is None:
        raise ConfigFieldError(("search", "trials"), "optuna needs a number of trials per family")
    if search.method == "grid" and search.trials is not None:
        raise ConfigFieldError(("search", "trials"), "only for method optuna (a grid runs all)")
    if search.method == "grid" and search.batch is not None:
        raise ConfigFieldError(("search", "batch"), "only for method optuna (a grid runs all)")
    trades_window = None
    if schema.report.trades_window is not None:
        a, b = schema.report.trades_window
        trades_window = (_date(a, ("report", "trades_window", 0)),
                         _date(b, ("report", "trades_window", 1)))  # fmt: skip
        if trades_window[1] <= trades_window[0]:
            raise ConfigFieldError(("report", "trades_window", 1), f"must be after {a}",
                                   received=b)  # fmt: skip
        tests = [f.test for f in folds if f.test is not None]
        if not any(t.start_ns < trades_window[1] and trades_window[0] < t.end_ns for t in tests):
            span = str(tests[0]) if len(tests) == 1 else f"{tests[0]} .. {tests[-1]}"
            raise ConfigFieldError(
                ("report", "trades_window"),
                f"outside every fold's test window ({span}): the chart shows out-of-sample "
                "trades only",
                received=[a, b],
            )
    _check_commission_minimum(schema.costs.commission.minimum, markets)
    if len(set(schema.seeds)) != len(schema.seeds):
        raise ConfigFieldError(("seeds",), "lists a seed twice", received=schema.seeds)
    _check_run_count(
        len(folds), len(markets), families, strategy, schema.search, len(schema.seeds),
        schema.execution.max_runs,
    )  # fmt: skip
    costs = schema.costs
    return Experiment(
        name=schema.name,
        description=schema.description,
        path=path,
        raw=data,
        store=Path(schema.store),
        base_run=schema.base_run,
        catalog=Path(d.catalog),
        markets=tuple(markets),
        start_ns=start_ns,
        end_ns=end_ns,
        folds=tuple(folds),
        label=label,
        embargo_bars=embargo,
        families=families,
        strategy_space=strategy,
        search=SearchSettings(
            search.method,
            search.trials,
            search.metric,
            search.seed,
            search.batch or DEFAULT_OPTUNA_BATCH,
        ),
        seeds=tuple(schema.seeds),
        costs=CostModel(
            msgspec.structs.asdict(costs.commission), msgspec.structs.asdict(costs.fills)
        ),
        retries=schema.execution.retries,
        run_timeout_s=schema.execution.run_timeout_s,
        trades_window=trades_window,
    )


def _check_run_count(
    folds: int,
    markets: int,
    families: Sequence[FamilySpace],
    strategy: Mapping[str, Sequence[Any] | ParamRange],
    search: SearchSection,
    seeds: int,
    max_runs: int,
) -> None:
    """Refuse a grid (or an Optuna budget) that plans more than ``execution.max_runs`` runs:
    counted without enumerating it (a grid of a million trials takes minutes and gigabytes to
    plan, and was only found out after Ray had started)."""
    from nautilus_ai.experiments.plan import SEEDED_FAMILIES

    strategy_grid = math.prod(len(v) for v in strategy.values() if not isinstance(v, ParamRange))
    trials = 0
    runs = folds * markets  # the rule baseline on every fold and market
    for family in families:
        per_market = (search.trials or 0) if search.method == "optuna" else (
            family.grid_size() * strategy_grid
        )  # fmt: skip
        trials += per_market * markets
        runs += per_market * markets * folds * (seeds if family.family in SEEDED_FAMILIES else 1)
    if runs > max_runs:
        where = "search.trials" if search.method == "optuna" else "the grid"
        raise ConfigFieldError(
            ("execution", "max_runs"),
            f"{where} plans {runs:,} runs ({folds} folds x {trials:,} trials x seeds + "
            f"{folds * markets} baselines), more than max_runs allows: narrow the candidate "
            "lists (or search.method optuna with fewer trials), or raise execution.max_runs",
            received=max_runs,
        )


_MONEY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+([A-Z]{3})\s*$")


def _check_commission_minimum(minimum: str, markets: Sequence[Market]) -> None:
    """``"<amount> <currency>"`` in the quote currency of every market: the fee model charges the
    minimum only in the instrument's quote currency, and skipped any other without a word (and
    a malformed amount failed every run of the experiment, after its models were trained)."""
    path = ("costs", "commission", "minimum")
    match = _MONEY.match(minimum)
    if match is None:
        raise ConfigFieldError(path, "expected an amount and a currency like '2.00 USD'",
                               received=minimum)  # fmt: skip
    currency = match.group(2)
    for market in markets:
        symbol = market.instrument_id.rsplit(".", 1)[0]
        quote = symbol.split("/")[1] if symbol.count("/") == 1 else None
        if quote is not None and quote != currency:
            raise ConfigFieldError(
                path,
                f"is in {currency}, but {market.instrument_id} is quoted in {quote}: the "
                f"minimum would never be charged (give it in {quote})",
                received=minimum,
            )


def _date(text: str, path: KeyPath) -> int:
    try:
        return to_ns(text)
    except (ValueError, TypeError) as exc:
        raise ConfigFieldError(path, str(exc), received=text) from None


# ------------------------------------------------------------------------- parameter spaces

#: Family parameters the experiment sets itself (seeds, threads, the threshold's signal rate).
_SET_BY_EXPERIMENT = {
    "seed": "set the seeds in `seeds`",
    "threads": "one thread per run (the runs are the parallelism)",
    "target_signal_rate": "give the threshold as strategy.min_confidence {signal_rate: ...}",
    "calibrate": "always calibrated on the validation window",
    "name": "named by the experiment",
    "kind": "the family says it",
    "path": "the experiment builds the memory per fold",
    "catalog_path": "the experiment builds the memory per fold",
    "index": "the stored index is used",
}


def family_config_class(family: str) -> Any:
    """The pydantic model a family's parameters belong to (imported lazily)."""
    if family == "mlp":
        from nautilus_ai.training.config import TrainConfig

        return TrainConfig
    if family == "lightgbm":
        from nautilus_ai.training.gbt import GBTConfig

        return GBTConfig
    if family == "rule":
        from nautilus_ai.models.rule import RuleConfig

        return RuleConfig
    from nautilus_ai.models.pattern_memory import PatternMemoryConfig

    return PatternMemoryConfig


def validate_family_params(family: str, params: Mapping[str, Any], path: KeyPath) -> None:
    """Build the family's config with ``params`` (errors name the key path)."""
    from pydantic import ValidationError

    cls = family_config_class(family)
    extra: dict[str, Any] = {}
    if family == "pattern_memory":
        extra = {"path": "."}
    try:
        cls(**extra, **params)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [p for p in error.get("loc", ()) if isinstance(p, str | int)]
        message = str(error.get("msg", exc)).removeprefix("Value error, ")
        where = (*path, *loc[:1]) if loc else path
        received = params.get(str(loc[0])) if loc and loc[0] in params else params
        raise ConfigFieldError(where, message, received=received) from None


def _family_space(section: FamilySection, path: KeyPath, method: str) -> FamilySpace:
    cls = family_config_class(section.family)
    known = set(cls.model_fields)
    space: dict[str, Sequence[Any] | ParamRange] = {}
    for name, candidates in section.params.items():
        where = (*path, "params", name)
        if name in _SET_BY_EXPERIMENT and name in known:
            raise ConfigFieldError(where, f"cannot be searched: {_SET_BY_EXPERIMENT[name]}")
        if name not in known:
            suggestion = nearest(name, sorted(known - set(_SET_BY_EXPERIMENT)))
            raise ConfigFieldError(
                where, f"unknown {section.family} parameter", suggestion=suggestion
            )
        space[name] = _candidates(candidates, where, method)
        values = _range_values(candidates) if isinstance(candidates, ParamRange) else candidates
        for j, value in enumerate(values):
            spot = (
                (*where, j)
                if not isinstance(candidates, ParamRange)
                else (*where, ("low", "high", "step")[j])
            )
            try:
                validate_family_params(section.family, {name: _json_value(value)}, ())
            except ConfigFieldError as exc:
                stepped = isinstance(candidates, ParamRange) and spot[-1] == "step"
                shown = candidates.step if stepped else value  # type: ignore[union-attr]
                raise ConfigFieldError(spot, exc.problem, received=shown) from None
    return FamilySpace(section.family, space)


def _candidates(value: Any, path: KeyPath, method: str) -> Sequence[Any] | ParamRange:
    if isinstance(value, ParamRange):
        if method != "optuna":
            raise ConfigFieldError(
                path, "a {low, high} range needs search.method optuna (a grid needs a list)"
            )
        if not value.low < value.high:
            raise ConfigFieldError(path, "low must be below high", received=[value.low, value.high])
        if value.log and value.low <= 0:
            raise ConfigFieldError(path, "a log range needs low > 0", received=value.low)
        if value.log and value.step is not None:
            raise ConfigFieldError(path, "a log range takes no step", received=value.step)
        return value
    if not value:
        raise ConfigFieldError(path, "needs at least one candidate", received=value)
    plain = [_json_value(v) for v in value]
    if len({json.dumps(v, sort_keys=True) for v in plain}) != len(plain):
        raise ConfigFieldError(path, "lists a candidate twice", received=value)
    return plain


def _range_values(value: ParamRange) -> list[Any]:
    """Values a range can give, to check against the setting's type: its ends, and with a
    ``step`` the first value after ``low`` (a float step gives floats)."""
    values: list[Any] = [value.low, value.high]
    if value.step is not None:
        values.append(value.low + value.step)
    return values


def _json_value(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.asdict(value)
    if isinstance(value, str):
        return str(value)
    return value


_STRATEGY_FIELDS = (
    "min_confidence", "stop_loss_atr", "take_profit_atr", "max_holding_bars", "sizing",
    "reverse_on_opposite", "exit_on_hold",
)  # fmt: skip


def _strategy_space(
    section: StrategySection, method: str
) -> Mapping[str, Sequence[Any] | ParamRange]:
    from nautilus_ai.strategies.ai_pattern import AIPatternConfig

    space: dict[str, Sequence[Any] | ParamRange] = {}
    for name in _STRATEGY_FIELDS:
        value = getattr(section, name)
        if value is None:
            continue
        where: KeyPath = ("strategy", name)
        space[name] = _candidates(value, where, method)
        values = _range_values(value) if isinstance(value, ParamRange) else value
        for j, candidate in enumerate(values):
            if isinstance(candidate, SignalRate):
                continue
            spot = (
                (*where, j)
                if not isinstance(value, ParamRange)
                else (*where, ("low", "high", "step")[j])
            )
            config = {
                "instrument_id": "EUR/USD.SIM",
                "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
                name: _json_value(candidate),
            }
            try:
                check(config, AIPatternConfig)
            except ConfigFieldError as exc:
                inner = exc.path[1:] if exc.path and exc.path[0] == name else ()
                stepped = isinstance(value, ParamRange) and spot[-1] == "step"
                raise ConfigFieldError(
                    (*spot, *inner),
                    exc.problem,
                    received=value.step if stepped else exc.received,  # type: ignore[union-attr]
                    suggestion=exc.suggestion,
                ) from None
    return space
