"""Run an experiment end to end: plan -> execute (Ray) -> store -> statistics -> report.

>>> from nautilus_ai.experiments import load_experiment, run_experiment
>>> outcome = run_experiment(load_experiment("backtests/experiment_demo.yaml"))
>>> outcome.report            # results/experiments/demo-walk-forward/report/report.md
>>> outcome.analysis.best, outcome.analysis.dsr, outcome.analysis.pbo

Re-running the same experiment skips every run already in the results library (same key:
config, data and code) and only runs the rest, after a crash or a SIGKILL too.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from nautilus_ai.experiments.analysis import ExperimentAnalysis, analyse
from nautilus_ai.experiments.config import Experiment, ExperimentConfigError
from nautilus_ai.experiments.execution import ExecutionStats, RaySession, execute_runs
from nautilus_ai.experiments.plan import (
    Trial,
    baseline_runs,
    code_version,
    data_fingerprint,
    grid_trials,
    runs_for_trials,
)
from nautilus_ai.experiments.store import RESULT_COLUMNS, ResultsStore
from nautilus_ai.timefmt import utc_seconds

__all__ = ["ExperimentOutcome", "load_base_run", "run_experiment"]

Progress = Callable[[str], None]


@dataclass
class ExperimentOutcome:
    """What :func:`run_experiment` did and found."""

    experiment: Experiment
    store: ResultsStore
    stats: ExecutionStats
    analysis: ExperimentAnalysis
    report: Path | None
    trials: int
    runs: int
    backend: str

    @property
    def ok(self) -> bool:
        """Every planned run is stored (none failed)."""
        return self.stats.failed == 0

    def summary_text(self) -> str:
        s = self.stats
        a = self.analysis
        lines = [
            f"experiment {self.experiment.name}: {len(self.experiment.folds)} folds, "
            f"{self.trials} trials, {self.runs} runs ({s.skipped} already stored, {s.ran} run, "
            f"{s.failed} failed) on {self.backend} in {s.seconds:.0f} s",
        ]
        if a.best is not None:
            best = a.best
            sharpe = best.sharpe.text(".2f") if best.sharpe is not None else "n/a"
            lines.append(
                f"  best [OUT-OF-SAMPLE, stitched over {len(best.folds)} folds] {best.label} "
                f"({best.family}): Sharpe {sharpe}, return {best.return_pct.mean:+.2f}%, "
                f"{best.trades} trades"
            )
            for name, base in sorted(a.baselines.items()):
                lines.append(
                    f"  baseline {name}: return {base.return_pct.mean:+.2f}%, {base.trades} trades"
                )
        if a.dsr is not None:
            lines.append(f"  deflated Sharpe ratio {a.dsr.dsr:.3f} ({a.dsr_note})")
        if a.pbo is not None:
            lines.append(f"  probability of backtest overfitting {a.pbo.pbo:.3f} ({a.pbo_note})")
        for what, reason in s.failures[:10]:
            lines.append(f"  FAILED {what}: {reason}")
        if self.report is not None:
            lines.append(f"  report: {self.report}")
        return "\n".join(lines)


def load_base_run(name: str, relative_to: Path | None = None) -> dict[str, Any]:
    """The base run file's content (checked strictly): a packaged name (``demo``) or a path
    (relative to the experiment file's folder)."""
    from nautilus_ai.backtest.config import ConfigError, load_run_file

    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml", ".json"):
        if not candidate.is_absolute() and relative_to is not None:
            candidate = relative_to / candidate
        path = candidate
    else:
        path = Path(str(resources.files("nautilus_ai.backtests") / f"{name}.yaml"))
        if not path.is_file():
            raise ExperimentConfigError(
                f"base_run: no packaged run file {name!r} (a name like 'demo', or a path to a "
                "run file)"
            )
    try:
        run_file = load_run_file(path)
    except ConfigError as exc:
        raise ExperimentConfigError(f"base_run: {exc}") from None
    raw = json.loads(json.dumps(run_file.raw, default=str))
    _refuse_absolute_schedule(raw, path)
    return _normalised_base(raw)


def _refuse_absolute_schedule(raw: Mapping[str, Any], path: Path) -> None:
    """A base run whose controller has a control schedule: its entries are absolute times,
    and every fold backtests another test window, so an entry lands inside at most one fold's
    window; in the later folds it is already due at their first bar (a pause then holds the whole
    fold, flat, status ok) and in the earlier ones it never runs (each run fails)."""
    controller = raw.get("run", {}).get("engine", {}).get("controller")
    config = controller.get("config") if isinstance(controller, Mapping) else None
    schedule = config.get("schedule") if isinstance(config, Mapping) else None
    if schedule:
        raise ExperimentConfigError(
            f"base_run {path}: run.engine.controller.config.schedule has {len(schedule)} "
            "command(s) at absolute times; an experiment backtests each fold on its own test "
            "window, so a schedule cannot apply to every fold (a command due before a fold's "
            "window would apply at its first bar, one due after it would never run): remove "
            "the schedule from the base run"
        )


def _normalised_base(raw: dict[str, Any]) -> dict[str, Any]:
    """The base run without what every run replaces (names, folders, catalog, window), so the
    run keys do not change with them."""
    base = copy.deepcopy(raw)
    for key in ("name", "sample", "report_dir", "description"):
        base.pop(key, None)
    for data in base["run"].get("data", []):
        for key in ("catalog_path", "start_time", "end_time", "instrument_id", "bar_types"):
            data.pop(key, None)
    strategies = base["run"].get("engine", {}).get("strategies", [])
    if not strategies:
        raise ExperimentConfigError("base_run: the run file has no strategy to vary")
    for strategy in strategies:
        config = strategy.get("config", {})
        for key in ("catalog_path", "feature_log", "instrument_id", "bar_type", "predictor"):
            config.pop(key, None)
    return base


def _progress_none(_line: str) -> None:
    return None


def run_experiment(
    experiment: Experiment,
    *,
    address: str | None = None,
    workers: int | None = None,
    in_process: bool = False,
    write_report: bool = True,
    progress: Progress = print,
) -> ExperimentOutcome:
    """Run every planned run not yet stored, then analyse and report (see the module doc).

    Raises
    ------
    ExperimentConfigError
        The catalog or a bar type is missing, or the base run file is invalid.
    ExperimentBusyError
        Another live driver is running this experiment into the same results library.
    MissingExtraError
        Ray (or Optuna) is needed and not installed.
    """
    started = time.perf_counter()
    store = ResultsStore(experiment.store)
    relative = experiment.path.parent if experiment.path is not None else None
    try:
        base = load_base_run(experiment.base_run, relative)
    except ExperimentConfigError as exc:  # name the experiment file, as every other check does
        raise ExperimentConfigError(f"{experiment.where}: {exc}") from None
    _check_data(experiment)
    with store.running(experiment.name):
        _check_one_file_per_name(experiment, store)
        return _run_checked(experiment, store, base, started, address=address, workers=workers,
                            in_process=in_process, write_report=write_report,
                            progress=progress)  # fmt: skip


def _run_checked(
    experiment: Experiment,
    store: ResultsStore,
    base: dict[str, Any],
    started: float,
    *,
    address: str | None,
    workers: int | None,
    in_process: bool,
    write_report: bool,
    progress: Progress,
) -> ExperimentOutcome:
    """:func:`run_experiment` once the file is checked and the experiment is this driver's."""
    code = code_version()
    data = {
        m.bar_type: data_fingerprint(experiment.catalog, m.bar_type, experiment.end_ns)
        for m in experiment.markets
    }
    session = None if in_process else RaySession(address, workers)
    backend = "this process" if session is None else (
        f"Ray ({session.cpus} CPUs, {session.address})"
    )  # fmt: skip
    try:
        stats = ExecutionStats()
        baselines = baseline_runs(experiment, base, data, code)

        def execute(runs: list[Any]) -> ExecutionStats:
            return execute_runs(
                runs, store, data=data, code=code, session=session, retries=experiment.retries,
                timeout_s=experiment.run_timeout_s, progress=progress,
            )  # fmt: skip

        if experiment.search.method == "grid":
            trials = grid_trials(experiment)
            runs = runs_for_trials(experiment, trials, base, data, code)
            planned = baselines + runs
            _write_manifest(store, experiment, trials, planned, code, data, "running")
            stored = store.stored_keys(experiment.name)
            progress(
                f"experiment {experiment.name}: {len(experiment.folds)} folds x "
                f"{len(trials)} trials x seeds + {len(baselines)} baseline runs = "
                f"{len(planned)} runs, {sum(r.key in stored for r in planned)} already stored; "
                f"running on {backend}"
            )
            stats.add(execute(planned))
        else:
            from nautilus_ai.experiments.search import optuna_search

            progress(
                f"experiment {experiment.name}: optuna, {experiment.search.trials} trials per "
                f"family over {len(experiment.folds)} folds; running on {backend}"
            )
            stats.add(execute(baselines))
            planned = list(baselines)

            def evaluate(batch: list[Trial]) -> Mapping[str, float | None]:
                runs = runs_for_trials(experiment, batch, base, data, code)
                planned.extend(runs)
                stats.add(execute(runs))
                table = store.table(experiment.name, keys=[r.key for r in runs])
                found = analyse(table, experiment=experiment.name,
                                metric=experiment.search.metric,
                                folds=[f.index for f in experiment.folds])  # fmt: skip
                return {t.trial_id: t.metric(experiment.search.metric) for t in found.trials}

            trials = optuna_search(experiment, evaluate, batch_size=experiment.search.batch,
                                   progress=progress)  # fmt: skip
            # a trial Optuna proposed again (same parameters) is the same runs: plan them once
            planned = list({r.key: r for r in planned}.values())
            _write_manifest(store, experiment, trials, planned, code, data, "running")
        keys = [r.key for r in planned]
        table = store.table(experiment.name, keys=_with_holds(keys))
        analysis = analyse(
            table, experiment=experiment.name, metric=experiment.search.metric,
            folds=[f.index for f in experiment.folds], seed=experiment.search.seed,
        )  # fmt: skip
        report = None
        if write_report:
            from nautilus_ai.experiments.experiment_report import write_experiment_report

            progress("writing the report ...")
            report = write_experiment_report(store, experiment, analysis)
        status = "complete" if stats.failed == 0 else f"{stats.failed} runs failed"
        _write_manifest(store, experiment, trials, planned, code, data, status,
                        seconds=time.perf_counter() - started)  # fmt: skip
    finally:
        if session is not None:
            session.close()
    stats.seconds = time.perf_counter() - started
    unique_trials = len({t.trial_id for t in trials})
    return ExperimentOutcome(experiment, store, stats, analysis, report, unique_trials,
                             len(planned), backend)  # fmt: skip


def _with_holds(keys: list[str]) -> list[str]:
    from nautilus_ai.experiments.tasks import hold_key

    return keys + [hold_key(k) for k in keys]


def _check_data(experiment: Experiment) -> None:
    catalog = experiment.catalog
    where = experiment.where
    if not catalog.is_dir():
        raise ExperimentConfigError(f"{where}: data.catalog: no catalog at {catalog}")
    from nautilus_ai.data.catalog import read_bars

    for i, market in enumerate(experiment.markets):
        try:
            bars = read_bars(catalog, market.bar_type, start_ns=experiment.start_ns,
                             end_ns=experiment.end_ns - 1)  # fmt: skip
        except FileNotFoundError:
            raise ExperimentConfigError(
                f"{where}: data.bar_types[{i}]: no {market.bar_type} bars in {catalog}"
            ) from None
        if bars.ts_event.size == 0:
            raise ExperimentConfigError(
                f"{where}: data: no {market.bar_type} bars between data.start and data.end"
            )
        last_test = experiment.folds[-1].test
        assert last_test is not None
        if int(bars.ts_event[-1]) < last_test.start_ns:
            raise ExperimentConfigError(
                f"{where}: data: the bars end before the last fold's test window "
                f"{last_test} (shorten data.end or the windows)"
            )
        first, last = int(bars.ts_event.min()), int(bars.ts_event.max())
        _check_fold_windows(experiment, market.bar_type, first, last)


def _check_fold_windows(experiment: Experiment, bar_type: str, first: int, last: int) -> None:
    """No fold window lies outside the catalog's bars: one before its first bar (data.start
    too early) failed each of its runs one by one, after Ray had started. A window in a gap
    inside the data (a weekend) is left to its runs, which fail naming it. ``first`` / ``last``:
    the bar times the data window holds (UTC ns)."""
    for number, fold in enumerate(experiment.folds, start=1):
        for name, window in fold.windows():
            if first < window.end_ns and window.start_ns <= last:
                continue
            raise ExperimentConfigError(
                f"{experiment.where}: walk_forward: fold {number}'s {name} window ({window}) "
                f"is outside the catalog's {bar_type} bars ({utc_seconds(first)} to "
                f"{utc_seconds(last)}): move data.start or change the windows"
            )


def _check_one_file_per_name(experiment: Experiment, store: ResultsStore) -> None:
    """Refuse a second experiment file with a name already run into ``store`` from another file
    that still exists: its plan would replace the first's manifest and report (the first's
    runs stay stored, but its report and its ``best`` / ``show`` would read the second's
    plan). The same file edited, or a file moved (the old path gone), runs as before.
    """
    if experiment.path is None:
        return
    stored = (store.manifest(experiment.name) or {}).get("file")
    if not stored:
        return
    other = Path(stored)
    if not other.is_file() or os.path.samefile(other, experiment.path):
        return
    raise ExperimentConfigError(
        f"{experiment.where}: experiment {experiment.name!r} in {store.root} was run from "
        f"another file, {other}; running this one would replace its manifest and report: give "
        "this file another name: (or store:)"
    )


def _write_manifest(
    store: ResultsStore,
    experiment: Experiment,
    trials: list[Trial],
    planned: list[Any],
    code: str,
    data: Mapping[str, str],
    status: str,
    seconds: float | None = None,
) -> None:
    manifest = {
        "name": experiment.name,
        "description": experiment.description,
        "status": status,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": seconds,
        "file": str(experiment.path.resolve()) if experiment.path is not None else None,
        "config": experiment.raw,
        "metric": experiment.search.metric,
        "method": experiment.search.method,
        "catalog": str(experiment.catalog),
        "folds": [{"index": f.index, **f.to_dict()} for f in experiment.folds],
        "trials": {
            t.trial_id: {
                "label": t.label,
                "family": t.family,
                "model": dict(t.model_params),
                "strategy": dict(t.strategy_params),
                "market": t.market.bar_type,
            }
            for t in trials
        },
        "runs": [r.key for r in planned],
        "code_version": code,
        "data_fingerprints": dict(data),
        "columns": list(RESULT_COLUMNS),
    }
    store.write_manifest(experiment.name, manifest)
