"""What the rule-like predictors share: vectorised answers as reason codes.

:class:`~nautilus_ai.models.rule.RulePredictor` and
:class:`~nautilus_ai.models.tick_rule.TickRulePredictor` compute a batch as four arrays (sign,
confidence, risk, reason code); these functions turn them into the columns of
:class:`~nautilus_ai.models.base.SignalBatch` or into one
:class:`~nautilus_ai.models.base.Prediction` per row, the same way for both, and name a rule's
thresholds by a short hash; :class:`CodedPredictor` gives both their batch methods from them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import Action, MarketContext, Prediction, SignalBatch
from nautilus_ai.models.spec import check_batch_contexts

__all__ = [
    "CodedPredictor",
    "config_fingerprint",
    "predictions_from_codes",
    "signals_from_codes",
]

# Indexed by sign: 0 hold, 1 buy, -1 (the last) sell.
_ACTIONS = (Action.HOLD, Action.BUY, Action.SELL)

CodedArrays = tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64], NDArray[Any]]
"""``(signs, confidence, risk, reason codes)`` of a batch, row for row."""


def _latency(start: float, n: int) -> float:
    return (time.perf_counter() - start) / n if n else 0.0


def signals_from_codes(
    arrays: CodedArrays, reason_by_code: NDArray[np.object_], start: float
) -> SignalBatch:
    """The batch as columns; ``latency`` is the time since ``start`` over the rows."""
    signs, confidence, risk, codes = arrays
    reasons = reason_by_code[codes].tolist()  # the same str objects, one take
    latency = _latency(start, len(signs))
    return SignalBatch(signs.tolist(), confidence.tolist(), risk.tolist(), reasons, latency)


def predictions_from_codes(
    arrays: CodedArrays, reasons: Sequence[str], model_id: str, start: float
) -> list[Prediction]:
    """One :class:`Prediction` per row; ``latency`` is the time since ``start`` over the rows."""
    signs, confidence, risk, codes = arrays
    latency = _latency(start, len(signs))
    return [
        Prediction(_ACTIONS[s], c, r, model_id, latency, reasons[k])
        for s, c, r, k in zip(
            signs.tolist(), confidence.tolist(), risk.tolist(), codes.tolist(), strict=True
        )
    ]


def config_fingerprint(settings: dict[str, Any]) -> str:
    """8 hex digits naming a rule's thresholds (part of its model id)."""
    blob = json.dumps(settings, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


class CodedPredictor:
    """The batch surface of a predictor whose :meth:`predict_arrays` answers with reason codes:
    :meth:`predict_signals` (columns), :meth:`predict_batch` (one ``Prediction`` per row) and
    :meth:`close`. A subclass sets ``_reasons`` (the reason text of each code) and, in its
    constructor, ``_spec_hash``, ``_owner`` and ``_model_id``."""

    _reasons: tuple[str, ...]
    _reasons_by_code: NDArray[np.object_]  # derived from _reasons for each subclass
    _spec_hash: str
    _owner: str
    _model_id: str

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._reasons_by_code = np.array(cls._reasons, dtype=object)

    def predict_arrays(self, features: NDArray[np.float64]) -> CodedArrays:
        """``(signs, confidence, risk, reason codes)`` of an ``(n, k)`` batch."""
        raise NotImplementedError

    def predict_signals(self, features: NDArray[np.float64]) -> SignalBatch:
        """:meth:`predict` for each row as columns (:class:`~nautilus_ai.models.ArrayPredictor`)."""
        start = time.perf_counter()
        return signals_from_codes(self.predict_arrays(features), self._reasons_by_code, start)

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        """:meth:`predict` for each row (equal answers; latency is the batch time / n)."""
        start = time.perf_counter()
        check_batch_contexts(contexts, len(features), self._spec_hash, owner=self._owner)
        arrays = self.predict_arrays(features)
        return predictions_from_codes(arrays, self._reasons, self._model_id, start)

    def close(self) -> None:
        """Nothing to release."""
