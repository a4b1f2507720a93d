"""The experiment's report: Markdown + PNGs a trader reads, from the results library.

Every picture is drawn by :mod:`nautilus_ai.experiments.report` over arrays read here; every
number comes from :mod:`nautilus_ai.experiments.analysis`. Out-of-sample only: each run's test
window, stitched across folds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nautilus_ai.experiments.analysis import (
    METRICS,
    NS_PER_DAY,
    ExperimentAnalysis,
    StitchedCurve,
    TrialSummary,
)
from nautilus_ai.experiments.config import Experiment
from nautilus_ai.experiments.report import (
    ReportSection,
    TradeMarks,
    plot_confidence_vs_pnl,
    plot_cost_split,
    plot_equity_drawdown,
    plot_monthly_returns,
    plot_parameter_sensitivity,
    plot_pnl_distribution,
    plot_rolling_sharpe,
    plot_trades_on_price,
    selection_table_markdown,
    write_markdown_report,
)
from nautilus_ai.experiments.store import ResultsStore

__all__ = ["write_experiment_report"]


def _iso(ns: Any) -> str:
    if ns is None:
        return "?"
    value = ns.value if hasattr(ns, "value") else ns
    if hasattr(value, "timestamp"):
        return str(value.strftime("%Y-%m-%d"))
    return str(np.datetime64(int(value), "ns").astype("datetime64[D]"))


def _mean_curve(trial: TrialSummary) -> StitchedCurve:
    curves = list(trial.curves.values())
    if len(curves) == 1:
        return curves[0]
    ts = curves[0].ts
    same = [c for c in curves if c.ts.size == ts.size and np.array_equal(c.ts, ts)]
    equity = np.mean([c.equity for c in same], axis=0)
    return StitchedCurve(ts, equity, curves[0].fold_starts, curves[0].starting)


def _settings(trial: TrialSummary) -> dict[str, str]:
    out = {f"{k}": _short(v) for k, v in trial.model_params.items()}
    out.update({k: _short(v) for k, v in trial.strategy_params.items()})
    return out


def _shared_settings(trials: Sequence[TrialSummary]) -> dict[str, str]:
    """Settings every trial has with the same value (said once, not in every row)."""
    if not trials:
        return {}
    common = dict(_settings(trials[0]))
    for t in trials[1:]:
        mine = _settings(t)
        common = {k: v for k, v in common.items() if mine.get(k) == v}
    return common if len(trials) > 1 else {}


def _params_text(trial: TrialSummary, shared: dict[str, str] | None = None) -> str:
    shared = shared or {}
    parts = [f"{k}={v}" for k, v in sorted(_settings(trial).items()) if k not in shared]
    return ", ".join(parts) or "shared settings"


def _short(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"signal_rate"}:
        return f"validation@{value['signal_rate']:g}"
    if isinstance(value, float):
        return f"{value:g}"
    return (
        json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else str(value)
    )


def _fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:{spec}}"


def write_experiment_report(
    store: ResultsStore, experiment: Experiment, analysis: ExperimentAnalysis
) -> Path:
    """``<store>/experiments/<name>/report/report.md`` and its pictures; returns the path."""
    folder = store.report_dir(experiment.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    best = analysis.best
    sections: list[ReportSection] = []
    failures = store.failures(experiment.name)
    preface = _preface(experiment, analysis, failures)
    if best is None:
        sections.append(ReportSection("No result", "No trial completed every fold; see below."))
        sections += _failure_sections(failures)
        return write_markdown_report(folder, f"{experiment.name}: walk-forward experiment",
                                     sections, preface=preface)  # fmt: skip
    curve = _mean_curve(best)
    currency = "USD"
    label = f"{best.label} [OUT-OF-SAMPLE, stitched]"
    baselines = {
        f"{name.replace('_', ' ')} (same folds)": _mean_curve(trial).equity
        for name, trial in sorted(analysis.baselines.items())
        if _mean_curve(trial).ts.size == curve.ts.size
    }
    if curve.ts.size:
        baselines["flat"] = np.full(curve.ts.size, curve.starting)
    fold_labels = [f"fold {i}" for i in best.folds]
    images: dict[str, Path] = {}
    images["equity"] = plot_equity_drawdown(
        folder / "equity.png", curve.ts, curve.equity, title=f"{label} equity",
        fold_starts=curve.fold_starts, fold_labels=fold_labels, baselines=baselines,
        currency=currency,
    )  # fmt: skip
    sections.append(ReportSection("Stitched out-of-sample equity and drawdown",
                                  _headline_table(analysis), images["equity"]))  # fmt: skip
    sections.append(ReportSection("Per fold", _fold_table(analysis)))
    sections.append(ReportSection("Seeds", _seed_text(best)))
    sections.append(ReportSection("Leaderboard (selected on these out-of-sample results)",
                                  _leaderboard(analysis)))  # fmt: skip
    sections.append(ReportSection("Is the best trial luck? Deflated Sharpe and PBO",
                                  _selection_text(analysis)))  # fmt: skip
    sections.append(ReportSection("Uncertainty (stationary bootstrap)", _interval_table(analysis)))
    marks = _marks(analysis)
    window = experiment.trades_window or (_busiest_day(marks) if marks is not None else None)
    if marks is not None and window is not None:
        ts, ohlc = _bars(experiment, best, window)
        if ts.size:
            day = np.datetime64(window[0], "ns").astype("datetime64[D]")
            images["trades"] = plot_trades_on_price(
                folder / "trades.png", ts, ohlc, marks, window=window,
                title=f"{best.label} trades, {day} (out-of-sample)",
            )  # fmt: skip
            sections.append(ReportSection("Trades on the price chart", "", images["trades"]))
    if curve.ts.size:
        images["monthly"] = plot_monthly_returns(
            folder / "monthly.png", curve.ts, curve.equity,
            title=f"{label}: monthly returns (test windows only)",
        )  # fmt: skip
        sections.append(ReportSection("Monthly returns", "", images["monthly"]))
        images["rolling"] = plot_rolling_sharpe(
            folder / "rolling_sharpe.png", curve.ts, curve.equity, title=label,
            window_days=min(20, max(5, len(curve.daily()[0]) // 3)),
        )  # fmt: skip
        sections.append(ReportSection("Rolling Sharpe", "", images["rolling"]))
    split = analysis.split
    if split is not None and len(split):
        t = split.totals()
        images["pnl"] = plot_pnl_distribution(
            folder / "pnl.png", split.net, title=label, currency=currency,
            cost_per_trade=t["commission_per_trade"] + t["spread_per_trade"],
        )  # fmt: skip
        sections.append(ReportSection("PnL per trade", "", images["pnl"]))
        trades = analysis.best_trades
        if trades is not None:
            confidence = np.asarray(trades.column("confidence").to_pylist(), dtype=np.float64)
            if np.isfinite(confidence).sum() >= 6:
                keep = np.isfinite(confidence)
                images["confidence"] = plot_confidence_vs_pnl(
                    folder / "confidence.png", confidence[keep], split.net[keep],
                    title=f"{label}: confidence at entry vs realised PnL", currency=currency,
                )  # fmt: skip
                sections.append(ReportSection("Does confidence pay?", "", images["confidence"]))
        images["costs"] = plot_cost_split(folder / "costs.png", split, title=label,
                                          currency=currency)  # fmt: skip
        sections.append(ReportSection(
            "Where the PnL goes",
            f"{split.verdict(currency)}. Totals over every fold and seed: gross "
            f"{t['gross']:+,.2f}, commission {t['commission']:,.2f}, spread "
            f"{t['spread']:,.2f}, net {t['net']:+,.2f} {currency}.",
            images["costs"],
        ))  # fmt: skip
    sensitivity = _sensitivity(folder, analysis, best)
    if sensitivity is not None:
        sections.append(sensitivity)
    sections += _failure_sections(failures)
    sections.append(ReportSection("The data behind this page", _query_text(store, experiment)))
    return write_markdown_report(
        folder, f"{experiment.name}: walk-forward experiment (out-of-sample)", sections,
        preface=preface,
    )  # fmt: skip


def _preface(experiment: Experiment, analysis: ExperimentAnalysis, failures: Sequence[Any]) -> str:
    folds = experiment.folds
    first, last = folds[0], folds[-1]
    assert first.test is not None and last.test is not None
    lines = [
        f"**OUT-OF-SAMPLE.** {len(folds)} walk-forward folds; every model was fitted on its "
        "fold's training window, calibrated (and its threshold chosen) on the validation "
        f"window, and backtested on the test window that follows: {_iso(first.test.start_ns)} "
        f"to {_iso(last.test.end_ns)}, stitched. Labels purged at each window's end, an "
        f"embargo of {experiment.embargo_bars} bars after each boundary.",
        "",
        f"{len(analysis.trials)} trials completed every fold ({experiment.search.method} "
        f"search; seeds {list(experiment.seeds)}); ranked by {METRICS[analysis.metric]}. The "
        "best was chosen on these same out-of-sample results: that is selection, so its "
        "figures are flattered - the deflated Sharpe ratio and the PBO below say by how much.",
        "",
        f"Costs: commission {experiment.costs.commission['bps']} bps (minimum "
        f"{experiment.costs.commission['minimum']}) per fill, the bid / ask spread of the "
        "bars, depth-aware fills. No proven edge: read the intervals before the headline.",
    ]
    if failures:
        lines += ["", f"**{len(failures)} runs failed** (listed at the end); trials missing a "
                  "fold are left out of the statistics."]  # fmt: skip
    return "\n".join(lines)


def _headline_table(analysis: ExperimentAnalysis) -> str:
    rows = [
        "| | return | Sharpe (ann.) | max drawdown | trades | net PnL |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    best = analysis.best
    assert best is not None
    entries = [(f"**{best.label}** ({_params_text(best, _shared_settings(analysis.trials))})",
                best)]  # fmt: skip
    entries += [(f"{name.replace('_', ' ')} (baseline)", t)
                for name, t in sorted(analysis.baselines.items())]  # fmt: skip
    for name, t in entries:
        sharpe = (
            t.sharpe.text(".2f")
            if t.sharpe is not None and t.sharpe.n > 1
            else _fmt(t.sharpe.mean if t.sharpe else None)
        )
        rows.append(
            f"| {name} | {t.return_pct.mean:+.2f}% | {sharpe} | -{t.max_drawdown_pct:.2f}% | "
            f"{t.trades} | {t.pnl.mean:+,.2f} |"
        )
    rows.append("| flat (baseline) | +0.00% | n/a | 0.00% | 0 | +0.00 |")
    return "\n".join(rows)


def _fold_table(analysis: ExperimentAnalysis) -> str:
    best = analysis.best
    assert best is not None
    base = {name: {r["fold"]: r for r in t.per_fold} for name, t in analysis.baselines.items()}
    names = sorted(base)
    head = (
        "| fold | test window | "
        + " | ".join(
            ["best: PnL (mean over seeds)", "trades", "threshold"] + [f"{n} PnL" for n in names]
        )
        + " |"
    )
    rows = [head, "|" + "---|" * (5 + len(names))]
    for fold in best.folds:
        runs = [r for r in best.per_fold if r["fold"] == fold]
        pnl = np.mean([r["pnl"] or 0.0 for r in runs])
        trades = np.mean([r["trades"] or 0 for r in runs])
        threshold = np.mean([r["min_confidence"] or 0.0 for r in runs])
        window = f"{_iso(runs[0]['test_start'])} .. {_iso(runs[0]['test_end'])}"
        cells = [f"{pnl:+,.2f}", f"{trades:.0f}", f"{threshold:.3f}"]
        cells += [f"{(base[n].get(fold) or {}).get('pnl') or 0.0:+,.2f}" for n in names]
        rows.append(f"| {fold} | {window} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _seed_text(best: TrialSummary) -> str:
    if len(best.seeds) < 2:
        return (f"{best.family} is deterministic or ran with one seed: no spread to show."
                if best.seeds == [None] or len(best.seeds) == 1 else "")  # fmt: skip
    sharpe = best.sharpe.text(".2f") if best.sharpe is not None else "n/a"
    return (
        f"Stitched figures over seeds {best.seeds} (mean ± sample std, min .. max):\n\n"
        f"* Sharpe (annualised): {sharpe}\n* return %: {best.return_pct.text('.2f')}\n"
        f"* PnL: {best.pnl.text(',.2f')}"
    )


def _leaderboard(analysis: ExperimentAnalysis, top: int = 12) -> str:
    shared = _shared_settings(analysis.trials)
    rows = []
    if shared:
        rows += ["Every trial: " + ", ".join(f"{k}={v}" for k, v in sorted(shared.items())), ""]
    rows += ["| rank | trial | family | parameters | Sharpe | return | trades |",
             "|---:|---|---|---|---:|---:|---:|"]  # fmt: skip
    for rank, t in enumerate(analysis.ranked()[:top], start=1):
        sharpe = _fmt(t.sharpe.mean if t.sharpe else None)
        rows.append(f"| {rank} | {t.label} | {t.family} | {_params_text(t, shared)} | {sharpe} | "
                    f"{t.return_pct.mean:+.2f}% | {t.trades} |")  # fmt: skip
    if len(analysis.trials) > top:
        rows.append(f"\n{len(analysis.trials) - top} more trials in the results library.")
    return "\n".join(rows)


def _selection_text(analysis: ExperimentAnalysis) -> str:
    table = selection_table_markdown(analysis.dsr, analysis.pbo, periods_per_year=252.0)
    notes = [f"* DSR: {analysis.dsr_note}", f"* PBO: {analysis.pbo_note}"]
    return table + "\n\n" + "\n".join(notes)


def _interval_table(analysis: ExperimentAnalysis) -> str:
    names = {"sharpe": ("Sharpe (annualised, daily returns)", ".2f"),
             "pnl_per_trade": ("mean net PnL per trade", ".2f"),
             "win_rate": ("win rate", ".3f")}  # fmt: skip
    rows = ["| figure | estimate [95% interval] | mean block |", "|---|---|---|"]
    for key, (what, fmt) in names.items():
        ci = analysis.intervals.get(key)
        if ci is not None and math.isfinite(ci.estimate):
            rows.append(f"| {what} | {ci.text(fmt)} | {ci.mean_block:.1f} |")
    if len(rows) == 2:
        return "Too few trades or days for an interval."
    return "\n".join(rows)


def _marks(analysis: ExperimentAnalysis) -> TradeMarks | None:
    trades = analysis.best_trades
    if trades is None or trades.num_rows == 0:
        return None
    first_seed = trades.column("seed").to_pylist()[0]
    keep = [s == first_seed for s in trades.column("seed").to_pylist()]
    columns = {name: [v for v, k in zip(trades.column(name).to_pylist(), keep, strict=True) if k]
               for name in trades.column_names}  # fmt: skip
    return TradeMarks.from_columns(columns)


def _busiest_day(marks: TradeMarks) -> tuple[int, int] | None:
    if marks.entry_ts.size == 0:
        return None
    days, counts = np.unique(marks.entry_ts // NS_PER_DAY, return_counts=True)
    day = int(days[int(np.argmax(counts))])
    return day * NS_PER_DAY, (day + 1) * NS_PER_DAY


def _bars(
    experiment: Experiment, best: TrialSummary, window: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    from nautilus_ai.data.catalog import read_bars

    market = next(m for m in experiment.markets if m.instrument_id == best.instrument)
    try:
        bars = read_bars(experiment.catalog, market.bar_type, start_ns=window[0],
                         end_ns=window[1] - 1)  # fmt: skip
    except FileNotFoundError:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    return bars.ts_event, np.column_stack([bars.open, bars.high, bars.low, bars.close])


def _sensitivity(
    folder: Path, analysis: ExperimentAnalysis, best: TrialSummary
) -> ReportSection | None:
    """Heat map of the metric over the two parameters with the most values (the best trial's
    family), the others averaged."""
    same = [t for t in analysis.trials if t.family == best.family]
    values: dict[str, list[str]] = {}
    for t in same:
        for k, v in {**{f"model.{a}": b for a, b in t.model_params.items()},
                     **t.strategy_params}.items():  # fmt: skip
            text = _short(v)
            values.setdefault(k, [])
            if text not in values[k]:
                values[k].append(text)
    varied = sorted((k for k, v in values.items() if len(v) > 1), key=lambda k: -len(values[k]))
    if len(varied) < 1:
        return None
    x_name = varied[0]
    y_name: str | None = varied[1] if len(varied) > 1 else None
    by_family = y_name is None  # one parameter: every family that has it, one row each
    pool = [t for t in analysis.trials if x_name in t.strategy_params] if by_family else same
    xs = _sorted_values(values[x_name])
    ys = (sorted({t.family for t in pool}) if by_family
          else _sorted_values(values[y_name]))  # type: ignore[index]  # fmt: skip
    grid = np.full((len(ys), len(xs)), np.nan)
    counts = np.zeros_like(grid)
    for t in pool:
        params = {**{f"model.{a}": b for a, b in t.model_params.items()}, **t.strategy_params}
        metric = t.metric(analysis.metric)
        if not math.isfinite(metric) or _short(params[x_name]) not in xs:
            continue
        x = xs.index(_short(params[x_name]))
        y = ys.index(t.family) if by_family else ys.index(_short(params[y_name]))  # type: ignore[index]
        grid[y, x] = metric if counts[y, x] == 0 else grid[y, x] + metric
        counts[y, x] += 1
    with np.errstate(invalid="ignore"):
        grid = grid / np.where(counts > 0, counts, np.nan)
    image = plot_parameter_sensitivity(
        folder / "sensitivity.png", grid, x_values=xs, y_values=ys, x_label=x_name,
        y_label=y_name or "family", metric_label=METRICS[analysis.metric],
        title=f"{'every family' if by_family else best.family}: {METRICS[analysis.metric]} "
        "by parameter\n(others averaged, out-of-sample)",
    )  # fmt: skip
    return ReportSection(
        "Parameter sensitivity",
        "A lone bright cell among dull neighbours is a fluke; a broad plateau is a property.",
        image,
    )


def _sorted_values(values: list[str]) -> list[str]:
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _failure_sections(failures: Sequence[Any]) -> list[ReportSection]:
    if not failures:
        return []
    rows = ["| run | reason |", "|---|---|"]
    rows += [f"| {f['run']} | {'; '.join(f['reasons'])[:300]} |" for f in failures]
    text = "Re-run the experiment to retry them.\n\n" + "\n".join(rows)
    return [ReportSection(f"Failed runs ({len(failures)})", text)]


def _query_text(store: ResultsStore, experiment: Experiment) -> str:
    runs = store.runs_dir(experiment.name)
    return (
        f"Every run of this page is a row of the results library `{runs}` (config, model "
        "card, figures, equity curve, trades). For example, with DuckDB:\n\n```sql\n"
        f"SELECT trial, fold, seed, pnl, trades, commission, spread_cost\n"
        f"FROM '{runs}/*.parquet' WHERE role = 'trial' ORDER BY pnl DESC LIMIT 10;\n```\n\n"
        f"or `nautilus-ai experiment best {experiment.name} --store {store.root}`."
    )
