"""The demo: six months of real EUR/USD 1-minute bars in a catalog, the closed loop over them
(:func:`run_closed_loop`: log decisions -> train -> out-of-sample backtests -> report), and a
small walk-forward experiment to end with (:func:`run_demo_experiment`).

HistData M1 files carry bid prices only. Nautilus' bar execution needs bid and ask bars to make
a market, so the demo adds an ask series at a fixed spread (``DEMO_SPREAD_PIPS``): a stated
modelling assumption, not data. The bid bars stay exactly as HistData published them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nautilus_ai.paths import default_catalog_dir, shared_data_dir
from nautilus_ai.reporting import new_report_folder

__all__ = [
    "DEMO_BAR_TYPE",
    "DEMO_EXPERIMENT",
    "DEMO_INSTRUMENT_ID",
    "DEMO_MLP_SIZING",
    "DEMO_MODEL_NAME",
    "DEMO_SPREAD_PIPS",
    "DEMO_TEST",
    "DEMO_TRAIN",
    "DEMO_VALIDATION",
    "ClosedLoopResult",
    "DemoCatalogError",
    "demo_files",
    "ensure_demo_catalog",
    "run_closed_loop",
    "run_demo_experiment",
]

DEMO_INSTRUMENT_ID = "EUR/USD.SIM"
DEMO_BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
DEMO_SPREAD_PIPS = 0.3  # typical EUR/USD ECN spread in liquid hours; wider overnight in reality


def demo_files(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The six HistData EUR/USD M1 2017 files, in order."""
    folder = shared_data_dir(data_dir) / "histdata"
    files = sorted(folder.glob("DAT_ASCII_EURUSD_M1_2017*.csv"))
    if not files:
        raise FileNotFoundError(f"no DAT_ASCII_EURUSD_M1_2017*.csv files in {folder}")
    return files


class DemoCatalogError(ValueError):
    """The catalog already holds bars that the demo's import contradicts; nothing was written.

    The message names the catalog, the series and the two ways out (another catalog, or a
    replacing import), instead of the importer's ``--on-conflict`` advice, a flag (and an
    ``on_conflict=`` argument) that ``nautilus-ai demo`` / :func:`ensure_demo_catalog` lack.
    """


