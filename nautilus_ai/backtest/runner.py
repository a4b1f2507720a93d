"""Run a backtest file through Nautilus' ``BacktestNode`` and report on it.

The runner owns everything around the run: loading the file, the preflight checks
(:mod:`nautilus_ai.backtest.preflight`), timing, reading fills and trades back from the engine,
the equity curve and statistics (:mod:`nautilus_ai.reporting`), and the report folder
(``stats.json``, ``equity.png``, ``trades.csv``, ``decisions.parquet``). The final equity is
reconciled against the venue account so a bookkeeping error cannot hide.

**A failure is a failure.** Every outcome carries a ``status`` (``"ok"`` or ``"failed"``) and
the ``reasons``, per strategy (:class:`StrategyStatus`). A strategy *failed* when it did not
start (it stopped before its first bar), stopped before the data ended, raised, had no bars to
run on, or could not trade (every order denied / rejected by the venue, or every entry signal
sized to zero - the balance or leverage cannot carry one position). A strategy that made no
trade on purpose (observe-only) or for want of a signal is ``ok``, with a note saying so. A
:class:`RunWatch` actor, added to the engine, looks at each strategy's state a minute after the
start and every hour of simulated time after that.
"""

from __future__ import annotations

import math
import shutil
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import OrderStatus, PriceType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.trading.strategy import Strategy

from nautilus_ai.backtest.config import ConfigError, RunFile, load_run_file, substitute_env
from nautilus_ai.backtest.data_check import check_run_data, run_time_ns
from nautilus_ai.backtest.precompute import bar_arrays_from_catalog
from nautilus_ai.backtest.preflight import check_report_dir, loaded_bar_types, preflight
from nautilus_ai.decision import DecisionLog
from nautilus_ai.decision.core import UNPROTECTED_ENTRY_REASONS
from nautilus_ai.reporting import (
    BacktestSummary,
    buy_and_hold_curve,
    equity_curve,
    new_report_folder,
    plot_equity,
    summarise,
    write_report,
)
from nautilus_ai.timefmt import utc_seconds

__all__ = [
    "BacktestFailedError",
    "BacktestOutcome",
    "RunWatch",
    "StrategyStatus",
    "run_backtest",
    "run_backtest_file",
]

Status = Literal["ok", "failed"]


class BacktestFailedError(RuntimeError):
    """A backtest that a workflow needs (a comparison, the demo) did not do its job."""


@dataclass
class StrategyStatus:
    """How one strategy's run went.

    Parameters
    ----------
    strategy_id : str
    status : {"ok", "failed"}
    reasons : list of str
        Why it failed (empty when ok).
    notes : list of str
        What a reader should know about an ok run (no trade, and why).
    bars : int or None
        Bars of its ``bar_type`` in the run's window (None when it names none).
    orders, filled, denied, rejected : int
        Its orders, and how many of them filled / were denied / were rejected.
    entry_signals, entries_sized : int or None
        Decisions to enter, and those that got a quantity > 0 (strategies that record
        decisions).
    """

    strategy_id: str
    status: Status = "ok"
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bars: int | None = None
    orders: int = 0
    filled: int = 0
    denied: int = 0
    rejected: int = 0
    entry_signals: int | None = None
    entries_sized: int | None = None

    def fail(self, reason: str) -> None:
        self.status = "failed"
        self.reasons.append(reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "bars": self.bars,
            "orders": self.orders,
            "filled": self.filled,
            "denied": self.denied,
            "rejected": self.rejected,
            "entry_signals": self.entry_signals,
            "entries_sized": self.entries_sized,
        }


