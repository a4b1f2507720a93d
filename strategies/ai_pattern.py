"""AIPatternStrategy: features -> predictor -> confidence sizer -> Nautilus orders.

Wiring only. Each bar is unwrapped into plain floats and handed to the pure core:
:class:`~nautilus_ai.features.FeatureEngine` (or the vectorised twin, precomputed),
a :class:`~nautilus_ai.models.Predictor`, :func:`~nautilus_ai.policy.decide` and
:func:`~nautilus_ai.sizing.size_position`. The strategy never crashes on a model or data
fault: a predictor error becomes a logged ``hold``; an invalid or implausible bar is refused
(:mod:`nautilus_ai.bar_guard`) and counted in ``control_status()["health"]``. Orders and the
stop-loss / take-profit every position carries on the venue are
:class:`~nautilus_ai.adapters.exits.PositionExits`' job.

The same class runs in a ``BacktestNode`` and a live ``TradingNode``. Live control (pause,
resume, flatten, re-risk, switch model) goes through the public methods in the "Control"
section, which must be called on the node's event loop (the controller actor does that).

.. warning:: The example rule and models have no proven edge. Backtest before you trust them.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import numpy as np
from nautilus_trader.common.component import LiveClock
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import (
    OrderEvent,
    OrderFilled,
    PositionClosed,
    PositionOpened,
)
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.trading.strategy import Strategy

from nautilus_ai.adapters.exits import PositionExits
from nautilus_ai.adapters.protective_orders import EXIT_TAG
from nautilus_ai.bar_guard import BarGate
from nautilus_ai.catalog.logger import FeatureLogConfig
from nautilus_ai.config_check import FieldValueError, Schema, check_instance, schema_meta
from nautilus_ai.config_nautilus import NAUTILUS_HOOKS, check_bar_type, check_instrument_id
from nautilus_ai.features import FeatureEngine, FeatureSpec, InvalidBarError
from nautilus_ai.feedback import FeedbackConfig, FeedbackSink
from nautilus_ai.health import ALERT_BAD_BARS, StrategyHealth
from nautilus_ai.models import (
    DecisionScheduler,
    LatencyConfig,
    MarketContext,
    Prediction,
    Predictor,
    safe_predict,
)
from nautilus_ai.models.latency import LatencySpec
from nautilus_ai.models.registry import BACKEND_SCHEMA, build_predictor
from nautilus_ai.policy import Intent, PolicyConfig, decide
from nautilus_ai.protection import ProtectionPlan, plan_exits
from nautilus_ai.sizing import SizingConfig, SizingDecision, SizingInputs, size_position
from nautilus_ai.strategies.tick_mode import TICK_MODE_SCHEMA, TickMode

__all__ = ["AIPatternConfig", "AIPatternStrategy", "DecisionRecord", "TradeRecord"]

FEATURE_SOURCES = ("incremental", "precomputed")
_FEATURE_SPEC_SCHEMA = Schema(FeatureSpec)
_SIZING_SCHEMA = Schema(
    SizingConfig,
    exclude={"min_confidence": "set min_confidence on the strategy config, not inside sizing"},
)
FEATURE_LOG_TIMER = "feature-log-flush"


class AIPatternConfig(StrategyConfig, frozen=True, forbid_unknown_fields=True):
    """Configuration for :class:`AIPatternStrategy`.

    Strict: an unknown key, a wrong type or an out-of-range value is refused when the config is
    built, whether decoded (``AIPatternConfig.parse``, an ``ImportableStrategyConfig``) or
    constructed directly, with the key path (``sizing.lot_step``). The ``predictor``,
    ``sizing``, ``feature_spec``, ``decision_latency`` and ``feature_log`` dicts are checked
    against their own schemas (the predictor against its backend's model, by ``kind``), so a
    typo inside them fails here, not in ``on_start``.

    Parameters
    ----------
    instrument_id : str
        The traded instrument, e.g. ``"EUR/USD.SIM"``.
    bar_type : str
        The bars that drive decisions, e.g. ``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"``.
    predictor : dict
        Backend config for :func:`nautilus_ai.models.registry.build_predictor`, e.g.
        ``{"kind": "rule"}`` or ``{"kind": "torch", "path": "artifacts/mlp/v1"}``.
    feature_spec : dict, optional
        :meth:`FeatureSpec.to_dict` output; ``None`` for the default spec.
    feature_source : str, default "incremental"
        ``"incremental"``: features updated bar by bar (what live trading does).
        ``"precomputed"``: features (and predictions) computed once by the vectorised twin from
        ``catalog_path`` before the run and checked against every bar; any mismatch falls back
        to the incremental path. Same trades, less per-bar work.
    catalog_path : str, optional
        Catalog holding ``bar_type`` (required for ``"precomputed"``).
    observe_only : bool, default False
        Record decisions, send no orders.
    min_confidence : float, default 0.55
        Below this confidence a signal is treated as no signal (and sized to zero).
    reverse_on_opposite, exit_on_hold, max_holding_bars
        Position management, see :class:`nautilus_ai.policy.PolicyConfig`.
    sizing : dict
        :class:`nautilus_ai.sizing.SizingConfig` fields (``min_confidence`` comes from above).
    stop_loss_atr, take_profit_atr : float, optional
        Bracket exits at this many ATR(14) from the entry bar's close; ``None`` for none.
    context_bars : int, default 0
        Recent bars handed to the predictor in ``MarketContext.recent_bars`` (for chart / LLM
        backends); 0 for none.
    record_decisions : bool, default True
        Keep every decision in memory (``strategy.decisions``).
    close_positions_on_stop : bool, default True
        Flatten when the strategy stops.
    decision_latency : dict, optional
        Backtests: simulate the model's answer time with a
        :class:`~nautilus_ai.models.LatencyConfig` (``{"kind": "fixed", "latency_ms": 150}``,
        ``{"kind": "lognormal", "median_ms": 120, "sigma": 0.5, "seed": 7}``...). The decision
        for bar t is applied on the first bar at or after ``t + latency``.
    decision_deadline_ms : float, optional
        An answer later than this (after its bar) becomes a ``hold``.
    async_predictions : bool, default False
        Live: call the predictor on a worker thread, never on the event loop; each answer is
        applied on the first bar after it arrives. Not for backtests (wall-clock timing).
    feature_log : dict, optional
        :class:`nautilus_ai.catalog.FeatureLogConfig` fields (at least ``catalog_path``): log
        every decision as a ``FeatureSnapshot`` and every closed position as a
        ``DecisionOutcome`` into that catalog. ``None`` (default): no logging.
    feedback : dict, optional
        :class:`nautilus_ai.feedback.FeedbackConfig` fields: turn every closed position into
        an outcome for the model that decided it (and, with ``url``, a model server).
    bar_time_tolerance_secs : float, default 5.0
        A bar is refused when its ``ts_event`` is more than this after its ``ts_init``, or its
        ``ts_init`` more than this after the strategy's clock (see :mod:`nautilus_ai.bar_guard`).
    max_bar_age_secs : float, optional
        Refuse bars older than this (clock - ``ts_event``) when processed; ``None`` (default)
        for no limit, which an offline replay (historical ``ts_event``, live clock) needs.
    outlier_max_move_pct, outlier_atr_multiple : float, optional
        Hold (do not feed, do not decide on) a bar whose high or low is further than this % of
        the last accepted close, or this many ATR, from that close; after 3 held bars in a row
        the next one is accepted as the new level. Default 5 % (the largest 1-minute EUR/USD
        move in Jan - Jun 2017, an election weekend gap, was 1.8 %) and no ATR bound (real
        1-minute moves reach 53 ATR). ``None`` turns a bound off.
    tick_mode : dict, optional
        :class:`nautilus_ai.tick_decisions.TickModeConfig` fields: also decide on quote ticks
        (observe-only, see :mod:`strategies.tick_mode`); needs feature spec v2.
    """

    instrument_id: str
    bar_type: str
    predictor: Annotated[dict[str, Any], schema_meta(BACKEND_SCHEMA)] = msgspec.field(
        default_factory=lambda: {"kind": "rule"}
    )
    feature_spec: Annotated[dict[str, Any], schema_meta(_FEATURE_SPEC_SCHEMA)] | None = None
    feature_source: Literal["incremental", "precomputed"] = "incremental"
    catalog_path: str | None = None
    observe_only: bool = False
    min_confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.55
    reverse_on_opposite: bool = True
    exit_on_hold: bool = False
    max_holding_bars: Annotated[int, msgspec.Meta(ge=1)] | None = None
    sizing: Annotated[dict[str, Any], schema_meta(_SIZING_SCHEMA)] = msgspec.field(
        default_factory=dict
    )
    stop_loss_atr: Annotated[float, msgspec.Meta(gt=0.0)] | None = 2.0
    take_profit_atr: Annotated[float, msgspec.Meta(gt=0.0)] | None = 3.0
    context_bars: Annotated[int, msgspec.Meta(ge=0)] = 0
    record_decisions: bool = True
    close_positions_on_stop: bool = True
    decision_latency: Annotated[dict[str, Any], schema_meta(Schema(LatencySpec))] | None = None
    decision_deadline_ms: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    async_predictions: bool = False
    feature_log: Annotated[dict[str, Any], schema_meta(Schema(FeatureLogConfig))] | None = None
    feedback: Annotated[dict[str, Any], schema_meta(Schema(FeedbackConfig))] | None = None
    bar_time_tolerance_secs: Annotated[float, msgspec.Meta(ge=0.0)] = 5.0
    max_bar_age_secs: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    outlier_max_move_pct: Annotated[float, msgspec.Meta(gt=0.0)] | None = 5.0
    outlier_atr_multiple: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    tick_mode: Annotated[dict[str, Any], schema_meta(TICK_MODE_SCHEMA)] | None = None

    def __post_init__(self) -> None:
        # msgspec checks types and Meta ranges only when decoding: check a directly built
        # config the same way (types, ranges, nested schemas).
        check_instance(self, hooks=NAUTILUS_HOOKS)
        try:
            instrument_id = check_instrument_id(self.instrument_id)
        except ValueError as exc:
            raise FieldValueError("instrument_id", str(exc)) from None
        try:
            bar_type = check_bar_type(self.bar_type)
        except ValueError as exc:
            raise FieldValueError("bar_type", str(exc)) from None
        if bar_type.instrument_id != instrument_id:
            raise FieldValueError(
                "bar_type",
                f"bar_type {self.bar_type!r} is not for instrument_id {self.instrument_id!r}",
            )
        if self.feature_source == "precomputed" and not self.catalog_path:
            raise FieldValueError("catalog_path", "feature_source 'precomputed' needs catalog_path")
        try:
            SizingConfig(min_confidence=self.min_confidence, **self.sizing)
        except ValueError as exc:
            raise FieldValueError("sizing", str(exc)) from None
        if self.decision_latency is not None:
            if self.async_predictions:
                raise FieldValueError(
                    "decision_latency",
                    "decision_latency simulates latency in backtests; with async_predictions "
                    "(live) the latency is real",
                )
            try:
                LatencyConfig.parse(dict(self.decision_latency))
            except ValueError as exc:
                raise FieldValueError("decision_latency", str(exc)) from None


def _validate_feature_log(config: dict[str, Any]) -> Any:
    # --- feature logging (nautilus_ai.catalog) -------------------------------------------
    from pydantic import ValidationError

    from nautilus_ai.models.card import describe_errors

    try:
        return FeatureLogConfig.model_validate(config)
    except ValidationError as exc:
        raise ValueError(f"feature_log: {describe_errors(exc)}") from None


class DecisionRecord(NamedTuple):
    """One bar's decision (kept when ``record_decisions``; a tuple: one is built per bar)."""

    ts_event: int
    action: str
    confidence: float
    risk_score: float
    model_id: str
    intent: str
    quantity: float
    order_sent: bool
    reason: str


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A closed round trip, joined to the decision that opened it."""

    ts_opened: int
    ts_closed: int
    side: str
    quantity: float
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float
    model_id: str
    exit_reason: str
    decision_ts: int


DecisionSink = Callable[[int, np.ndarray, Prediction, str, float, bool], None]
TradeSink = Callable[[TradeRecord], None]


class AIPatternStrategy(Strategy):
    """Trades a model's buy / sell / hold calls with confidence-based sizing.

    .. warning:: No proven edge: this is a framework, not a money machine.
    """

    def __init__(self, config: AIPatternConfig) -> None:
        super().__init__(config)
        self._instrument_id = InstrumentId.from_str(config.instrument_id)
        self._bar_type = BarType.from_str(config.bar_type)
        self.spec = (
            FeatureSpec.from_dict(config.feature_spec) if config.feature_spec else FeatureSpec()
        )
        self._engine = FeatureEngine(self.spec)
        self.tick_mode = TickMode(self.spec, config.tick_mode) if config.tick_mode else None
        self._policy = PolicyConfig(
            min_confidence=config.min_confidence,
            reverse_on_opposite=config.reverse_on_opposite,
            exit_on_hold=config.exit_on_hold,
            max_holding_bars=config.max_holding_bars,
        )
        self._sizing = SizingConfig(min_confidence=config.min_confidence, **config.sizing)
        self._predictor_config: dict[str, Any] = dict(config.predictor)
        self._predictor: Predictor | None = None
        self._instrument: Instrument | None = None
        self._i_atr = self.spec.index("atr_close")
        self._i_vol_regime = self.spec.index("vol_regime")
        self._i_warm = self.spec.index("warm")
        self._names = tuple(self.spec.names)
        self._context_window: deque[tuple[float, ...]] | None = (
            deque(maxlen=config.context_bars) if config.context_bars > 0 else None
        )

        # Precomputed path (see AIPatternConfig.feature_source)
        self._pre_ts: np.ndarray | None = None
        self._pre_ohlc: np.ndarray | None = None
        self._pre_features: np.ndarray | None = None
        self._pre_predictions: list[Prediction] | None = None
        self._pre_pos = 0

        # Control state (saved with on_save)
        self._paused = False
        self._risk_multiplier = 1.0
        self._max_position_override: float | None = None

        # Position bookkeeping
        self._bars = 0
        self._entry_bar = 0
        self._open_model_id = ""
        self._open_decision_ts = 0
        self._pending_exit_reason = ""
        self._peak_equity = 0.0
        self._model_stats: dict[str, list[float]] = {}  # model_id -> [wins, losses, gw, gl]

        self._gate = BarGate(
            config.bar_time_tolerance_secs,
            config.max_bar_age_secs,
            config.outlier_max_move_pct,
            config.outlier_atr_multiple,
        )

        # Observability
        self.decisions: list[DecisionRecord] = []
        self.trades: list[TradeRecord] = []
        self.health = StrategyHealth(self._write_alert)
        self._exits = PositionExits(
            self,
            self._instrument_id,
            self.health,
            protect=not config.observe_only
            and (config.stop_loss_atr is not None or config.take_profit_atr is not None),
        )
        self.precomputed_fallbacks = 0
        self.orders_sent = 0
        self._last_decision: DecisionRecord | None = None
        self._decision_sinks: list[DecisionSink] = []
        self._observe_only = config.observe_only  # read on every bar: plain attributes
        self._record_decisions = config.record_decisions
        self._trade_sinks: list[TradeSink] = []
        self._requested_rows: dict[int, np.ndarray] = {}  # decision bar -> features (scheduler)
        self._last_error_log_ns = 0
        self._scheduler: DecisionScheduler | None = None  # see _start_scheduler
        self.feature_logger: Any = None  # a nautilus_ai.catalog.FeatureLogger when logging
        self.feedback: FeedbackSink | None = None  # see attach_feedback

    # -- Lifecycle ----------------------------------------------------------------------------

    def on_start(self) -> None:
        self._instrument = self.cache.instrument(self._instrument_id)
        if self._instrument is None:
            self.log.error(f"Instrument {self._instrument_id} not in cache; stopping")
            self.stop()
            return
        if self._predictor is None:
            self._predictor = self._build_predictor(self._predictor_config)
            if self._predictor is None:
                self.log.error("No usable predictor; stopping")
                self.stop()
                return
        if self.config.feature_source == "precomputed":
            self._load_precomputed()
        self._start_scheduler()
        if self.config.feature_log is not None and self.feature_logger is None:
            self._attach_feature_logger(self.config.feature_log)
        if self.feature_logger is not None:
            self._start_feature_log_timer()
        if self.config.feedback is not None and self.feedback is None:
            try:
                self.attach_feedback(FeedbackSink.from_config(
                    FeedbackConfig(**self.config.feedback), self.config.instrument_id,
                    lambda: self._predictor,
                ))  # fmt: skip
            except ValueError as exc:  # e.g. the token's environment variable is not set
                self.log.error(f"feedback: {exc}; stopping")
                self.stop()
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
            self.feature_logger.flush()

    def on_dispose(self) -> None:
        if self.feedback is not None:
            self.log.info(f"Feedback: {self.feedback.close()}")
        if self._scheduler is not None:
            self._scheduler.close()
        if self._predictor is not None:
            self._predictor.close()
        if self.feature_logger is not None:
            stats = self.feature_logger.close()  # positions closed at stop are logged too
            self.log.info(f"Feature log {stats.run_id}: {stats}")
        # Nautilus 1.221 never frees a disposed engine's components (their reference cycles run
        # through handlers held by Rust clocks and numpy arrays, which Python's GC cannot see),
        # so what the strategy still holds stays in the process: let go of the run-time state
        # (the precomputed series of the whole catalog, the model). Records stay for the caller.
        self._scheduler = self._predictor = self._pre_predictions = None
        self._pre_ts = self._pre_ohlc = self._pre_features = None
        self._decision_sinks, self._trade_sinks, self._requested_rows = [], [], {}

    def on_save(self) -> dict[str, bytes]:
        state = {
            "paused": self._paused,
            "risk_multiplier": self._risk_multiplier,
            "max_position": self._max_position_override,
            "min_confidence": self._policy.min_confidence,
            "predictor": self._predictor_config,
        }
        return {"ai_pattern": json.dumps(state).encode()}

    def on_load(self, state: dict[str, bytes]) -> None:
        raw = state.get("ai_pattern")
        if not raw:
            return
        saved = json.loads(raw)
        self._paused = bool(saved["paused"])
        self._risk_multiplier = float(saved["risk_multiplier"])
        self._max_position_override = saved["max_position"]
        self._set_min_confidence(float(saved["min_confidence"]))
        if saved["predictor"] != self._predictor_config:
            predictor = self._build_predictor(saved["predictor"])
            if predictor is not None:
                self._predictor = predictor
                self._predictor_config = dict(saved["predictor"])
        self.log.info(f"Restored state: paused={self._paused}, model={self.model_id}")

    # -- Bars ---------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        ts = bar.ts_event
        now = self.clock.timestamp_ns()
        if self._exits.position_open:  # first: a run of bad bars must not skip this check
            self._exits.check(now)
        o = bar.open.as_double()
        h = bar.high.as_double()
        low = bar.low.as_double()
        c = bar.close.as_double()
        v = bar.volume.as_double()
        problem = self._gate.admit(ts, bar.ts_init, now, h, low)  # time, outliers
        if problem is not None:
            self._reject_bar(problem, self._gate.detail, ts)
            return

        prediction: Prediction | None = None
        if self._pre_ts is not None:
            row, prediction = self._precomputed_row(ts, o, h, low, c, v)
        else:
            row = self._incremental_row(ts, o, h, low, c, v)
        if row is None:
            return
        self._bars += 1
        if self.tick_mode is not None:
            self.tick_mode.on_bar(ts, row)
        reanchored = self._gate.accepted(c, float(row[self._i_atr]) * c)
        if reanchored is not None:
            self.health.alert("error", ALERT_BAD_BARS, f"bar at {ts}: {reanchored}", now)
        if self._context_window is not None:  # accepted bars only
            self._context_window.append((float(ts), o, h, low, c, v))
        if row[self._i_warm] != 1.0:
            return
        if self._scheduler is not None:
            self._schedule(ts, c, row, prediction)
            return
        if prediction is None:
            prediction = self._predict(row, ts)
        self._act(ts, c, row, prediction)

    def _incremental_row(
        self, ts: int, o: float, h: float, low: float, c: float, v: float
    ) -> np.ndarray | None:
        try:
            return np.asarray(self._engine.update(ts, o, h, low, c, v), dtype=np.float64)
        except InvalidBarError as exc:
            self._reject_bar(exc.reason, exc.detail, ts)
            return None

    def _reject_bar(self, reason: str, detail: str, ts: int) -> None:
        """Count and report a refused bar; it changes no feature, decision or "last bar"."""
        self.health.bar_rejected(reason, detail, self._bars, ts, self.clock.timestamp_ns())
        self._log_throttled(ts, f"Rejected bar at {ts}: {reason}: {detail}")

    @property
    def invalid_bars(self) -> int:
        """Bars refused so far, for any reason (``health.bars_rejected`` has them by reason)."""
        return self.health.bars_rejected_total

    @property
    def predictor_errors(self) -> int:
        return self.health.predictor_errors

    def _context(self, ts: int) -> MarketContext:
        return MarketContext(
            instrument_id=self.config.instrument_id,
            ts_event=ts,
            feature_names=self._names,
            spec_hash=self.spec.hash,
            recent_bars=(
                np.asarray(self._context_window, dtype=np.float64)
                if self._context_window is not None
                else None
            ),
        )

    def _predict(self, row: np.ndarray, ts: int) -> Prediction:
        assert self._predictor is not None
        prediction = safe_predict(self._predictor, row, self._context(ts))
        if prediction.reason.startswith("predictor error"):
            self.health.predictor_errors += 1
            self._log_throttled(ts, f"Holding: {prediction.reason}")
        return prediction

    # -- Decision timing (DecisionScheduler: latency model, deadline, off-loop predictions) ----

    def _start_scheduler(self) -> None:
        """Route predictions through a DecisionScheduler when any timing option is set."""
        config = self.config
        if self._scheduler is not None:
            self._scheduler.close()
            self._scheduler = None
        if not (config.decision_latency or config.decision_deadline_ms or config.async_predictions):
            return
        assert self._predictor is not None
        self._scheduler = DecisionScheduler(
            self._predictor,
            mode="live" if config.async_predictions else "backtest",
            latency_model=(
                LatencyConfig.parse(dict(config.decision_latency))
                if config.decision_latency
                else None
            ),
            deadline_ns=(
                round(config.decision_deadline_ms * 1e6) if config.decision_deadline_ms else None
            ),
            clock=self.clock.timestamp_ns,
        )

    def _schedule(
        self, ts: int, close: float, row: np.ndarray, precomputed: Prediction | None
    ) -> None:
        """Ask for bar ``ts``'s decision; act on the decisions that are ready now."""
        scheduler = self._scheduler
        assert scheduler is not None
        if precomputed is not None:
            scheduler.submit_prediction(ts, precomputed)
        else:
            scheduler.submit(ts, row, self._context(ts))
        if self._decision_sinks:  # decision sinks get the vector the model saw (see _act)
            self._requested_rows[ts] = row.copy()
        for decision in scheduler.poll(ts):
            prediction = decision.prediction
            if prediction.reason.startswith("predictor error"):
                self.health.predictor_errors += 1
                self._log_throttled(ts, f"Holding: {prediction.reason}")
            # Sizing and exits use this bar's features (the market now); the trade log keeps
            # the bar the decision was made for (decision_ts).
            self._act(ts, close, row, prediction, decision_ts=decision.requested_at_ns)

    # -- Decisions and orders -----------------------------------------------------------------

    def _act(
        self,
        ts: int,
        close: float,
        row: np.ndarray,
        prediction: Prediction,
        decision_ts: int | None = None,
    ) -> None:
        position_side = self._position_side()
        intent, side = decide(
            prediction.action,
            prediction.confidence,
            position_side,
            self._bars - self._entry_bar,
            self._paused,
            self._policy,
        )
        quantity = 0.0
        order_sent = False
        reason = prediction.reason
        plan: ProtectionPlan | None = None
        if intent is Intent.ENTER or intent is Intent.REVERSE:
            sizing = self._size(side, prediction, close, row, position_side)
            quantity = sizing.quantity
            if quantity > 0.0:
                config = self.config
                atr = float(row[self._i_atr]) * close
                plan = plan_exits(side, close, atr, config.stop_loss_atr, config.take_profit_atr)
                if plan is None:  # no stop distance: never enter unprotected
                    quantity = 0.0
                    reason = f"no exit distance: ATR={atr!r}"
            else:
                reason = f"sized to zero: {sizing.blocked_by}"
            if quantity <= 0.0 and intent is Intent.REVERSE:
                intent = Intent.EXIT  # the opposite signal still closes the old position
        if not self._observe_only and intent is not Intent.NONE:
            if self._exits.busy():
                reason = f"orders in flight, not acted on: {reason}"
            elif intent is Intent.EXIT or intent is Intent.EXIT_TIMEOUT:
                self._close(
                    "signal_exit" if intent is Intent.EXIT else "max_holding",
                )
                order_sent = True
            elif plan is not None and intent is Intent.REVERSE:
                self._close("reversal")
                self._enter(side, quantity, plan, prediction, decision_ts or ts)
                order_sent = True
            elif plan is not None and intent is Intent.ENTER:
                self._enter(side, quantity, plan, prediction, decision_ts or ts)
                order_sent = True

        if self._record_decisions or self._decision_sinks:
            record = DecisionRecord(
                ts, prediction.action.value, prediction.confidence, prediction.risk_score,
                prediction.model_id, intent.value, quantity, order_sent, reason,
            )  # fmt: skip
            self._last_decision = record
            if self._record_decisions:
                self.decisions.append(record)
            if self._decision_sinks:
                decided_ts, seen = self._decision_input(ts, row, decision_ts)
                for sink in self._decision_sinks:
                    sink(decided_ts, seen, prediction, intent.value, quantity, order_sent)

    def _size(
        self,
        side: int,
        prediction: Prediction,
        close: float,
        row: np.ndarray,
        position_side: int,
    ) -> SizingDecision:
        equity, free_margin = self._equity_and_free_margin()
        if equity > self._peak_equity:
            self._peak_equity = equity
        wins, losses, gross_win, gross_loss = self._model_stats.get(
            prediction.model_id, [0.0, 0.0, 0.0, 0.0]
        )
        trades = wins + losses
        sizing = self._sizing
        if self._max_position_override is not None:
            sizing = sizing.replace(max_position=self._max_position_override)
        inputs = SizingInputs(
            side=side,
            confidence=prediction.confidence,
            risk_score=prediction.risk_score,
            price=close,
            equity=equity,
            peak_equity=max(self._peak_equity, equity),
            free_margin=free_margin,
            current_position=0.0,  # reversals close first; the new leg is sized from flat
            vol_regime=float(row[self._i_vol_regime]),
            volatility=float(row[self._i_atr]),
            win_rate=wins / trades if trades else None,
            payoff_ratio=(
                (gross_win / wins) / (gross_loss / losses)
                if wins and losses and gross_loss
                else None
            ),
            trades=int(trades),
            risk_multiplier=self._risk_multiplier,
        )
        try:
            return size_position(inputs, sizing)
        except (ValueError, ArithmeticError) as exc:
            self._log_throttled(0, f"Sizing failed, holding: {exc}")
            return SizingDecision.blocked(f"sizing error: {exc}")

    def _enter(
        self, side: int, quantity: float, plan: ProtectionPlan, prediction: Prediction, ts: int
    ) -> None:
        # The opening decision (model, decision_ts) is read from the entry order's tags when the
        # position opens (on_position_opened): setting it here would relabel the position a
        # reversal is still closing.
        tags = [f"model={prediction.model_id}", f"decision_ts={ts}"]
        order_id = self._exits.enter(side, quantity, plan, tags)
        if self.feedback is not None:
            self.feedback.entered(order_id, ts, prediction)
        self.orders_sent += 1
        self._entry_bar = self._bars

    def _close(self, reason: str) -> None:
        self._pending_exit_reason = reason
        self._exits.close(reason)
        self.orders_sent += 1

    def on_order_event(self, event: OrderEvent) -> None:
        self._exits.on_order_event(event)  # every order event, after the specific handler

    def _write_alert(self, level: str, message: str) -> None:
        if level == "error":
            self.log.error(message)
        else:
            self.log.warning(message)

    def _position_side(self) -> int:
        if self.portfolio.is_flat(self._instrument_id):
            return 0
        return 1 if self.portfolio.is_net_long(self._instrument_id) else -1

    def _equity_and_free_margin(self) -> tuple[float, float]:
        account = self.portfolio.account(self._instrument_id.venue)
        if account is None:
            return 0.0, 0.0
        currency = account.base_currency or self._instrument.quote_currency  # type: ignore[union-attr]
        balance = account.balance_total(currency)
        free = account.balance_free(currency)
        unrealized = self.portfolio.unrealized_pnl(self._instrument_id)
        equity = (balance.as_double() if balance else 0.0) + (
            unrealized.as_double() if unrealized else 0.0
        )
        return equity, free.as_double() if free else 0.0

    # -- Position events (per-model stats, trade log) -----------------------------------------

    def on_order_filled(self, event: OrderFilled) -> None:
        order = self.cache.order(event.client_order_id)
        if order is None or not order.tags:
            return
        for tag in order.tags:
            if tag.startswith(EXIT_TAG):
                self._pending_exit_reason = tag[len(EXIT_TAG) :]

    def on_position_opened(self, event: PositionOpened) -> None:
        self._exits.on_position_opened()
        self._entry_bar = self._bars
        order = self.cache.order(event.opening_order_id)
        for tag in (order.tags or []) if order is not None else []:
            if tag.startswith("decision_ts="):
                self._open_decision_ts = int(tag[12:])
            elif tag.startswith("model="):
                self._open_model_id = tag[6:]

    def on_position_closed(self, event: PositionClosed) -> None:
        self._exits.on_position_closed()
        pnl = event.realized_pnl.as_double() if event.realized_pnl is not None else 0.0
        model_id = self._open_model_id or self.model_id
        stats = self._model_stats.setdefault(model_id, [0.0, 0.0, 0.0, 0.0])
        if pnl > 0:
            stats[0] += 1
            stats[2] += pnl
        elif pnl < 0:
            stats[1] += 1
            stats[3] += -pnl
        self.trades.append(
            TradeRecord(
                ts_opened=event.ts_opened,
                ts_closed=event.ts_closed,
                side="long" if event.entry == OrderSide.BUY else "short",
                quantity=event.peak_qty.as_double(),
                avg_px_open=event.avg_px_open,
                avg_px_close=event.avg_px_close,
                realized_pnl=pnl,
                model_id=model_id,
                exit_reason=self._pending_exit_reason or "unknown",
                decision_ts=self._open_decision_ts,
            )
        )
        self._pending_exit_reason = ""
        for sink in self._trade_sinks:
            sink(self.trades[-1])
        if self.feedback is not None:
            self.feedback.closed(event.opening_order_id.value, self.trades[-1])

    def model_win_rates(self) -> dict[str, float]:
        """Win rate of closed positions per model id (what Kelly sizing uses)."""
        return {
            model: wins / (wins + losses)
            for model, (wins, losses, _, _) in self._model_stats.items()
            if wins + losses > 0
        }

    @property
    def decision_scheduler(self) -> DecisionScheduler | None:
        """The scheduler of timed decisions (latency, deadline, async; its timeline), or None."""
        return self._scheduler

    # -- Control (call on the event loop) -----------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._predictor.model_id if self._predictor is not None else "none"

    @property
    def paused(self) -> bool:
        return self._paused

    def pause_trading(self, reason: str = "") -> None:
        """No new entries; open positions keep their exits."""
        self._paused = True
        self.log.warning(f"Paused: {reason or 'no reason given'}")

    def resume_trading(self) -> None:
        """Allow new entries again (named apart from Nautilus' lifecycle ``resume``)."""
        self._paused = False
        self.log.warning("Resumed")

    def flatten(self, reason: str = "") -> None:
        """Cancel orders, close positions, and stay paused."""
        self._paused = True
        if not self.config.observe_only:
            self._close("flatten")
        self.log.warning(f"Flattened and paused: {reason or 'no reason given'}")

    def set_risk(
        self,
        min_confidence: float | None = None,
        max_position: float | None = None,
        risk_multiplier: float | None = None,
    ) -> None:
        """Change risk settings live; each ``None`` leaves that setting as it is."""
        cap = self._sizing.max_risk_multiplier
        if risk_multiplier is not None and not (0.0 <= risk_multiplier <= cap):
            raise ValueError(
                f"risk_multiplier must be in [0, {cap}] (sizing.max_risk_multiplier), "
                f"was {risk_multiplier!r}"
            )
        if max_position is not None and not max_position >= 0.0:
            raise ValueError(f"max_position must be >= 0, was {max_position!r}")
        if min_confidence is not None:
            self._set_min_confidence(min_confidence)
        if max_position is not None:
            self._sizing.replace(max_position=max_position)  # validates
            self._max_position_override = max_position
        if risk_multiplier is not None:
            self._risk_multiplier = risk_multiplier
        self.log.warning(
            f"Risk set: min_confidence={self._policy.min_confidence}, "
            f"max_position={self._max_position_override}, multiplier={self._risk_multiplier}"
        )

    def prepare_model(self, config: dict[str, Any]) -> Predictor:
        """Build the predictor ``config`` describes, without switching to it.

        Safe to call from another thread (it reads only the immutable feature spec): the live
        controller builds on its listener thread so that loading a model never stalls the event
        loop, then calls :meth:`switch_model` with the result on the loop.
        """
        return build_predictor(config, self.spec)

    def switch_model(self, config: dict[str, Any], predictor: Predictor | None = None) -> None:
        """Switch to the predictor for ``config`` (built here unless ``predictor`` is given,
        already built from the same ``config``); on failure keep the current one and raise."""
        if predictor is None:
            predictor = build_predictor(config, self.spec)
        old = self._predictor
        self._predictor = predictor
        self._predictor_config = dict(config)
        self._pre_predictions = None  # precomputed predictions belonged to the old model
        self._start_scheduler()  # pending decisions of the old model are dropped
        if old is not None and old is not predictor:
            old.close()
        self.log.warning(f"Switched model to {predictor.model_id}")

    def control_status(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the control state."""
        net = self.portfolio.net_position(self._instrument_id)
        last = self._last_decision
        return {
            "strategy_id": str(self.id),
            "paused": self._paused,
            "min_confidence": self._policy.min_confidence,
            "max_position": self._max_position_override,
            "risk_multiplier": self._risk_multiplier,
            "model_id": self.model_id,
            "predictor": self._predictor_config,
            "position": float(net) if net is not None else 0.0,
            "bars": self._bars,
            "last_decision": None if last is None else {
                "ts_event": last.ts_event, "action": last.action,
                "confidence": last.confidence, "intent": last.intent,
            },
            "health": self.health.snapshot(self._bars),
            "protection": self._exits.status(),
            "feedback": None if self.feedback is None else self.feedback.status(),
        }  # fmt: skip

    def add_decision_sink(self, sink: DecisionSink) -> None:
        """Call ``sink(ts, features, prediction, intent, quantity, order_sent)`` per decision.

        ``ts`` is the bar the decision was made for and ``features`` the vector the model saw
        (with ``decision_latency`` / ``async_predictions`` that bar precedes the one it is
        applied on; entry orders carry the same ``decision_ts``).
        """
        self._decision_sinks.append(sink)

    def _decision_input(
        self, ts: int, row: np.ndarray, decision_ts: int | None
    ) -> tuple[int, np.ndarray]:
        """The bar a decision was made for and the feature vector the model saw: this bar's,
        or with a decision scheduler (latency) the requested bar's, so a logged snapshot and the
        position it opens (keyed by ``decision_ts``) agree."""
        if decision_ts is None or decision_ts == ts:
            self._requested_rows.pop(ts, None)
            return ts, row
        requested = self._requested_rows
        seen = requested.pop(decision_ts, row)
        for old in [t for t in requested if t < decision_ts]:  # requests never applied
            del requested[old]
        return decision_ts, seen

    def attach_feedback(self, sink: FeedbackSink) -> None:
        """Report entries, decisions and closed positions to ``sink`` (outcome feedback)."""
        self.feedback = sink
        self.add_decision_sink(sink.decided)

    def add_trade_sink(self, sink: TradeSink) -> None:
        """Call ``sink(trade_record)`` for each closed position (outcome feedback)."""
        self._trade_sinks.append(sink)

    # -- Feature logging (nautilus_ai.catalog) ------------------------------------------------

    def _attach_feature_logger(self, config: dict[str, Any]) -> None:
        from nautilus_ai.catalog.logger import FeatureLogger

        self.feature_logger = FeatureLogger(
            _validate_feature_log(config),
            spec=self.spec,
            instrument_id=self.config.instrument_id,
            bar_type=self.config.bar_type,
            clock_ns=self.clock.timestamp_ns,
            on_error=self.log.error,
        )
        record = self.feature_logger.record

        def log_decision(
            ts: int, row: np.ndarray, prediction: Prediction, intent: str, qty: float, sent: bool
        ) -> None:
            # _last_decision is the record just built: its reason includes the sizer's verdict
            last = self._last_decision
            record(ts, row, prediction, intent, qty, sent, last.reason if last else None)

        self.add_decision_sink(log_decision)
        self.add_trade_sink(self.feature_logger.record_outcome)
        self.log.info(f"Logging decisions to {self.feature_logger.snapshot_folder}")

    def _start_feature_log_timer(self) -> None:
        # Live only (a backtest's clock would fire it in simulated time): flush on time even
        # when no bar comes, e.g. over a weekend. Timers are cancelled when the strategy stops.
        logger = self.feature_logger
        if isinstance(self.clock, LiveClock) and FEATURE_LOG_TIMER not in self.clock.timer_names:
            self.clock.set_timer(
                FEATURE_LOG_TIMER,
                timedelta(seconds=min(logger.config.flush_interval_s, 60.0)),
                callback=lambda _event: logger.flush_if_due(),
            )

    # -- Helpers ------------------------------------------------------------------------------

    def _set_min_confidence(self, value: float) -> None:
        self._policy = PolicyConfig(
            min_confidence=value,
            reverse_on_opposite=self._policy.reverse_on_opposite,
            exit_on_hold=self._policy.exit_on_hold,
            max_holding_bars=self._policy.max_holding_bars,
        )
        self._sizing = self._sizing.replace(min_confidence=value)

    def _build_predictor(self, config: dict[str, Any]) -> Predictor | None:
        try:
            return build_predictor(config, self.spec)
        except Exception as exc:
            self.log.error(f"Cannot build predictor {config!r}: {type(exc).__name__}: {exc}")
            return None

    def _log_throttled(self, ts: int, message: str) -> None:
        # At most one line per simulated minute: a broken model on 186k bars must not flood.
        now = ts or self.clock.timestamp_ns()
        if now - self._last_error_log_ns >= 60_000_000_000:
            self._last_error_log_ns = now
            self.log.warning(message)

    def _load_precomputed(self) -> None:
        from nautilus_ai.backtest.precompute import precompute_for_strategy

        start = time.perf_counter()
        result = precompute_for_strategy(
            catalog_path=str(self.config.catalog_path),
            bar_type=self.config.bar_type,
            spec=self.spec,
            predictor=self._predictor,
            context_bars=self.config.context_bars,
        )
        self._pre_ts, self._pre_ohlc, self._pre_features, self._pre_predictions = result
        self._pre_pos = 0
        self.log.info(
            f"Precomputed {len(self._pre_ts):,} feature rows in {time.perf_counter() - start:.2f} s"
        )

    def _precomputed_row(
        self, ts: int, o: float, h: float, low: float, c: float, v: float
    ) -> tuple[np.ndarray | None, Prediction | None]:
        pre_ts = self._pre_ts
        assert pre_ts is not None and self._pre_ohlc is not None
        assert self._pre_features is not None
        pos = self._pre_pos
        if pos == 0 and self._bars == 0 and len(pre_ts) and ts > pre_ts[0]:
            # The run starts after the catalog's first bar (a start_time window): begin at this
            # bar, its features warmed by the earlier catalog bars, as a live node warmed from
            # history would be (a fallback below rebuilds the engine from those same bars).
            pos = int(np.searchsorted(pre_ts, ts))
        if pos < len(pre_ts) and pre_ts[pos] == ts:
            ohlc = self._pre_ohlc[pos]
            if ohlc[0] == o and ohlc[1] == h and ohlc[2] == low and ohlc[3] == c:
                self._pre_pos = pos + 1
                predictions = self._pre_predictions
                return self._pre_features[pos], (
                    predictions[pos] if predictions is not None else None
                )
        # Not the bar we precomputed: rebuild the incremental engine from what we have seen
        # so far and continue bar by bar. Correctness first, speed second.
        self._fallback_to_incremental(pos)
        return self._incremental_row(ts, o, h, low, c, v), None

    def _fallback_to_incremental(self, upto: int) -> None:
        assert self._pre_ts is not None and self._pre_ohlc is not None
        self.precomputed_fallbacks += 1
        self.log.warning(
            f"Bar does not match the precomputed series at row {upto}; "
            "continuing with incremental features"
        )
        self._engine.reset()
        for i in range(upto):
            o, h, low, c, v = self._pre_ohlc[i]
            self._engine.update(int(self._pre_ts[i]), o, h, low, c, v)
        self._pre_ts = None
        self._pre_ohlc = None
        self._pre_features = None
        self._pre_predictions = None
