"""Model backends behind one protocol (:class:`Predictor` -> :class:`Prediction`)."""

from nautilus_ai.models.base import (
    Action,
    MarketContext,
    Prediction,
    PredictionError,
    Predictor,
    safe_predict,
)
from nautilus_ai.models.cache import CachedPredictor, PredictionCache, PredictionCacheError
from nautilus_ai.models.circuit import CircuitBreaker
from nautilus_ai.models.ensemble import EnsemblePredictor
from nautilus_ai.models.fallback import FallbackPredictor
from nautilus_ai.models.itemwise import ItemwisePredictor, predict_items
from nautilus_ai.models.latency import (
    EmpiricalLatency,
    FixedLatency,
    LatencyConfig,
    LatencyModel,
    LogNormalLatency,
)
from nautilus_ai.models.openai_compat import OpenAIConfig, OpenAIPredictor
from nautilus_ai.models.scheduler import DecisionScheduler, ScheduledDecision, SchedulerStats
from nautilus_ai.models.switchable import SwitchablePredictor
from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor
from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor

__all__ = [
    "Action",
    "CachedPredictor",
    "CircuitBreaker",
    "DecisionScheduler",
    "EmpiricalLatency",
    "EnsemblePredictor",
    "FallbackPredictor",
    "FixedLatency",
    "ItemwisePredictor",
    "LatencyConfig",
    "LatencyModel",
    "LogNormalLatency",
    "MarketContext",
    "OpenAIConfig",
    "OpenAIPredictor",
    "Prediction",
    "PredictionCache",
    "PredictionCacheError",
    "PredictionError",
    "Predictor",
    "ScheduledDecision",
    "SchedulerStats",
    "SwitchablePredictor",
    "TorchServeConfig",
    "TorchServePredictor",
    "TransformersConfig",
    "TransformersPredictor",
    "predict_items",
    "safe_predict",
]