def ensure_demo_catalog(
    catalog: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[Path, Any]:
    """Import the demo bars into ``catalog`` (idempotent) and return ``(path, import summary)``.

    Raises
    ------
    DemoCatalogError
        ``catalog`` holds bars at the demo's timestamps with other values (e.g. an ASK series
        imported at another spread); nothing was written.
    """
    from nautilus_ai.data import WriteConflictError, import_histdata_m1

    path = default_catalog_dir(catalog)
    try:
        summary = import_histdata_m1(
            demo_files(data_dir),
            path,
            instrument_id=DEMO_INSTRUMENT_ID,
            ask_spread_pips=DEMO_SPREAD_PIPS,
        )
    except WriteConflictError as exc:
        series = ", ".join(
            f"{r.identifier} ({r.conflicts:,} timestamps)" for r in exc.results if r.conflicts
        )
        raise DemoCatalogError(
            f"catalog {path} already holds bars that the demo's import contradicts: {series}; "
            "nothing was written. The demo imports HistData EUR/USD M1 2017 with a "
            f"{DEMO_SPREAD_PIPS:g} pip ASK spread: point it at another catalog (--catalog, "
            "$NAUTILUS_AI_CATALOG, or ensure_demo_catalog(catalog=...)), or replace the stored "
            "bars with `nautilus-ai data import histdata-m1 <the six 2017 files> "
            f"--ask-spread-pips {DEMO_SPREAD_PIPS:g} --on-conflict replace --catalog {path}`"
        ) from None
    return path, summary


# ---------------------------------------------------------------------------------------------
# The closed loop: log -> train -> out-of-sample backtest -> report
# ---------------------------------------------------------------------------------------------

#: Demo windows (UTC, half-open): fit on Jan - 9 Apr, select / calibrate on 10 - 30 Apr, and
#: judge on May - Jun, which nothing in training has seen.
DEMO_TRAIN = ("2017-01-01", "2017-04-10")
DEMO_VALIDATION = ("2017-04-10", "2017-05-01")
DEMO_TEST = ("2017-05-01", "2017-07-01")
DEMO_MODEL_NAME = "demo-mlp-eurusd"


@dataclass
class ClosedLoopResult:
    """What :func:`run_closed_loop` produced (paths and the key figures)."""

    report_dir: Path
    #: None when no model was trained (a core install without the torch extra).
    artifact_path: Path | None
    run_id: str
    summary: dict[str, Any]
    text: str
    brief: str
    #: The out-of-sample runs the runner said failed (one line each; the report shows them).
    failures: tuple[str, ...] = ()


def run_closed_loop(
    catalog: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    reports_dir: str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    base_run_file: Any = None,
    progress: Callable[[str], None] = print,
) -> ClosedLoopResult:
    """Import -> backtest the rule model on Jan-Jun while logging every decision -> train the
    MLP from the logged features on Jan-Apr -> backtest it, the rule model and buy & hold on
    May-Jun (out of sample) -> a report folder with plots. Returns the figures and paths.

    ``base_run_file`` (a :class:`~nautilus_ai.backtest.config.RunFile`; default the packaged
    ``demo.yaml``) gives the venue, fees, fill model and strategy settings of every backtest.
    """
    import json
    import time
    from datetime import UTC, datetime

    from nautilus_ai.catalog.reader import read_outcomes, read_snapshots
    from nautilus_ai.datasets import Fold, Window
    from nautilus_ai.labels import LabelSpec
    from nautilus_ai.paths import default_reports_dir, repo_root
    from nautilus_ai.reporting import format_summary, plot_equity
    from nautilus_ai.training import TrainConfig
    from nautilus_ai.training.report import plot_reliability, plot_training_history
    from nautilus_ai.workflows.oos import (
        OosComparison,
        compare_out_of_sample,
        packaged_run_file,
        run_window,
        suggested_min_confidence,
        window_run_file,
    )

    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    progress("[1/4] Importing the real EUR/USD M1 bars (HistData 2017-01..06) ...")
    catalog_path, imported = ensure_demo_catalog(catalog, data_dir)
    progress(f"      catalog {catalog_path}: {imported.to_text().splitlines()[0]}")
    # The report folder only once the data is in: a refused import leaves no empty report.
    reports = default_reports_dir(reports_dir)
    report_dir = new_report_folder(reports, f"closed-loop-{stamp}")
    artifacts = Path(artifacts_dir) if artifacts_dir else repo_root() / "artifacts"
    run_id = f"demo-rule-{stamp}"

    progress("[2/4] Backtesting the rule model on Jan-Jun 2017, logging every decision ...")
    base = base_run_file if base_run_file is not None else packaged_run_file("demo")
    logged_file = window_run_file(
        base,
        name="rule-jan-jun-logged",
        sample="in-sample",
        catalog_path=catalog_path,
        report_dir=report_dir / "backtests",
        strategy_overrides={
            "feature_log": {"catalog_path": str(catalog_path), "run_id": run_id},
        },
        description="rule model, Jan-Jun 2017, every decision logged as FeatureSnapshot",
    )
    # Training reads this run's logged decisions: a failed run stops the demo here.
    rule_full = run_window(logged_file, "rule model (Jan-Jun)").raise_if_failed()
    snapshots = read_snapshots(catalog_path, run_id)
    outcomes = read_outcomes(catalog_path, run_id)
    progress(format_summary(rule_full.summary))
    progress(
        f"      logged {len(snapshots):,} FeatureSnapshots and {outcomes.num_rows:,} "
        f"DecisionOutcomes (run {run_id})"
    )

    from nautilus_ai.extras import extra_installed, install_hint

    if not extra_installed("torch"):
        # A core install (no torch) cannot fit the MLP: say so once and stop after the logged run.
        progress(
            f"[3/4] Training SKIPPED: the MLP needs the 'torch' extra ({install_hint('torch')}); "
            "no model trained, no out-of-sample comparison"
        )
        return _rule_only_result(report_dir, run_id, rule_full, len(snapshots), outcomes.num_rows,
                                 started)  # fmt: skip

    from nautilus_ai.training import train_model

    progress("[3/4] Training the MLP on Jan-Apr from the logged features ...")
    fold = Fold(
        train=Window.parse(*DEMO_TRAIN),
        validation=Window.parse(*DEMO_VALIDATION),
        test=Window.parse(*DEMO_TEST),
    )
    label = LabelSpec(
        horizon=30, buy_threshold=1.5, sell_threshold=1.5, spread_pips=DEMO_SPREAD_PIPS
    )
    comparisons: list[OosComparison] = []

    def evaluate(staged: Path) -> dict[str, Any]:
        progress("[4/4] Backtesting trained MLP, rule model and buy & hold on May-Jun (OOS) ...")
        assert fold.test is not None
        comparison = compare_out_of_sample(
            staged,
            catalog_path,
            fold.test,
            report_dir=report_dir / "backtests",
            base=base,
            min_confidence=suggested_min_confidence(staged),
            sizing_overrides=DEMO_MLP_SIZING,
        )
        comparisons.append(comparison)
        return comparison.to_dict()

    result = train_model(
        catalog_path,
        bar_type=DEMO_BAR_TYPE,
        fold=fold,
        label=label,
        config=TrainConfig(),
        source="snapshots",
        run_id=run_id,
        artifacts_root=artifacts,
        name=DEMO_MODEL_NAME,
        description="closed-loop demo MLP (no proven edge)",
        oos_evaluator=evaluate,
        progress=lambda line: progress(f"      {line}"),
    )
    comparison = comparisons[0]
    progress(result.summary_text())
    progress(comparison.table_text())

    curves = {run.label: run.equity for run in comparison.runs.values()}
    bar_ts = comparison.runs["trained"].bar_ts
    plot_equity(
        report_dir / "equity_oos.png",
        bar_ts,
        curves,
        f"OUT-OF-SAMPLE {comparison.window}: trained MLP vs rule vs buy & hold",
    )
    plot_reliability(
        report_dir / "reliability.png",
        result.trained.reliability,
        f"{result.model_id}: reliability before / after temperature scaling "
        f"(T = {result.trained.temperature:.3f})",
    )
    plot_training_history(
        report_dir / "training.png",
        result.trained.metrics["training"]["history"],
        f"{result.model_id}: training curve (best epoch {result.trained.fit.best_epoch})",
    )
    summary = {
        "report_dir": str(report_dir),
        "artifact": str(result.artifact_path),
        "model_id": result.model_id,
        "feature_log_run_id": run_id,
        "snapshots_logged": len(snapshots),
        "outcomes_logged": outcomes.num_rows,
        "windows": {
            "train": fold.train.to_dict(),
            "validation": fold.validation.to_dict(),  # type: ignore[union-attr]
            "test": fold.test.to_dict(),  # type: ignore[union-attr]
        },
        "label": label.to_dict(),
        "classification": {
            split: {
                "sample": "out-of-sample" if split == "test" else "in-sample",
                **{k: result.trained.metrics[split][k] for k in _HEADLINE_METRICS},
            }
            for split in ("train", "validation", "test")
        },
        "calibration": result.trained.metrics["calibration"],
        "decision": result.trained.metrics.get("decision"),
        "backtest_in_sample_rule_jan_jun": rule_full.summary.to_dict(),
        "backtest_in_sample_rule_report": str(rule_full.report_dir),
        "backtest_out_of_sample": comparison.to_dict(),
        "elapsed_s": time.perf_counter() - started,
    }
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    text = _closed_loop_text(summary, result.summary_text(), comparison.table_text())
    (report_dir / "report.md").write_text(text)
    brief = _closed_loop_brief(summary, comparison.table_text())
    return ClosedLoopResult(report_dir, result.artifact_path, run_id, summary, text, brief,
                            tuple(comparison.failures))  # fmt: skip


_HEADLINE_METRICS = ("rows", "accuracy", "macro_f1", "brier", "ece")


def _rule_only_result(
    report_dir: Path,
    run_id: str,
    rule_full: Any,
    snapshots: int,
    outcomes: int,
    started: float,
) -> ClosedLoopResult:
    """The demo's result without training: the logged in-sample rule run only."""
    import json
    import time

    from nautilus_ai.extras import install_hint

    rule = rule_full.summary.to_dict()
    skipped = f"training skipped: the MLP needs the 'torch' extra ({install_hint('torch')})"
    summary = {
        "report_dir": str(report_dir),
        "artifact": None,
        "training": skipped,
        "feature_log_run_id": run_id,
        "snapshots_logged": snapshots,
        "outcomes_logged": outcomes,
        "backtest_in_sample_rule_jan_jun": rule,
        "backtest_in_sample_rule_report": str(rule_full.report_dir),
        "elapsed_s": time.perf_counter() - started,
    }
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    brief = "\n".join(
        [
            "nautilus-ai closed-loop demo (no proven edge; real EUR/USD M1 2017, 0.3 pip spread "
            "assumed)",
            f"  [in-sample]      rule model Jan-Jun: {rule['trades']:,} trades, win rate "
            f"{_percent(rule['win_rate'])}, PnL {rule['pnl']:,.2f} {rule['currency']} "
            f"({rule['return_pct']:+.2f}%), {_number(rule['bars_per_s'], 0)} bars/s",
            f"                   report {rule_full.report_dir}",
            f"                   {snapshots:,} decisions + {outcomes:,} outcomes logged "
            f"(run {run_id})",
            f"  {skipped}",
            f"  report: {report_dir}",
        ]
    )
    (report_dir / "report.md").write_text(
        "# nautilus-ai closed-loop demo\n\nNo proven edge.\n\n```\n" + brief + "\n```\n"
    )
    return ClosedLoopResult(report_dir, None, run_id, summary, brief, brief)


#: Sizing of the trained model's OOS run. A 3-class softmax spreads its mass: even its most
#: confident calls have a normalised entropy (the risk score) near 0.9, which the default
#: ``risk_weight`` of 1 would shrink to nothing. Stated in the report.
DEMO_MLP_SIZING: dict[str, Any] = {"risk_weight": 0.5}


def _closed_loop_brief(summary: dict[str, Any], oos: str) -> str:
    rule = summary["backtest_in_sample_rule_jan_jun"]
    cls = summary["classification"]
    cal = summary["calibration"]
    w = summary["windows"]
    tr, te = cls["train"], cls["test"]
    return "\n".join(
        [
            "nautilus-ai closed-loop demo (no proven edge; real EUR/USD M1 2017, 0.3 pip spread "
            "assumed)",
            f"  [in-sample]      rule model Jan-Jun: {rule['trades']:,} trades, win rate "
            f"{_percent(rule['win_rate'])}, PnL {rule['pnl']:,.2f} {rule['currency']} "
            f"({rule['return_pct']:+.2f}%), Sharpe {_number(rule['sharpe'])}, max drawdown "
            f"{_number(rule['max_drawdown_pct'])}%, {_number(rule['bars_per_s'], 0)} bars/s",
            f"                   report {summary['backtest_in_sample_rule_report']} "
            "(stats.json, equity.png, trades.csv)",
            f"                   {summary['snapshots_logged']:,} decisions + "
            f"{summary['outcomes_logged']:,} outcomes logged (run {summary['feature_log_run_id']})",
            f"  model            {summary['model_id']} -> {summary['artifact']}",
            f"  windows          train {w['train']['start'][:10]}..{w['train']['end'][:10]}, "
            f"validation ..{w['validation']['end'][:10]} (in-sample); test "
            f"{w['test']['start'][:10]}..{w['test']['end'][:10]} (OUT-OF-SAMPLE)",
            f"  classification   train [in-sample] acc {100 * tr['accuracy']:.1f}% macro-F1 "
            f"{tr['macro_f1']:.3f} | test [OUT-OF-SAMPLE] acc {100 * te['accuracy']:.1f}% "
            f"macro-F1 {te['macro_f1']:.3f} (chance ~33%)",
            f"  calibration      temperature {cal['temperature']:.3f}; test ECE "
            f"{cal.get('test_ece_before', float('nan')):.4f} -> "
            f"{cal.get('test_ece_after', float('nan')):.4f}",
            *("  " + line for line in oos.splitlines()),
            f"  elapsed {summary['elapsed_s']:.0f} s",
            f"  report: {summary['report_dir']}",
        ]
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, decimals: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def _closed_loop_text(summary: dict[str, Any], training: str, oos: str) -> str:
    w = summary["windows"]
    cls = summary["classification"]
    rule = summary["backtest_in_sample_rule_jan_jun"]
    decision = summary.get("decision") or {}
    lines = [
        "# nautilus-ai closed-loop demo",
        "",
        "No proven edge: this is a framework demonstration on six months of real EUR/USD 1-minute",
        "bars (HistData bid prices; the ask is bid + a constant 0.3 pip spread, a modelling",
        "assumption).",
        "",
        "## What is in-sample and what is out-of-sample",
        "",
        f"* Training window (in-sample): {w['train']['start']} .. {w['train']['end']}",
        f"* Validation window (in-sample: early stopping, temperature, confidence threshold): "
        f"{w['validation']['start']} .. {w['validation']['end']}",
        f"* Test window (OUT-OF-SAMPLE: never used to fit or choose anything): "
        f"{w['test']['start']} .. {w['test']['end']}",
        f"* The rule model's Jan-Jun run that produced the training features is labelled "
        f"in-sample ({rule['trades']} trades, PnL {rule['pnl']:,.2f} {rule['currency']}).",
        "",
        "## Classification (calibrated probabilities)",
        "",
        "| split | sample | rows | accuracy | macro F1 | Brier | ECE |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for split, m in cls.items():
        lines.append(
            f"| {split} | {m['sample']} | {m['rows']:,} | {100 * m['accuracy']:.1f}% | "
            f"{m['macro_f1']:.3f} | {m['brier']:.4f} | {m['ece']:.4f} |"
        )
    cal = summary["calibration"]
    lines += [
        "",
        f"Temperature {cal['temperature']:.3f} (fitted on validation). ECE before -> after: "
        f"validation {cal.get('validation_ece_before', float('nan')):.4f} -> "
        f"{cal.get('validation_ece_after', float('nan')):.4f}, test "
        f"{cal.get('test_ece_before', float('nan')):.4f} -> "
        f"{cal.get('test_ece_after', float('nan')):.4f}. Chance accuracy is about 33%.",
        "",
        f"Trading threshold min_confidence {decision.get('min_confidence', float('nan')):.3f}, "
        f"chosen on validation for a {100 * decision.get('target_signal_rate', 0):.0f}% signal "
        f"rate; the MLP's run uses sizing overrides {DEMO_MLP_SIZING} (same venue, fees, fills).",
        "",
        "## Backtests on the out-of-sample window (real BacktestNode runs)",
        "",
        "```",
        oos,
        "```",
        "",
        "## Training output",
        "",
        "```",
        training,
        "```",
        "",
        "Files: equity_oos.png (equity curves, OOS), reliability.png (calibration),",
        "training.png (loss curves), summary.json, backtests/ (each run's own report).",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The last step: a small walk-forward experiment (nautilus_ai.experiments)
# ---------------------------------------------------------------------------------------------

#: The packaged experiment ``make demo`` ends with (``backtests/experiment_demo.yaml``).
DEMO_EXPERIMENT = "experiment_demo.yaml"


def run_demo_experiment(
    catalog: str | os.PathLike[str],
    *,
    store: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] = print,
) -> Any:
    """Run the packaged demo experiment on ``catalog`` (its store: ``store``, or the file's
    ``${NAUTILUS_AI_RESULTS:-results}``) on Ray, or in this process when the ``experiments``
    extra is not installed (said in one line). Runs already stored are skipped. Returns the
    :class:`~nautilus_ai.experiments.runner.ExperimentOutcome`."""
    import dataclasses
    import importlib.util
    from importlib import resources

    from nautilus_ai.experiments.config import load_experiment
    from nautilus_ai.experiments.runner import run_experiment

    path = Path(str(resources.files("nautilus_ai.backtests") / DEMO_EXPERIMENT))
    experiment = dataclasses.replace(load_experiment(path), catalog=Path(catalog))
    if store is not None:
        experiment = dataclasses.replace(experiment, store=Path(store))
    in_process = importlib.util.find_spec("ray") is None
    if in_process:
        progress(
            "      Ray is not installed (the optional 'experiments' extra: pip install "
            "'nautilus-ai[experiments]'): running the experiment in this process"
        )
    return run_experiment(experiment, in_process=in_process, progress=progress)
