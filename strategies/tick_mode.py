"""Tick mode wiring for :class:`strategies.ai_pattern.AIPatternStrategy` (issue 15).

Thin glue only: Nautilus quote ticks become floats for the pure
:class:`nautilus_ai.tick_decisions.TickDecider`, which owns the features, cadence and rule. The
strategy hands it every accepted bar's feature row (``on_bar``) and every quote tick of its
instrument (``on_quote_tick``). Observe-only: tick decisions are recorded
(``strategy.tick_mode.decider``), they place no orders.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from nautilus_trader.model.data import QuoteTick

from nautilus_ai.config_check import Schema
from nautilus_ai.features import FeatureSpec
from nautilus_ai.tick_decisions import TickDecider, TickModeConfig

__all__ = ["TICK_MODE_SCHEMA", "TickMode"]

TICK_MODE_SCHEMA = Schema(TickModeConfig)


class TickMode:
    """Feeds a :class:`TickDecider` from the strategy's bars and quote ticks."""

    __slots__ = ("decider", "on_tick")

    def __init__(self, spec: FeatureSpec, config: dict[str, Any]) -> None:
        self.decider = TickDecider(spec, TickModeConfig(**config))
        self.on_tick = self.decider.on_tick  # bound once: the per-tick path is hot

    def on_bar(self, ts_event_ns: int, row: np.ndarray) -> None:
        self.decider.on_bar(ts_event_ns, row)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self.on_tick(
            tick.ts_event,
            tick.bid_price.as_double(),
            tick.ask_price.as_double(),
            tick.bid_size.as_double(),
            tick.ask_size.as_double(),
        )
