"""AIPatternConfig: the strict configuration of :class:`~nautilus_ai.strategies.ai_pattern.
AIPatternStrategy` (import it from ``nautilus_ai.strategies.ai_pattern``, the dotted path
``ImportableStrategyConfig`` wants)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import numpy as np
from nautilus_trader.config import StrategyConfig

from nautilus_ai.catalog.logger import FeatureLogConfig
from nautilus_ai.config_check import FieldValueError, Schema, check_instance, schema_meta
from nautilus_ai.config_nautilus import NAUTILUS_HOOKS, check_bar_type, check_instrument_id
from nautilus_ai.decision import RiskControls
from nautilus_ai.features import FeatureSpec
from nautilus_ai.feedback import FeedbackConfig
from nautilus_ai.models import LatencyConfig
from nautilus_ai.models.latency import LatencyModel, LatencySpec
from nautilus_ai.models.registry import BACKEND_SCHEMA
from nautilus_ai.policy import PolicyConfig
from nautilus_ai.sizing import SizingConfig
from nautilus_ai.strategies.tick_mode import TICK_MODE_SCHEMA

__all__ = ["FEATURE_SOURCES", "AIPatternConfig", "AIPatternParts"]

FEATURE_SOURCES = ("incremental", "precomputed")
_FEATURE_SPEC_SCHEMA = Schema(FeatureSpec)
_SIZING_SCHEMA = Schema(
    SizingConfig,
    exclude={"min_confidence": "set min_confidence on the strategy config, not inside sizing"},
)


class AIPatternConfig(StrategyConfig, frozen=True, forbid_unknown_fields=True, dict=True):
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
    precompute_end_time : str or int, optional
        The run's last bar time (ISO 8601 UTC or UTC ns, as a data config's ``end_time``): the
        precomputed path reads, computes and holds the catalog's bars (and, in tick mode, its
        quotes) from the run's first bar up to this time, not to the catalog's end. Bars after
        it continue on incremental features (same decisions). ``nautilus-ai backtest`` fills it
        from the run file's data ``end_time`` when unset; ``None``: the catalog's last bar.
    observe_only : bool, default False
        Record decisions, send no orders.
    min_confidence : float, default 0.55
        Below this confidence a signal is treated as no signal (and sized to zero); in [0, 1).
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
    tick_mode : dict, optional
        :class:`nautilus_ai.tick_decisions.TickModeConfig` fields: decide on quote ticks (every
        n ticks / every k ms) instead of bars, with ``predictor`` built for the tick vector
        (bar features + tick features, e.g. ``{"kind": "tick_rule"}``) and the same policy,
        sizing, controls and exits as bar decisions (see :mod:`strategies.tick_mode`); needs
        feature spec v2. Not with ``decision_latency``, ``decision_deadline_ms``,
        ``async_predictions`` or ``feature_log`` (not built for ticks yet).
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
    """

    instrument_id: str
    bar_type: str
    predictor: Annotated[dict[str, Any], schema_meta(BACKEND_SCHEMA)] = msgspec.field(
        default_factory=lambda: {"kind": "rule"}
    )
    feature_spec: Annotated[dict[str, Any], schema_meta(_FEATURE_SPEC_SCHEMA)] | None = None
    feature_source: Literal["incremental", "precomputed"] = "incremental"
    catalog_path: str | None = None
    precompute_end_time: str | int | None = None
    observe_only: bool = False
    min_confidence: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] = 0.55
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
    tick_mode: Annotated[dict[str, Any], schema_meta(TICK_MODE_SCHEMA)] | None = None
    bar_time_tolerance_secs: Annotated[float, msgspec.Meta(ge=0.0)] = 5.0
    max_bar_age_secs: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    outlier_max_move_pct: Annotated[float, msgspec.Meta(gt=0.0)] | None = 5.0
    outlier_atr_multiple: Annotated[float, msgspec.Meta(gt=0.0)] | None = None

    def __post_init__(self) -> None:
        # msgspec checks types and Meta ranges only when decoding: check a directly built
        # config the same way (types, ranges, nested schemas).
        check_instance(self, hooks=NAUTILUS_HOOKS)
        if self.strategy_id is not None and not isinstance(self.strategy_id, str):
            # Decoding makes it a StrategyId, which Nautilus' Strategy.__init__ (1.221 and
            # 1.231) cannot take ("Argument 'name' has incorrect type"): keep its text.
            msgspec.structs.force_setattr(self, "strategy_id", str(self.strategy_id))
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
        _time_ns(self.precompute_end_time)  # refused here, naming the field
        if self.decision_latency is not None and self.async_predictions:
            raise FieldValueError(
                "decision_latency",
                "decision_latency simulates latency in backtests; with async_predictions "
                "(live) the latency is real",
            )
        if self.tick_mode is not None:
            for name in ("decision_latency", "decision_deadline_ms", "feature_log"):
                if getattr(self, name) is not None:
                    raise FieldValueError(name, f"{name} is not supported with tick_mode yet")
            if self.async_predictions:
                raise FieldValueError(
                    "async_predictions", "async_predictions is not supported with tick_mode yet"
                )
        # Checking the nested configs builds them: keep what was built (outside the encoded
        # fields) for the strategy instead of building it again.
        parts = self.__dict__["_parts"] = self._build_parts()
        if self.tick_mode is not None and not parts.spec.tick_names:
            raise FieldValueError(
                "tick_mode",
                f"tick_mode needs feature spec version >= 2 (tick features); feature_spec is "
                f"version {parts.spec.version}",
            )

    @property
    def precompute_end_ns(self) -> int | None:
        """:attr:`precompute_end_time` in UTC ns (``None``: the catalog's end)."""
        return _time_ns(self.precompute_end_time)

    def parts(self) -> AIPatternParts:
        """The built pieces: feature spec, policy rules, sizing, controls, latency model."""
        parts = self.__dict__.get("_parts")
        if parts is None:  # a copy made without __post_init__
            parts = self.__dict__["_parts"] = self._build_parts()
        return parts  # type: ignore[no-any-return]

    def _build_parts(self) -> AIPatternParts:
        try:
            sizing = SizingConfig(min_confidence=self.min_confidence, **self.sizing)
        except ValueError as exc:
            raise FieldValueError("sizing", str(exc)) from None
        latency = None
        if self.decision_latency is not None:
            try:
                latency = LatencyConfig.parse(dict(self.decision_latency))
            except ValueError as exc:
                raise FieldValueError("decision_latency", str(exc)) from None
        return AIPatternParts(
            spec=FeatureSpec.from_dict(self.feature_spec) if self.feature_spec else FeatureSpec(),
            rules=PolicyConfig(
                min_confidence=self.min_confidence,
                reverse_on_opposite=self.reverse_on_opposite,
                exit_on_hold=self.exit_on_hold,
                max_holding_bars=self.max_holding_bars,
            ),
            sizing=sizing,
            controls=RiskControls(min_confidence=self.min_confidence),
            latency=latency,
        )


class AIPatternParts(NamedTuple):
    """What :class:`AIPatternConfig` builds once: the strategy's pure pieces."""

    spec: FeatureSpec
    rules: PolicyConfig
    sizing: SizingConfig
    controls: RiskControls
    latency: LatencyModel | None


def _time_ns(value: str | int | None) -> int | None:
    """An ISO 8601 UTC time or UTC ns as UTC ns (the field is named when it is neither)."""
    if value is None or (type(value) is int and value >= 0):
        return value
    if isinstance(value, str):
        try:  # an offset ("+02:00") is read by datetime (microseconds), the rest by numpy (ns)
            if "+" in value[10:] or value[10:].count("-") > 0:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is not None:
                    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
            return int(np.datetime64(value.removesuffix("Z"), "ns").astype(np.int64))
        except ValueError:
            pass
    raise FieldValueError(
        "precompute_end_time",
        f"must be an ISO 8601 UTC time (e.g. '2017-05-12T00:00:00Z') or UTC nanoseconds >= 0, "
        f"received {value!r}",
    )
