"""Feature logging glue: a strategy's decisions and closed positions into a catalog
(:class:`~nautilus_ai.catalog.logger.FeatureLogger`), flushed on a live timer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from nautilus_trader.common.component import Clock, LiveClock

from nautilus_ai.decision import ACTION_NAMES

__all__ = [
    "FEATURE_LOG_TIMER",
    "attach_feature_logger",
    "build_feature_logger",
    "close_feature_log",
    "flush_feature_log",
    "flush_quiet_rows",
    "start_flush_timer",
]

FEATURE_LOG_TIMER = "feature-log-flush"


def build_feature_logger(
    config: dict[str, Any],
    *,
    spec: Any,
    instrument_id: str,
    bar_type: str,
    clock_ns: Callable[[], int],
    on_error: Callable[[str], None],
) -> Any:
    """A :class:`FeatureLogger` for ``config`` (the strategy's ``feature_log`` dict)."""
    from pydantic import ValidationError

    from nautilus_ai.catalog.logger import FeatureLogConfig, FeatureLogger
    from nautilus_ai.models.card import describe_errors

    try:
        validated = FeatureLogConfig.model_validate(config)
    except ValidationError as exc:
        raise ValueError(f"feature_log: {describe_errors(exc)}") from None
    return FeatureLogger(
        validated,
        spec=spec,
        instrument_id=instrument_id,
        bar_type=bar_type,
        clock_ns=clock_ns,
        on_error=on_error,
    )


def start_flush_timer(clock: Clock, logger: Any) -> None:
    """Live only (a backtest's clock would fire it in simulated time): flush on time even when
    no bar comes, e.g. over a weekend. Timers are cancelled when the strategy stops."""
    if isinstance(clock, LiveClock) and FEATURE_LOG_TIMER not in clock.timer_names:
        clock.set_timer(
            FEATURE_LOG_TIMER,
            timedelta(seconds=min(logger.config.flush_interval_s, 60.0)),
            callback=lambda _event: logger.flush_if_due(),
        )


def attach_feature_logger(strategy: Any, config: dict[str, Any]) -> Any:
    """Log every decision of ``strategy`` (an ``AIPatternStrategy``) and every closed position
    into the catalog ``config`` names; returns the logger.

    On the precomputed path the bars where nothing was decided are collected by the decision
    core (row numbers) and logged in bulk (:meth:`FeatureLogger.record_holds`), before the
    next full decision and when the strategy stops: the same rows, in the same order. The rows
    it decides (a signal, an open position) are logged from the signal arrays (``log_row``).
    """
    logger = build_feature_logger(
        config,
        spec=strategy.spec,
        instrument_id=strategy.config.instrument_id,
        bar_type=strategy.config.bar_type,
        clock_ns=strategy.clock.timestamp_ns,
        on_error=strategy.log.error,
    )
    record = logger.record
    core = strategy.core
    core.quiet_rows = []

    def log_decision(ts: int, row: Any, prediction: Any, *rest: Any) -> None:
        if core.quiet_rows:  # (most full decisions follow another: nothing to hand over)
            flush_quiet_rows(strategy)
        last = core.last_decision  # built just now: its reason has the sizer's verdict
        record(ts, row, prediction, *rest, last.reason if last else None)

    def log_row(row: int, decision: Any) -> None:  # a decided precomputed row: no Prediction
        if core.quiet_rows:
            flush_quiet_rows(strategy)
        series, last = strategy.precomputed, core.last_decision
        signals, done = series.signals, decision.record
        logger.record_fields(
            series.ts[row], series.features[row], ACTION_NAMES[signals.sign[row]],
            signals.confidence[row], signals.risk_score[row], signals.latency[row],
            signals.model_id, last.reason if last else signals.reason[row], done.intent,
            done.quantity, decision.send,
        )  # fmt: skip

    strategy.add_decision_sink(log_decision, rows=log_row)
    strategy.add_trade_sink(logger.record_outcome)
    return logger


def flush_quiet_rows(strategy: Any) -> None:
    """Hand the quiet precomputed rows collected so far to the strategy's feature logger."""
    rows = strategy.core.quiet_rows
    series = strategy.precomputed
    if not rows or series is None or series.signals is None:
        return
    signals = series.signals
    first, end = rows[0], rows[-1] + 1
    pick: Callable[[Sequence[Any]], Sequence[Any]]
    if end - first == len(rows):  # one run of consecutive bars (the usual case): slices
        rows_at: Any = slice(first, end)
        pick = lambda column: column[first:end]  # noqa: E731
    else:
        rows_at = np.asarray(rows, dtype=np.int64)
        pick = lambda column: [column[i] for i in rows]  # noqa: E731
    strategy.feature_logger.record_holds(
        series.ts_array[rows_at], series.features[rows_at], pick(signals.confidence),
        pick(signals.risk_score), pick(signals.latency),
        [ACTION_NAMES[sign] for sign in pick(signals.sign)], signals.model_id,
        pick(signals.reason),
    )  # fmt: skip
    rows.clear()


def flush_feature_log(strategy: Any) -> None:
    """Everything logged so far, quiet rows included, to disk (the strategy stops)."""
    flush_quiet_rows(strategy)
    strategy.feature_logger.flush()


def close_feature_log(strategy: Any) -> Any:
    """Write what is still buffered (quiet rows, outcomes of positions closed at the stop) and
    close the strategy's feature logger; returns its final ``LoggerStats`` (``None`` when the
    strategy logs nothing). Idempotent: the backtest runner closes it to judge the run (every
    recorded row on disk), the strategy's ``on_dispose`` again."""
    logger = getattr(strategy, "feature_logger", None)
    if logger is None:
        return None
    flush_quiet_rows(strategy)
    return logger.close()