class RunWatch(Actor):  # type: ignore[misc]
    """Watches the strategies' states during a backtest (it trades nothing).

    A minute of simulated time after the start, and then every hour, it records for each
    strategy not running the first time it was seen so (``stopped_at``), and which were seen
    running at all (``seen_running``).
    """

    def __init__(self, strategies: Sequence[Any]) -> None:
        super().__init__(ActorConfig(component_id="RunWatch"))
        self._strategies = list(strategies)
        self.seen_running: set[str] = set()
        self.stopped_at: dict[str, tuple[int, str]] = {}
        self.checks = 0

    def on_start(self) -> None:
        now = self.clock.utc_now()
        self.clock.set_time_alert(
            "run-watch-first", now + timedelta(minutes=1), callback=self._check
        )
        self.clock.set_timer("run-watch", timedelta(hours=1), start_time=now, callback=self._check)

    def on_dispose(self) -> None:
        self._strategies = []  # the engine outlives its disposal (see run_backtest)

    def _check(self, event: Any) -> None:
        self.checks += 1
        for strategy in self._strategies:
            sid = strategy.id.value
            if strategy.is_running:
                self.seen_running.add(sid)
            elif sid not in self.stopped_at:
                self.stopped_at[sid] = (int(event.ts_event), strategy.state.name)


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
    status: Status = "ok"
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strategies: dict[str, StrategyStatus] = field(default_factory=dict)
    bid_close: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    ask_close: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def ok(self) -> bool:
        """True when the run did its job (no strategy failed)."""
        return self.status == "ok"

    def status_dict(self) -> dict[str, Any]:
        """``{"status", "reasons", "notes", "strategies": {id: {...}}}`` (JSON-ready)."""
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "strategies": {sid: st.to_dict() for sid, st in self.strategies.items()},
        }


def run_backtest_file(path: str | Path, *, write: bool = True) -> BacktestOutcome:
    """Load ``path`` (YAML/JSON run file) and :func:`run_backtest` it."""
    return run_backtest(load_run_file(path), write=write)


def run_backtest(run_file: RunFile, *, write: bool = True) -> BacktestOutcome:
    """Preflight, run, collect, assess, summarise and (when ``write``) write the report folder.

    Raises
    ------
    ConfigError
        From the preflight (a catalog, instrument, bar type or venue the run needs is missing).

    The outcome's ``status`` says whether the run did its job; a run that raised inside the
    engine is returned as ``failed`` (with the exception as the reason), not raised.
    """
    preflight(run_file)
    check_run_data(run_file)  # one side of a BID / ASK pair only: no market, 0 trades
    if write:
        check_report_dir(run_file)  # not after minutes of running
    config = run_file.run
    node = BacktestNode([config])
    engine: Any = None
    try:
        try:
            node.build()
        except Exception as exc:  # Nautilus' own checks while building venues and strategies
            message = " ".join(str(exc).split())
            raise ConfigError(
                f"{run_file.path}: run: the backtest engine refused the config: "
                f"{type(exc).__name__}: {message}"
            ) from exc
        engine = node.get_engine(config.id)
        if engine is None:
            raise RuntimeError(f"{run_file.path}: the backtest engine was not built")
        watch = RunWatch(engine.trader.strategies())
        engine.add_actor(watch)
        run_error: str | None = None
        start = time.perf_counter()
        try:
            node.run()
        except Exception as exc:  # a strategy or the engine raised: a failed run, reported
            run_error = _describe_run_error(exc)
        elapsed = time.perf_counter() - start
        outcome = _collect(run_file, engine, elapsed)
        _assess(run_file, engine, watch, outcome, run_error)
        if write:
            outcome.report_dir = _write_report(
                run_file, outcome, outcome.bid_close, outcome.ask_close
            )
        return outcome
    finally:
        strategies = engine.trader.strategies() if engine is not None else []
        node.dispose()  # type: ignore[no-untyped-call]
        if engine is not None:
            _release(engine, strategies)


def _release(engine: Any, strategies: Sequence[Any]) -> None:
    """Drop what a disposed engine still holds once the outcome has its copies.

    Nautilus 1.221 never frees a disposed engine: its components reference each other through
    handlers held by Rust clocks and by numpy arrays in the message bus, which Python's cyclic
    GC cannot see, so the whole graph stays in the process. Whatever hangs off it would too
    (+40-60 MB a run, 3.5 GB after 29 runs in one process): the cache's orders, positions and
    bars, and each strategy's records (the outcome holds copies). The strategies free their own
    run-time state in ``on_dispose``.
    """
    engine.cache.reset()
    for strategy in strategies:
        for name in ("decisions", "trades"):
            records = getattr(strategy, name, None)
            if isinstance(records, list | DecisionLog):
                records.clear()  # in place: the outcome holds copies


