"""Honest statistics over an experiment's stored runs: out-of-sample only, per fold and stitched.

* **Stitched** out-of-sample equity: each fold's test-window curve, chained (fold k starts where
  fold k-1 ended, as one account trading every test window in turn). Folds' test windows do not
  overlap (the step defaults to the test length), so the chain is a true out-of-sample record.
* A trial's figure is the mean over its seeds of the stitched figure, with the seeds' spread
  (:func:`~nautilus_ai.experiments.stats.seed_spread`).
* Daily returns of every trial's stitched curve (seeds averaged) form the ``(days, trials)``
  matrix behind the **deflated Sharpe ratio** of the best trial (for the number of trials
  tried) and the **probability of backtest overfitting** (CSCV).
* Baselines on the same folds: the rule model with the base run's settings, buy & hold, flat.

Pure functions over the results library's table (pyarrow) and numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from nautilus_ai.experiments.costs import PnLSplit
from nautilus_ai.experiments.stats import (
    ConfidenceInterval,
    DeflatedSharpe,
    OverfittingReport,
    SeedSpread,
    deflated_sharpe_of_best,
    mean_ci,
    probability_of_backtest_overfitting,
    seed_spread,
    sharpe_ci,
    win_rate_ci,
)
from nautilus_ai.reporting import daily_returns, max_drawdown

__all__ = [
    "ExperimentAnalysis",
    "StitchedCurve",
    "TrialSummary",
    "analyse",
    "stitch",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
NS_PER_DAY = 86_400 * 1_000_000_000
ANNUAL = 252.0
METRICS = {"sharpe": "stitched Sharpe (annualised)", "return_pct": "stitched return %",
           "pnl": "stitched PnL"}  # fmt: skip


@dataclass(frozen=True)
class StitchedCurve:
    """Out-of-sample equity over every fold's test window, chained."""

    ts: I64 = field(repr=False)
    equity: F64 = field(repr=False)
    fold_starts: tuple[int, ...]
    starting: float

    @property
    def return_pct(self) -> float:
        return (float(self.equity[-1]) / self.starting - 1.0) * 100.0 if self.equity.size else 0.0

    @property
    def pnl(self) -> float:
        return float(self.equity[-1] - self.starting) if self.equity.size else 0.0

    def daily(self) -> tuple[I64, F64]:
        """``(day index, return)`` of each UTC day with bars (the first from the start)."""
        if self.equity.size < 2:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        days = self.ts // NS_PER_DAY
        last = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
        return days[last], daily_returns(self.ts, self.equity)

    def sharpe(self) -> float:
        _, r = self.daily()
        if r.size < 2 or np.isnan(r).any() or not r.std(ddof=1) > 0:
            return math.nan
        return float(r.mean() / r.std(ddof=1) * math.sqrt(ANNUAL))

    def max_drawdown_pct(self) -> float:
        """Largest fall from a running peak, in % of the peak (>= 0)."""
        return 100.0 * float(max_drawdown(self.equity)[1]) if self.equity.size else 0.0


def stitch(
    parts: Sequence[tuple[int, I64, F64, float]],
) -> StitchedCurve:
    """Chain ``(fold index, ts, equity, starting equity)`` parts in fold order."""
    ordered = sorted(parts, key=lambda p: p[0])
    if not ordered:
        return StitchedCurve(np.zeros(0, dtype=np.int64), np.zeros(0), (), 0.0)
    start = float(ordered[0][3])
    level = start
    ts_parts, eq_parts, starts = [], [], []
    for _, ts, equity, starting in ordered:
        if ts.size == 0:
            continue
        scale = level / float(starting)
        ts_parts.append(ts)
        eq_parts.append(equity * scale)
        starts.append(int(ts[0]))
        level = float(equity[-1]) * scale
    if not ts_parts:
        return StitchedCurve(np.zeros(0, dtype=np.int64), np.zeros(0), (), start)
    return StitchedCurve(np.concatenate(ts_parts), np.concatenate(eq_parts), tuple(starts), start)


@dataclass
class TrialSummary:
    """One trial's out-of-sample record over every fold (and seed)."""

    trial_id: str
    label: str
    family: str
    role: str
    instrument: str
    model_params: dict[str, Any]
    strategy_params: dict[str, Any]
    seeds: list[int | None]
    folds: list[int]
    runs: int
    curves: dict[int | None, StitchedCurve] = field(repr=False)
    sharpe: SeedSpread | None
    return_pct: SeedSpread
    pnl: SeedSpread
    trades: int
    win_rate: float
    max_drawdown_pct: float
    gross: float
    commission: float
    spread_cost: float
    per_fold: list[dict[str, Any]] = field(repr=False)

    def metric(self, name: str) -> float:
        spread = {"sharpe": self.sharpe, "return_pct": self.return_pct, "pnl": self.pnl}[name]
        return spread.mean if spread is not None else math.nan

    def mean_daily(self) -> tuple[I64, F64]:
        """Daily returns averaged over seeds (days every seed has)."""
        series = [c.daily() for c in self.curves.values()]
        days = series[0][0]
        for d, _ in series[1:]:
            days = np.intersect1d(days, d)
        stacked = np.vstack([r[np.isin(d, days)] for d, r in series]) if days.size else None
        return days, (stacked.mean(axis=0) if stacked is not None else np.zeros(0))


