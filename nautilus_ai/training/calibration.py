"""Temperature scaling (Guo et al. 2017): one scalar ``T`` so that ``softmax(logits / T)``
minimises the negative log-likelihood on held-out rows (the validation fold).

``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens under-confident ones; the
argmax, hence accuracy and F1, never changes. The fitted ``T`` goes into the model card
(``temperature``) and every predictor applies it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

__all__ = ["fit_temperature", "softmax_with_temperature"]

# Search log(T) in [ln 0.05, ln 20]: wide enough for any sane network, bounded for safety.
_LOG_T_BOUNDS = (math.log(0.05), math.log(20.0))


def bound_note(temperature: float) -> str | None:
    """A warning when the fitted ``temperature`` sits at its search bound (within 1%), else
    None. At 20 the validation labels are no better explained by the model's logits than by a
    near-uniform guess: its confidences carry no skill there, and every probability is
    flattened toward 1/3 (so a ``min_confidence`` above that is rarely met)."""
    low, high = (math.exp(b) for b in _LOG_T_BOUNDS)
    if temperature >= high * 0.99:
        return (
            f"temperature at its search bound ({temperature:.2f} ~ {high:g}): on validation the "
            "model's confidences carry no skill; its probabilities are flattened to ~uniform"
        )
    if temperature <= low * 1.01:
        return (
            f"temperature at its search bound ({temperature:.3f} ~ {low:g}): the validation "
            "labels asked for sharper probabilities than the search allows"
        )
    return None


def softmax_with_temperature(
    logits: NDArray[np.float64], temperature: float
) -> NDArray[np.float64]:
    """Row-wise ``softmax(logits / temperature)`` in float64."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    out: NDArray[np.float64] = softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return out


def _nll(logits: NDArray[np.float64], y: NDArray[np.int64], temperature: float) -> float:
    log_p = log_softmax(logits / temperature, axis=1)
    return float(-np.mean(log_p[np.arange(y.size), y]))


def fit_temperature(logits: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    """The temperature minimising the mean NLL of ``y`` under ``softmax(logits / T)``.

    Raises
    ------
    ValueError
        Empty input, mismatched shapes or non-finite logits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if logits.ndim != 2 or y.shape != (logits.shape[0],) or y.size == 0:
        raise ValueError(
            f"need logits (n, c) and y (n,) with n > 0, got {logits.shape} and {y.shape}"
        )
    if not np.isfinite(logits).all():
        raise ValueError("logits must be finite")
    result = minimize_scalar(
        lambda log_t: _nll(logits, y, math.exp(log_t)),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-5},
    )
    best = float(math.exp(result.x))
    # Move away from 1 only if it helps: never worse than no calibration, and flat logits
    # (where every temperature is equally good) keep T = 1.
    return best if _nll(logits, y, best) < _nll(logits, y, 1.0) - 1e-12 else 1.0