def _collect(run_file: RunFile, engine: Any, elapsed: float) -> BacktestOutcome:
    config = run_file.run
    venue_config = config.venues[0]
    starting = Money.from_str(str(venue_config.starting_balances[0]))
    strategies = engine.trader.strategies()
    bar_type = _primary_bar_type(run_file)
    data_config = _data_loading(run_file, bar_type)
    bar_ts, bid_close, ask_close = _mark_prices(
        data_config.catalog_path, bar_type, data_config.start_time, data_config.end_time
    )
    fills = _fills(engine.trader.generate_fills_report())
    equity, position = _equity(
        run_file, bar_type, bar_ts, bid_close, ask_close, fills, starting.as_double()
    )
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
    return BacktestOutcome(
        summary=summary,
        report_dir=None,
        bar_ts=bar_ts,
        equity=equity,
        position=position,
        fills=fills,
        trades=trades,
        decisions=decisions,
        strategy_stats=stats,
        bid_close=bid_close,
        ask_close=ask_close,
    )


# -- assessment: did each strategy do its job? -------------------------------------------------


def _assess(
    run_file: RunFile,
    engine: Any,
    watch: RunWatch,
    outcome: BacktestOutcome,
    run_error: str | None,
) -> None:
    # The primary series was read for the equity curve already: count it from there.
    bar_counts: dict[str, int] = {str(outcome.summary.extra.get("bar_type")): outcome.bar_ts.size}
    configs = (
        {index: dict(s.config) for index, s in enumerate(run_file.run.engine.strategies)}
        if run_file.run.engine
        else {}
    )
    for index, strategy in enumerate(engine.trader.strategies()):
        sid = strategy.id.value
        status = StrategyStatus(sid)
        config = configs.get(index, {})
        bar_type = config.get("bar_type")
        if isinstance(bar_type, str):
            if bar_type not in bar_counts:
                bar_counts[bar_type] = _bar_count(run_file, bar_type)
            status.bars = bar_counts[bar_type]
        _assess_lifecycle(status, strategy, watch, config, run_error)
        _assess_orders(status, engine, strategy)
        _assess_decisions(status, strategy, config)
        _assess_feature_log(status, strategy)
        if status.bars == 0:
            data = _data_loading(run_file, str(bar_type))
            window = _window_text(data.start_time, data.end_time)
            status.fail(f"ran on zero bars: no {bar_type} bars {window}")
        elif status.status == "ok" and status.filled == 0:
            status.notes.append(_no_trade_note(status, config))
        outcome.strategies[sid] = status
    stopped_early = _engine_stopped_early(engine, outcome.bar_ts)
    if stopped_early:
        outcome.reasons.append(stopped_early)
    for actor in engine.trader.actors():  # a control schedule's commands that did not apply
        problems = getattr(actor, "schedule_problems", None)
        if callable(problems):
            outcome.reasons += problems()
    for sid, status in outcome.strategies.items():
        outcome.reasons += [f"{sid}: {reason}" for reason in status.reasons]
        outcome.notes += [f"{sid}: {note}" for note in status.notes]
    claimed = (
        any(run_error.startswith(f"{sid} ") for sid in outcome.strategies) if run_error else False
    )
    if run_error is not None and not claimed:  # the engine's, or an actor's
        outcome.reasons.append(run_error)
    if outcome.bar_ts.size == 0 and not outcome.reasons:
        primary = _data_loading(run_file, str(outcome.summary.extra.get("bar_type")))
        window = _window_text(primary.start_time, primary.end_time)
        outcome.reasons.append(f"no {outcome.summary.extra.get('bar_type')} bars {window}")
    outcome.status = "failed" if outcome.reasons else "ok"
    extra = dict(outcome.summary.extra)
    extra.update(outcome.status_dict())
    outcome.summary = _with_extra(outcome.summary, extra)


