"""The tick rule: buy / sell when the mid has moved far enough since the forming bar opened.

A predictor of tick decision vectors (``spec.tick_vector_names``: the last completed bar's
features, then the tick features; see :mod:`nautilus_ai.features.ticks`). It reads three
features by name, ``atr_close`` (ATR(14) / close of the last completed bar), ``tick_mid_ret``
and ``tick_spread``; with ``atr = atr_close``:

* hold unless ``atr > 0`` and ``tick_spread <= max_spread_atr * atr``;
* buy when ``tick_mid_ret >= entry_atr * atr``, sell when ``tick_mid_ret <= -entry_atr * atr``;
* confidence ``min(1, 0.5 * |tick_mid_ret| / (entry_atr * atr))`` (0.5 at the threshold), 0 for
  a hold;
* risk score ``clip(tick_spread / (max_spread_atr * atr), 0, 1)`` (the share of the widest
  spread still traded; 1 when there is no ATR).

``{"kind": "tick_rule", "entry_atr": 0.5, "max_spread_atr": 0.5}`` in a run file's
``predictor``; it needs the strategy's ``tick_mode`` (a bar vector has no tick features, and
building it for one is refused naming them). ``predict_batch`` / ``predict_signals`` equal
``predict`` row by row bit for bit (same float operations). No proven edge: a baseline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from nautilus_ai.models.base import Action, MarketContext, Prediction, Signal
from nautilus_ai.models.coded import CodedPredictor, config_fingerprint
from nautilus_ai.models.registry import Backend, BackendRegistry
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_feature_matrix,
    check_feature_vector,
    context_spec_error,
    feature_indices,
    raise_non_finite,
)

__all__ = ["BACKEND", "TICK_RULE_FEATURES", "TickRuleConfig", "TickRulePredictor"]

#: The features the tick rule reads.
TICK_RULE_FEATURES: Final = ("atr_close", "tick_mid_ret", "tick_spread")
_REASONS: Final = (
    "hold: mid move below the entry threshold",
    "buy: mid up since the bar opened",
    "sell: mid down since the bar opened",
    "hold: no ATR",
    "hold: spread too wide",
)
_NO_MOVE, _BUY, _SELL, _NO_ATR, _WIDE = range(5)


class TickRuleConfig(BaseModel):
    """``{"kind": "tick_rule", ...}``: thresholds of :class:`TickRulePredictor` (in ATRs).

    Parameters
    ----------
    name : str
        Model name; the model id is ``name/<8-hex fingerprint of the thresholds>``.
    entry_atr : float
        Mid move since the forming bar's first tick, in ATR(14) of the last bar, that makes a
        signal.
    max_spread_atr : float
        Hold while the spread is wider than this many ATR.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["tick_rule"] = "tick_rule"
    name: str = Field(default="tick-rule", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    entry_atr: float = Field(default=0.5, gt=0.0, allow_inf_nan=False)
    max_spread_atr: float = Field(default=0.5, gt=0.0, allow_inf_nan=False)

    def fingerprint(self) -> str:
        """8 hex digits identifying the thresholds (part of the model id)."""
        return config_fingerprint(self.model_dump(exclude={"name", "kind"}))


class TickRulePredictor(CodedPredictor):
    """The tick rule behind the :class:`~nautilus_ai.models.base.Predictor` protocol.

    Parameters
    ----------
    spec : FeatureSpecLike
        The spec of the vectors it will see (a
        :class:`~nautilus_ai.features.ticks.TickVectorSpec`); must contain
        :data:`TICK_RULE_FEATURES`.
    config : TickRuleConfig, optional
        Thresholds.
    """

    batch_exact = True
    _reasons = _REASONS

    def __init__(self, spec: FeatureSpecLike, config: TickRuleConfig | None = None) -> None:
        self._config = config if config is not None else TickRuleConfig()
        self._names = tuple(spec.names)
        self._spec_hash = spec.hash
        self._model_id = f"{self._config.name}/{self._config.fingerprint()}"
        self._owner = f"TickRulePredictor({self._model_id})"
        self._i_atr, self._i_ret, self._i_spread = feature_indices(
            spec, TICK_RULE_FEATURES, owner=self._owner
        )
        self._shape = (len(self._names),)
        self._entry = self._config.entry_atr
        self._max_spread = self._config.max_spread_atr

    @property
    def config(self) -> TickRuleConfig:
        return self._config

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spec_hash(self) -> str:
        return self._spec_hash

    def _rule(self, atr: float, ret: float, spread: float) -> tuple[int, float, float]:
        """``(reason code, confidence, risk)`` in Python floats."""
        if not atr > 0.0:
            return _NO_ATR, 0.0, 1.0
        widest = self._max_spread * atr
        risk = spread / widest
        risk = 0.0 if risk < 0.0 else (1.0 if risk > 1.0 else risk)
        if spread > widest:
            return _WIDE, 0.0, risk
        threshold = self._entry * atr
        if ret >= threshold:
            confidence = 0.5 * ret / threshold
            return _BUY, (1.0 if confidence > 1.0 else confidence), risk
        if ret <= -threshold:
            confidence = -0.5 * ret / threshold
            return _SELL, (1.0 if confidence > 1.0 else confidence), risk
        return _NO_MOVE, 0.0, risk

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """The rule on one tick vector.

        Raises
        ------
        PredictionError
            Wrong shape, a non-finite feature (named), or a context for another spec.
        """
        start = time.perf_counter()
        if context.spec_hash and context.spec_hash != self._spec_hash:
            raise context_spec_error(self._owner, self._spec_hash, context.spec_hash)
        if features.__class__ is not np.ndarray or features.shape != self._shape:
            check_feature_vector(features, self._names, owner=self._owner)  # raises, says why
        # Only the three features the rule reads are checked (the per-tick path is hot).
        atr = float(features[self._i_atr])
        ret = float(features[self._i_ret])
        spread = float(features[self._i_spread])
        total = atr + ret + spread
        if total - total != 0.0:  # a NaN or inf among them
            raise_non_finite((atr, ret, spread), TICK_RULE_FEATURES, owner=self._owner, row=None)
        code, confidence, risk = self._rule(atr, ret, spread)
        action = Action.BUY if code == _BUY else (Action.SELL if code == _SELL else Action.HOLD)
        return Prediction(
            action, confidence, risk, self._model_id, time.perf_counter() - start, _REASONS[code]
        )

    def predict_signal(self, features: Sequence[float]) -> Signal | None:
        """:meth:`predict`'s answer as ``(sign, confidence, risk_score, reason)`` for a row of
        Python floats, nothing built (:class:`~nautilus_ai.models.base.SignalPredictor`: the
        tick mode's per-tick fast path); ``None`` where :meth:`predict` raises (a wrong length,
        a non-finite feature among the three it reads)."""
        if len(features) != self._shape[0]:
            return None
        atr = features[self._i_atr]
        ret = features[self._i_ret]
        spread = features[self._i_spread]
        total = atr + ret + spread
        if total - total != 0.0:
            return None
        code, confidence, risk = self._rule(atr, ret, spread)
        sign = 1 if code == _BUY else (-1 if code == _SELL else 0)
        return sign, confidence, risk, _REASONS[code]

    def predict_arrays(
        self, features: NDArray[np.float64]
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
        """``(signs, confidence, risk_score, reason_codes)`` over a ``(n, k)`` batch; row for
        row the same floats as :meth:`predict`."""
        x = check_feature_matrix(features, self._names, owner=self._owner)
        atr, ret, spread = x[:, self._i_atr], x[:, self._i_ret], x[:, self._i_spread]
        has_atr = atr > 0.0
        widest = self._max_spread * atr
        risk = np.ones(x.shape[0])
        np.divide(spread, widest, out=risk, where=has_atr)
        risk = np.where(has_atr, np.minimum(np.maximum(risk, 0.0), 1.0), 1.0)
        threshold = self._entry * atr
        code = np.full(x.shape[0], _NO_MOVE, dtype=np.int8)
        wide = has_atr & (spread > widest)
        live = has_atr & ~wide
        up = live & (ret >= threshold)
        down = live & ~up & (ret <= -threshold)
        code[~has_atr] = _NO_ATR
        code[wide] = _WIDE
        code[up] = _BUY
        code[down] = _SELL
        divisor = np.where(up | down, threshold, 1.0)  # same operations as predict's
        confidence = np.where(
            up, (0.5 * ret) / divisor, np.where(down, (-0.5 * ret) / divisor, 0.0)
        )
        confidence = np.minimum(confidence, 1.0)
        signs = np.where(up, 1, np.where(down, -1, 0)).astype(np.int8)
        return signs, confidence, risk, code


def _build(
    config: TickRuleConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> TickRulePredictor:
    return TickRulePredictor(spec, config)


#: The ``tick_rule`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("tick_rule", TickRuleConfig, _build)
