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
from nautilus_ai.models.base import PlainSignals
from nautilus_ai.tick_decisions import (
    HELD_STALE,
    TickDecider,
    TickModeConfig,
    bar_period_ns,
    decide_on_tick,
    tick_problem,
)

__all__ = ["TICK_MODE_SCHEMA", "TickMode"]

TICK_MODE_SCHEMA = Schema(TickModeConfig)


class TickMode:
    """Decides on the quote ticks a :class:`TickDecider` selects, for ``strategy``."""

    __slots__ = ("_bars", "_context", "_context_bar", "_first_tick", "_hash", "_i_atr", "_i_vol",
                 "_last_ts", "_names", "_on_tick", "_plain", "_pre", "_precompute", "_strategy",
                 "decider", "precomputed_fallbacks", "vector_spec")  # fmt: skip

    @classmethod
    def of(cls, strategy: Any, spec: FeatureSpec, config: dict[str, Any] | None) -> TickMode | None:
        """The tick mode ``config`` asks for (``{}``: every default), or None without one."""
        return None if config is None else cls(strategy, spec, config)

    def __init__(self, strategy: Any, spec: FeatureSpec, config: dict[str, Any]) -> None:
        self.decider = TickDecider(
            spec, TickModeConfig(**config), bar_ns=bar_period_ns(str(strategy.config.bar_type)),
            on_stale=self._held_stale,
        )  # fmt: skip
        self.vector_spec = self.decider.vector_spec
        self._strategy = strategy
        self._on_tick = self.decider.on_tick_row  # bound once: the per-tick path is hot
        self._plain = PlainSignals()  # the predictor's plain signal, where it gives one
        self._names = self.vector_spec.names
        self._hash = self.vector_spec.hash
        self._i_atr = spec.index("atr_close")
        self._i_vol = spec.index("vol_regime")
        self._context: MarketContext | None = None
        self._context_bar = -1
        # Backtests with feature_source "precomputed": decision ticks looked up (see
        # nautilus_ai.backtest.tick_precompute), from the first decision tick on.
        self._precompute = strategy.config.feature_source == "precomputed"
        self._pre: Any = None  # PrecomputedTicks
        self._bars: list[tuple[int, np.ndarray]] = []  # delivered bars, for a replay
        self._first_tick = -1
        self._last_ts = -1  # the last accepted quote's time
        self.precomputed_fallbacks = 0

    def reset(self) -> None:
        """Forget bars, ticks and the precomputed decisions (a fresh run)."""
        self.decider.reset()
        self._precompute = self._strategy.config.feature_source == "precomputed"
        self._pre = None
        self._bars = []
        self._first_tick = -1
        self._last_ts = -1
        self._context = None
        self._context_bar = -1

    def model_switched(self) -> None:
        """The strategy switched its model: the precomputed answers were the old model's, so
        continue tick by tick (the new model is asked from the next decision tick on)."""
        if self._pre is not None:
            self._fall_back("the model was switched")

    def release(self) -> None:
        """The run is over: free the precomputed quotes and vectors (records stay)."""
        if self._pre is not None:
            self._pre.release()
        self._bars = []

    @property
    def ticks_seen(self) -> int:
        """Quote ticks handed to the tick mode so far."""
        pre = self._pre
        return self.decider.ticks_seen + (0 if pre is None else pre.next - pre.start)

    @property
    def precomputed(self) -> Any:
        """The :class:`~nautilus_ai.backtest.tick_precompute.PrecomputedTicks` in use, or None."""
        return self._pre

    @property
    def decisions(self) -> Any:
        """The tick decisions (a :class:`~nautilus_ai.decision.DecisionLog`, ``on_tick``)."""
        return self._strategy.core.tick_decisions

    def on_bar(self, ts_event_ns: int, row: np.ndarray) -> None:
        if self._pre is None:
            self.decider.on_bar(ts_event_ns, row)
        if self._precompute or self._pre is not None:
            self._bars.append((ts_event_ns, row))
            if self._pre is not None and self._strategy.precomputed is None:
                self._fall_back("the bar features left the precomputed series")

    def on_quote_tick(self, tick: QuoteTick) -> None:
        ts = tick.ts_event
        bid = tick.bid_price.as_double()
        ask = tick.ask_price.as_double()
        low, high = self._strategy._gate.outliers.band
        problem = tick_problem(ts, self._last_ts, bid, ask, low, high)
        if problem is not None:  # no feature, no decision; counted and alerted
            s = self._strategy
            detail = f"ts={ts} bid={bid} ask={ask} (last accepted tick at {self._last_ts})"
            s.health.tick_rejected(problem, detail, s.clock.timestamp_ns())
            return
        self._last_ts = ts
        pre = self._pre
        if pre is not None:
            i = pre.next
            if i < pre.n and ts == pre.ts[i] and bid == pre.bid[i] and ask == pre.ask[i]:
                pre.next = i + 1
                row = pre.decision_at[i]
                if row >= 0:
                    self._decide_row(row, ts)
                elif row == HELD_STALE:
                    self._held_stale(ts, -1, -1)
                return
            self._fall_back(f"tick at {ts} is not the catalog's next quote")
        elif self._first_tick < 0:
            self._first_tick = ts
        row = self._on_tick(ts, bid, ask, tick.bid_size.as_double(), tick.ask_size.as_double())
        if row is None:
            return
        self._decide(row, ts, bid, ask)
        if self._precompute:
            self._start_precompute(ts, bid, ask)

    def _held_stale(self, ts: int, bar_ts: int, due_ns: int) -> None:
        """A quote held because a due bar is late: counted in the status and alerted."""
        s = self._strategy
        known = "" if bar_ts < 0 else f": last bar closed at {bar_ts}, the one due at {due_ns}"
        s.health.tick_held_stale(f"quote at {ts}{known}", s.clock.timestamp_ns())

    def _decide(self, row: list[float], ts: int, bid: float, ask: float) -> None:
        s = self._strategy
        predictor = s._predictor
        if predictor is None:  # no usable model (the strategy is stopping)
            return
        exits = s._exits
        if exits.position_open:  # unprotected too long: close (as on every bar)
            exits.check(s.clock.timestamp_ns())
        if not s._decision_sinks:  # a plain signal straight to the core: nothing built
            signal = self._plain.read(predictor, self._hash, row)
            if signal is not None:
                model_id = predictor.model_id
                decision = s.core.decide_signal(
                    ts, (bid + ask) / 2.0, row[self._i_atr], row[self._i_vol], signal, model_id,
                    exits.position_open, s._account, on_tick=True,
                )  # fmt: skip
                if decision is not None and decision.send:
                    s._execute(decision, model_id)
                return
        vector = np.array(row)
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

    # -- the precomputed path (backtests) ----------------------------------------------------

    def _start_precompute(self, ts: int, bid: float, ask: float) -> None:
        """At the first decision tick: look the rest up, if the model and data allow it."""
        from nautilus_ai.backtest.tick_precompute import precompute_ticks

        self._precompute = False
        s = self._strategy
        series = s.precomputed
        if series is None or s._predictor is None:
            self._bars = []
            return
        decider = self.decider
        try:
            pre = precompute_ticks(
                str(s.config.catalog_path), s.config.instrument_id, self._first_tick,
                decider.config, decider.spec, series.ts_array, series.features, s._predictor,
                ts, bid, ask, decider.ticks_seen, s.config.precompute_end_ns, decider.bar_ns,
            )  # fmt: skip
        except Exception as exc:  # a catalog or model fault: tick by tick, as live
            s.log.warning(f"Tick decisions not precomputed: {type(exc).__name__}: {exc}")
            pre = None
        if pre is None:
            self._bars = []
            return
        self._pre = pre
        s.core.use_tick_source(pre)
        s.log.info(f"Precomputed {len(pre.decision_ts):,} tick decisions")

    def _fall_back(self, why: str) -> None:
        """Continue tick by tick: replay the run so far into the incremental path."""
        from nautilus_ai.backtest.tick_precompute import replay_ticks

        pre, self._pre = self._pre, None
        s = self._strategy
        s.core.use_tick_source(None)  # rows logged so far become records
        replay_ticks(self.decider, self._bars, pre)
        self._bars = []
        self.precomputed_fallbacks += 1
        s.log.warning(f"Tick mode: {why}; continuing with incremental tick features")

    def _decide_row(self, row: int, ts: int) -> None:
        """A precomputed decision tick: a row number when quiet (nothing to do), else the core."""
        s = self._strategy
        pre = self._pre
        core = s.core
        exits = s._exits
        if exits.position_open:
            exits.check(s.clock.timestamp_ns())
        sign = pre.sign[row]
        if core.is_quiet(sign, pre.confidence[row], exits.position_open):
            core.hold_tick_row(row)  # nothing to do: the row number is the record
            for sink in s._decision_sinks:
                sink(ts, pre.rows.features[row], pre.prediction(row), "none", 0.0, False)
            return
        decision = core.decide(
            ts, pre.mid[row], pre.atr_close[row], pre.vol_regime[row], sign, pre.confidence[row],
            pre.risk_score[row], pre.model_id, pre.reason[row], s._account, on_tick=True,
        )  # fmt: skip
        if decision.send:
            s._execute(decision, pre.model_id)
        if s._decision_sinks:
            s._to_sinks(ts, pre.rows.features[row], pre.prediction(row), decision)