def _engine_stopped_early(engine: Any, bar_ts: np.ndarray) -> str:
    """A reason when the engine ended the run before the last bar of the window (Nautilus stops
    a backtest on an ``AccountError``, e.g. a negative cash balance, and logs it at ERROR)."""
    if bar_ts.size == 0:
        return ""
    end = engine.get_result().backtest_end
    if end is None or int(end) >= int(bar_ts[-1]):
        return ""
    return (
        f"the engine stopped the run at {utc_seconds(int(end))}, before the data ended at "
        f"{utc_seconds(int(bar_ts[-1]))} (an account error such as a negative balance; its ERROR "
        "log says which)"
    )


def _assess_lifecycle(
    status: StrategyStatus,
    strategy: Any,
    watch: RunWatch,
    config: Mapping[str, Any],
    run_error: str | None,
) -> None:
    sid = status.strategy_id
    if run_error is not None and sid in run_error:
        status.fail(run_error.removeprefix(f"{sid} "))
        return
    if watch.checks == 0:
        return  # the run ended within its first simulated minute: nothing to tell
    stopped = watch.stopped_at.get(sid)
    if stopped is None:
        return
    ts, state = stopped
    if sid not in watch.seen_running:
        why = _why_not_started(strategy, config)
        status.fail(
            f"failed to start: it stopped before its first bar (state {state})"
            + (f": {why}" if why else "; its ERROR log says why")
        )
    else:
        status.fail(
            f"stopped before the data ended (state {state}, first seen stopped at "
            f"{utc_seconds(ts)}); its ERROR log says why"
        )


def _why_not_started(strategy: Any, config: Mapping[str, Any]) -> str:
    """The likely cause of a strategy stopping in ``on_start``, for the strategy configs we
    know (an instrument, a predictor); empty when none is found."""
    instrument = config.get("instrument_id")
    cache = getattr(strategy, "cache", None)
    if isinstance(instrument, str) and cache is not None:
        from nautilus_trader.model.identifiers import InstrumentId

        if cache.instrument(InstrumentId.from_str(instrument)) is None:
            return f"instrument {instrument} is not in the catalog"
    predictor = config.get("predictor")
    if isinstance(predictor, Mapping):
        from nautilus_ai.features import FeatureSpec, TickVectorSpec
        from nautilus_ai.models.registry import build_predictor

        spec_dict = config.get("feature_spec")
        try:
            spec = FeatureSpec.from_dict(spec_dict) if spec_dict else FeatureSpec()
            ticks = config.get("tick_mode") is not None  # the model reads tick vectors
            build_predictor(predictor, TickVectorSpec(spec) if ticks else spec).close()
        except Exception as exc:  # the same build on_start ran: any error is the reason
            return f"its predictor could not be built: {type(exc).__name__}: {exc}"
    return ""


def _assess_orders(status: StrategyStatus, engine: Any, strategy: Any) -> None:
    first_refusal = ""
    for order in engine.cache.orders(strategy_id=strategy.id):
        status.orders += 1
        if order.filled_qty.as_double() > 0:
            status.filled += 1
        if order.status in (OrderStatus.DENIED, OrderStatus.REJECTED):
            if order.status == OrderStatus.DENIED:
                status.denied += 1
            else:
                status.rejected += 1
            if not first_refusal:
                reason = getattr(order.last_event, "reason", "") if order.last_event else ""
                first_refusal = f"{order.status.name} {order.side.name} {order.order_type.name}"
                first_refusal += f": {reason}" if reason else ""
    refused = status.denied + status.rejected
    if status.orders and not status.filled and refused:
        status.fail(
            f"could not trade: none of its {status.orders} orders filled, {status.denied} "
            f"denied and {status.rejected} rejected by the risk engine / venue (first: "
            f"{first_refusal}); check the venue's balances and leverage"
        )
    elif refused:
        status.notes.append(
            f"{refused} of {status.orders} orders were denied or rejected (first: {first_refusal})"
        )


