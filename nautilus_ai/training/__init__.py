"""Training: catalog -> labelled walk-forward dataset -> MLP fit -> temperature calibration ->
evaluation -> a versioned artifact that :class:`~nautilus_ai.models.TorchPredictor` loads.

>>> from nautilus_ai.training import TrainConfig, train_model
>>> result = train_model("catalogs/demo", bar_type=..., fold=...)   # see pipeline docs
>>> print(result.summary_text())

Imports torch (use it from the CLI or research code, not from the trading path).
"""

from nautilus_ai.training.calibration import fit_temperature, softmax_with_temperature
from nautilus_ai.training.config import TrainConfig, default_threads
from nautilus_ai.training.data import (
    FeatureAgreement,
    FeatureMismatchError,
    TrainingFrame,
    load_fold_frame,
    load_training_frame,
)
from nautilus_ai.training.fit import EpochStats, FitResult, fit_mlp, module_logits, torch_threads
from nautilus_ai.training.metrics import (
    ReliabilityBins,
    brier_score,
    classification_metrics,
    expected_calibration_error,
    log_loss,
    reliability_bins,
)
from nautilus_ai.training.pipeline import (
    OosEvaluator,
    TrainedModel,
    TrainResult,
    build_model_card,
    fit_and_calibrate,
    train_model,
    train_on_arrays,
)

__all__ = [
    "EpochStats",
    "FeatureAgreement",
    "FeatureMismatchError",
    "FitResult",
    "OosEvaluator",
    "ReliabilityBins",
    "TrainConfig",
    "TrainResult",
    "TrainedModel",
    "TrainingFrame",
    "brier_score",
    "build_model_card",
    "classification_metrics",
    "default_threads",
    "expected_calibration_error",
    "fit_and_calibrate",
    "fit_mlp",
    "fit_temperature",
    "load_fold_frame",
    "load_training_frame",
    "log_loss",
    "module_logits",
    "reliability_bins",
    "softmax_with_temperature",
    "torch_threads",
    "train_model",
    "train_on_arrays",
]