@dataclass
class ExperimentAnalysis:
    """Everything the report and ``experiment best|show`` say."""

    experiment: str
    metric: str
    trials: list[TrialSummary]
    baselines: dict[str, TrialSummary]
    best: TrialSummary | None
    dsr: DeflatedSharpe | None
    dsr_note: str
    pbo: OverfittingReport | None
    pbo_note: str
    intervals: dict[str, ConfidenceInterval]
    split: PnLSplit | None
    best_trades: pa.Table | None = field(repr=False, default=None)
    returns_days: I64 = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    returns: F64 = field(repr=False, default_factory=lambda: np.zeros((0, 0)))

    def ranked(self) -> list[TrialSummary]:
        return sorted(
            self.trials,
            key=lambda t: (-t.metric(self.metric) if math.isfinite(t.metric(self.metric))
                           else math.inf),
        )  # fmt: skip


def _spread(values: Sequence[float]) -> SeedSpread | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return seed_spread(finite) if finite else None


def _summaries(rows: Mapping[str, list[Any]], indices: list[int], role: str) -> TrialSummary:
    first = indices[0]
    by_seed: dict[int | None, list[tuple[int, I64, F64, float]]] = {}
    per_fold: list[dict[str, Any]] = []
    for i in indices:
        seed = rows["seed"][i]
        ts = np.asarray(rows["equity_ts"][i] or [], dtype=np.int64)
        eq = np.asarray(rows["equity"][i] or [], dtype=np.float64)
        starting = float(rows["starting_equity"][i] or (eq[0] if eq.size else 0.0))
        by_seed.setdefault(seed, []).append((int(rows["fold"][i]), ts, eq, starting))
        per_fold.append({
            "fold": int(rows["fold"][i]), "seed": seed, "pnl": rows["pnl"][i],
            "return_pct": rows["return_pct"][i], "trades": rows["trades"][i],
            "win_rate": rows["win_rate"][i], "max_drawdown_pct": rows["max_drawdown_pct"][i],
            "test_start": rows["test_start"][i], "test_end": rows["test_end"][i],
            "min_confidence": rows["min_confidence"][i], "gross": rows["gross"][i],
            "commission": rows["commission"][i], "spread_cost": rows["spread_cost"][i],
        })  # fmt: skip
    curves = {seed: stitch(parts) for seed, parts in by_seed.items()}
    trades = sum(int(rows["trades"][i] or 0) for i in indices)
    wins = [
        (rows["win_rate"][i] or 0.0) * (rows["trades"][i] or 0)
        for i in indices if rows["trades"][i]
    ]  # fmt: skip
    seeds = sorted(by_seed, key=lambda s: -1 if s is None else s)
    return TrialSummary(
        trial_id=rows["trial_id"][first],
        label=rows["trial"][first],
        family=rows["family"][first],
        role=role,
        instrument=rows["instrument"][first],
        model_params=json.loads(rows["model_params"][first] or "{}"),
        strategy_params=json.loads(rows["strategy_params"][first] or "{}"),
        seeds=seeds,
        folds=sorted({int(rows["fold"][i]) for i in indices}),
        runs=len(indices),
        curves=curves,
        sharpe=_spread([c.sharpe() for c in curves.values()]),
        return_pct=seed_spread([c.return_pct for c in curves.values()]),
        pnl=seed_spread([c.pnl for c in curves.values()]),
        trades=trades,
        win_rate=sum(wins) / trades if trades else math.nan,
        max_drawdown_pct=max(c.max_drawdown_pct() for c in curves.values()),
        gross=sum(float(rows["gross"][i] or 0.0) for i in indices),
        commission=sum(float(rows["commission"][i] or 0.0) for i in indices),
        spread_cost=sum(float(rows["spread_cost"][i] or 0.0) for i in indices),
        per_fold=sorted(
            per_fold, key=lambda r: (r["fold"], -1 if r["seed"] is None else r["seed"])
        ),
    )