def _assess_decisions(status: StrategyStatus, strategy: Any, config: Mapping[str, Any]) -> None:
    decisions = getattr(strategy, "decisions", None)
    if not isinstance(decisions, Sequence):
        return
    decisions = [*decisions, *getattr(strategy, "tick_decisions", ())]
    _assess_model_faults(status, strategy, decisions)
    fallbacks = int(getattr(strategy, "precomputed_fallbacks", 0) or 0)
    if fallbacks and config.get("feature_source") == "precomputed":
        # same decisions (every bar is checked against the series), but the speed asked for
        # was not had, and said only in a WARNING line a demo's log level hides
        status.notes.append(
            f"feature_source precomputed fell back to incremental features {fallbacks} "
            f"time{'s' if fallbacks > 1 else ''}: the bars of its catalog_path "
            f"{config.get('catalog_path')} did not match the bars the run fed (another "
            "catalog, not all of the window, or precompute_end_time before the end); same "
            "decisions, slower"
        )
    if config.get("observe_only"):
        return
    entries = [d for d in decisions if getattr(d, "intent", None) in ("enter", "reverse")]
    sized = [d for d in entries if float(getattr(d, "quantity", 0.0)) > 0.0]
    status.entry_signals, status.entries_sized = len(entries), len(sized)
    if entries and not sized and not status.orders:
        first = str(getattr(entries[0], "reason", ""))
        if first.startswith(UNPROTECTED_ENTRY_REASONS):  # the exits, not the size
            status.fail(
                f"could not trade: all {len(entries)} entry signals had no placeable stop / "
                f"target (first: {first}); check stop_loss_atr and take_profit_atr"
            )
            return
        status.fail(
            f"could not trade: all {len(entries)} entry signals were sized to zero (first: "
            f"{first}); check the venue's balances and leverage and the sizing settings"
        )


def _assess_feature_log(status: StrategyStatus, strategy: Any) -> None:
    """Fail a run whose decision log (``feature_log``) is not all on disk: a write refused (a
    reused run id), a full disk. Its ERROR lines alone left the run ``ok``, and training or
    feedback then read a log with rows missing."""
    from nautilus_ai.adapters.feature_log import close_feature_log

    stats = close_feature_log(strategy)  # everything recorded, written now (the run is over)
    shortfall = stats.shortfall() if stats is not None else None
    if shortfall:
        status.fail(shortfall)


def _assess_model_faults(status: StrategyStatus, strategy: Any, decisions: list[Any]) -> None:
    """Fail a run whose model failed: each fault was a hold standing in for its answer, so the
    run did not backtest the model (a backend that may fail on purpose belongs in a
    ``fallback`` chain, which answers instead)."""
    errors = int(getattr(strategy, "predictor_errors", 0) or 0)
    if not errors:
        return
    first = next((d for d in decisions if getattr(d, "error", None)), None)
    where = f" (first at {utc_seconds(int(first.ts_event))}: {first.error})" if first else ""
    status.fail(f"its model failed {errors:,} times and each decision was a hold{where}")


def _no_trade_note(status: StrategyStatus, config: Mapping[str, Any]) -> str:
    if config.get("observe_only"):
        return "no trade: observe-only (decisions recorded, no orders sent by design)"
    if status.entry_signals == 0:
        return f"no trade: no entry signal in {status.bars} bars (nothing reached min_confidence)"
    return "no trade"


def _describe_run_error(exc: BaseException) -> str:
    """``"<strategy id> raised <Type>: <message>"`` when a strategy's code is in the
    traceback, else ``"the engine raised ..."``."""
    owner = "the engine"
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Strategy | Actor) and not isinstance(candidate, RunWatch):
            owner = candidate.id.value
    message = " ".join(str(exc).split()) or type(exc).__name__
    return f"{owner} raised {type(exc).__name__} during the run: {message}"


