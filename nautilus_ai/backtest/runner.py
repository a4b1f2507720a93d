"""Run a backtest file through Nautilus' ``BacktestNode`` and report on it.

The runner owns everything around the run: loading the file, timing, reading fills and trades
back from the engine, the equity curve and statistics (:mod:`nautilus_ai.reporting`), and the
report folder (``stats.json``, ``equity.png``, ``trades.csv``, ``decisions.parquet``). The
final equity is reconciled against the venue account so a bookkeeping error cannot hide.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money

from nautilus_ai.backtest.config import RunFile, load_run_file
from nautilus_ai.backtest.data_check import check_run_data
from nautilus_ai.backtest.precompute import bar_arrays_from_catalog
from nautilus_ai.reporting import (
    BacktestSummary,
    buy_and_hold_curve,
    equity_curve,
    plot_equity,
    summarise,
    write_report,
)

__all__ = ["BacktestOutcome", "run_backtest", "run_backtest_file"]


@dataclass
class BacktestOutcome:
    """Everything a caller (CLI, tests, benchmarks) may want back from a run."""

    summary: BacktestSummary
    report_dir: Path | None
    bar_ts: np.ndarray
    equity: np.ndarray
    position: np.ndarray
    fills: dict[str, np.ndarray]
    trades: list[Any] = field(default_factory=list)
    decisions: list[Any] = field(default_factory=list)
    strategy_stats: dict[str, Any] = field(default_factory=dict)


def run_backtest_file(path: str | Path, *, write: bool = True) -> BacktestOutcome:
    """Load ``path`` (YAML/JSON run file) and :func:`run_backtest` it."""
    return run_backtest(load_run_file(path), write=write)


def run_backtest(run_file: RunFile, *, write: bool = True) -> BacktestOutcome:
    """Run, collect, summarise and (when ``write``) write the report folder."""
    check_run_data(run_file)  # a missing series would run to the end with no market
    config = run_file.run
    node = BacktestNode([config])
    try:
        start = time.perf_counter()
        node.run()
        elapsed = time.perf_counter() - start
        engine = node.get_engine(config.id)
        if engine is None:
            raise RuntimeError(f"{run_file.path}: the backtest engine was not kept")
        venue_config = config.venues[0]
        starting = Money.from_str(str(venue_config.starting_balances[0]))
        strategies = engine.trader.strategies()
        bar_type = _primary_bar_type(run_file)
        data_config = config.data[0]
        bar_ts, bid_close, ask_close = _mark_prices(
            data_config.catalog_path, bar_type, data_config.start_time, data_config.end_time
        )
        fills = _fills(engine.trader.generate_fills_report())
        equity, position = equity_curve(
            bar_ts, bid_close, ask_close, fills["ts"], fills["qty"], fills["price"],
            fills["commission"], starting.as_double(),
        )  # fmt: skip
        trades, decisions, stats = _strategy_records(strategies)
        trade_pnls = [t.realized_pnl for t in trades] if trades else _position_pnls(engine)
        account = engine.trader.generate_account_report(Venue(venue_config.name))
        account_final = float(account["total"].iloc[-1]) if len(account) else math.nan
        orders = len(engine.trader.generate_orders_report())
        summary = summarise(
            name=run_file.name,
            sample=run_file.sample,
            bar_ts=bar_ts,
            equity=equity,
            position=position,
            trade_pnls=trade_pnls,
            orders=orders,
            elapsed_s=elapsed,
            bars_processed=int(bar_ts.size),
            starting_equity=starting.as_double(),
            currency=str(starting.currency),
            extra={
                "account_final_balance": account_final,
                "reconciliation_diff": (
                    float(equity[-1]) - account_final if equity.size and position[-1] == 0
                    else None
                ),
                "fills": int(fills["ts"].size),
                "bar_type": bar_type,
                **stats,
            },
        )  # fmt: skip
        outcome = BacktestOutcome(
            summary=summary,
            report_dir=None,
            bar_ts=bar_ts,
            equity=equity,
            position=position,
            fills=fills,
            trades=trades,
            decisions=decisions,
            strategy_stats=stats,
        )
        if write:
            outcome.report_dir = _write_report(run_file, outcome, bid_close, ask_close)
        return outcome
    finally:
        node.dispose()  # type: ignore[no-untyped-call]


def _primary_bar_type(run_file: RunFile) -> str:
    engine = run_file.run.engine
    for strategy in (engine.strategies if engine else None) or []:
        bar_type = strategy.config.get("bar_type")
        if bar_type:
            return str(bar_type)
    for data in run_file.run.data:
        if data.bar_types:
            return str(data.bar_types[0])
        if data.instrument_id and data.bar_spec:
            return f"{data.instrument_id}-{data.bar_spec}-EXTERNAL"
    raise ValueError(f"{run_file.path}: cannot tell which bar type drives the strategy")


def _mark_prices(
    catalog_path: str, bar_type: str, start: Any, end: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bid and ask closes at each bar of ``bar_type`` (the same series when only one side)."""
    parsed = BarType.from_str(bar_type)
    ts, ohlcv = bar_arrays_from_catalog(catalog_path, bar_type)
    bid = ask = ohlcv[:, 3]
    price_type = parsed.spec.price_type
    if price_type in (PriceType.BID, PriceType.ASK):
        other_side = "ASK" if price_type == PriceType.BID else "BID"
        other_type = bar_type.replace(f"-{price_type.name}-", f"-{other_side}-")
        try:
            other_ts, other = bar_arrays_from_catalog(catalog_path, other_type)
        except FileNotFoundError:
            other_ts, other = ts, ohlcv
        aligned = np.searchsorted(other_ts, ts).clip(0, other_ts.size - 1)
        other_close = np.where(other_ts[aligned] == ts, other[aligned, 3], ohlcv[:, 3])
        bid, ask = (ohlcv[:, 3], other_close) if other_side == "ASK" else (other_close, ohlcv[:, 3])
    window = np.ones(ts.size, dtype=bool)
    if start is not None:
        window &= ts >= _to_ns(start)
    if end is not None:
        window &= ts <= _to_ns(end)
    return ts[window], bid[window], ask[window]