def analyse(
    table: pa.Table,
    *,
    experiment: str,
    metric: str = "sharpe",
    folds: Sequence[int] | None = None,
    seed: int = 0,
) -> ExperimentAnalysis:
    """Summaries, the best trial, DSR, PBO and intervals from an experiment's stored runs.

    Only trials with a stored run on every fold in ``folds`` (default: every fold seen) and
    for every seed they ran with count: a trial missing a fold cannot be stitched honestly.
    """
    rows = table.to_pydict()
    n = table.num_rows
    all_folds = sorted({int(f) for f in rows["fold"]}) if n else []
    wanted = list(folds) if folds is not None else all_folds
    groups: dict[tuple[str, str], list[int]] = {}
    for i in range(n):
        if rows["status"][i] != "ok":
            continue
        groups.setdefault((rows["role"][i], rows["trial_id"][i]), []).append(i)
    trials: list[TrialSummary] = []
    found: list[TrialSummary] = []
    for (role, _), indices in groups.items():
        summary = _summaries(rows, indices, role)
        complete = all(
            sorted({r["fold"] for r in summary.per_fold if r["seed"] == s}) == wanted
            for s in summary.seeds
        )
        if not complete:
            continue
        if role == "baseline":
            found.append(summary)
        else:
            trials.append(summary)
    # one rule and one buy & hold per market: keyed by the family alone they overwrote each
    # other, and every trial was compared with the last market's baselines
    markets = len({b.instrument for b in found})
    baselines = {
        b.family if markets == 1 else f"{b.family} {b.instrument}": b
        for b in sorted(found, key=lambda b: (b.family, b.instrument))
    }
    analysis = ExperimentAnalysis(
        experiment=experiment, metric=metric, trials=trials, baselines=baselines, best=None,
        dsr=None, dsr_note="", pbo=None, pbo_note="", intervals={}, split=None,
    )  # fmt: skip
    if not trials:
        analysis.dsr_note = analysis.pbo_note = "no trial completed every fold"
        return analysis
    ranked = analysis.ranked()
    analysis.best = ranked[0]
    _selection(analysis, trials)
    _intervals(analysis, rows, seed)
    return analysis


def _selection(analysis: ExperimentAnalysis, trials: list[TrialSummary]) -> None:
    """DSR of the best and PBO over the ``(days, trials)`` matrix of daily returns."""
    series = [t.mean_daily() for t in trials]
    days = series[0][0]
    for d, _ in series[1:]:
        days = np.intersect1d(days, d)
    if days.size < 3:
        analysis.dsr_note = analysis.pbo_note = f"{days.size} common days: too few"
        return
    matrix = np.column_stack([r[np.isin(d, days)] for d, r in series])
    analysis.returns_days, analysis.returns = days, matrix
    # A trial whose equity ended a day at or below zero has NaN returns (no Sharpe ratio): it
    # is neither the best by Sharpe nor a candidate in the CSCV selection.
    wiped = np.isnan(matrix).any(axis=0)
    wiped_note = f"; {int(wiped.sum())} wiped out (equity at or below zero), left out" if (
        wiped.any()
    ) else ""  # fmt: skip
    matrix = matrix[:, ~wiped]
    if matrix.shape[1] == 0:
        analysis.dsr_note = analysis.pbo_note = "every trial was wiped out: no Sharpe ratio"
        return
    varying = matrix.std(axis=0, ddof=1) > 0
    if varying.any():
        _, analysis.dsr = deflated_sharpe_of_best(matrix)
        analysis.dsr_note = (
            f"{matrix.shape[1]} trials ({int(varying.sum())} traded), {days.size} days; DSR "
            f"of the trial with the highest daily Sharpe ratio{wiped_note}"
        )
    else:
        analysis.dsr_note = "no trial's returns vary (no trades): nothing to deflate"
    if matrix.shape[1] < 2:
        analysis.pbo_note = "one trial: nothing was selected, no overfitting to measure"
        return
    splits = min(16, 2 * (days.size // 8))
    if splits < 2:
        analysis.pbo_note = f"{days.size} days are too few for CSCV (needs >= 16)"
        return
    analysis.pbo = probability_of_backtest_overfitting(matrix, n_splits=splits)
    analysis.pbo_note = f"CSCV over {splits} blocks of {days.size // splits} days{wiped_note}"


def _intervals(analysis: ExperimentAnalysis, rows: Mapping[str, list[Any]], seed: int) -> None:
    best = analysis.best
    assert best is not None
    _, daily = best.mean_daily()
    if daily.size >= 2:
        analysis.intervals["sharpe"] = sharpe_ci(daily, ANNUAL, seed=seed)
    pnls, gross, commission, spread = [], [], [], []
    trade_rows: list[dict[str, Any]] = []
    for i in range(len(rows["key"])):
        if rows["trial_id"][i] != best.trial_id or rows["role"][i] != best.role:
            continue
        for t in rows["trade_log"][i] or []:
            trade_rows.append({**t, "fold": rows["fold"][i], "seed": rows["seed"][i]})
    trade_rows.sort(key=lambda t: (t["ts_opened"], -1 if t["seed"] is None else t["seed"]))
    for t in trade_rows:
        pnls.append(t["realized_pnl"])
        gross.append(t["gross"] if t["gross"] is not None else math.nan)
        commission.append(t["commission"] if t["commission"] is not None else math.nan)
        spread.append(t["spread"] if t["spread"] is not None else math.nan)
    if trade_rows:
        analysis.best_trades = pa.Table.from_pylist(trade_rows)
    if len(pnls) >= 2:
        analysis.intervals["pnl_per_trade"] = mean_ci(pnls, seed=seed)
        analysis.intervals["win_rate"] = win_rate_ci(pnls, seed=seed)
    if pnls and all(math.isfinite(x) for x in gross + commission + spread):
        analysis.split = PnLSplit(
            gross=np.asarray(gross), commission=np.asarray(commission),
            spread=np.asarray(spread), net=np.asarray(pnls, dtype=np.float64),
        )  # fmt: skip
