"""The trader's report for one backtest report folder (what ``nautilus-ai backtest`` writes).

::

    python -m nautilus_ai.experiments.backtest_report reports/demo-eurusd-rule-<ts> \\
        --catalog catalogs/demo

reads ``stats.json``, ``trades.csv`` and ``decisions.parquet`` from the folder and the bid / ask
bars from the catalog, and writes ``trader/report.md`` with its pictures into the folder:
equity and drawdown, trades on the price chart for the busiest day (or ``--window``), monthly
returns, rolling Sharpe, the PnL distribution, confidence at entry against PnL, the cost split,
and bootstrap intervals. The equity curve is rebuilt from the trade log (each round trip's
commission split over its two fills) and marked at the bid / ask closes; its end is checked
against the run's final equity.

Glue: file and catalog reading here, every number and picture in :mod:`.stats`, :mod:`.costs`
and :mod:`.report`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nautilus_ai.experiments.costs import split_trades
from nautilus_ai.experiments.report import (
    ReportSection,
    TradeMarks,
    plot_confidence_vs_pnl,
    plot_cost_split,
    plot_equity_drawdown,
    plot_monthly_returns,
    plot_pnl_distribution,
    plot_rolling_sharpe,
    plot_trades_on_price,
    write_markdown_report,
)
from nautilus_ai.experiments.stats import mean_ci, sharpe_ci, win_rate_ci
from nautilus_ai.reporting import buy_and_hold_curve, daily_returns, equity_curve
from nautilus_ai.timefmt import utc_seconds

__all__ = ["BacktestReport", "main", "write_backtest_report"]

NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class BacktestReport:
    """What :func:`write_backtest_report` wrote, and the equity check."""

    markdown: Path
    images: tuple[Path, ...]
    equity_difference: float
    trades: int


def _read_trades(folder: Path) -> dict[str, list[Any]]:
    import pyarrow.csv as pacsv

    path = folder / "trades.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trade log (did the run trade?)")
    columns: dict[str, list[Any]] = pacsv.read_csv(path).to_pydict()
    return columns


def _entry_confidence(folder: Path, decision_ts: Sequence[int]) -> np.ndarray | None:
    path = folder / "decisions.parquet"
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["ts_event", "confidence"])
    ts = table.column("ts_event").to_numpy().astype(np.int64)
    confidence = table.column("confidence").to_numpy().astype(np.float64)
    order = np.argsort(ts, kind="stable")
    ts, confidence = ts[order], confidence[order]
    wanted = np.asarray(decision_ts, dtype=np.int64)
    at = np.clip(np.searchsorted(ts, wanted), 0, max(ts.size - 1, 0))
    if ts.size == 0 or not np.array_equal(ts[at], wanted):
        return None
    out: np.ndarray = confidence[at]
    return out


def _busiest_day(entry_ts: np.ndarray) -> tuple[int, int]:
    days = entry_ts // NS_PER_DAY
    values, counts = np.unique(days, return_counts=True)
    day = int(values[int(np.argmax(counts))])
    return day * NS_PER_DAY, (day + 1) * NS_PER_DAY


def write_backtest_report(
    report_dir: str | Path,
    catalog_path: str | Path,
    *,
    window: tuple[int, int] | None = None,
    out: str | Path | None = None,
    seed: int = 0,
) -> BacktestReport:
    """Write the trader's report of one backtest report folder (see the module docstring).

    Raises
    ------
    FileNotFoundError
        The folder has no ``stats.json`` / ``trades.csv``, or the catalog no such bars.
    """
    from nautilus_ai.data.catalog import read_bars

    folder = Path(report_dir)
    stats_path = folder / "stats.json"
    if not stats_path.is_file():
        raise FileNotFoundError(f"{stats_path}: not a backtest report folder")
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    trades = _read_trades(folder)
    target = Path(out) if out is not None else folder / "trader"
    name, sample, currency = stats["name"], stats["sample"], stats["currency"]
    label = f"{name} [{sample}]"
    bid_type = str(stats["extra"]["bar_type"])
    start = int(np.datetime64(stats["start"].rstrip("Z"), "ns").astype(np.int64))
    end = int(np.datetime64(stats["end"].rstrip("Z"), "ns").astype(np.int64))
    bid = read_bars(catalog_path, bid_type, start_ns=start, end_ns=end)  # the run's bars only
    ask_type = bid_type.replace("-BID-", "-ASK-")
    try:
        ask = read_bars(catalog_path, ask_type, start_ns=start, end_ns=end)
        ask_close = ask.close if np.array_equal(ask.ts_event, bid.ts_event) else bid.close
    except FileNotFoundError:
        ask_close = bid.close
    ts, bid_close = bid.ts_event, bid.close
    if window is not None and not np.any((ts >= window[0]) & (ts < window[1])):
        raise ValueError(
            f"the chart window {utc_seconds(window[0])} .. {utc_seconds(window[1])} "
            "holds none of the run's "
            f"{ts.size:,} bars ({stats['start']} .. {stats['end']})"
        )
    ohlc = np.column_stack([bid.open, bid.high, bid.low, bid.close])

    split = split_trades(trades, ts, bid_close, ask_close)
    marks = TradeMarks.from_columns(trades)
    fill_ts = np.concatenate([marks.entry_ts, marks.exit_ts])
    fill_qty = np.concatenate([marks.side, -marks.side]) * np.tile(
        np.asarray(trades["quantity"], dtype=np.float64), 2
    )
    fill_px = np.concatenate([marks.entry_price, marks.exit_price])
    fees = np.tile(split.commission / 2.0, 2)
    starting = float(stats["starting_equity"])
    equity, _ = equity_curve(ts, bid_close, ask_close, fill_ts, fill_qty, fill_px, fees, starting)
    difference = float(equity[-1] - stats["final_equity"]) if equity.size else math.nan
    hold = buy_and_hold_curve(
        ts, float(ask_close[0]), bid_close, starting / float(ask_close[0]), starting
    )

    images = [
        plot_equity_drawdown(
            target / "equity.png",
            ts,
            equity,
            title=f"{label} equity",
            baselines={"buy & hold (1x)": hold},
            currency=currency,
        ),
    ]
    chart_window = window or _busiest_day(marks.entry_ts)
    images.append(
        plot_trades_on_price(
            target / "trades.png",
            ts,
            ohlc,
            marks,
            window=chart_window,
            title=f"{label} trades, {np.datetime64(chart_window[0], 'ns').astype('datetime64[D]')}",
        )
    )
    images.append(
        plot_monthly_returns(target / "monthly.png", ts, equity, title=f"{label} monthly returns")
    )
    images.append(plot_rolling_sharpe(target / "rolling_sharpe.png", ts, equity, title=label))
    costs = split.totals()
    images.append(
        plot_pnl_distribution(
            target / "pnl.png",
            split.net,
            title=label,
            currency=currency,
            cost_per_trade=costs["commission_per_trade"] + costs["spread_per_trade"],
        )
    )
    confidence = _entry_confidence(folder, trades.get("decision_ts", trades["ts_opened"]))
    if confidence is not None:
        images.append(
            plot_confidence_vs_pnl(
                target / "confidence.png",
                confidence,
                split.net,
                title=f"{label}: confidence at entry vs realised PnL",
                currency=currency,
            )
        )
    images.append(plot_cost_split(target / "costs.png", split, title=label, currency=currency))

    daily = daily_returns(ts, equity)
    intervals = [
        ("Sharpe (annualised, daily returns)", sharpe_ci(daily, 252.0, seed=seed), ".2f"),
        ("mean net PnL per trade", mean_ci(split.net, seed=seed), ".2f"),
        ("win rate", win_rate_ci(split.net, seed=seed), ".3f"),
    ]
    table = ["| figure | estimate [95% interval] | mean block |", "|---|---|---|"]
    table += [f"| {what} | {ci.text(fmt)} | {ci.mean_block:.1f} |" for what, ci, fmt in intervals]
    totals = split.totals()
    sections = [
        ReportSection(
            "Equity and drawdown",
            f"Rebuilt from {len(split)} trades; ends "
            f"{difference:+.2f} {currency} from the run's final equity.",
            images[0],
        ),
        ReportSection("Trades on the price chart", "", images[1]),
        ReportSection("Monthly returns", "", images[2]),
        ReportSection("Rolling Sharpe", "", images[3]),
        ReportSection("PnL per trade", "", images[4]),
    ]
    if confidence is not None:
        sections.append(ReportSection("Does confidence pay?", "", images[5]))
    sections += [
        ReportSection(
            "Where the PnL goes",
            f"{split.verdict(currency)}. Run totals: gross {totals['gross']:+,.2f}, commission "
            f"{totals['commission']:,.2f}, spread {totals['spread']:,.2f}, net "
            f"{totals['net']:+,.2f} {currency}.",
            images[-1],
        ),
        ReportSection(
            "Uncertainty",
            "Stationary-bootstrap percentile intervals (Politis & Romano 1994; block length by "
            "Politis & White 2004).\n\n" + "\n".join(table),
        ),
    ]
    preface = (
        f"**{sample.upper()}** run `{name}`, {stats['start']} to {stats['end']}, "
        f"{stats['trades']} trades, PnL {stats['pnl']:+,.2f} {currency}. No proven edge: read "
        "the intervals before the headline."
    )
    markdown = write_markdown_report(target, f"{label}: trader's report", sections, preface=preface)
    return BacktestReport(markdown, tuple(images), difference, len(split))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nautilus_ai.experiments.backtest_report",
        description="Write the trader's report (Markdown + PNGs) of a backtest report folder.",
    )
    parser.add_argument("report_dir", help="a folder written by `nautilus-ai backtest`")
    parser.add_argument("--catalog", required=True, help="the catalog the run read its bars from")
    parser.add_argument(
        "--window",
        nargs=2,
        metavar=("START", "END"),
        help="UTC window for the trades chart (default: the busiest day)",
    )
    parser.add_argument("--out", help="output folder (default: <report_dir>/trader)")
    args = parser.parse_args(argv)
    window = None
    try:
        if args.window:
            from nautilus_ai.datasets import Window

            try:
                parsed = Window.parse(*args.window)
            except ValueError as exc:
                raise ValueError(f"--window {' '.join(args.window)}: {exc}") from None
            window = (parsed.start_ns, parsed.end_ns)
        report = write_backtest_report(args.report_dir, args.catalog, window=window, out=args.out)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"backtest_report: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {report.markdown} ({len(report.images)} pictures, {report.trades} trades; "
        f"equity rebuilt to {report.equity_difference:+.2f} of the run's)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
