"""An interpretable trend + momentum rule with a mean-reversion filter: the baseline predictor.

The rule (long side; the short side is its mirror image). All distances are in ATRs, so the
thresholds mean the same on any instrument and timeframe:

1. **volatility filter** - no trade in the low-volatility regime (``vol_regime == -1``: on
   1-minute FX the spread eats the move), unless ``allow_low_volatility``.
2. **trend** - close at least ``trend_min_atr`` ATRs above the EMA50 (``ema50_dist_atr``) and
   above the EMA20 (``ema20_dist_atr >= 0``).
3. **momentum** - MACD histogram at least ``momentum_min_atr`` ATRs positive
   (``macd_hist / atr_close``: both features are divided by close, so the ratio is in ATRs).
4. **mean-reversion filter** - not overextended (``ema20_dist_atr <= max_extension_atr``) and not
   overbought (``rsi <= rsi_overbought``).

When every condition holds the action is buy (sell for the mirror); otherwise hold, with
``reason`` naming the first condition that failed. Confidence says how strongly the conditions
hold::

    strength_trend    = min(1, (dist50 - trend_min) / (trend_full - trend_min))
    strength_momentum = min(1, (hist_atr - momentum_min) / (momentum_full - momentum_min))
    strength_room     = clip((rsi_overbought - rsi) / (rsi_overbought - 0.5), 0, 1)
    confidence = confidence_floor + (1 - confidence_floor) * mean(the three strengths)

(with signs flipped and ``rsi_oversold`` for sells). Holds have confidence 0. The risk score is
``risk_rank_weight * vol_pct_rank + (1 - risk_rank_weight) * (vol_regime + 1) / 2``, for every
action. With the defaults the rule fires on a few percent of warm 1-minute EUR/USD bars, in runs
(see ``BENCHMARKS.md``); it has no proven edge and is a baseline, not a strategy.

``predict`` works on Python floats (a few microseconds); ``predict_arrays`` evaluates the same
float operations in the same order with numpy, so ``predict_batch`` equals ``predict`` row by row
exactly (latency aside).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nautilus_ai.models.base import Action, MarketContext, Prediction, Signal
from nautilus_ai.models.coded import CodedPredictor, config_fingerprint
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_feature_matrix,
    check_feature_vector,
    context_spec_error,
    feature_indices,
)

__all__ = [
    "RULE_FEATURES",
    "RULE_REASONS",
    "RuleConfig",
    "RulePredictor",
]

#: The features the rule reads, in the order it resolves them.
RULE_FEATURES: Final = (
    "ema20_dist_atr",
    "ema50_dist_atr",
    "macd_hist",
    "atr_close",
    "rsi",
    "vol_pct_rank",
    "vol_regime",
    "warm",
)

#: Reason codes (index = code in :meth:`RulePredictor.predict_arrays`).
RULE_REASONS: Final = (
    "buy: uptrend with momentum",
    "sell: downtrend with momentum",
    "hold: features not warm",
    "hold: low volatility regime",
    "hold: no trend",
    "hold: no momentum",
    "hold: overextended from EMA20",
    "hold: overbought",
    "hold: oversold",
)
_BUY, _SELL, _COLD, _LOW_VOL, _NO_TREND, _NO_MOMENTUM, _EXTENDED, _OVERBOUGHT, _OVERSOLD = range(9)
_ACTIONS: Final = (Action.HOLD, Action.BUY, Action.SELL)  # index by sign (-1 -> last)


class RuleConfig(BaseModel):
    """Thresholds of the trend + momentum rule (distances in ATRs, RSI in 0..1).

    Parameters
    ----------
    name : str
        Model name; the model id is ``name/<8-hex fingerprint of the thresholds>``.
    trend_min_atr, trend_full_atr : float
        EMA50 distance where the trend condition starts to hold / where its strength saturates.
    max_extension_atr : float
        Largest EMA20 distance still traded (mean-reversion filter).
    momentum_min_atr, momentum_full_atr : float
        MACD histogram (in ATRs) where momentum starts to hold / saturates.
    rsi_overbought, rsi_oversold : float
        No buys above / no sells below (RSI in 0..1).
    allow_low_volatility : bool
        Trade in the low-volatility regime too.
    confidence_floor : float
        Confidence when the conditions barely hold; 1 when all are at full strength.
    risk_rank_weight : float
        Weight of ``vol_pct_rank`` in the risk score (the rest is the regime).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="rule-trend-momentum", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    trend_min_atr: float = Field(default=2.0, gt=0.0, allow_inf_nan=False)
    trend_full_atr: float = Field(default=5.0, gt=0.0, allow_inf_nan=False)
    max_extension_atr: float = Field(default=2.5, gt=0.0, allow_inf_nan=False)
    momentum_min_atr: float = Field(default=0.25, ge=0.0, allow_inf_nan=False)
    momentum_full_atr: float = Field(default=0.8, gt=0.0, allow_inf_nan=False)
    rsi_overbought: float = Field(default=0.70, gt=0.5, le=1.0)
    rsi_oversold: float = Field(default=0.30, ge=0.0, lt=0.5)
    allow_low_volatility: bool = False
    confidence_floor: float = Field(default=0.5, ge=0.0, le=1.0)
    risk_rank_weight: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_order(self) -> RuleConfig:
        if self.trend_full_atr <= self.trend_min_atr:
            raise ValueError(
                f"trend_full_atr ({self.trend_full_atr}) must be > trend_min_atr "
                f"({self.trend_min_atr})"
            )
        if self.momentum_full_atr <= self.momentum_min_atr:
            raise ValueError(
                f"momentum_full_atr ({self.momentum_full_atr}) must be > momentum_min_atr "
                f"({self.momentum_min_atr})"
            )
        return self

    def fingerprint(self) -> str:
        """8 hex digits identifying the thresholds (part of the model id)."""
        return config_fingerprint(self.model_dump(exclude={"name"}))


