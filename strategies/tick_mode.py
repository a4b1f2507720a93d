"""Tick mode wiring for :class:`strategies.ai_pattern.AIPatternStrategy` (issue 15).

Thin glue only. The strategy hands every accepted bar's feature row (``on_bar``) and every quote
tick of its instrument (``on_quote_tick``) here. The pure
:class:`~nautilus_ai.tick_decisions.TickDecider` picks the decision ticks (cadence) and builds
their vectors (last completed bar's features + tick features); each decision then takes the bar
decisions' path (:func:`~nautilus_ai.tick_decisions.decide_on_tick`): the strategy's predictor
(built for :attr:`TickMode.vector_spec`), its :class:`~nautilus_ai.decision.DecisionCore`
(policy, sizer, pause / min confidence / max position / risk multiplier, model statistics), and
its order execution with the protective exits. With ``observe_only`` the decisions are recorded
(``strategy.core.tick_decisions``) and nothing is sent. In tick mode bars only give features:
every decision is made on a tick.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from nautilus_trader.model.data import QuoteTick

from nautilus_ai.config_check import Schema
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import MarketContext
from nautilus_ai.tick_decisions import TickDecider, TickModeConfig, decide_on_tick

__all__ = ["TICK_MODE_SCHEMA", "TickMode"]

TICK_MODE_SCHEMA = Schema(TickModeConfig)


class TickMode:
    """Decides on the quote ticks a :class:`TickDecider` selects, for ``strategy``."""

    __slots__ = ("_context", "_context_bar", "_hash", "_i_atr", "_i_vol", "_names", "_on_tick",
                 "_strategy", "decider", "vector_spec")  # fmt: skip

    def __init__(self, strategy: Any, spec: FeatureSpec, config: dict[str, Any]) -> None:
        self.decider = TickDecider(spec, TickModeConfig(**config))
        self.vector_spec = self.decider.vector_spec
        self._strategy = strategy
        self._on_tick = self.decider.on_tick  # bound once: the per-tick path is hot
        self._names = self.vector_spec.names
        self._hash = self.vector_spec.hash
        self._i_atr = spec.index("atr_close")
        self._i_vol = spec.index("vol_regime")
        self._context: MarketContext | None = None
        self._context_bar = -1

    @property
    def decisions(self) -> Any:
        """The tick decisions (a :class:`~nautilus_ai.decision.DecisionLog`, ``on_tick``)."""
        return self._strategy.core.tick_decisions

    def on_bar(self, ts_event_ns: int, row: np.ndarray) -> None:
        self.decider.on_bar(ts_event_ns, row)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        ts = tick.ts_event
        bid = tick.bid_price.as_double()
        ask = tick.ask_price.as_double()
        vector = self._on_tick(ts, bid, ask, tick.bid_size.as_double(), tick.ask_size.as_double())
        if vector is None:
            return
        s = self._strategy
        predictor = s._predictor
        if predictor is None:  # no usable model (the strategy is stopping)
            return
        exits = s._exits
        if exits.position_open:  # unprotected too long: close (as on every bar)
            exits.check(s.clock.timestamp_ns())
        bar_ts = self.decider.bar_ts[-1]
        context = self._context
        if context is None or bar_ts != self._context_bar:
            # The market as of the last completed bar (ts_event, recent bars): one per bar.
            window = s._context_window
            context = self._context = MarketContext(
                s.config.instrument_id, bar_ts, self._names, self._hash,
                None if window is None else np.asarray(window, dtype=np.float64),
            )  # fmt: skip
            self._context_bar = bar_ts
        prediction, decision = decide_on_tick(
            s.core, predictor, vector, ts, (bid + ask) / 2.0, context, s._account,
            self._i_atr, self._i_vol, position_open=exits.position_open,
        )  # fmt: skip
        if prediction.error is not None:
            s._count_error(prediction, ts)  # a fault holds, is counted and logged
        if decision is None:  # flat, no signal: recorded, nothing to do
            if s._decision_sinks:
                for sink in s._decision_sinks:
                    sink(ts, vector, prediction, "none", 0.0, False)
            return
        if decision.send:
            s._execute(decision, prediction.model_id)
        if s._decision_sinks:
            s._to_sinks(ts, vector, prediction, decision)
