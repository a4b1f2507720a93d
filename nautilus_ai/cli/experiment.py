"""``nautilus-ai experiment run|list|show|best|compare|report``: walk-forward experiments and
the results library."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]

#: The results library when ``--store`` is not given (experiment files default to the same).
STORE_ENV = "NAUTILUS_AI_RESULTS"


def register(subparsers: Any) -> None:
    experiment = subparsers.add_parser(
        "experiment",
        help="walk-forward experiments and parameter sweeps on Ray, and the results library",
        description="Run an experiment file (data, walk-forward folds, model families and their "
        "parameter spaces, a strategy grid, seeds, costs): every fold x trial a Ray task, every "
        "run stored in a Parquet results library, then honest out-of-sample statistics and a "
        "report. Re-running skips the runs already stored.",
    )
    verbs = experiment.add_subparsers(dest="experiment_command", metavar="VERB")

    run = verbs.add_parser("run", help="run (or resume) an experiment file")
    run.add_argument("file", help="experiment YAML / JSON")
    run.add_argument("--address", help="a Ray cluster to run on (host:port or 'auto'; default: "
                     "start Ray on this machine with its cores)")  # fmt: skip
    run.add_argument("--workers", type=int, help="local Ray worker processes (default: cores)")
    run.add_argument("--in-process", action="store_true",
                     help="no Ray: run one after another in this process (debugging)")  # fmt: skip
    run.add_argument("--store", help="results library folder (default: the file's `store`)")
    run.add_argument("--no-report", action="store_true", help="skip the report")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.set_defaults(handler=_library(_run))

    for name, text in (("list", "experiments in the results library"),):
        listing = verbs.add_parser(name, help=text)
        _store_argument(listing)
        listing.add_argument("--json", action="store_true")
        listing.set_defaults(handler=_library(_list))

    show = verbs.add_parser("show", help="one experiment: folds, trials, runs, failures")
    show.add_argument("name")
    _store_argument(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_library(_show))

    best = verbs.add_parser("best", help="an experiment's trials ranked (out-of-sample, stitched)")
    best.add_argument("name")
    _store_argument(best)
    best.add_argument("--metric", choices=("sharpe", "return_pct", "pnl"),
                      help="rank by (default: the experiment's search.metric)")  # fmt: skip
    best.add_argument("--top", type=int, default=5)
    best.add_argument("--family", help="only this model family")
    best.add_argument("--json", action="store_true")
    best.set_defaults(handler=_library(_best))

    compare = verbs.add_parser("compare", help="experiments side by side (best trial and "
                               "baselines of each)")  # fmt: skip
    compare.add_argument("names", nargs="+")
    _store_argument(compare)
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=_library(_compare))

    report = verbs.add_parser("report", help="(re)write an experiment's report from the library")
    report.add_argument("file", help="the experiment file")
    report.add_argument("--store", help="results library folder (default: the file's `store`)")
    report.set_defaults(handler=_library(_report))


def _library(handler: Any) -> Any:
    """``handler`` with an unreadable library file reported in one line (exit 2)."""

    def run(args: argparse.Namespace) -> int:
        from nautilus_ai.experiments.store import ResultsStoreError

        try:
            return int(handler(args))
        except ResultsStoreError as exc:
            raise CliError(str(exc)) from None

    return run


def _store_argument(parser: argparse.ArgumentParser) -> None:
    import os

    parser.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV) or "results",
        help=f"results library folder (default: ${STORE_ENV} or results)",
    )


def _load(path: str, store: str | None) -> Any:
    import dataclasses

    from nautilus_ai.experiments.config import ExperimentConfigError, load_experiment

    try:
        experiment = load_experiment(path)
    except ExperimentConfigError as exc:
        raise CliError(str(exc)) from None
    if store:
        experiment = dataclasses.replace(experiment, store=Path(store))
    return experiment


def _run(args: argparse.Namespace) -> int:
    from nautilus_ai.experiments.config import ExperimentConfigError
    from nautilus_ai.experiments.execution import MissingExtraError
    from nautilus_ai.experiments.runner import run_experiment
    from nautilus_ai.experiments.store import ResultsStoreError

    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    if args.in_process and (args.address or args.workers):
        raise CliError("--in-process runs without Ray: leave out --address / --workers")
    experiment = _load(args.file, args.store)
    try:
        outcome = run_experiment(
            experiment, address=args.address, workers=args.workers, in_process=args.in_process,
            write_report=not args.no_report,
            progress=(lambda _line: None) if args.quiet else _print_flush,
        )  # fmt: skip
    except (ExperimentConfigError, MissingExtraError, ConnectionError,
            ResultsStoreError) as exc:  # fmt: skip
        raise CliError(" ".join(str(exc).split())) from None
    print(outcome.summary_text())
    if not outcome.ok:
        print(
            f"nautilus-ai: error: experiment {experiment.name}: {outcome.stats.failed} of "
            f"{outcome.runs} runs failed after {experiment.retries} retr"
            f"{'y' if experiment.retries == 1 else 'ies'} (listed above and in the report); the "
            "others are stored: run it again to retry the failed ones",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_flush(line: str) -> None:
    print(line, flush=True)


def _store(args: argparse.Namespace) -> Any:
    from nautilus_ai.experiments.store import ResultsStore

    root = Path(args.store)
    if not root.is_dir():
        raise CliError(f"--store {root}: no results library there (run an experiment first)")
    return ResultsStore(root)


def _require(store: Any, name: str) -> None:
    if name not in store.experiments():
        from nautilus_ai.config_check import nearest

        known = store.experiments()
        hint = nearest(name, known)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        raise CliError(
            f"no experiment {name!r} in {store.root} (known: {', '.join(known) or 'none'})"
            f"{suggestion}"
        )


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = []
    for name in store.experiments():
        manifest = store.manifest(name) or {}
        stored = store.stored_keys(name)
        planned = manifest.get("runs", [])
        rows.append({
            "name": name, "status": manifest.get("status", "?"),
            "updated_at": manifest.get("updated_at"), "folds": len(manifest.get("folds", [])),
            "trials": len(manifest.get("trials", {})), "runs_planned": len(planned),
            "runs_stored": len(stored & set(planned)) if planned else len(stored),
            "failures": len(store.failures(name)),
            # a cut-short run file counts as not stored (the next run recomputes it): say so,
            # or '2/3 runs' read as a run that never ran
            "runs_unreadable": len(store.unreadable_runs(name)),
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no experiments in {store.root}")
        return 0
    print(f"{'experiment':<32}{'folds':>6}{'trials':>8}{'runs':>12}{'failed':>8}  status")
    for r in rows:
        runs = f"{r['runs_stored']}/{r['runs_planned']}"
        unreadable = r["runs_unreadable"]
        note = (
            f"; {unreadable} run file{'s' if unreadable > 1 else ''} unreadable (experiment "
            "show names them; running the file again recomputes them)"
            if unreadable
            else ""
        )
        print(f"{r['name']:<32}{r['folds']:>6}{r['trials']:>8}{runs:>12}{r['failures']:>8}  "
              f"{r['status']} ({r['updated_at']}){note}")  # fmt: skip
    return 0


def _analysis(store: Any, name: str, metric: str | None = None) -> tuple[Any, dict[str, Any]]:
    from nautilus_ai.experiments.analysis import analyse
    from nautilus_ai.experiments.tasks import hold_key

    manifest = store.manifest(name) or {}
    keys = manifest.get("runs")
    table = store.table(name, keys=(keys + [hold_key(k) for k in keys]) if keys else None)
    folds = [f["index"] for f in manifest.get("folds", [])] or None
    return analyse(table, experiment=name, metric=metric or manifest.get("metric", "sharpe"),
                   folds=folds), manifest  # fmt: skip


def _trial_dict(t: Any, metric: str) -> dict[str, Any]:
    value = t.metric(metric)
    return {
        "trial": t.label, "trial_id": t.trial_id, "family": t.family, "role": t.role,
        "model_params": t.model_params, "strategy_params": t.strategy_params,
        "seeds": t.seeds, "folds": t.folds, metric: value if math.isfinite(value) else None,
        "sharpe": t.sharpe.mean if t.sharpe is not None else None,
        "sharpe_std_over_seeds": t.sharpe.std if t.sharpe is not None else None,
        "return_pct": t.return_pct.mean, "pnl": t.pnl.mean, "trades": t.trades,
        "win_rate": t.win_rate if math.isfinite(t.win_rate) else None,
        "max_drawdown_pct": t.max_drawdown_pct, "gross": t.gross, "commission": t.commission,
        "spread_cost": t.spread_cost,
    }  # fmt: skip


def _show(args: argparse.Namespace) -> int:
    store = _store(args)
    _require(store, args.name)
    analysis, manifest = _analysis(store, args.name)
    failures = store.failures(args.name)
    stored = store.stored_keys(args.name)
    planned = manifest.get("runs", [])
    info = {
        "name": args.name, "status": manifest.get("status"), "file": manifest.get("file"),
        "catalog": manifest.get("catalog"), "code_version": manifest.get("code_version"),
        "folds": manifest.get("folds", []), "trials": len(manifest.get("trials", {})),
        "runs_planned": len(planned), "runs_stored": len(stored & set(planned)),
        "failures": failures, "metric": analysis.metric,
        "best": _trial_dict(analysis.best, analysis.metric) if analysis.best else None,
        "baselines": {k: _trial_dict(v, analysis.metric) for k, v in analysis.baselines.items()},
        "deflated_sharpe": analysis.dsr.dsr if analysis.dsr else None,
        "pbo": analysis.pbo.pbo if analysis.pbo else None,
        "report": str(store.report_dir(args.name) / "report.md"),
    }  # fmt: skip
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"experiment {args.name} ({info['status']}), catalog {info['catalog']}, code "
          f"{info['code_version']}")  # fmt: skip
    for f in info["folds"]:
        print(f"  fold {f['index']}: train {f['train']['start'][:10]}..{f['train']['end'][:10]}, "
              f"validation ..{f['validation']['end'][:10]}, test [OUT-OF-SAMPLE] "
              f"{f['test']['start'][:10]}..{f['test']['end'][:10]}")  # fmt: skip
    print(f"  {info['trials']} trials, {info['runs_stored']}/{info['runs_planned']} runs stored, "
          f"{len(failures)} failed")  # fmt: skip
    if analysis.best is not None:
        b = info["best"]
        print(
            f"  best by {analysis.metric}: {b['trial']} ({b['family']}) return "
            f"{b['return_pct']:+.2f}%, Sharpe {_num(b['sharpe'])}, {b['trades']} trades"
        )
    for name, base in sorted(info["baselines"].items()):
        print(f"  baseline {name}: return {base['return_pct']:+.2f}%, {base['trades']} trades")
    if info["deflated_sharpe"] is not None:
        print(f"  deflated Sharpe ratio {info['deflated_sharpe']:.3f}; PBO {_num(info['pbo'], 3)}")
    for f in failures:
        print(f"  FAILED {f['run']}: {'; '.join(f['reasons'])}")
    print(f"  report: {info['report']}")
    return 0


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _best(args: argparse.Namespace) -> int:
    store = _store(args)
    _require(store, args.name)
    analysis, _ = _analysis(store, args.name, args.metric)
    if args.top < 1:
        raise CliError(f"--top must be >= 1, got {args.top}")
    families = sorted({t.family for t in analysis.trials})
    if args.family is not None and families and args.family not in families:
        raise CliError(
            f"--family {args.family}: no such trial in experiment {args.name} (its families: "
            f"{', '.join(families)})"
        )
    trials = [t for t in analysis.ranked() if args.family in (None, t.family)]
    rows = [_trial_dict(t, analysis.metric) for t in trials[: args.top]]
    if not rows:  # with --json too: an empty list with exit 0 reads as "nothing to rank"
        raise CliError(f"experiment {args.name}: no trial completed every fold")
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{args.name}: best {len(rows)} of {len(trials)} trials by {analysis.metric} "
          "(OUT-OF-SAMPLE, stitched; selected on these results: see the DSR / PBO)")  # fmt: skip
    for rank, r in enumerate(rows, start=1):
        params = ", ".join(f"{k}={v}" for k, v in {**r["model_params"],
                                                   **r["strategy_params"]}.items())  # fmt: skip
        print(f"  {rank}. {r['trial']:<14} Sharpe {_num(r['sharpe']):>7}  return "
              f"{r['return_pct']:+7.2f}%  trades {r['trades']:>5}  {params}")  # fmt: skip
    return 0


def _compare(args: argparse.Namespace) -> int:
    store = _store(args)
    out = []
    for name in args.names:
        _require(store, name)
        analysis, manifest = _analysis(store, name)
        out.append({
            "name": name, "folds": len(manifest.get("folds", [])),
            "trials": len(analysis.trials), "metric": analysis.metric,
            "best": _trial_dict(analysis.best, analysis.metric) if analysis.best else None,
            "baselines": {k: _trial_dict(v, analysis.metric)
                          for k, v in analysis.baselines.items()},
            "deflated_sharpe": analysis.dsr.dsr if analysis.dsr else None,
            "pbo": analysis.pbo.pbo if analysis.pbo else None,
        })  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"{'experiment':<28}{'folds':>6}{'trials':>7}  {'best':<14}{'return':>9}{'Sharpe':>8}"
          f"{'trades':>7}{'DSR':>7}{'PBO':>7}{'rule':>9}{'b&h':>9}")  # fmt: skip
    for r in out:
        b = r["best"] or {}
        base = r["baselines"]
        rule = base.get("rule", {}).get("return_pct")
        hold = base.get("buy_and_hold", {}).get("return_pct")
        print(f"{r['name']:<28}{r['folds']:>6}{r['trials']:>7}  {b.get('trial', '-'):<14}"
              f"{_pct(b.get('return_pct')):>9}{_num(b.get('sharpe')):>8}{b.get('trades', 0):>7}"
              f"{_num(r['deflated_sharpe'], 3):>7}{_num(r['pbo'], 3):>7}{_pct(rule):>9}"
              f"{_pct(hold):>9}")  # fmt: skip
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"


def _report(args: argparse.Namespace) -> int:
    from nautilus_ai.experiments.analysis import analyse
    from nautilus_ai.experiments.experiment_report import write_experiment_report
    from nautilus_ai.experiments.store import ResultsStore
    from nautilus_ai.experiments.tasks import hold_key

    experiment = _load(args.file, args.store)
    store = ResultsStore(experiment.store)
    manifest = store.manifest(experiment.name)
    if manifest is None:
        raise CliError(f"experiment {experiment.name} has not run in {store.root} (run it first)")
    folds = [{"index": f.index, **f.to_dict()} for f in experiment.folds]
    if manifest.get("folds") != folds:  # the report would put its runs under other windows
        raise CliError(
            f"{args.file}: its folds differ from those experiment {experiment.name} last ran on "
            f"in {store.root} (from {manifest.get('file')}); run it first: nautilus-ai "
            f"experiment run {args.file}"
        )
    keys = manifest["runs"]
    table = store.table(experiment.name, keys=keys + [hold_key(k) for k in keys])
    analysis = analyse(table, experiment=experiment.name, metric=experiment.search.metric,
                       folds=[f.index for f in experiment.folds])  # fmt: skip
    path = write_experiment_report(store, experiment, analysis)
    print(f"wrote {path}")
    return 0
