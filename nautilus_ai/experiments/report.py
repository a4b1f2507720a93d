"""The report a trader reads: pure plotting functions over plain arrays, and a Markdown page.

Every ``plot_*`` function takes numpy arrays (times are UTC nanoseconds), writes one PNG and
returns its path; none reads files or touches Nautilus. :func:`write_markdown_report` puts the
pictures and tables on one page. matplotlib (Agg) is imported inside the functions.

Colours: gains green, losses red, the strategy blue, baselines grey; every title says what is
in-sample and what is out-of-sample when the caller says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nautilus_ai.experiments.costs import PnLSplit
from nautilus_ai.experiments.stats import DeflatedSharpe, OverfittingReport
from nautilus_ai.reporting import time_axis

__all__ = [
    "ReportSection",
    "TradeMarks",
    "daily_equity",
    "monthly_returns",
    "plot_confidence_vs_pnl",
    "plot_cost_split",
    "plot_equity_drawdown",
    "plot_monthly_returns",
    "plot_parameter_sensitivity",
    "plot_pnl_distribution",
    "plot_rolling_sharpe",
    "plot_trades_on_price",
    "rolling_sharpe",
    "selection_table_markdown",
    "write_markdown_report",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
NS_PER_DAY = 86_400 * 1_000_000_000
GAIN, LOSS, STRATEGY, BASELINE = "#1a9850", "#d73027", "#2166ac", "#969696"
EATEN = "#f39c12"  # a trade the market paid for and the costs took back
_DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    _pyplot().close(fig)
    return path


def _times(ts: ArrayLike) -> NDArray[np.datetime64]:
    return np.asarray(ts, dtype=np.int64).astype("datetime64[ns]")


# ---------------------------------------------------------------------- derived series


def daily_equity(ts: ArrayLike, equity: ArrayLike) -> tuple[NDArray[np.datetime64], F64]:
    """The last equity of each UTC day (days with bars only)."""
    t = np.asarray(ts, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0, dtype="datetime64[D]"), np.zeros(0)
    day = t // NS_PER_DAY
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    return day[last].astype("datetime64[D]"), e[last]


def rolling_sharpe(ts: ArrayLike, equity: ArrayLike, window_days: int = 20) -> tuple[Any, F64]:
    """Annualised (sqrt 252) Sharpe ratio of daily returns over a trailing window of trading
    days: ``(days, values)``, NaN until the window is full."""
    days, closes = daily_equity(ts, equity)
    if closes.size < 2:
        return days[:0], np.zeros(0)
    returns = np.diff(closes) / closes[:-1]
    out = np.full(returns.size, np.nan)
    for i in range(window_days - 1, returns.size):
        window = returns[i - window_days + 1 : i + 1]
        sd = window.std(ddof=1)
        if sd > 0:
            out[i] = window.mean() / sd * math.sqrt(252.0)
    return days[1:], out


def monthly_returns(ts: ArrayLike, equity: ArrayLike) -> tuple[list[int], F64]:
    """``(years, table)``: ``table[y, m]`` is the return (fraction) of calendar month ``m`` of
    ``years[y]`` from the previous month's last equity (the first month from its first bar's
    equity); NaN where there is no data."""
    t = np.asarray(ts, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    if t.size == 0:
        return [], np.zeros((0, 12))
    months = t.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    last = np.flatnonzero(np.r_[months[1:] != months[:-1], True])
    closes = e[last]
    opens = np.r_[e[0], closes[:-1]]
    keys = months[last]
    years = sorted({int(k) // 12 + 1970 for k in keys})
    table = np.full((len(years), 12), np.nan)
    for key, start, end in zip(keys.tolist(), opens.tolist(), closes.tolist(), strict=True):
        table[years.index(key // 12 + 1970), key % 12] = end / start - 1.0 if start else np.nan
    return years, table


# ---------------------------------------------------------------------- plots


def plot_equity_drawdown(
    path: Path,
    ts: ArrayLike,
    equity: ArrayLike,
    *,
    title: str,
    fold_starts: Sequence[int] = (),
    fold_labels: Sequence[str] = (),
    baselines: Mapping[str, ArrayLike] | None = None,
    currency: str = "USD",
) -> Path:
    """Equity (top) and drawdown from the running peak (bottom), fold boundaries as dashed
    lines labelled at the top; ``baselines`` are other curves on the same bars (grey)."""
    plt = _pyplot()
    times = _times(ts)
    e = np.asarray(equity, dtype=np.float64)
    step = max(1, times.size // 5_000)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(12, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
    )
    for i, (label, curve) in enumerate((baselines or {}).items()):
        top.plot(times[::step], np.asarray(curve)[::step], color=BASELINE, linewidth=1.0,
                 linestyle=("--", ":", "-.")[i % 3], label=label)  # fmt: skip
    top.plot(times[::step], e[::step], color=STRATEGY, linewidth=1.4, label="strategy")
    start = e[0] if e.size else 0.0
    top.axhline(start, color="black", linewidth=0.6, alpha=0.5)
    peak = np.maximum.accumulate(e) if e.size else e
    dd = np.where(peak > 0, (e - peak) / peak * 100.0, 0.0)
    bottom.fill_between(times[::step], dd[::step], 0.0, color=LOSS, alpha=0.45, linewidth=0)
    if dd.size:
        worst = int(np.argmin(dd))
        bottom.annotate(f"max {dd[worst]:.2f}%", (times[worst], dd[worst]), xytext=(-70, 4),
                        textcoords="offset points", fontsize=8, color=LOSS)  # fmt: skip
    for i, start_ns in enumerate(fold_starts):
        x = np.datetime64(int(start_ns), "ns")
        for ax in (top, bottom):
            ax.axvline(x, color="black", linestyle="--", linewidth=0.8, alpha=0.5)
        label = fold_labels[i] if i < len(fold_labels) else f"fold {i}"
        top.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                     textcoords="offset points", fontsize=8, alpha=0.8)  # fmt: skip
    change = (e[-1] / start - 1.0) * 100.0 if e.size and start else 0.0
    top.set_title(f"{title}  ({change:+.2f}%, max drawdown {dd.min() if dd.size else 0:.2f}%)")
    top.set_ylabel(f"equity ({currency})")
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=9)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    time_axis(bottom, max_ticks=9)
    fig.tight_layout()
    return _save(fig, path)


@dataclass(frozen=True)
class TradeMarks:
    """Closed trades to draw: entry / exit times (ns) and prices, side (+1 / -1), net PnL and,
    when known, the PnL of the fill prices before commissions (``gross``)."""

    entry_ts: I64
    exit_ts: I64
    entry_price: F64
    exit_price: F64
    side: F64
    pnl: F64
    gross: F64 | None = None

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[Any] | ArrayLike]) -> TradeMarks:
        """From a trade log (``ts_opened``, ``ts_closed``, ``avg_px_open``, ``avg_px_close``,
        ``side`` long/short, ``realized_pnl``)."""
        sides = np.array([1.0 if str(s).lower() in ("long", "buy") else -1.0
                          for s in np.asarray(columns["side"]).tolist()])  # fmt: skip
        entry = np.asarray(columns["avg_px_open"], dtype=np.float64)
        exit_ = np.asarray(columns["avg_px_close"], dtype=np.float64)
        gross = None
        if "quantity" in columns:
            gross = sides * np.asarray(columns["quantity"], dtype=np.float64) * (exit_ - entry)
        return cls(
            np.asarray(columns["ts_opened"], dtype=np.int64),
            np.asarray(columns["ts_closed"], dtype=np.int64),
            entry,
            exit_,
            sides,
            np.asarray(columns["realized_pnl"], dtype=np.float64),
            gross,
        )

    def between(self, start_ns: int, end_ns: int) -> TradeMarks:
        keep = (self.entry_ts >= start_ns) & (self.entry_ts < end_ns)
        return TradeMarks(
            self.entry_ts[keep],
            self.exit_ts[keep],
            self.entry_price[keep],
            self.exit_price[keep],
            self.side[keep],
            self.pnl[keep],
            None if self.gross is None else self.gross[keep],
        )


def plot_trades_on_price(
    path: Path,
    ts: ArrayLike,
    ohlc: ArrayLike,
    trades: TradeMarks,
    *,
    window: tuple[int, int],
    title: str,
    max_candles: int = 400,
) -> Path:
    """Price over ``window`` (candles when few enough bars, else the close) with each trade:
    entry triangle (up = long, down = short), exit dot, a line between them green for a win and
    red for a loss; PnL of the window's trades in the title."""
    plt = _pyplot()
    t = np.asarray(ts, dtype=np.int64)
    bars = np.asarray(ohlc, dtype=np.float64)
    inside = (t >= window[0]) & (t < window[1])
    t, bars = t[inside], bars[inside]
    shown = trades.between(*window)
    fig, ax = plt.subplots(figsize=(12, 5.5))
    times = _times(t)
    if 0 < t.size <= max_candles:
        width = np.median(np.diff(t)) * 0.7 if t.size > 1 else 60e9
        width_days = width / NS_PER_DAY
        up = bars[:, 3] >= bars[:, 0]
        colours = np.where(up, GAIN, LOSS)
        ax.vlines(times, bars[:, 2], bars[:, 1], color=colours, linewidth=0.7)
        ax.bar(times, bars[:, 3] - bars[:, 0], width_days, bottom=bars[:, 0], color=colours,
               edgecolor=colours, linewidth=0.5)  # fmt: skip
    elif t.size:
        ax.plot(times, bars[:, 3], color="black", linewidth=0.8, label="close")
    eaten = np.zeros(shown.pnl.size, dtype=bool)
    if shown.gross is not None:
        eaten = (shown.gross > 0) & (shown.pnl <= 0)
    for i in range(shown.pnl.size):
        colour = GAIN if shown.pnl[i] > 0 else (EATEN if eaten[i] else LOSS)
        entry, exit_ = _times([shown.entry_ts[i]])[0], _times([shown.exit_ts[i]])[0]
        ax.plot([entry, exit_], [shown.entry_price[i], shown.exit_price[i]], color=colour,
                linewidth=1.4, alpha=0.85)  # fmt: skip
        ax.scatter([entry], [shown.entry_price[i]], marker="^" if shown.side[i] > 0 else "v",
                   s=60, color=STRATEGY, zorder=3, edgecolor="white", linewidth=0.5)  # fmt: skip
        ax.scatter([exit_], [shown.exit_price[i]], marker="o", s=22, color=colour, zorder=3)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="^", color=STRATEGY, linestyle="", label="long entry"),
        Line2D([], [], marker="v", color=STRATEGY, linestyle="", label="short entry"),
        Line2D([], [], color=GAIN, label="won (net)"),
        Line2D([], [], color=EATEN, label="won before costs, lost after"),
        Line2D([], [], color=LOSS, label="lost"),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    wins = int((shown.pnl > 0).sum())
    ax.set_title(
        f"{title}: {shown.pnl.size} trades, {wins} won net, {int(eaten.sum())} more lost to "
        f"costs; net {shown.pnl.sum():+,.2f}"
    )
    ax.set_ylabel("price")
    ax.grid(alpha=0.3)
    time_axis(ax, max_ticks=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_monthly_returns(path: Path, ts: ArrayLike, equity: ArrayLike, *, title: str) -> Path:
    """Heat map of calendar-month returns (%), one row per year, the value in each cell and the
    year's compounded total on the right."""
    plt = _pyplot()
    years, table = monthly_returns(ts, equity)
    pct = table * 100.0
    fig, ax = plt.subplots(figsize=(12, 1.4 + 0.55 * max(1, len(years))))
    limit = float(np.nanmax(np.abs(pct))) if np.isfinite(pct).any() else 1.0
    image = ax.imshow(pct, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    ax.set_xticks(range(12), names)
    ax.set_yticks(range(len(years)), [str(y) for y in years])
    for (row, col), value in np.ndenumerate(pct):
        if np.isfinite(value):
            ax.text(col, row, f"{value:+.2f}%", ha="center", va="center", fontsize=9,
                    color="black")  # fmt: skip
    for row, year_returns in enumerate(table):
        months = year_returns[np.isfinite(year_returns)]
        total = (np.prod(1.0 + months) - 1.0) * 100.0 if months.size else float("nan")
        ax.text(12.0, row, f"year {total:+.2f}%", ha="left", va="center", fontsize=9)
    ax.set_xlim(-0.5, 13.6)
    fig.colorbar(image, ax=ax, label="month return %", fraction=0.03, pad=0.02)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_rolling_sharpe(
    path: Path, ts: ArrayLike, equity: ArrayLike, *, title: str, window_days: int = 20
) -> Path:
    """Trailing ``window_days`` annualised Sharpe ratio, shaded green above 0 and red below."""
    plt = _pyplot()
    days, values = rolling_sharpe(ts, equity, window_days)
    fig, ax = plt.subplots(figsize=(12, 3.8))
    x = days.astype("datetime64[ns]")
    ax.plot(x, values, color=STRATEGY, linewidth=1.3)
    finite = np.isfinite(values)
    ax.fill_between(x, values, 0.0, where=finite & (values > 0), color=GAIN, alpha=0.25)
    ax.fill_between(x, values, 0.0, where=finite & (values < 0), color=LOSS, alpha=0.25)
    ax.axhline(0.0, color="black", linewidth=0.7)
    if finite.any():
        share = float(np.mean(values[finite] > 0))
        ax.set_title(f"{title}: {window_days}-day rolling Sharpe (annualised), above 0 on "
                     f"{100 * share:.0f}% of days")  # fmt: skip
    else:  # a short run: an empty frame (and 'nan%') said nothing of why
        ax.set_title(f"{title}: {window_days}-day rolling Sharpe (annualised): too few days")
        note = (
            f"{values.size} daily returns: a {window_days}-day rolling Sharpe needs {window_days}"
        )
        ax.text(0.5, 0.75, note, ha="center", va="center", transform=ax.transAxes,
                bbox={"facecolor": "white", "edgecolor": "none"})  # fmt: skip
        shown = daily_equity(ts, equity)[0].astype("datetime64[ns]")  # the run's days, not 1970
        if shown.size:
            ax.set_xlim(shown[0], shown[-1] + np.timedelta64(1, "D"))
    ax.set_ylabel("Sharpe")
    ax.grid(alpha=0.3)
    time_axis(ax, max_ticks=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_pnl_distribution(
    path: Path,
    pnls: ArrayLike,
    *,
    title: str,
    currency: str = "USD",
    cost_per_trade: float | None = None,
) -> Path:
    """Histogram of trade PnL, wins green and losses red, mean and median marked, and (when
    given) minus the average cost per trade: the line a trade must beat at mid to break even."""
    plt = _pyplot()
    x = np.asarray(pnls, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    clipped = 0
    if x.size:
        # the 0.5% tails on each side go into the end bins, so the bulk gets the resolution
        lo, hi = np.percentile(x, [0.5, 99.5]) if x.size >= 200 else (x.min(), x.max())
        clipped = int(((x < lo) | (x > hi)).sum())
        shown = np.clip(x, lo, hi)
        edges = np.histogram_bin_edges(shown, bins=min(80, max(10, int(math.sqrt(x.size)) * 2)))
        ax.hist(shown[x <= 0], bins=edges, color=LOSS, alpha=0.75,
                label=f"losses ({(x <= 0).sum()})")  # fmt: skip
        ax.hist(shown[x > 0], bins=edges, color=GAIN, alpha=0.75, label=f"wins ({(x > 0).sum()})")
        ax.axvline(x.mean(), color="black", linewidth=1.2, label=f"mean {x.mean():+.2f}")
        ax.axvline(float(np.median(x)), color="black", linestyle="--", linewidth=1.0,
                   label=f"median {np.median(x):+.2f}")  # fmt: skip
        ax.axvline(0.0, color="grey", linewidth=0.6)
        if cost_per_trade is not None:
            ax.axvline(-cost_per_trade, color=EATEN, linestyle=":", linewidth=1.6,
                       label=f"costs per trade -{cost_per_trade:.2f}")  # fmt: skip
        ax.legend(fontsize=9, loc="upper left")
    wins = float(np.mean(x > 0)) if x.size else float("nan")
    tails = f" ({clipped} beyond the axis, drawn in the end bins)" if clipped else ""
    ax.set_title(f"{title}: {x.size} trades, win rate {100 * wins:.1f}%{tails}")
    ax.set_xlabel(f"net PnL per trade ({currency})")
    ax.set_ylabel("trades")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_confidence_vs_pnl(
    path: Path,
    confidence: ArrayLike,
    pnls: ArrayLike,
    *,
    title: str,
    bins: int = 6,
    currency: str = "USD",
) -> Path:
    """Does the model's confidence at entry pay? Each trade as a dot (confidence, net PnL) and,
    per confidence bin (equal counts), the mean PnL with a +-2 standard-error bar and the win
    rate."""
    plt = _pyplot()
    c = np.asarray(confidence, dtype=np.float64)
    x = np.asarray(pnls, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.scatter(c, x, s=8, alpha=0.25, color=np.where(x > 0, GAIN, LOSS), linewidth=0)
    ax.axhline(0.0, color="grey", linewidth=0.7)
    if c.size >= bins:
        edges = np.unique(np.quantile(c, np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, edges.size - 2)
        centres, means, errors, rates = [], [], [], []
        for b in range(edges.size - 1):
            sel = x[which == b]
            if sel.size:
                centres.append(float(c[which == b].mean()))
                means.append(float(sel.mean()))
                errors.append(2 * float(sel.std(ddof=1)) / math.sqrt(sel.size) if sel.size > 1
                              else 0.0)  # fmt: skip
                rates.append(float(np.mean(sel > 0)))
        ax.errorbar(centres, means, yerr=errors, color="black", marker="s", capsize=4,
                    linewidth=1.4, label="mean per confidence bin (±2 s.e.)")  # fmt: skip
        for cx, my, rate in zip(centres, means, rates, strict=True):
            ax.annotate(f"{100 * rate:.0f}% won", (cx, my), xytext=(4, 8),
                        textcoords="offset points", fontsize=8)  # fmt: skip
        ax.legend(fontsize=9, loc="upper left")
        spread = np.percentile(x, [2, 98])
        pad = 0.2 * (spread[1] - spread[0] + 1e-9)
        ax.set_ylim(spread[0] - pad, spread[1] + pad)
    ax.set_xlabel("model confidence at entry")
    ax.set_ylabel(f"net PnL ({currency})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_cost_split(path: Path, split: PnLSplit, *, title: str, currency: str = "USD") -> Path:
    """Waterfall per trade: gross at mid, minus commission, minus spread, equals net; the run's
    totals and the verdict in the title."""
    plt = _pyplot()
    t = split.totals()
    steps = [
        ("gross at mid", t["gross_per_trade"]),
        ("commission", -t["commission_per_trade"]),
        ("spread", -t["spread_per_trade"]),
    ]
    fig, ax = plt.subplots(figsize=(9, 4.8))
    level = 0.0
    for i, (_, value) in enumerate(steps):
        bottom = level if i else 0.0
        colour = (GAIN if value >= 0 else LOSS) if i == 0 else LOSS
        ax.bar(i, value, bottom=bottom, color=colour, width=0.6)
        ax.text(i, bottom + value, f"{value:+.2f}", ha="center",
                va="bottom" if value >= 0 else "top", fontsize=10)  # fmt: skip
        level = bottom + value
    net = t["net_per_trade"]
    ax.bar(3, net, color=GAIN if net >= 0 else LOSS, width=0.6, edgecolor="black")
    ax.text(3, net, f"{net:+.2f}", ha="center", va="bottom" if net >= 0 else "top", fontsize=10)
    low = min(0.0, net, *(np.cumsum([v for _, v in steps]))) if steps else 0.0
    high = max(0.0, net, steps[0][1])
    pad = 0.12 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xticks(range(4), [s[0] for s in steps] + ["net"])
    ax.axhline(0.0, color="black", linewidth=0.7)
    ax.set_ylabel(f"{currency} per trade")
    ax.set_title(
        f"{title}: {int(t['trades'])} trades, net {t['net']:+,.2f} = gross {t['gross']:+,.2f} "
        f"- commission {t['commission']:,.2f} - spread {t['spread']:,.2f}\n"
        + split.verdict(currency),
        fontsize=10,
    )
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)


def plot_parameter_sensitivity(
    path: Path,
    values: ArrayLike,
    *,
    x_values: Sequence[Any],
    y_values: Sequence[Any],
    x_label: str,
    y_label: str,
    metric_label: str,
    title: str,
) -> Path:
    """Heat map of a metric over a two-parameter grid (``values[y, x]``), each cell annotated,
    the best cell outlined: a lone bright cell among dull neighbours is a fluke."""
    plt = _pyplot()
    grid = np.asarray(values, dtype=np.float64)
    if grid.shape != (len(y_values), len(x_values)):
        raise ValueError(f"values must be ({len(y_values)}, {len(x_values)}), got {grid.shape}")
    fig, ax = plt.subplots(
        figsize=(max(7.0, 2.4 + 1.1 * len(x_values)), max(3.2, 1.8 + 0.7 * len(y_values)))
    )
    finite = np.isfinite(grid)
    limit = float(np.nanmax(np.abs(grid))) if finite.any() else 1.0
    image = ax.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto", origin="lower")
    ax.set_xticks(range(len(x_values)), [str(v) for v in x_values])
    ax.set_yticks(range(len(y_values)), [str(v) for v in y_values])
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    for (row, col), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=9)
    if finite.any():
        row, col = np.unravel_index(int(np.nanargmax(grid)), grid.shape)
        ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black",
                                   linewidth=2.2))  # fmt: skip
    else:  # every trial's metric is n/a (no trade: no Sharpe ratio): an empty map said nothing
        ax.text(0.5, 0.5, f"no {metric_label} in any cell (no trial's is defined)",
                ha="center", va="center", transform=ax.transAxes,
                bbox={"facecolor": "white", "edgecolor": "none"})  # fmt: skip
    fig.colorbar(image, ax=ax, label=metric_label, fraction=0.05, pad=0.03)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------------- tables and page


def selection_table_markdown(
    dsr: DeflatedSharpe | None = None,
    pbo: OverfittingReport | None = None,
    *,
    periods_per_year: float = 252.0,
) -> str:
    """The DSR / PBO table with a plain reading of each number."""
    rows = ["| measure | value | reading |", "|---|---|---|"]
    if dsr is not None:
        annual = math.sqrt(periods_per_year)
        rows += [
            f"| trials tried | {dsr.n_trials} | configurations the winner was picked from |",
            f"| best Sharpe (annualised) | {dsr.sharpe * annual:.2f} | in the backtest, "
            "before deflation |",
            f"| luck benchmark E[max SR] (annualised) | {dsr.benchmark * annual:.2f} | what the "
            f"best of {dsr.n_trials} skill-less trials reaches |",
            f"| deflated Sharpe ratio | {dsr.dsr:.3f} | probability the edge is real; "
            f"{_dsr_reading(dsr.dsr)} |",
        ]
    if pbo is not None:
        rows += [
            f"| probability of backtest overfitting | {pbo.pbo:.3f} | share of "
            f"{pbo.logits.size:,} CSCV splits where the in-sample best ranks in the bottom half "
            f"out of sample; {_pbo_reading(pbo.pbo)} |",
            f"| P(out-of-sample loss) of the in-sample best | {pbo.probability_of_loss:.3f} | "
            f"{pbo.metric} < 0 out of sample |",
        ]
    return "\n".join(rows)


def _dsr_reading(dsr: float) -> str:
    return ">= 0.95: credible" if dsr >= 0.95 else "< 0.95: not distinguishable from luck"


def _pbo_reading(pbo: float) -> str:
    if pbo > 0.5:
        return "> 0.5: picking the in-sample best is worse than a coin flip"
    return "lower is better (0 = the in-sample best stays on top)"


@dataclass(frozen=True)
class ReportSection:
    """One block of the page: a heading, optional text (Markdown) and an optional picture."""

    title: str
    text: str = ""
    image: Path | None = None


def write_markdown_report(
    folder: Path, title: str, sections: Sequence[ReportSection], *, preface: str = ""
) -> Path:
    """``<folder>/report.md`` with the sections in order; pictures are linked relative to the
    folder (they must live inside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    if preface:
        lines += [preface, ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.text:
            lines += [section.text, ""]
        if section.image is not None:
            relative = Path(section.image).resolve().relative_to(folder.resolve())
            lines += [f"![{section.title}]({relative.as_posix()})", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
