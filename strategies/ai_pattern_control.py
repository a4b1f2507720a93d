"""The control and status surface of :class:`~nautilus_ai.strategies.ai_pattern.
AIPatternStrategy`: pause, resume, flatten, re-risk, switch model and status
(:class:`nautilus_ai.control.Controllable`), and the counters reports read.

Each method changes the decision core's :class:`~nautilus_ai.decision.RiskControls` (one
``replace``) or the predictor, and must be called on the node's event loop (the controller actor
does that).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from nautilus_ai.adapters.feature_log import flush_quiet_rows
from nautilus_ai.decision import DecisionCore, RiskControls
from nautilus_ai.decision.timing import DecisionTiming
from nautilus_ai.features.spec import default_spec_of
from nautilus_ai.feedback import FeedbackConfig, FeedbackSink
from nautilus_ai.health import StrategyHealth
from nautilus_ai.models import DecisionScheduler, Predictor
from nautilus_ai.models.base import model_statuses
from nautilus_ai.models.registry import build_predictor
from nautilus_ai.models.spec import SpecMismatchError
from nautilus_ai.models.trained_bars import check_predictor_bars

log = logging.getLogger(__name__)

__all__ = ["AIPatternControl", "build_as_on_start", "spec_to_adopt"]


def spec_to_adopt(exc: SpecMismatchError, *, spec_pinned: bool, tick_mode: bool) -> Any:
    """The feature spec the strategy computes for a model built for another spec, or None.

    A model stored under an older default spec keeps working after an upgrade: with no
    ``feature_spec`` in the config and no tick mode, the strategy computes the model's own
    version (one of the versions' defaults; a custom spec is never adopted). The live start's
    checks ask the same question (``nautilus_ai.live.runner``).
    """
    if spec_pinned or tick_mode or exc.expected_spec is None:
        return None
    return default_spec_of(exc.expected_spec, exc.expected_hash)


def build_as_on_start(strategy: Any, config: Mapping[str, Any]) -> Predictor | None:
    """Build ``config["predictor"]`` as the strategy's ``on_start`` does (for its spec, or the
    tick vector's; a model of an older default spec adopted) and checks its stored models
    against the config's ``bar_type``, for the checks before a run; None when the config names
    no predictor. Raises whatever the build raises, and ``BarTypeMismatchError`` for a model
    trained on bars of another period (or a tick model on another decision cadence)."""
    predictor = config.get("predictor")
    if not isinstance(predictor, Mapping):
        return None
    spec = getattr(strategy, "predictor_spec", None)
    if spec is None:
        from nautilus_ai.features import FeatureSpec

        spec_dict = config.get("feature_spec")
        spec = FeatureSpec.from_dict(spec_dict) if spec_dict else FeatureSpec()
    try:
        built = build_predictor(dict(predictor), spec)
    except SpecMismatchError as exc:
        pinned = config.get("feature_spec") is not None
        ticks = config.get("tick_mode") is not None
        adopted = spec_to_adopt(exc, spec_pinned=pinned, tick_mode=ticks)
        if adopted is None:
            raise
        built = build_predictor(dict(predictor), adopted)
    bar_type = config.get("bar_type")
    if isinstance(bar_type, str):  # the strategy's config refuses a missing one
        tick_mode = config.get("tick_mode")
        found = check_predictor_bars(
            built, bar_type, tick_mode if isinstance(tick_mode, Mapping) else None
        )
        for line in found.warnings:
            log.warning(line)
    return built


class AIPatternControl:
    """Mixed into the strategy: the methods the control plane calls."""

    # Provided by the strategy (a Nautilus Strategy with these attributes): annotations only,
    # so that nothing here shadows the strategy's or Nautilus' own methods.
    core: DecisionCore
    spec: Any
    config: Any
    log: Any
    portfolio: Any
    health: StrategyHealth
    id: Any
    _exits: Any
    _instrument_id: Any
    _predictor: Predictor | None
    _predictor_config: dict[str, Any]
    _series: Any
    _decision_sinks: list[Any]
    _context: Callable[[int], Any]
    _count_error: Callable[[Any, int], None]
    _act: Callable[..., None]
    clock: Any
    feature_logger: Any
    feedback: Any
    _scheduler: Any

    _close: Callable[[str], None]

    _use_spec: Callable[[Any], None]
    tick_mode: Any

    stop: Callable[[], None]

    #: What a restored state (``load_state``) set over the config's values, one line each
    #: (``"min_confidence 0.55 -> 0.65"``), also in :meth:`control_status`.
    restored_over_config: tuple[str, ...] = ()

    add_decision_sink: Callable[..., None]

    # -- The first model ----------------------------------------------------------------------

    @property
    def predictor_spec(self) -> Any:
        """What the predictor's vectors follow: the bar spec, or in tick mode the tick vector
        (:class:`~nautilus_ai.features.ticks.TickVectorSpec`: bar features + tick features)."""
        return self.spec if self.tick_mode is None else self.tick_mode.vector_spec

    def _build_first_predictor(self, config: dict[str, Any]) -> Predictor | None:
        # A model stored under an older default feature spec keeps working after an upgrade:
        # with no feature_spec in the config, the strategy computes the model's own version.
        try:
            return self._for_bars(build_predictor(config, self.predictor_spec))
        except SpecMismatchError as exc:
            pinned, ticks = self.config.feature_spec is not None, self.tick_mode is not None
            spec = spec_to_adopt(exc, spec_pinned=pinned, tick_mode=ticks)
            if spec is None:
                self.log.error(f"Cannot build predictor {config!r}: SpecMismatchError: {exc}")
                return None
            self.log.info(
                f"The model was built for feature spec version {spec.version} ({spec.hash}); "
                f"computing that version (the default is version {self.spec.version})"
            )
            self._use_spec(spec)
        except Exception as exc:  # any other fault: one error line, no model (never a crash)
            self.log.error(f"Cannot build predictor {config!r}: {type(exc).__name__}: {exc}")
            return None
        return self._build_predictor(config)

    def _build_predictor(self, config: dict[str, Any]) -> Predictor | None:
        """The predictor ``config`` describes, checked against the strategy's bars; ``None``
        (one error line) when it cannot be built or was trained on bars of another period."""
        try:
            return self._for_bars(build_predictor(config, self.predictor_spec))
        except Exception as exc:
            self.log.error(f"Cannot build predictor {config!r}: {type(exc).__name__}: {exc}")
            return None

    def _for_bars(self, predictor: Predictor) -> Predictor:
        """``predictor`` if its stored models were trained on bars of the strategy's period
        (what differs but is allowed is logged); else it is closed and
        :class:`~nautilus_ai.models.trained_bars.BarTypeMismatchError` names both bar types."""
        found = check_predictor_bars(predictor, str(self.config.bar_type), self.config.tick_mode)
        for line in found.warnings:
            self.log.warning(line)
        for line in found.notes:
            self.log.info(line)
        return predictor

    # -- State across restarts (on_save / on_load) ------------------------------------------

    def on_save(self) -> dict[str, bytes]:
        state = {**self.core.controls.to_dict(), "predictor": self._predictor_config}
        return {"ai_pattern": json.dumps(state).encode()}

    def on_load(self, state: dict[str, bytes]) -> None:
        raw = state.get("ai_pattern")
        if not raw:
            return
        # Whatever is wrong with the state, the node must start (Strategy.load re-raises):
        # settings the config no longer allows give way to the config's, the pause holds, and
        # a state that cannot be read starts paused (unknown: no new entries until resumed).
        try:
            saved = json.loads(raw)
            controls = RiskControls.from_dict(saved)
        except (ValueError, KeyError, TypeError) as exc:
            self.core.update_controls(paused=True)
            self.log.error(
                f"Saved state not readable ({type(exc).__name__}: {exc}); starting PAUSED on "
                f"the config's risk settings and model: resume when checked"
            )
            return
        configured = self.core.controls.to_dict()
        try:
            self.core.set_controls(controls)
        except ValueError as exc:
            self.core.update_controls(paused=controls.paused)
            self.log.error(
                f"Saved risk settings not restored, the config no longer allows them ({exc}); "
                f"using the config's (paused={controls.paused})"
            )
        predictor_config = saved.get("predictor")
        configured_model = self.model_id
        if isinstance(predictor_config, dict) and predictor_config != self._predictor_config:
            predictor = self._build_predictor(predictor_config)
            if predictor is not None:
                self._predictor = predictor
                self._predictor_config = dict(predictor_config)
        # A config edited before the restart loses to the saved state (documented): say which
        # values the saved state set over the config's, where an operator will look.
        now = {**self.core.controls.to_dict(), "model": self.model_id}
        was = {**configured, "model": configured_model}
        self.restored_over_config = tuple(
            f"{key} {was[key]!r} -> {now[key]!r}" for key in now if now[key] != was[key]
        )
        if self.restored_over_config:
            self.log.warning(
                "Restored state overrides the config: " + "; ".join(self.restored_over_config)
            )
        self.log.info(f"Restored state: paused={self.paused}, model={self.model_id}")

    # -- Outcome feedback (nautilus_ai.feedback) ---------------------------------------------

    def _start_feedback(self) -> bool:
        """Attach the sink ``config.feedback`` describes; False (and stopped) when it cannot."""
        try:
            self.attach_feedback(FeedbackSink.from_config(
                FeedbackConfig(**self.config.feedback), self.config.instrument_id,
                lambda: self._predictor,
            ))  # fmt: skip
        except ValueError as exc:  # e.g. the token's environment variable is not set
            self.log.error(f"feedback: {exc}; stopping")
            self.stop()
            return False
        return True

    def attach_feedback(self, sink: FeedbackSink) -> None:
        """Report entries, decisions and closed positions to ``sink`` (outcome feedback)."""
        self.feedback = sink
        self.add_decision_sink(sink.decided)

    @property
    def decision_scheduler(self) -> DecisionScheduler | None:
        """The scheduler of timed decisions (latency, deadline, async; its timeline), or None."""
        return None if self._scheduler is None else self._scheduler.scheduler

    @property
    def tick_decisions(self) -> Any:
        """Decisions made on quote ticks (tick mode), a
        :class:`~nautilus_ai.decision.DecisionLog` of records with ``on_tick`` set."""
        return self.core.tick_decisions

    @property
    def model_id(self) -> str:
        return self._predictor.model_id if self._predictor is not None else "none"

    @property
    def paused(self) -> bool:
        return self.core.controls.paused

    def pause_trading(self, reason: str = "") -> None:
        """No new entries; open positions keep their exits."""
        self.core.update_controls(paused=True)
        self.log.warning(f"Paused: {reason or 'no reason given'}")

    def resume_trading(self) -> None:
        """Allow new entries again (named apart from Nautilus' lifecycle ``resume``)."""
        self.core.update_controls(paused=False)
        self.log.warning("Resumed")

    def flatten(self, reason: str = "") -> None:
        """Cancel orders, close positions, and stay paused."""
        self.core.update_controls(paused=True)
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
        changes = {"min_confidence": min_confidence, "max_position": max_position,
                   "risk_multiplier": risk_multiplier}  # fmt: skip
        c = self.core.update_controls(**{k: v for k, v in changes.items() if v is not None})
        self.log.warning(
            f"Risk set: min_confidence={c.min_confidence}, max_position={c.max_position}, "
            f"multiplier={c.risk_multiplier}"
        )

    def prepare_model(self, config: dict[str, Any]) -> Predictor:
        """Build the predictor ``config`` describes, without switching to it (thread-safe: it
        reads only the immutable feature spec; the controller builds off the event loop)."""
        return self._for_bars(build_predictor(config, self.predictor_spec))

    def switch_model(self, config: dict[str, Any], predictor: Predictor | None = None) -> None:
        """Switch to the predictor for ``config`` (built here unless ``predictor`` is given,
        already built from the same ``config``); on failure keep the current one and raise."""
        if predictor is None:
            predictor = self._for_bars(build_predictor(config, self.predictor_spec))
        old, self._predictor = self._predictor, predictor
        self._predictor_config = dict(config)
        if self._series is not None and self._series.signals is not None:
            if self.feature_logger is not None:
                flush_quiet_rows(self)  # read from the signals
            self._series.signals = None  # they were the old model's
            self.core.use_signals(None)
        if self.tick_mode is not None:
            self.tick_mode.model_switched()  # the precomputed tick answers were too
        self._start_scheduler()  # pending decisions of the old model are dropped
        if old is not None and old is not predictor:
            old.close()
        self.log.warning(f"Switched model to {predictor.model_id}")

    def control_status(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the control state."""
        net = self.portfolio.net_position(self._instrument_id)
        last = self.core.last_decision
        return {
            "strategy_id": str(self.id),
            **self.core.controls.to_dict(),
            "model_id": self.model_id,
            "predictor": self._predictor_config,
            "position": float(net) if net is not None else 0.0,
            "bars": self.core.bars,
            "orders_sent": self._exits.sent,
            "last_decision": None if last is None else {
                "ts_event": last.ts_event, "action": last.action,
                "confidence": last.confidence, "intent": last.intent,
            },
            "health": self.health.snapshot(self.core.bars),
            "protection": self._exits.status(),
            "feedback": None if self.feedback is None else self.feedback.status(),
            "models": {} if self._predictor is None else model_statuses(self._predictor),
            "restored_over_config": list(self.restored_over_config),
        }  # fmt: skip

    # -- Counters (status and reports) ---------------------------------------------------

    @property
    def invalid_bars(self) -> int:
        """Bars refused so far, for any reason (``health.bars_rejected`` has them by reason)."""
        return self.health.bars_rejected_total

    @property
    def predictor_errors(self) -> int:
        return self.health.predictor_errors

    def model_win_rates(self) -> dict[str, float]:
        """Win rate of closed positions per model id (what Kelly sizing uses)."""
        return self.core.stats.win_rates()

    # -- Decision timing (latency model, deadline, off-loop predictions) ----------------------

    def _start_scheduler(self) -> None:
        """Route predictions through a DecisionScheduler when any timing option is set."""
        if self._scheduler is not None:
            self._scheduler.close()
        assert self._predictor is not None
        config = self.config
        self._scheduler = DecisionTiming.build(
            self._predictor, latency=config.parts().latency, clock=self.clock.timestamp_ns,
            deadline_ms=config.decision_deadline_ms, live=config.async_predictions,
        )  # fmt: skip

    def _schedule(self, ts: int, close: float, row: np.ndarray, precomputed: Any) -> None:
        """Ask for bar ``ts``'s decision; act on the decisions that are ready now."""
        assert self._scheduler is not None
        sinks = bool(self._decision_sinks)  # they get the vector the model saw (see _act)
        stats = self._scheduler.stats
        dropped = stats.skipped_busy + stats.cancelled
        decisions = self._scheduler.request(ts, row, precomputed, self._context, keep_row=sinks)
        dropped = stats.skipped_busy + stats.cancelled - dropped
        if dropped:  # a hung or slow model: requests dropped unanswered, no decisions
            self.health.requests_dropped(dropped, ts, self.clock.timestamp_ns())
        for decision in decisions:
            self._count_error(decision.prediction, ts)
            if decision.late:
                self.health.answer_late(decision.prediction.reason, ts, self.clock.timestamp_ns())
            # Sizing and exits use this bar's features (the market now); the trade log keeps
            # the bar the decision was made for (decision_ts).
            self._act(ts, close, row, decision.prediction, decision.requested_at_ns)
