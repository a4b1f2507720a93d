"""Model backends behind one protocol (:class:`Predictor` -> :class:`Prediction`).

Pick a backend from a JSON config with :func:`build_predictor`. The torch names
(:class:`TorchPredictor`, :class:`MLPClassifier`, :func:`save_artifact`) are imported on first use,
so ``import nautilus_ai.models`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nautilus_ai.models.base import (
    Action,
    ArrayPredictor,
    LearnsFromOutcomes,
    MarketContext,
    Prediction,
    PredictionError,
    Predictor,
    SignalBatch,
    SignalPredictor,
    TradeOutcome,
    WrapsPredictors,
    safe_predict,
)
from nautilus_ai.models.cache import CachedPredictor, PredictionCache, PredictionCacheError
from nautilus_ai.models.card import ArtifactError, ModelCard, read_model_card
from nautilus_ai.models.circuit import CircuitBreaker
from nautilus_ai.models.device import DeviceError, resolve_device
from nautilus_ai.models.ensemble import EnsemblePredictor
from nautilus_ai.models.fallback import FallbackPredictor
from nautilus_ai.models.itemwise import ItemwiseBackend, ItemwisePredictor, predict_items
from nautilus_ai.models.latency import (
    EmpiricalLatency,
    FixedLatency,
    LatencyConfig,
    LatencyModel,
    LogNormalLatency,
    RecordedLatency,
)
from nautilus_ai.models.openai_compat import OpenAIConfig, OpenAIPredictor
from nautilus_ai.models.registry import (
    Backend,
    BackendConfigError,
    BackendRegistry,
    available_backends,
    build_predictor,
    default_registry,
    register_backend,
    validate_backend_config,
)
from nautilus_ai.models.rule import RuleConfig, RulePredictor
from nautilus_ai.models.scheduler import (
    AnswerTiming,
    DecisionScheduler,
    ScheduledDecision,
    SchedulerStats,
    recorded_latency,
)
from nautilus_ai.models.spec import FeatureSpecLike, SpecMismatchError
from nautilus_ai.models.switchable import SwitchablePredictor
from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor
from nautilus_ai.models.trained_bars import (
    BarTypeMismatchError,
    KnowsTrainedBars,
    TrainedBars,
    check_bar_type,
)
from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor

if TYPE_CHECKING:
    from nautilus_ai.models.torch_mlp import MLPClassifier, TorchPredictor, save_artifact

__all__ = [
    "Action",
    "AnswerTiming",
    "ArrayPredictor",
    "ArtifactError",
    "Backend",
    "BackendConfigError",
    "BackendRegistry",
    "BarTypeMismatchError",
    "CachedPredictor",
    "CircuitBreaker",
    "DecisionScheduler",
    "DeviceError",
    "EmpiricalLatency",
    "EnsemblePredictor",
    "FallbackPredictor",
    "FeatureSpecLike",
    "FixedLatency",
    "ItemwiseBackend",
    "ItemwisePredictor",
    "KnowsTrainedBars",
    "LatencyConfig",
    "LatencyModel",
    "LearnsFromOutcomes",
    "LogNormalLatency",
    "MLPClassifier",
    "MarketContext",
    "ModelCard",
    "OpenAIConfig",
    "OpenAIPredictor",
    "Prediction",
    "PredictionCache",
    "PredictionCacheError",
    "PredictionError",
    "Predictor",
    "RecordedLatency",
    "RuleConfig",
    "RulePredictor",
    "ScheduledDecision",
    "SchedulerStats",
    "SignalBatch",
    "SignalPredictor",
    "SpecMismatchError",
    "SwitchablePredictor",
    "TorchPredictor",
    "TorchServeConfig",
    "TorchServePredictor",
    "TradeOutcome",
    "TrainedBars",
    "TransformersConfig",
    "TransformersPredictor",
    "WrapsPredictors",
    "available_backends",
    "build_predictor",
    "check_bar_type",
    "default_registry",
    "predict_items",
    "read_model_card",
    "recorded_latency",
    "register_backend",
    "resolve_device",
    "safe_predict",
    "save_artifact",
    "validate_backend_config",
]

_LAZY = {
    "MLPClassifier": "nautilus_ai.models.torch_mlp",
    "TorchPredictor": "nautilus_ai.models.torch_mlp",
    "save_artifact": "nautilus_ai.models.torch_mlp",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from nautilus_ai.extras import require_extra

    require_extra("torch", f"nautilus_ai.models.{name}")
    return getattr(importlib.import_module(module), name)
