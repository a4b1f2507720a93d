"""Model backends behind one protocol (:class:`Predictor` -> :class:`Prediction`)."""

from nautilus_ai.models.base import (
    Action,
    MarketContext,
    Prediction,
    PredictionError,
    Predictor,
    safe_predict,
)

__all__ = [
    "Action",
    "MarketContext",
    "Prediction",
    "PredictionError",
    "Predictor",
    "safe_predict",
]
