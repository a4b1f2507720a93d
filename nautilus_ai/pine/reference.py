"""The Python side of the parity check: what the Python strategy would see on each bar."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import Predictor

__all__ = ["predictor_outputs"]


def predictor_outputs(
    predictor: Predictor, features: NDArray[np.float64]
) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64]]:
    """``(action sign, confidence, risk score)`` per row from ``predictor.predict_batch``.

    Every row must be warm (finite); the predictor's own checks raise otherwise.
    """
    rows = np.ascontiguousarray(features, dtype=np.float64)
    n = rows.shape[0]
    sign = np.zeros(n, dtype=np.int8)
    confidence = np.zeros(n, dtype=np.float64)
    risk = np.ones(n, dtype=np.float64)
    if n == 0:
        return sign, confidence, risk
    predictions = predictor.predict_batch(rows)
    if len(predictions) != n:
        raise ValueError(
            f"{predictor.model_id}: predict_batch returned {len(predictions)} predictions for "
            f"{n} rows"
        )
    for i, prediction in enumerate(predictions):
        sign[i] = prediction.action.sign
        confidence[i] = prediction.confidence
        risk[i] = prediction.risk_score
    return sign, confidence, risk
