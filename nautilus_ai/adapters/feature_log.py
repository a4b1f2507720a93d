"""Feature logging glue: a strategy's decisions and closed positions into a catalog
(:class:`~nautilus_ai.catalog.logger.FeatureLogger`), flushed on a live timer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from nautilus_trader.common.component import Clock, LiveClock

__all__ = [
    "FEATURE_LOG_TIMER",
    "attach_feature_logger",
    "build_feature_logger",
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
    into the catalog ``config`` names; returns the logger."""
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

    def log_decision(ts: int, row: Any, prediction: Any, *rest: Any) -> None:
        last = core.last_decision  # built just now: its reason has the sizer's verdict
        record(ts, row, prediction, *rest, last.reason if last else None)

    strategy.add_decision_sink(log_decision)
    strategy.add_trade_sink(logger.record_outcome)
    return logger
