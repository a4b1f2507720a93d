"""Backtest statistics and report files, from plain arrays (no Nautilus import).

The runner hands over the bars, the fills and the closed trades; everything here is
deterministic numpy so it can be tested on hand-made numbers and reused for live reports.

Conventions
-----------
- Equity is marked to market at each bar close: longs at the bid, shorts at the ask (what the
  position would fetch if closed now), plus cash (fills and commissions, in the account
  currency, which is the instrument's quote currency here).
- Sharpe and Sortino use daily (UTC day) returns of that equity, annualised with sqrt(252).
  Sortino's downside deviation is the root mean square of negative daily returns.
- Calmar is the annualised return (calendar time, 365.25 days) over the maximum drawdown.
- Win rate and profit factor come from closed round trips (realised PnL net of commissions).
- Exposure is the share of bars with a non-zero position.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.timefmt import utc_seconds

__all__ = [
    "BacktestSummary",
    "buy_and_hold_curve",
    "daily_returns",
    "equity_curve",
    "format_summary",
    "max_drawdown",
    "new_report_folder",
    "plot_equity",
    "summarise",
    "time_axis",
    "write_report",
]

NS_PER_DAY = 86_400 * 1_000_000_000
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def equity_curve(
    bar_ts: I64,
    bid_close: F64,
    ask_close: F64,
    fill_ts: I64,
    fill_qty: F64,
    fill_price: F64,
    fill_commission: F64,
    starting_equity: float,
) -> tuple[F64, F64]:
    """Mark-to-market equity and signed position at each bar close.

    A fill at time ``t`` counts from the first bar whose timestamp is ``>= t``.
    ``fill_qty`` is signed (+ buy, - sell); commissions are positive costs.

    Returns
    -------
    (equity, position) : arrays of the bars' length
    """
    bar_ts = np.asarray(bar_ts, dtype=np.int64)
    n = bar_ts.shape[0]
    if bid_close.shape[0] != n or ask_close.shape[0] != n:
        raise ValueError("bar_ts, bid_close and ask_close must have the same length")
    if n and np.any(np.diff(bar_ts) < 0):
        raise ValueError("bar_ts must be sorted ascending")
    fill_ts = np.asarray(fill_ts, dtype=np.int64)
    cash_flow = -(np.asarray(fill_qty) * np.asarray(fill_price)) - np.asarray(fill_commission)
    slot = np.searchsorted(bar_ts, fill_ts, side="left")
    late = slot >= n
    if np.any(late):  # fills after the last bar land on it
        slot = np.where(late, n - 1, slot)
    cash_step = np.bincount(slot, weights=cash_flow, minlength=n)
    qty_step = np.bincount(slot, weights=np.asarray(fill_qty, dtype=np.float64), minlength=n)
    cash = np.cumsum(cash_step)
    position = np.cumsum(qty_step)
    position[np.abs(position) < 1e-9] = 0.0
    mark = np.where(position > 0, bid_close, ask_close)
    equity = starting_equity + cash + position * mark
    return equity.astype(np.float64), position.astype(np.float64)


def buy_and_hold_curve(
    bar_ts: I64, ask_open_first: float, bid_close: F64, quantity: float, starting_equity: float
) -> F64:
    """Equity of buying ``quantity`` at the first ask and marking at each bid close."""
    del bar_ts  # same length as bid_close; kept for a uniform signature
    curve: F64 = np.array(bid_close, dtype=np.float64)  # a copy: never mutate the input
    curve -= ask_open_first
    curve *= quantity
    curve += starting_equity
    return curve


def max_drawdown(equity: F64) -> tuple[float, float]:
    """Largest peak-to-trough fall: ``(absolute, fraction of the peak)``."""
    if equity.size == 0:
        return 0.0, 0.0
    peak = np.maximum.accumulate(equity)
    drawdown = peak - equity
    i = int(np.argmax(drawdown))
    absolute = float(drawdown[i])
    fraction = absolute / float(peak[i]) if peak[i] > 0 else 0.0
    return absolute, fraction


def daily_returns(bar_ts: I64, equity: F64) -> F64:
    """Simple returns of the last equity of each UTC day (days with bars only); NaN for a day
    that starts from an equity at or below zero (an account wiped out on margin: from -10 to +5
    is not a -150% return, from 0 not an infinite one)."""
    if equity.size < 2:
        return np.zeros(0)
    closes = _day_closes(bar_ts, equity)
    base = closes[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns: F64 = np.where(
            base > 0.0, np.diff(closes) / np.where(base > 0.0, base, 1.0), np.nan
        )
    return returns


def _day_closes(bar_ts: I64, equity: F64) -> F64:
    """The first equity, then the last equity of each UTC day: what daily returns divide by."""
    day = np.asarray(bar_ts, dtype=np.int64) // NS_PER_DAY
    last_of_day = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    closes: F64 = np.concatenate([equity[:1], equity[last_of_day]]).astype(np.float64)
    return closes


@dataclass(frozen=True)
class BacktestSummary:
    """What a backtest did, in numbers a reader can compare across runs."""

    name: str
    sample: str
    start: str
    end: str
    bars: int
    elapsed_s: float
    bars_per_s: float
    orders: int
    trades: int
    win_rate: float
    pnl: float
    return_pct: float
    sharpe: float
    sortino: float
    calmar: float
    profit_factor: float
    max_drawdown: float
    max_drawdown_pct: float
    exposure: float
    avg_trade_pnl: float
    starting_equity: float
    final_equity: float
    currency: str
    extra: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["extra"] = dict(self.extra)
        return {k: _json_safe(v) for k, v in data.items()}


def summarise(
    *,
    name: str,
    sample: str,
    bar_ts: I64,
    equity: F64,
    position: F64,
    trade_pnls: Sequence[float],
    orders: int,
    elapsed_s: float,
    bars_processed: int,
    starting_equity: float,
    currency: str,
    extra: Mapping[str, object] | None = None,
) -> BacktestSummary:
    """Compute the summary statistics (see the module docstring for conventions)."""
    pnls = np.asarray(trade_pnls, dtype=np.float64)
    wins = pnls[pnls > 0]
    losses = pnls[pnls < 0]
    gross_win, gross_loss = float(wins.sum()), float(-losses.sum())
    final = float(equity[-1]) if equity.size else starting_equity
    dd_abs, dd_frac = max_drawdown(equity)
    # A return is a change over a positive equity: once a day ends at or below zero (an account
    # wiped out on margin), the next day's "return" has no meaning (from -10 to +5 read as -150%,
    # from 0 as infinite) and Sharpe / Sortino are not defined (n/a, not a number of the wrong
    # sign).
    solvent = equity.size < 2 or bool((_day_closes(bar_ts, equity)[:-1] > 0.0).all())
    rets = daily_returns(bar_ts, equity) if solvent else np.zeros(0)
    sharpe = _ratio(rets.mean(), rets.std(ddof=1)) if rets.size > 1 else math.nan
    downside = math.sqrt(float(np.mean(np.minimum(rets, 0.0) ** 2))) if rets.size else math.nan
    sortino = _ratio(rets.mean(), downside) if rets.size > 1 else math.nan
    years = (int(bar_ts[-1]) - int(bar_ts[0])) / (NS_PER_DAY * 365.25) if bar_ts.size > 1 else 0.0
    total_return = final / starting_equity - 1.0 if starting_equity > 0 else math.nan
    if years > 0 and final > 0 and starting_equity > 0:
        annual = (final / starting_equity) ** (1.0 / years) - 1.0
    else:
        annual = math.nan
    calmar = annual / dd_frac if dd_frac > 0 else math.nan
    return BacktestSummary(
        name=name,
        sample=sample,
        start=utc_seconds(int(bar_ts[0])) if bar_ts.size else "",
        end=utc_seconds(int(bar_ts[-1])) if bar_ts.size else "",
        bars=int(bar_ts.size),
        elapsed_s=elapsed_s,
        bars_per_s=bars_processed / elapsed_s if elapsed_s > 0 else math.nan,
        orders=orders,
        trades=int(pnls.size),
        win_rate=float(wins.size / pnls.size) if pnls.size else math.nan,
        pnl=final - starting_equity,
        return_pct=100.0 * total_return,
        sharpe=sharpe * math.sqrt(252.0),
        sortino=sortino * math.sqrt(252.0),
        calmar=calmar,
        profit_factor=gross_win / gross_loss if gross_loss > 0 else math.nan,
        max_drawdown=dd_abs,
        max_drawdown_pct=100.0 * dd_frac,
        exposure=float(np.mean(position != 0.0)) if position.size else 0.0,
        avg_trade_pnl=float(pnls.mean()) if pnls.size else math.nan,
        starting_equity=starting_equity,
        final_equity=final,
        currency=currency,
        extra=dict(extra or {}),
    )


def format_summary(summary: BacktestSummary) -> str:
    """A short human-readable block for the terminal."""
    s = summary
    lines = [
        f"{s.name} [{s.sample}]  {s.start} -> {s.end}",
        f"  bars {s.bars:,}  ({s.bars_per_s:,.0f} bars/s, {s.elapsed_s:.1f} s)",
        f"  orders {s.orders:,}  trades {s.trades:,}  win rate {_pct(s.win_rate)}",
        f"  PnL {s.pnl:,.2f} {s.currency} ({s.return_pct:+.2f}%)  "
        f"avg trade {s.avg_trade_pnl:,.2f}  profit factor {s.profit_factor:.2f}",
        f"  Sharpe {s.sharpe:.2f}  Sortino {s.sortino:.2f}  Calmar {s.calmar:.2f}  "
        f"max drawdown {s.max_drawdown:,.2f} ({s.max_drawdown_pct:.2f}%)  "
        f"exposure {_pct(s.exposure)}",
    ]
    return "\n".join(lines)


def plot_equity(
    path: Path,
    bar_ts: I64,
    curves: Mapping[str, F64],
    title: str,
) -> Path:
    """Equity curves (top) and the first curve's drawdown (bottom) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = np.asarray(bar_ts, dtype="datetime64[ns]")
    step = max(1, times.size // 4000)  # plotting 186k points per line is slow and no clearer
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    first = None
    for label, curve in curves.items():
        top.plot(times[::step], curve[::step], label=label, linewidth=1.0)
        if first is None:
            first = curve
    top.set_title(title)
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    if first is not None:
        peak = np.maximum.accumulate(first)
        dd = np.where(peak > 0, (first - peak) / peak * 100.0, 0.0)
        bottom.fill_between(times[::step], dd[::step], 0.0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    time_axis(bottom)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def new_report_folder(parent: Path, name: str) -> Path:
    """Create and return a new folder ``parent/name``, or ``name-2``, ``name-3``... when taken:
    an earlier report is never written into. The folder is claimed by its ``mkdir`` (no check
    first), so two runs finishing in the same second get one folder each."""
    for n in range(1, 10_001):
        folder = parent / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"{parent}: {name} and its 10,000 numbered successors all exist")


def write_report(folder: Path, summary: BacktestSummary, **tables: Mapping[str, object]) -> Path:
    """Write ``stats.json`` (and any extra JSON tables) into ``folder``; returns the stats path."""
    folder.mkdir(parents=True, exist_ok=True)
    stats_path = folder / "stats.json"
    stats_path.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    for name, table in tables.items():
        (folder / f"{name}.json").write_text(json.dumps(_json_safe(table), indent=2) + "\n")
    return stats_path


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else math.nan


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"


def _json_safe(value: object) -> object:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def time_axis(ax: Any, *, min_ticks: int = 4, max_ticks: int = 10) -> None:
    """Date ticks that fit the span shown (hours within a day, days within months), each
    label no longer than it needs to be: one style for every chart the package draws."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=min_ticks, maxticks=max_ticks)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
