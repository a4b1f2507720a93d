"""AIPatternStrategy: features -> predictor -> decision core -> Nautilus orders.

Wiring only. Each bar is unwrapped into plain floats and handed to the pure pieces: the
:mod:`~nautilus_ai.bar_guard`, the :class:`~nautilus_ai.features.FeatureEngine` (or a lookup in
:class:`~nautilus_ai.backtest.precompute.PrecomputedSeries`), a ``Predictor`` and the
:class:`~nautilus_ai.decision.DecisionCore` (policy, sizing, risk controls, statistics,
records). It never crashes on a model or data fault: a predictor error is a logged ``hold``
(``Prediction.error``); an invalid or implausible bar is refused and counted in
``control_status()["health"]``. Orders and exits are ``PositionExits``' job. It runs in a
``BacktestNode`` and a live ``TradingNode``; live control (on the node's event loop) is
:mod:`~nautilus_ai.strategies.ai_pattern_control`.

.. warning:: The example rule and models have no proven edge. Backtest before you trust them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderEvent, OrderFilled, PositionClosed, PositionOpened
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import PRICE_MAX
from nautilus_trader.trading.strategy import Strategy

from nautilus_ai.adapters import feature_log
from nautilus_ai.adapters.account import StrategyAccount
from nautilus_ai.adapters.exits import PositionExits
from nautilus_ai.adapters.feature_log import FEATURE_LOG_TIMER, flush_quiet_rows
from nautilus_ai.bar_guard import BarGate
from nautilus_ai.decision import Decision, DecisionCore, DecisionRecord, TradeRecord
from nautilus_ai.decision.records import record_prediction
from nautilus_ai.decision.timing import DecisionTiming
from nautilus_ai.features import FeatureEngine, FeatureSpec, InvalidBarError
from nautilus_ai.health import ALERT_BAD_BARS, StrategyHealth
from nautilus_ai.models import MarketContext, Prediction, Predictor, safe_predict
from nautilus_ai.models.base import PlainSignals
from nautilus_ai.policy import Intent
from nautilus_ai.strategies.ai_pattern_config import AIPatternConfig
from nautilus_ai.strategies.ai_pattern_control import AIPatternControl
from nautilus_ai.strategies.tick_mode import TickMode

__all__ = [
    "FEATURE_LOG_TIMER",
    "AIPatternConfig",
    "AIPatternStrategy",
    "DecisionRecord",
    "TradeRecord",
]

DecisionSink = Callable[[int, np.ndarray, Prediction, str, float, bool], None]
RowSink = Callable[[int, Decision], None]
TradeSink = Callable[[TradeRecord], None]
_EXIT_REASONS = {Intent.EXIT: "signal_exit", Intent.EXIT_TIMEOUT: "max_holding"}


class AIPatternStrategy(AIPatternControl, Strategy):
    """Trades a model's buy / sell / hold calls with confidence-based sizing.

    .. warning:: No proven edge: this is a framework, not a money machine.
    """

    def __init__(self, config: AIPatternConfig) -> None:
        super().__init__(config)
        parts = config.parts()
        self._instrument_id = InstrumentId.from_str(config.instrument_id)
        self._bar_type = BarType.from_str(config.bar_type)
        self._use_spec(parts.spec)
        self.core = DecisionCore(
            parts.rules, parts.sizing, parts.controls,
            stop_loss_atr=config.stop_loss_atr, take_profit_atr=config.take_profit_atr,
            max_price=PRICE_MAX, observe_only=config.observe_only,
            record_decisions=config.record_decisions,
        )  # fmt: skip
        self._predictor_config: dict[str, Any] = dict(config.predictor)
        self._predictor: Predictor | None = None
        self._plain = PlainSignals()  # the per-bar fast path's predictor call
        self._context_window: deque[tuple[float, ...]] | None = (
            deque(maxlen=config.context_bars) if config.context_bars > 0 else None
        )
        self._series: Any = None  # PrecomputedSeries, loaded on the first bar
        self._precompute = config.feature_source == "precomputed"
        self._gate = BarGate(
            config.bar_time_tolerance_secs, config.max_bar_age_secs,
            config.outlier_max_move_pct, config.outlier_atr_multiple,
        )  # fmt: skip
        self.health = StrategyHealth(self._write_alert)
        protect = config.stop_loss_atr is not None or config.take_profit_atr is not None
        self._exits = PositionExits(
            self, self._instrument_id, self.health, protect=not config.observe_only and protect,
            stop_loss=config.observe_only or config.stop_loss_atr is not None,
        )  # fmt: skip
        self._account = StrategyAccount(self, self._instrument_id, self._exits)
        self.precomputed_fallbacks = 0
        self._decision_sinks: list[DecisionSink] = []
        self._row_sinks: list[RowSink] = []  # see add_decision_sink
        self._full_path = False  # a decision sink wants every bar's decision one by one
        self._scheduler: DecisionTiming | None = None  # see _start_scheduler
        self.feature_logger: Any = None  # a nautilus_ai.catalog.FeatureLogger when logging
        self.feedback: Any = None  # a nautilus_ai.feedback.FeedbackSink (see attach_feedback)
        self.tick_mode = TickMode.of(self, self.spec, config.tick_mode)

    # -- Lifecycle ----------------------------------------------------------------------------

    def on_start(self) -> None:
        if self.cache.instrument(self._instrument_id) is None:
            self.log.error(f"Instrument {self._instrument_id} not in cache; stopping")
            self.stop()
            return
        if self._predictor is None:
            self._predictor = self._build_first_predictor(self._predictor_config)
            if self._predictor is None:
                self.log.error("No usable predictor; stopping")
                self.stop()
                return
        self._start_scheduler()
        if self.config.feature_log is not None and self.feature_logger is None:
            self._attach_feature_logger(self.config.feature_log)
        if self.feature_logger is not None:
            feature_log.start_flush_timer(self.clock, self.feature_logger)
        feedback = self.config.feedback is not None and self.feedback is None
        if feedback and not self._start_feedback():
            return
        self._exits.adopt()
        self.subscribe_bars(self._bar_type)
        if self.tick_mode is not None:
            self.subscribe_quote_ticks(self._instrument_id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        if self.tick_mode is not None:
            self.tick_mode.on_quote_tick(tick)

    def on_stop(self) -> None:
        if self.config.close_positions_on_stop and not self.config.observe_only:
            self._close("strategy_stop")
        if self.feature_logger is not None:
            feature_log.flush_feature_log(self)

    def on_reset(self) -> None:
        """Back to a fresh run (features, records, statistics, bar gate, health, precomputed
        series); the predictor, the controls and the sinks are kept."""
        self._engine.reset()
        self.core.reset()
        self._gate.reset()  # else the outlier band stays on the last run's final close
        self.health.reset()
        self._series = None
        if self._scheduler is not None:
            self._scheduler.clear()
        self.precomputed_fallbacks = self._exits.sent = 0
        if self._context_window is not None:
            self._context_window.clear()
        if self.tick_mode is not None:
            self.tick_mode.reset()

    def on_dispose(self) -> None:
        if self.feedback is not None:
            self.log.info(f"Feedback: {self.feedback.close()}")
        if self._scheduler is not None:
            self._scheduler.close()
        if self._predictor is not None:
            self._predictor.close()
        if self.feature_logger is not None:
            stats = feature_log.close_feature_log(self)  # positions closed at stop too
            self.log.info(f"Feature log {stats.run_id}: {stats}")
        # Nautilus 1.221 never frees a disposed engine's parts: drop run-time state (records stay)
        self._scheduler = self._predictor = self._series = None
        if self.tick_mode is not None:
            self.tick_mode.release()
        self._decision_sinks, self._row_sinks = [], []
        self.core.release()

    # -- Bars: features -> predictor -> decision -> orders ----------------------------------

    def on_bar(self, bar: Bar) -> None:
        ts = bar.ts_event
        now = self.clock.timestamp_ns()
        self._exits.check(now)  # first: a run of bad bars must not skip it
        o, h, low = bar.open.as_double(), bar.high.as_double(), bar.low.as_double()
        c, v = bar.close.as_double(), bar.volume.as_double()
        problem = self._gate.admit(ts, bar.ts_init, now, h, low)  # time, outliers
        if problem is not None:
            self._reject_bar(problem, self._gate.detail, ts)
            return
        series = self._series
        if series is None and self._precompute:
            series = self._load_precomputed(ts)
        if series is not None:
            i = series.row(ts, o, h, low, c)
            if i >= 0:
                self._on_row(i, ts, o, h, low, c, v, now)
                return
            self._fallback_to_incremental()
        try:
            row: Any = self._engine.update(ts, o, h, low, c, v)  # Python floats, no array yet
        except InvalidBarError as exc:
            self._reject_bar(exc.reason, exc.detail, ts)
            return
        self._accepted(ts, o, h, low, c, v, row[self._i_atr], now)
        if self.tick_mode is not None:  # tick mode: bars give features, ticks decide
            self.tick_mode.on_bar(ts, np.asarray(row, dtype=np.float64))
        elif row[self._i_warm] == 1.0 and not self._fast(ts, c, row):
            self._on_features(ts, c, np.asarray(row, dtype=np.float64), None)

    def _fast(self, ts: int, c: float, row: list[float]) -> bool:
        """A plain signal straight to the core (nothing built per bar); ``False`` where the full
        path runs: a sink or the scheduler, another predictor, a row the predictor refuses."""
        if self._scheduler is not None or self._decision_sinks:
            return False
        signal = self._plain.read(self._predictor, self.spec.hash, row)
        if signal is None:
            return False
        model_id = self._predictor.model_id  # type: ignore[union-attr]
        decision = self.core.decide_signal(
            ts, c, row[self._i_atr], row[self._i_vol_regime], signal, model_id,
            self._exits.position_open, self._account,
        )  # fmt: skip
        if decision is not None and decision.send:
            self._execute(decision, model_id)
        return True

    def _accepted(
        self, ts: int, o: float, h: float, low: float, c: float, v: float, atr: float, now: int
    ) -> None:
        """Count an accepted bar; the outlier gate and the chart context learn it."""
        self.core.bars += 1
        reanchored = self._gate.accepted(c, atr * c)
        if reanchored is not None:
            self.health.alert("error", ALERT_BAD_BARS, f"bar at {ts}: {reanchored}", now)
        if self._context_window is not None:  # accepted bars only
            self._context_window.append((float(ts), o, h, low, c, v))

    def _on_row(
        self, i: int, ts: int, o: float, h: float, low: float, c: float, v: float, now: int
    ) -> None:
        """A precomputed bar: a lookup; the core only runs on a signal or an open position."""
        series = self._series
        self._accepted(ts, o, h, low, c, v, series.atr_close[i], now)
        if self.tick_mode is not None or not series.warm[i]:
            if self.tick_mode is not None:
                self.tick_mode.on_bar(ts, series.features[i])
            return
        signals = series.signals
        if signals is not None and not (self._scheduler or self._full_path):
            if i >= signals.ready:
                signals.fill_to(i)
            if signals.known[i]:
                decision = self.core.decide_row(
                    i, ts, c, series.atr_close[i], series.vol_regime[i],
                    self._exits.position_open, self._account,
                )  # fmt: skip
                if decision is not None:
                    if decision.send:
                        self._execute(decision, signals.model_id)
                    for row_sink in self._row_sinks:  # only bulk sinks take this path
                        row_sink(i, decision)
                return
        known = signals is not None and i < signals.ready and signals.known[i]
        self._on_features(ts, c, series.features[i], signals.prediction(i) if known else None)

    def _on_features(self, ts: int, c: float, row: np.ndarray, precomputed: Any) -> None:
        if self._scheduler is not None:
            self._schedule(ts, c, row, precomputed)
            return
        if precomputed is None:
            assert self._predictor is not None
            precomputed = safe_predict(self._predictor, row, self._context(ts))
            self._count_error(precomputed, ts)
        self._act(ts, c, row, precomputed)

    def _count_error(self, prediction: Prediction, ts: int) -> None:
        if prediction.error is not None:
            self.health.predictor_failed(prediction.reason, ts, self.clock.timestamp_ns())
            self._log_throttled(ts, f"Holding: {prediction.reason}")

    def _act(
        self, ts: int, c: float, row: np.ndarray, prediction: Prediction, decision_ts: int = 0
    ) -> None:
        decision = self.core.decide(
            ts, c, float(row[self._i_atr]), float(row[self._i_vol_regime]),
            prediction.action.sign, prediction.confidence, prediction.risk_score,
            prediction.model_id, prediction.reason, self._account,
            decision_ts=decision_ts or None, error=prediction.error,
        )  # fmt: skip
        if decision.send:
            self._execute(decision, prediction.model_id)
        if self._decision_sinks:
            self._to_sinks(ts, row, prediction, decision, decision_ts)

    def _to_sinks(
        self, ts: int, row: Any, p: Prediction, d: Decision, decision_ts: int = 0
    ) -> None:
        decided_ts, seen = (ts, row) if self._scheduler is None else (
            self._scheduler.decision_input(ts, row, decision_ts or None))  # fmt: skip
        for sink in self._decision_sinks:
            sink(decided_ts, seen, p, d.record.intent, d.record.quantity, d.send)

    def _execute(self, decision: Decision, model_id: str) -> None:
        intent = decision.intent
        if intent is Intent.EXIT or intent is Intent.EXIT_TIMEOUT:
            self._close(_EXIT_REASONS[intent])
            return
        if intent is Intent.REVERSE:
            self._close("reversal")
        assert decision.plan is not None
        # The opening decision is looked up by the entry's client order id when the position
        # opens: setting it here would relabel the position a reversal is still closing.
        tags = [f"model={model_id}", f"decision_ts={decision.decision_ts}"]  # for the trade log
        order_id = self._exits.enter(decision.side, decision.quantity, decision.plan, tags)
        self.core.order_placed(order_id, decision.decision_ts, model_id)
        if self.feedback is not None:
            self.feedback.entered(
                order_id, decision.decision_ts, record_prediction(decision.record)
            )

    def _close(self, reason: str) -> None:
        self.core.closing(reason)
        self._exits.close(reason)

    def _reject_bar(self, reason: str, detail: str, ts: int) -> None:
        """Count and report a refused bar; it changes no feature, decision or "last bar"."""
        self.health.bar_rejected(reason, detail, self.core.bars, ts, self.clock.timestamp_ns())
        self._log_throttled(ts, f"Rejected bar at {ts}: {reason}: {detail}")

    def _context(self, ts: int) -> MarketContext:
        window = self._context_window
        return MarketContext(
            self.config.instrument_id, ts, self.spec.names, self.spec.hash,
            None if window is None else np.asarray(window, dtype=np.float64),
        )  # fmt: skip

    # -- Order and position events: provenance by client order id, outcomes to the core -------

    def on_order_event(self, event: OrderEvent) -> None:
        self._exits.on_order_event(event)  # every order event, after the specific handler

    def on_order_filled(self, event: OrderFilled) -> None:
        reason = self._exits.exit_reason(event.client_order_id.value)
        if reason is not None:
            self.core.exit_filled(reason)

    def on_position_opened(self, event: PositionOpened) -> None:
        self._exits.on_position_opened()
        self.core.position_opened(event.opening_order_id.value)

    def on_position_closed(self, event: PositionClosed) -> None:
        self._exits.on_position_closed()
        pnl = event.realized_pnl.as_double() if event.realized_pnl is not None else 0.0
        trade = self.core.position_closed(
            ts_opened=event.ts_opened, ts_closed=event.ts_closed,
            side="long" if event.entry == OrderSide.BUY else "short",
            quantity=event.peak_qty.as_double(), avg_px_open=event.avg_px_open,
            avg_px_close=event.avg_px_close, realized_pnl=pnl, default_model_id=self.model_id,
        )  # fmt: skip
        if self.feedback is not None:
            self.feedback.closed(event.opening_order_id.value, trade)

    # -- Observability ------------------------------------------------------------------------

    @property
    def decisions(self) -> Any:
        """Every decision (a :class:`~nautilus_ai.decision.DecisionLog` of DecisionRecord)."""
        return self.core.decisions

    @property
    def precomputed(self) -> Any:
        """The :class:`~nautilus_ai.backtest.precompute.PrecomputedSeries` read, or ``None``."""
        return self._series

    @property
    def orders_sent(self) -> int:
        """Entries and closes the venue was sent (not those denied, or closes of nothing)."""
        return self._exits.sent

    @property
    def trades(self) -> list[TradeRecord]:
        return self.core.trades

    def add_decision_sink(self, sink: DecisionSink, *, rows: RowSink | None = None) -> None:
        """Call ``sink(ts, features, prediction, intent, quantity, order_sent)`` per decision
        (``ts``: the bar's; entry orders carry it as ``decision_ts``). A sink makes every bar
        take the full path, unless it takes the precomputed path's rows in bulk (the feature
        logger): ``rows(row, decision)`` per decided row, the quiet ones in ``core.quiet_rows``."""
        self._decision_sinks.append(sink)
        self._row_sinks += [] if rows is None else [rows]
        self._full_path = self._full_path or rows is None

    def add_trade_sink(self, sink: TradeSink) -> None:
        """Call ``sink(trade_record)`` for each closed position (outcome feedback)."""
        self.core.add_trade_sink(sink)

    def _attach_feature_logger(self, config: dict[str, Any]) -> None:
        self.feature_logger = feature_log.attach_feature_logger(self, config)
        self.log.info(f"Logging decisions to {self.feature_logger.snapshot_folder}")

    # -- Helpers ------------------------------------------------------------------------------

    def _write_alert(self, level: str, message: str) -> None:
        (self.log.error if level == "error" else self.log.warning)(message)

    def _use_spec(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._engine = FeatureEngine(spec)
        self._i_atr = spec.index("atr_close")
        self._i_vol_regime = spec.index("vol_regime")
        self._i_warm = spec.index("warm")

    def _log_throttled(self, ts: int, message: str) -> None:
        if self.health.log_due(ts or self.clock.timestamp_ns()):  # one line a simulated minute
            self.log.warning(message)

    def _load_precomputed(self, start_ns: int) -> Any:
        """Precompute from this (the first) bar on: the features start cold here, as the
        incremental path's do, so both paths make the same decisions for any window."""
        from nautilus_ai.backtest.precompute import precompute_series

        start = time.perf_counter()
        self._precompute = False
        series = self._series = precompute_series(
            str(self.config.catalog_path), self.config.bar_type, self.spec,
            None if self.tick_mode is not None else self._predictor,  # it reads tick vectors
            self.config.context_bars, start_ns=start_ns, end_ns=self.config.precompute_end_ns,
        )  # fmt: skip
        if series.signals is not None:
            self.core.use_signals(series.signals)
        self.log.info(f"Precomputed {len(series):,} rows in {time.perf_counter() - start:.2f} s")
        return series

    def _fallback_to_incremental(self) -> None:
        """Not the bar we precomputed: rebuild the incremental engine from the bars seen so far
        and continue bar by bar. Correctness first, speed second."""
        if self.feature_logger is not None:
            flush_quiet_rows(self)  # they are read from the series
        series, self._series = self._series, None
        self.precomputed_fallbacks += 1
        self.log.warning(
            f"Bar does not match the precomputed series at row {series.next}; "
            "continuing with incremental features"
        )
        series.replay_into(self._engine)
