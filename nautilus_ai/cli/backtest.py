"""``nautilus-ai backtest CONFIG`` and ``nautilus-ai demo``."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    backtest = subparsers.add_parser(
        "backtest",
        help="run a BacktestNode run file (YAML/JSON) and print its summary",
        description="Run a backtest file: a Nautilus BacktestRunConfig plus name, sample and "
        "report_dir; ${VAR} and ${VAR:-default} are read from the environment. The file is "
        "checked strictly before anything runs (exit 2 naming the key path). Exit 1 when the "
        "run failed: a strategy did not start, stopped early, raised, had no bars, could not "
        "trade or its model failed; --json carries 'status' and 'reasons'.",
    )
    backtest.add_argument("config", help="run file (.yaml, .yml or .json), or a packaged name "
                          "such as 'demo'")  # fmt: skip
    backtest.add_argument("--json", action="store_true", help="print the summary as JSON")
    backtest.add_argument(
        "--check",
        action="store_true",
        help="check the run file and what it points at (catalogs, instruments, bar types, "
        "venues), run nothing, then exit",
    )
    backtest.add_argument("--no-report", action="store_true", help="do not write a report folder")
    backtest.set_defaults(handler=_backtest)

    demo = subparsers.add_parser(
        "demo",
        help="the closed loop on real EUR/USD bars: rule backtest with decision logging -> "
        "train the MLP -> out-of-sample backtests vs the rule model and buy & hold -> report",
        description="Import six months of real EUR/USD M1 bars, backtest the rule model on "
        "Jan-Jun while logging every decision to the catalog, train the MLP from the logged "
        "features on Jan-Apr, backtest it, the rule model and buy & hold on May-Jun (out of "
        "sample), and write a report folder with plots.",
    )
    demo.add_argument("--data-dir", help="market data folder (default: $NAUTILUS_AI_DATA or "
                      "../shared/data)")  # fmt: skip
    demo.add_argument("--catalog", help="catalog folder (default: $NAUTILUS_AI_CATALOG or "
                      "catalogs/demo)")  # fmt: skip
    demo.add_argument("--reports", help="reports folder (default: $NAUTILUS_AI_REPORTS or "
                      "reports)")  # fmt: skip
    demo.add_argument("--artifacts", help="model artifacts root (default: artifacts)")
    demo.add_argument("--config", default="demo", help="base run file for the backtests "
                      "(default: the packaged demo)")  # fmt: skip
    demo.add_argument("--no-experiment", action="store_true", help="skip the last step, the "
                      "small walk-forward experiment (backtests/experiment_demo.yaml)")  # fmt: skip
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(handler=_demo)


def resolve_packaged(name: str, package: str, what: str) -> Path:
    """A path as given, or a file packaged in ``package`` (``name`` with or without suffix).

    Raises ``CliError`` naming ``what`` (``"run file"``) when it is neither.
    """
    path = Path(name)
    if path.exists():
        return path
    packaged = resources.files(package)
    # The README's spelling, `backtests/demo.yaml` (the checkout's folder), names the packaged
    # file too, so the documented commands work after `pip install` outside the checkout.
    folder = package.rsplit(".", 1)[-1]
    local = len(path.parts) == 2 and path.parts[0] == folder
    stem = path.name if local else name
    for suffix in ("", ".yaml", ".yml", ".json"):
        candidate = packaged / f"{stem}{suffix}"
        if candidate.is_file():
            if local:
                print(f"nautilus-ai: no {name} here; using the packaged {what} {candidate}",
                      file=sys.stderr)  # fmt: skip
            return Path(str(candidate))
    raise CliError(f"{what} {name!r} not found (neither a path nor a packaged {what})")


def resolve_run_file(name: str) -> Path:
    """A path as given, or a run file packaged in ``nautilus_ai.backtests`` (``demo``)."""
    return resolve_packaged(name, "nautilus_ai.backtests", "run file")


def _backtest(args: argparse.Namespace) -> int:
    from nautilus_ai.backtest.config import ConfigError, load_run_file
    from nautilus_ai.backtest.runner import run_backtest

    try:
        run_file = load_run_file(resolve_run_file(args.config))
        if args.check:
            from nautilus_ai.backtest.data_check import check_run_data
            from nautilus_ai.backtest.preflight import check_report_dir, preflight

            preflight(run_file)
            check_run_data(run_file)
            if not args.no_report:
                check_report_dir(run_file)
            models = _check_predictors(run_file)
            strategies = run_file.run.engine.strategies if run_file.run.engine else []
            if args.json:
                checked = {
                    "status": "ok", "checked": str(run_file.path), "name": run_file.name,
                    "sample": run_file.sample, "data_configs": len(run_file.run.data),
                    "strategies": len(strategies), "models": models, "ran": False,
                }  # fmt: skip
                print(json.dumps(checked, indent=2))
                return 0
            listed = f", model(s) built: {', '.join(models)}" if models else ""
            print(
                f"{run_file.path}: OK - {run_file.name} [{run_file.sample}], "
                f"{len(run_file.run.data)} data config(s), {len(strategies)} strategy(ies)"
                f"{listed}; nothing was run"
            )
            return 0
        outcome = run_backtest(run_file, write=not args.no_report)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    _print(outcome, as_json=args.json)
    if not outcome.ok:
        print(f"nautilus-ai: error: backtest failed: {'; '.join(outcome.reasons)}", file=sys.stderr)
        return 1
    return 0


def _check_predictors(run_file: Any) -> list[str]:
    """Build each strategy and its predictor as ``on_start`` will (a model that cannot be built
    stops the strategy before its first bar, and the run fails); the models' ids.

    Raises ``CliError`` naming the strategy's ``predictor`` key path.
    """
    from nautilus_trader.trading.config import StrategyFactory

    from nautilus_ai.strategies.ai_pattern_control import build_as_on_start

    built_ids = []
    for index, importable in enumerate(
        run_file.run.engine.strategies if run_file.run.engine else []
    ):
        try:
            built = build_as_on_start(StrategyFactory.create(importable), importable.config)
        except Exception as exc:  # what on_start would meet: any error stops the strategy
            raise CliError(
                f"{run_file.path}: run.engine.strategies[{index}].config.predictor: cannot be "
                f"built: {type(exc).__name__}: {' '.join(str(exc).split())}"
            ) from None
        if built is not None:
            built_ids.append(built.model_id)
            built.close()
    return built_ids


def _demo(args: argparse.Namespace) -> int:
    from nautilus_ai.backtest.config import ConfigError, load_run_file
    from nautilus_ai.workflows.demo import DemoCatalogError, run_closed_loop

    try:
        base = load_run_file(resolve_run_file(args.config))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = run_closed_loop(
            args.catalog,
            args.data_dir,
            reports_dir=args.reports,
            artifacts_dir=args.artifacts,
            base_run_file=base,
            progress=progress,
        )
    except (FileNotFoundError, ConfigError, DemoCatalogError) as exc:
        raise CliError(str(exc)) from exc
    experiment = None if args.no_experiment else _demo_experiment(result, args, progress)
    if args.json:
        summary = dict(result.summary)
        if experiment is not None:
            summary["experiment"] = {"report": str(experiment.report), "ok": experiment.ok,
                                     "summary": experiment.summary_text()}  # fmt: skip
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(result.brief)
        if experiment is not None:
            print(experiment.summary_text())
    for failure in result.failures:
        print(f"nautilus-ai: error: demo: out-of-sample backtest failed: {failure}",
              file=sys.stderr)  # fmt: skip
    if result.failures:
        return 1
    if experiment is not None and not experiment.ok:
        print("nautilus-ai: error: demo: some runs of the walk-forward experiment failed (above)",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _demo_experiment(result: Any, args: argparse.Namespace, progress: Any) -> Any:
    """The demo's last step: a small walk-forward experiment on the demo catalog."""
    from nautilus_ai.paths import default_catalog_dir
    from nautilus_ai.workflows.demo import run_demo_experiment

    progress("[experiment] A small walk-forward experiment (LightGBM, pattern memory, rule; "
             "3 folds) on Ray ...")  # fmt: skip
    return run_demo_experiment(default_catalog_dir(args.catalog), progress=progress)


def _print(outcome: Any, *, as_json: bool) -> None:
    from nautilus_ai.reporting import format_summary

    if as_json:
        data = outcome.summary.to_dict()
        data["report_dir"] = str(outcome.report_dir) if outcome.report_dir else None
        data.update(outcome.status_dict())
        print(json.dumps(data, indent=2))
        return
    print(format_summary(outcome.summary))
    print(f"  status: {outcome.status}")
    for reason in outcome.reasons:
        print(f"    FAILED {reason}")
    for note in outcome.notes:
        print(f"    note: {note}")
    if outcome.report_dir is not None:
        print(f"  report: {outcome.report_dir}")