def _to_ns(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(np.datetime64(str(value).replace("Z", ""), "ns").astype(np.int64))


def _fills(report: Any) -> dict[str, np.ndarray]:
    if report is None or len(report) == 0:
        empty = np.zeros(0)
        return {"ts": empty.astype(np.int64), "qty": empty, "price": empty, "commission": empty}
    side = np.where(report["order_side"].astype(str).to_numpy() == "BUY", 1.0, -1.0)
    qty = report["last_qty"].astype(float).to_numpy() * side
    price = report["last_px"].astype(float).to_numpy()
    commission = np.array([Money.from_str(str(c)).as_double() for c in report["commission"]])
    ts = report["ts_event"].astype("int64").to_numpy()
    order = np.argsort(ts, kind="stable")
    return {
        "ts": ts[order],
        "qty": qty[order],
        "price": price[order],
        "commission": commission[order],
    }


def _strategy_records(strategies: list[Any]) -> tuple[list[Any], list[Any], dict[str, Any]]:
    trades: list[Any] = []
    decisions: list[Any] = []
    stats: dict[str, Any] = {}
    for strategy in strategies:
        trades += list(getattr(strategy, "trades", []))
        decisions += list(getattr(strategy, "decisions", []))
        for name in ("invalid_bars", "predictor_errors", "precomputed_fallbacks", "orders_sent"):
            if hasattr(strategy, name):
                stats[name] = stats.get(name, 0) + int(getattr(strategy, name))
        if hasattr(strategy, "model_win_rates"):
            stats["model_win_rates"] = strategy.model_win_rates()
        if hasattr(strategy, "model_id"):
            stats["model_id"] = strategy.model_id
    return trades, decisions, stats


def _position_pnls(engine: Any) -> list[float]:
    report = engine.trader.generate_positions_report()
    if report is None or len(report) == 0:
        return []
    closed = report[report["ts_closed"].notna()]
    return [Money.from_str(str(p)).as_double() for p in closed["realized_pnl"]]


def _write_report(
    run_file: RunFile, outcome: BacktestOutcome, bid_close: np.ndarray, ask_close: np.ndarray
) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = run_file.report_dir / f"{run_file.name}-{stamp}"
    n = 1
    while folder.exists():  # never overwrite an earlier report
        n += 1
        folder = run_file.report_dir / f"{run_file.name}-{stamp}-{n}"
    folder.mkdir(parents=True)
    write_report(folder, outcome.summary)
    start_equity = outcome.summary.starting_equity
    curves = {"strategy": outcome.equity}
    if outcome.bar_ts.size:
        quantity = start_equity / float(ask_close[0])
        curves["buy & hold (1x)"] = buy_and_hold_curve(
            outcome.bar_ts, float(ask_close[0]), bid_close, quantity, start_equity
        )
    plot_equity(
        folder / "equity.png",
        outcome.bar_ts,
        curves,
        f"{run_file.name} [{run_file.sample}]",
    )
    if outcome.trades:
        table = pa.Table.from_pylist([_asdict(t) for t in outcome.trades])
        pacsv.write_csv(table, folder / "trades.csv")
    if outcome.decisions:
        table = pa.Table.from_pylist([_asdict(d) for d in outcome.decisions])
        pq.write_table(table, folder / "decisions.parquet")
    shutil.copyfile(run_file.path, folder / f"run{run_file.path.suffix}")
    return folder


def _asdict(record: Any) -> dict[str, Any]:
    if hasattr(record, "_asdict"):  # NamedTuple records (DecisionRecord)
        return dict(record._asdict())
    return {name: getattr(record, name) for name in record.__slots__}
