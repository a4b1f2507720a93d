"""Bar-by-bar comparison of a script's PineTS plots with the Python features and signals.

Features: for every feature, the largest absolute difference over the bars from
``compare_from`` (default: the first warm bar, ``spec.warmup_bars - 1``), plus a count of bars
where exactly one side is NaN (checked from bar 0, so a wrong warm-up start is caught too).

Signals: the Pine ``signal`` plot against the Python strategy's target on the same bar (the
predictor's action when ``confidence >= min_confidence``, else 0; 0 before warm-up). A mismatch
is *explained* when it sits within ``margin`` of a decision boundary: either side's confidence
within ``margin`` of the threshold, or an argmax tie (different actions with confidences within
``margin``). Every other mismatch is a failure, whatever the agreement rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.pine.distill import signal_of

__all__ = ["FeatureParity", "ParityReport", "SignalParity", "compare_parity"]

Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class FeatureParity:
    """One feature's agreement.

    Parameters
    ----------
    name : str
        Feature name (= plot title).
    max_abs_error : float
        Largest ``|pine - python|`` over the compared bars (NaN pairs skipped).
    worst_bar : int
        Bar index of that error (-1 when nothing was compared).
    compared_bars : int
        Bars with both values finite from ``compare_from`` on.
    nan_mismatches : int
        Bars (from 0) where exactly one side is NaN.
    """

    name: str
    max_abs_error: float
    worst_bar: int
    compared_bars: int
    nan_mismatches: int

    def passed(self, tolerance: float) -> bool:
        """Within ``tolerance`` and the same NaN pattern."""
        return self.max_abs_error <= tolerance and self.nan_mismatches == 0


@dataclass(frozen=True)
class SignalParity:
    """Signal agreement.

    Parameters
    ----------
    bars : int
        Bars compared (from ``compare_from``).
    agreement : float
        Share of those bars with the same signal.
    mismatches : tuple of int
        Bar indices where the signals differ.
    unexplained : tuple of int
        Mismatches NOT within ``margin`` of a decision boundary.
    confidence_max_abs_error : float
        Largest ``|pine - python|`` confidence on bars where both predict.
    margin : float
        The rounding margin used to explain mismatches.
    signal_bars : int
        Bars where Python has a buy or sell signal.
    """

    bars: int
    agreement: float
    mismatches: tuple[int, ...]
    unexplained: tuple[int, ...]
    confidence_max_abs_error: float
    margin: float
    signal_bars: int


@dataclass(frozen=True)
class ParityReport:
    """Features and signals of one PineTS run against Python.

    Parameters
    ----------
    features : tuple of FeatureParity
        Per feature, spec order.
    signals : SignalParity
        Signal agreement.
    tolerance : float
        Feature tolerance.
    min_agreement : float
        Required signal agreement.
    bars : int
        Bars in the run.
    compare_from : int
        First compared bar.
    missing_plots : tuple of str
        Expected plot titles PineTS did not return.
    """

    features: tuple[FeatureParity, ...]
    signals: SignalParity
    tolerance: float
    min_agreement: float
    bars: int
    compare_from: int
    missing_plots: tuple[str, ...] = ()

    @property
    def feature_max_error(self) -> float:
        """Largest feature error over all features."""
        return max((f.max_abs_error for f in self.features), default=0.0)

    @property
    def failing_features(self) -> tuple[str, ...]:
        """Features out of tolerance or with a different NaN pattern."""
        return tuple(f.name for f in self.features if not f.passed(self.tolerance))

    @property
    def passed(self) -> bool:
        """Every feature within tolerance, agreement reached, every mismatch explained, on at
        least one bar past the warm-up (a run shorter than the warm-up compared nothing)."""
        return (
            self.signals.bars > 0
            and not self.missing_plots
            and not self.failing_features
            and self.signals.agreement >= self.min_agreement
            and not self.signals.unexplained
        )

    def summary(self) -> str:
        """A few lines for the CLI and test failures."""
        s = self.signals
        worst = max(self.features, key=lambda f: f.max_abs_error, default=None)
        lines = [
            f"parity {'PASSED' if self.passed else 'FAILED'} on {self.bars} bars (compared from "
            f"bar {self.compare_from})",
            f"  features: {len(self.features)}, max |pine - python| "
            f"{self.feature_max_error:.3e}"
            + (f" ({worst.name} at bar {worst.worst_bar})" if worst is not None else "")
            + f", tolerance {self.tolerance:g}",
            f"  signals: {s.agreement:.4%} of {s.bars} bars agree ({len(s.mismatches)} "
            f"mismatches, {len(s.unexplained)} not within {s.margin:g} of a decision boundary; "
            f"{s.signal_bars} signal bars); confidence max error {s.confidence_max_abs_error:.3e}",
        ]
        for f in self.features:
            if not f.passed(self.tolerance):
                lines.append(
                    f"  FAIL {f.name}: max error {f.max_abs_error:.3e} at bar {f.worst_bar}, "
                    f"{f.nan_mismatches} NaN mismatches"
                )
        if s.bars == 0:
            lines.append(
                f"  nothing compared: {self.bars} bars end before bar {self.compare_from} (the "
                "warm-up); check on more bars"
            )
        if self.missing_plots:
            lines.append(f"  missing plots: {', '.join(self.missing_plots)}")
        if s.unexplained:
            lines.append(f"  unexplained signal mismatches at bars {list(s.unexplained[:10])}")
        return "\n".join(lines)


def compare_parity(
    plots: Mapping[str, Float64Array],
    features: Float64Array,
    spec: FeatureSpec,
    action_sign: NDArray[np.integer],
    confidence: Float64Array,
    *,
    min_confidence: float,
    tolerance: float = 1e-6,
    margin: float = 1e-9,
    min_agreement: float = 0.995,
    compare_from: int | None = None,
) -> ParityReport:
    """Compare PineTS plots with Python features and predictions bar by bar.

    Parameters
    ----------
    plots : mapping
        PineTS plots by title (:attr:`PineTSResult.plots`).
    features : ndarray
        ``(n, k)`` Python features of the same bars (``compute_features``).
    spec : FeatureSpec
        Their spec.
    action_sign, confidence : ndarray
        The Python predictor's output per bar (ignored before warm-up).
    min_confidence : float
        The script's threshold input (its default).
    tolerance, margin, min_agreement : float
        Feature tolerance, decision-boundary margin and required signal agreement.
    compare_from : int, optional
        First bar compared (default ``spec.warmup_bars - 1``).
    """
    n = features.shape[0]
    start = spec.warmup_bars - 1 if compare_from is None else compare_from
    expected = (*spec.names, "signal", "action", "confidence")
    missing = tuple(title for title in expected if title not in plots)
    for title in expected:
        if title in plots and plots[title].shape != (n,):
            raise ValueError(f"plot {title!r} has {plots[title].shape[0]} values for {n} bars")
    rows = []
    for j, name in enumerate(spec.names):
        py = features[:, j]
        pine = plots.get(name)
        if pine is None:
            rows.append(FeatureParity(name, float("inf"), -1, 0, n))
            continue
        nan_mismatch = int((np.isnan(pine) != np.isnan(py)).sum())
        both = ~(np.isnan(pine) | np.isnan(py))
        both[:start] = False
        if both.any():
            err = np.where(both, np.abs(pine - py), -1.0)
            worst = int(np.argmax(err))
            rows.append(
                FeatureParity(name, float(err[worst]), worst, int(both.sum()), nan_mismatch)
            )
        else:
            rows.append(FeatureParity(name, 0.0, -1, 0, nan_mismatch))

    warm = features[:, spec.index("warm")] == 1.0
    py_conf = np.where(warm, confidence, 0.0)
    py_sign = np.where(warm, action_sign, 0)
    py_signal = signal_of(py_sign, py_conf, min_confidence)
    window = slice(start, n)
    if "signal" in plots and "confidence" in plots and "action" in plots:
        pine_signal = np.nan_to_num(plots["signal"], nan=0.0).astype(np.int64)
        pine_conf = np.nan_to_num(plots["confidence"], nan=0.0)
        pine_action = np.nan_to_num(plots["action"], nan=0.0).astype(np.int64)
    else:
        pine_signal = np.full(n, -9, dtype=np.int64)
        pine_conf = np.full(n, np.nan)
        pine_action = np.full(n, -9, dtype=np.int64)
    differ = np.zeros(n, dtype=bool)
    differ[window] = pine_signal[window] != py_signal[window]
    near_threshold = (np.abs(py_conf - min_confidence) <= margin) | (
        np.abs(pine_conf - min_confidence) <= margin
    )
    argmax_tie = (pine_action != py_sign) & (np.abs(pine_conf - py_conf) <= margin)
    explained = near_threshold | argmax_tie
    mismatches = np.flatnonzero(differ)
    unexplained = np.flatnonzero(differ & ~explained)
    both_predict = warm.copy()
    both_predict[:start] = False
    conf_err = (
        float(np.max(np.abs(pine_conf[both_predict] - py_conf[both_predict])))
        if both_predict.any()
        else 0.0
    )
    compared = max(n - start, 0)
    signals = SignalParity(
        bars=compared,
        agreement=float(1.0 - len(mismatches) / compared) if compared else 1.0,
        mismatches=tuple(int(i) for i in mismatches),
        unexplained=tuple(int(i) for i in unexplained),
        confidence_max_abs_error=conf_err,
        margin=margin,
        signal_bars=int((py_signal[window] != 0).sum()),
    )
    return ParityReport(
        features=tuple(rows),
        signals=signals,
        tolerance=tolerance,
        min_agreement=min_agreement,
        bars=n,
        compare_from=start,
        missing_plots=missing,
    )