def _bar_count(run_file: RunFile, bar_type: str) -> int:
    """Bars of ``bar_type`` the run loads: counted in each data config that loads it (its own
    catalog and window; the first data config's said zero for another catalog's bars)."""
    count = 0
    for data in run_file.run.data:
        if bar_type not in loaded_bar_types(data):
            continue
        try:
            ts, _ = bar_arrays_from_catalog(
                data.catalog_path, bar_type, *_window_ns(data.start_time, data.end_time)
            )
        except (FileNotFoundError, ValueError):
            continue
        count += int(ts.size)
    return count


def _data_loading(run_file: RunFile, bar_type: str) -> Any:
    """The first data config that loads ``bar_type`` (the first one when none names it)."""
    data = run_file.run.data
    return next((d for d in data if bar_type in loaded_bar_types(d)), data[0])


def _window_ns(start: Any, end: Any) -> tuple[int | None, int | None]:
    """A data config's ``start_time`` / ``end_time`` as UTC ns (``None`` stays open)."""
    return (None if start is None else _to_ns(start)), (None if end is None else _to_ns(end))


def _window_text(start: Any, end: Any) -> str:
    if start is None and end is None:
        return "in the catalog"
    return f"between {start if start is not None else 'the first bar'} and " \
        f"{end if end is not None else 'the last bar'}"  # fmt: skip


def _with_extra(summary: BacktestSummary, extra: Mapping[str, Any]) -> BacktestSummary:
    import dataclasses

    return dataclasses.replace(summary, extra=dict(extra))


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
    window = _window_ns(start, end)  # read the run's bars only, not the whole catalog
    ts, ohlcv = bar_arrays_from_catalog(catalog_path, bar_type, *window)
    bid = ask = ohlcv[:, 3]
    price_type = parsed.spec.price_type
    if price_type in (PriceType.BID, PriceType.ASK):
        other_side = "ASK" if price_type == PriceType.BID else "BID"
        other_type = bar_type.replace(f"-{price_type.name}-", f"-{other_side}-")
        try:
            other_ts, other = bar_arrays_from_catalog(catalog_path, other_type, *window)
        except FileNotFoundError:
            other_ts, other = ts, ohlcv
        if other_ts.size == 0:  # no bar of the other side in the window: one series
            other_ts, other = ts, ohlcv
        aligned = np.searchsorted(other_ts, ts).clip(0, other_ts.size - 1)
        other_close = np.where(other_ts[aligned] == ts, other[aligned, 3], ohlcv[:, 3])
        bid, ask = (ohlcv[:, 3], other_close) if other_side == "ASK" else (other_close, ohlcv[:, 3])
    return ts, bid, ask


