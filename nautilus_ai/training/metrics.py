"""Classification and calibration metrics over class probabilities (pure numpy).

Conventions: ``probabilities`` is ``(n, c)`` with rows summing to 1, ``y`` holds class indices.

* Brier score: mean over rows of ``sum_k (p_k - [y == k])^2`` (multi-class form, 0 is perfect,
  2 is the worst).
* Expected calibration error (ECE): rows binned by their top-label confidence ``max_k p_k``
  into ``n_bins`` equal-width bins over [0, 1]; ``sum_b (n_b / n) * |accuracy_b - confidence_b|``
  (Guo et al. 2017).
* F1 per class from the argmax predictions; macro F1 is their unweighted mean (a class never
  predicted and never present counts as F1 0 and is reported with ``support`` 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ReliabilityBins",
    "brier_score",
    "classification_metrics",
    "expected_calibration_error",
    "log_loss",
    "reliability_bins",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def _check(probabilities: F64, y: I64) -> None:
    if probabilities.ndim != 2 or y.shape != (probabilities.shape[0],):
        raise ValueError(
            f"probabilities must be (n, c) and y (n,), got {probabilities.shape} and {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= probabilities.shape[1]):
        raise ValueError("y holds a class index outside the probability columns")


def brier_score(probabilities: F64, y: I64) -> float:
    """Multi-class Brier score (see the module docstring)."""
    _check(probabilities, y)
    if y.size == 0:
        return float("nan")
    onehot = np.zeros_like(probabilities)
    onehot[np.arange(y.size), y] = 1.0
    return float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))


def log_loss(probabilities: F64, y: I64, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of the true class."""
    _check(probabilities, y)
    if y.size == 0:
        return float("nan")
    p = np.clip(probabilities[np.arange(y.size), y], eps, 1.0)
    return float(-np.mean(np.log(p)))


@dataclass(frozen=True)
class ReliabilityBins:
    """Per confidence bin: edges, rows, mean confidence and accuracy (NaN for empty bins)."""

    edges: F64
    count: I64
    confidence: F64
    accuracy: F64

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "edges": self.edges.tolist(),
            "count": self.count.tolist(),
            "confidence": [None if np.isnan(v) else v for v in self.confidence.tolist()],
            "accuracy": [None if np.isnan(v) else v for v in self.accuracy.tolist()],
        }


def reliability_bins(probabilities: F64, y: I64, n_bins: int = 15) -> ReliabilityBins:
    """Top-label reliability diagram data (bins are ``(lo, hi]``, the first includes 0)."""
    _check(probabilities, y)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(np.int64)
    conf_sum = np.bincount(which, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(which, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
        mean_acc = np.where(count > 0, acc_sum / count, np.nan)
    return ReliabilityBins(edges, count, mean_conf, mean_acc)


def expected_calibration_error(probabilities: F64, y: I64, n_bins: int = 15) -> float:
    """Top-label ECE with ``n_bins`` equal-width bins."""
    if y.size == 0:
        return float("nan")
    bins = reliability_bins(probabilities, y, n_bins)
    filled = bins.count > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float(np.sum(bins.count[filled] * gaps) / y.size)


def classification_metrics(
    probabilities: F64, y: I64, classes: Sequence[str], n_bins: int = 15
) -> dict[str, Any]:
    """Accuracy, per-class precision / recall / F1 / support, macro F1, Brier, log loss, ECE,
    the confusion matrix (rows: true class, columns: predicted) and the predicted share of each
    class, as a JSON-ready dict."""
    _check(probabilities, y)
    c = probabilities.shape[1]
    if len(classes) != c:
        raise ValueError(f"{len(classes)} class names for {c} probability columns")
    n = int(y.size)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for k, name in enumerate(classes):
        tp = float(confusion[k, k])
        fp = float(confusion[:, k].sum() - confusion[k, k])
        fn = float(confusion[k, :].sum() - confusion[k, k])
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": int(confusion[k, :].sum()),
        }
    return {
        "rows": n,
        "accuracy": float(np.trace(confusion) / n) if n else float("nan"),
        "macro_f1": float(np.mean(f1s)),
        "per_class": per_class,
        "brier": brier_score(probabilities, y),
        "log_loss": log_loss(probabilities, y),
        "ece": expected_calibration_error(probabilities, y, n_bins),
        "confusion": confusion.tolist(),
        "predicted_share": {
            name: float(np.mean(predicted == k)) if n else 0.0 for k, name in enumerate(classes)
        },
    }