class RulePredictor(CodedPredictor):
    """The trend + momentum rule behind the :class:`~nautilus_ai.models.base.Predictor` protocol.

    Parameters
    ----------
    spec : FeatureSpecLike
        The feature spec of the vectors it will see; must contain :data:`RULE_FEATURES`. Their
        positions are resolved once here.
    config : RuleConfig, optional
        Thresholds (defaults: ``RuleConfig()``).
    """

    #: ``predict_batch`` returns exactly (bit for bit) what ``predict`` returns row by row, so a
    #: backtest may precompute predictions in one batch without changing a single trade.
    batch_exact = True
    _reasons = RULE_REASONS

    def __init__(self, spec: FeatureSpecLike, config: RuleConfig | None = None) -> None:
        self._config = config if config is not None else RuleConfig()
        self._names = tuple(spec.names)
        self._spec_hash = spec.hash
        self._model_id = f"{self._config.name}/{self._config.fingerprint()}"
        self._owner = f"RulePredictor({self._model_id})"
        self._idx = tuple(feature_indices(spec, RULE_FEATURES, owner=self._owner))
        c = self._config
        # Constants shared by the scalar and the vector path (same operands -> same floats).
        self._trend_min = c.trend_min_atr
        self._trend_span = c.trend_full_atr - c.trend_min_atr
        self._momentum_min = c.momentum_min_atr
        self._momentum_span = c.momentum_full_atr - c.momentum_min_atr
        self._max_ext = c.max_extension_atr
        self._rsi_ob = c.rsi_overbought
        self._rsi_os = c.rsi_oversold
        self._room_ob = c.rsi_overbought - 0.5
        self._room_os = 0.5 - c.rsi_oversold
        self._low_vol_ok = c.allow_low_volatility
        self._floor = c.confidence_floor
        self._floor_span = 1.0 - c.confidence_floor
        self._w_rank = c.risk_rank_weight
        self._w_regime = 1.0 - c.risk_rank_weight

    @property
    def config(self) -> RuleConfig:
        """The thresholds."""
        return self._config

    @property
    def model_id(self) -> str:
        """``name/fingerprint``, e.g. ``rule-trend-momentum/1a2b3c4d``."""
        return self._model_id

    @property
    def spec_hash(self) -> str:
        """Hash of the spec the feature positions were resolved for."""
        return self._spec_hash

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """Apply the rule to one feature vector (ordered as the spec).

        Raises
        ------
        PredictionError
            Wrong shape, a non-finite feature (named), or a context for another spec.
        """
        start = time.perf_counter()
        if context.spec_hash and context.spec_hash != self._spec_hash:
            raise context_spec_error(self._owner, self._spec_hash, context.spec_hash)
        values = check_feature_vector(features, self._names, owner=self._owner)
        sign, confidence, risk, reason = self._signal(values)
        return Prediction(
            _ACTIONS[sign], confidence, risk, self._model_id, time.perf_counter() - start, reason
        )

    def predict_signal(self, features: Sequence[float]) -> Signal | None:
        """:meth:`predict`'s answer as ``(sign, confidence, risk_score, reason)`` for a row of
        Python floats, with no ``Prediction`` built
        (:class:`~nautilus_ai.models.base.SignalPredictor`); ``None`` for a row ``predict``
        refuses (wrong length, a non-finite feature)."""
        if len(features) != len(self._names):
            return None
        total = sum(features)  # as check_feature_vector: NaN or inf make the sum non-finite
        if total - total != 0.0:
            return None
        signal = self._signal(features)
        return signal if 0.0 <= signal[1] <= 1.0 else None  # a Prediction would refuse it

    def _signal(self, values: Sequence[float]) -> Signal:
        """The rule on checked, finite values: ``(sign, confidence, risk, reason)``."""
        i = self._idx
        regime = values[i[6]]
        risk = self._w_rank * values[i[5]] + self._w_regime * ((regime + 1.0) * 0.5)
        risk = 0.0 if risk < 0.0 else (1.0 if risk > 1.0 else risk)
        if values[i[7]] < 0.5:
            code = _COLD
        elif regime < -0.5 and not self._low_vol_ok:
            code = _LOW_VOL
        else:
            code, confidence = self._evaluate(
                values[i[0]], values[i[1]], values[i[2]], values[i[3]], values[i[4]]
            )
            if code <= _SELL:
                return (1 if code == _BUY else -1), confidence, risk, RULE_REASONS[code]
        return 0, 0.0, risk, RULE_REASONS[code]

    def _evaluate(
        self, e20: float, e50: float, hist: float, atr: float, rsi: float
    ) -> tuple[int, float]:
        trend_min = self._trend_min
        if e50 >= trend_min and e20 >= 0.0:
            side = 1.0
        elif e50 <= -trend_min and e20 <= 0.0:
            side = -1.0
        else:
            return _NO_TREND, 0.0
        momentum = hist / atr if atr > 0.0 else 0.0
        strength_momentum = side * momentum - self._momentum_min
        if strength_momentum < 0.0:
            return _NO_MOMENTUM, 0.0
        if side * e20 > self._max_ext:
            return _EXTENDED, 0.0
        if side > 0.0:
            if rsi > self._rsi_ob:
                return _OVERBOUGHT, 0.0
            room = (self._rsi_ob - rsi) / self._room_ob
        else:
            if rsi < self._rsi_os:
                return _OVERSOLD, 0.0
            room = (rsi - self._rsi_os) / self._room_os
        strength_trend = (side * e50 - trend_min) / self._trend_span
        strength_momentum = strength_momentum / self._momentum_span
        strength_trend = 1.0 if strength_trend > 1.0 else strength_trend
        strength_momentum = 1.0 if strength_momentum > 1.0 else strength_momentum
        room = 1.0 if room > 1.0 else room
        confidence = self._floor + self._floor_span * (
            (strength_trend + strength_momentum + room) / 3.0
        )
        return (_BUY if side > 0.0 else _SELL), confidence

    def predict_arrays(
        self, features: NDArray[np.float64]
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
        """Vectorised rule over a ``(n, k)`` batch.

        Returns
        -------
        tuple
            ``(signs, confidence, risk_score, reason_codes)``: signs in {-1, 0, 1}, reason codes
            index :data:`RULE_REASONS`. Row for row the same floats as :meth:`predict`.
        """
        x = check_feature_matrix(features, self._names, owner=self._owner)
        i = self._idx
        e20, e50, hist, atr, rsi = x[:, i[0]], x[:, i[1]], x[:, i[2]], x[:, i[3]], x[:, i[4]]
        rank, regime, warm = x[:, i[5]], x[:, i[6]], x[:, i[7]]
        n = x.shape[0]

        risk = self._w_rank * rank + self._w_regime * ((regime + 1.0) * 0.5)
        risk = np.minimum(np.maximum(risk, 0.0), 1.0)

        up = (e50 >= self._trend_min) & (e20 >= 0.0)
        down = ~up & (e50 <= -self._trend_min) & (e20 <= 0.0)
        side = np.where(up, 1.0, np.where(down, -1.0, 0.0))
        momentum = np.zeros(n)
        np.divide(hist, atr, out=momentum, where=atr > 0.0)
        strength_momentum = side * momentum - self._momentum_min
        extended = side * e20 > self._max_ext
        overbought = up & (rsi > self._rsi_ob)
        oversold = down & (rsi < self._rsi_os)
        room = np.where(
            up, (self._rsi_ob - rsi) / self._room_ob, (rsi - self._rsi_os) / self._room_os
        )

        code = np.full(n, -1, dtype=np.int8)
        # Priority matches the scalar path's order of checks.
        for mask, value in (
            (warm < 0.5, _COLD),
            ((regime < -0.5) & (not self._low_vol_ok), _LOW_VOL),
            (~(up | down), _NO_TREND),
            (strength_momentum < 0.0, _NO_MOMENTUM),
            (extended, _EXTENDED),
            (overbought, _OVERBOUGHT),
            (oversold, _OVERSOLD),
        ):
            code[(code < 0) & mask] = value
        fire = code < 0
        code[fire & up] = _BUY
        code[fire & down] = _SELL

        strength_trend = np.minimum((side * e50 - self._trend_min) / self._trend_span, 1.0)
        strength_momentum = np.minimum(strength_momentum / self._momentum_span, 1.0)
        room = np.minimum(room, 1.0)
        confidence = self._floor + self._floor_span * (
            (strength_trend + strength_momentum + room) / 3.0
        )
        confidence = np.where(fire, confidence, 0.0)
        signs = np.where(code == _BUY, 1, np.where(code == _SELL, -1, 0)).astype(np.int8)
        return signs, confidence, risk, code