def _equity(
    run_file: RunFile,
    bar_type: str,
    bar_ts: np.ndarray,
    bid_close: np.ndarray,
    ask_close: np.ndarray,
    fills: dict[str, np.ndarray],
    starting: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Equity at each bar of ``bar_type`` (the primary series), and the position.

    Each instrument's fills are marked at its own prices: a run of strategies on two
    instruments had the other instrument's position marked at the primary one's prices
    (GBP/USD units at EUR/USD closes), which drew drawdowns, Sharpe and exposure from
    nowhere. With several instruments the position is the gross one (the sum of the absolute
    positions, units), which is all the report reads from it (exposure, flat at the end).
    """
    primary = str(BarType.from_str(bar_type).instrument_id)
    instruments = list(dict.fromkeys(str(i) for i in fills["instrument"])) or [primary]
    if instruments == [primary]:
        return equity_curve(
            bar_ts, bid_close, ask_close, fills["ts"], fills["qty"], fills["price"],
            fills["commission"], starting,
        )  # fmt: skip
    equity = np.full(bar_ts.size, starting, dtype=np.float64)
    gross = np.zeros(bar_ts.size, dtype=np.float64)
    for instrument in instruments:
        mine = fills["instrument"] == instrument
        if instrument == primary:
            bid, ask = bid_close, ask_close
        else:
            bid, ask = _marks_on(run_file, instrument, bar_ts, fills, mine)
        curve, position = equity_curve(
            bar_ts, bid, ask, fills["ts"][mine], fills["qty"][mine], fills["price"][mine],
            fills["commission"][mine], 0.0,
        )  # fmt: skip
        equity += curve
        gross += np.abs(position)
    return equity, gross


def _marks_on(
    run_file: RunFile,
    instrument: str,
    bar_ts: np.ndarray,
    fills: dict[str, np.ndarray],
    mine: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask closes of ``instrument`` at (or last before) each of ``bar_ts``: from the
    bars a strategy of it runs on, else the first bars of it the run loads, else its fills."""
    engine = run_file.run.engine
    candidates = [
        str(s.config.get("bar_type")) for s in (engine.strategies if engine else None) or []
    ]
    for data in run_file.run.data:
        candidates += loaded_bar_types(data)
    for candidate in candidates:
        if not candidate.startswith(f"{instrument}-"):
            continue
        source = next((d for d in run_file.run.data if candidate in loaded_bar_types(d)), None)
        if source is None:
            continue
        ts, bid, ask = _mark_prices(
            source.catalog_path, candidate, source.start_time, source.end_time
        )
        if ts.size:
            return _as_of(ts, bid, bar_ts), _as_of(ts, ask, bar_ts)
    price = _as_of(fills["ts"][mine], fills["price"][mine], bar_ts)
    return price, price


def _as_of(ts: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``values`` at the last ``ts`` at or before each of ``at`` (the first value before it)."""
    index = np.searchsorted(ts, at, side="right") - 1
    marks: np.ndarray = np.asarray(values, dtype=np.float64)[index.clip(0, ts.size - 1)]
    return marks


def _to_ns(value: Any) -> int:
    return run_time_ns(value)


def _fills(report: Any) -> dict[str, np.ndarray]:
    if report is None or len(report) == 0:
        empty = np.zeros(0)
        return {"ts": empty.astype(np.int64), "qty": empty, "price": empty, "commission": empty,
                "instrument": empty.astype(str)}  # fmt: skip
    side = np.where(report["order_side"].astype(str).to_numpy() == "BUY", 1.0, -1.0)
    qty = report["last_qty"].astype(float).to_numpy() * side
    price = report["last_px"].astype(float).to_numpy()
    commission = np.array([Money.from_str(str(c)).as_double() for c in report["commission"]])
    ts = report["ts_event"].astype("int64").to_numpy()
    instrument = report["instrument_id"].astype(str).to_numpy()
    order = np.argsort(ts, kind="stable")
    return {
        "instrument": instrument[order],
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
        decisions += list(getattr(strategy, "tick_decisions", []))  # on_tick records
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
    folder = new_report_folder(run_file.report_dir, f"{run_file.name}-{stamp}")
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
    _write_run_config(run_file, folder)
    return folder


def _write_run_config(run_file: RunFile, folder: Path) -> None:
    """The run file beside its report: the file itself when it was read from disk unchanged,
    else the config that ran (a file re-targeted in memory, or one never written: JSON)."""
    import json

    from nautilus_ai.backtest.config import read_config_file

    try:
        unchanged = run_file.path.is_file() and (
            substitute_env(read_config_file(run_file.path, "run file", ConfigError)) == run_file.raw
        )
    except ConfigError:
        unchanged = False
    if unchanged:
        shutil.copyfile(run_file.path, folder / f"run{run_file.path.suffix}")
    else:
        text = json.dumps(run_file.raw, indent=2, default=str)
        (folder / "run.json").write_text(text + "\n", encoding="utf-8")


def _asdict(record: Any) -> dict[str, Any]:
    if hasattr(record, "_asdict"):  # NamedTuple records (DecisionRecord)
        return dict(record._asdict())
    return {name: getattr(record, name) for name in record.__slots__}
