"""Training: catalog -> labelled walk-forward dataset -> MLP fit -> temperature calibration ->
evaluation -> a versioned artifact that :class:`~nautilus_ai.models.TorchPredictor` loads.

>>> from nautilus_ai.training import TrainConfig, train_model
>>> result = train_model("catalogs/demo", bar_type=..., fold=...)   # see pipeline docs
>>> print(result.summary_text())

The fitting names (:func:`train_model`, :func:`fit_mlp`, ...) need the ``torch`` extra and are
imported on first use, so ``import nautilus_ai.training`` (and :mod:`nautilus_ai.workflows.oos`,
which the core's CLI verbs use) does not import torch. Training never imports the backtest
runner: the out-of-sample comparison lives in :mod:`nautilus_ai.workflows`. Without torch,
using one raises :class:`~nautilus_ai.extras.MissingExtraError` naming the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nautilus_ai.training.calibration import fit_temperature, softmax_with_temperature
from nautilus_ai.training.config import TrainConfig, default_threads
from nautilus_ai.training.data import (
    FeatureAgreement,
    FeatureMismatchError,
    TrainingFrame,
    load_fold_frame,
    load_training_frame,
)
from nautilus_ai.training.metrics import (
    ReliabilityBins,
    brier_score,
    classification_metrics,
    expected_calibration_error,
    log_loss,
    reliability_bins,
)

if TYPE_CHECKING:
    from nautilus_ai.training.fit import (
        EpochStats,
        FitResult,
        fit_mlp,
        module_logits,
        torch_threads,
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

#: Names that need torch, and the module that defines each (imported on first use; the test
#: suite reads it to mark the tests that import them).
TORCH_NAMES = {
    **dict.fromkeys(
        ("EpochStats", "FitResult", "fit_mlp", "module_logits", "torch_threads"),
        "nautilus_ai.training.fit",
    ),
    **dict.fromkeys(
        (
            "OosEvaluator",
            "TrainResult",
            "TrainedModel",
            "build_model_card",
            "fit_and_calibrate",
            "train_model",
            "train_on_arrays",
        ),
        "nautilus_ai.training.pipeline",
    ),
}


def __getattr__(name: str) -> Any:
    module = TORCH_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from nautilus_ai.extras import require_extra

    require_extra("torch", "training")
    return getattr(importlib.import_module(module), name)
