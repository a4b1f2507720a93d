"""``export-pine --check``: syntax (pynescript) + semantics (PineTS vs Python) of one export."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.bar_types import bar_step_ns
from nautilus_ai.data.arrays import BarArrays
from nautilus_ai.features import accepted_bars_mask, compute_features
from nautilus_ai.models.base import Predictor
from nautilus_ai.pine.distill import DecisionTree
from nautilus_ai.pine.export import PineExport
from nautilus_ai.pine.parity import ParityReport, compare_parity
from nautilus_ai.pine.pinets import PineTSError, PineTSResult, run_pinets
from nautilus_ai.pine.reference import predictor_outputs
from nautilus_ai.pine.syntax import PineSyntaxChecker, SyntaxReport

__all__ = ["CheckReport", "check_export", "reference_outputs"]


@dataclass(frozen=True)
class CheckReport:
    """Outcome of checking one export.

    Parameters
    ----------
    syntax : SyntaxReport
        The pynescript parse.
    parity : ParityReport or None
        PineTS vs Python (None when the syntax check or PineTS failed).
    pinets : PineTSResult or None
        The PineTS run (plots, timings, strategy trades).
    bars : int
        Bars checked (the accepted ones).
    seconds : float
        Whole check, wall time.
    python_seconds : float
        Python features + reference predictions.
    error : str
        Why the semantic check could not run (PineTS failure), else empty.
    """

    syntax: SyntaxReport
    parity: ParityReport | None
    pinets: PineTSResult | None
    bars: int
    seconds: float
    python_seconds: float
    error: str = ""

    @property
    def passed(self) -> bool:
        """Syntax ok and parity passed."""
        return self.syntax.ok and self.parity is not None and self.parity.passed

    def summary(self) -> str:
        """What the CLI prints."""
        lines = [self.syntax.describe()]
        if self.error:
            lines.append(f"semantic check failed: {self.error}")
        if self.pinets is not None:
            trades = self.pinets.strategy["closed_trades"] if self.pinets.strategy else []
            lines.append(
                f"PineTS {self.pinets.pinets_version}: {self.pinets.bars} bars in "
                f"{self.pinets.run_seconds:.2f} s (node wall {self.pinets.wall_seconds:.2f} s), "
                f"{len(trades)} closed trades"
            )
        if self.parity is not None:
            lines.append(self.parity.summary())
        lines.append(
            f"check {'PASSED' if self.passed else 'FAILED'} in {self.seconds:.2f} s "
            f"(python {self.python_seconds:.2f} s)"
        )
        return "\n".join(lines)


def reference_outputs(
    reference: Predictor | DecisionTree, features: NDArray[np.float64], warm: NDArray[np.bool_]
) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64]]:
    """The Python model's ``(sign, confidence, risk)`` per bar (hold / 0 / 1 before warm-up)."""
    n = features.shape[0]
    sign = np.zeros(n, dtype=np.int8)
    confidence = np.zeros(n, dtype=np.float64)
    risk = np.ones(n, dtype=np.float64)
    rows = np.ascontiguousarray(features[warm])
    if isinstance(reference, DecisionTree):
        s, c, r = reference.predict_arrays(rows)
    else:
        s, c, r = predictor_outputs(reference, rows)
    sign[warm], confidence[warm], risk[warm] = s, c, r
    return sign, confidence, risk


def checkable_bars(export: PineExport, bars: BarArrays) -> BarArrays:
    """The bars the feature engine accepts, refused (``ValueError``) when they end before the
    feature warm-up: a check on them started the parser and PineTS (minutes on a loaded
    machine) only to report "nothing compared"."""
    keep = accepted_bars_mask(
        bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    used = bars.take(keep) if not keep.all() else bars
    if len(used) < export.spec.warmup_bars:
        raise ValueError(
            f"{len(used)} usable bars end before the feature warm-up ({export.spec.warmup_bars} "
            "bars): nothing could be compared; check on more bars"
        )
    return used


def check_export(
    export: PineExport,
    bars: BarArrays,
    reference: Predictor | DecisionTree | None = None,
    *,
    checker: PineSyntaxChecker | None = None,
    node_modules: str | None = None,
    pinets_result: PineTSResult | None = None,
    tolerance: float = 1e-6,
    margin: float = 1e-9,
    min_agreement: float = 0.995,
    timeout: float = 600.0,
) -> CheckReport:
    """Check ``export`` on ``bars``: parse it, run it in PineTS, compare with Python.

    Parameters
    ----------
    export : PineExport
        The script and what it embeds.
    bars : BarArrays
        OHLCV bars (close-time stamps); only those the feature engine accepts are used.
    reference : Predictor or DecisionTree, optional
        The Python model the script embeds (``TorchPredictor`` / ``RulePredictor``); defaults to
        ``export.tree`` for distilled exports.
    checker : PineSyntaxChecker, optional
        A warm parser (one per process: the first parse is slow).
    node_modules : str, optional
        PineTS install (:func:`~nautilus_ai.pine.ensure_pinets` when omitted).
    pinets_result : PineTSResult, optional
        Reuse a PineTS run of this same script on these bars (tests share one run).

    Raises
    ------
    ValueError
        Fewer usable bars than the feature warm-up (:func:`checkable_bars`).
    """
    start = time.perf_counter()
    if reference is None:
        if export.tree is None:
            raise ValueError(f"check_export needs the Python model for a {export.kind!r} export")
        reference = export.tree
    used = checkable_bars(export, bars)
    # PineTS runs in its own process: start it first, parse and compute Python's side meanwhile.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        if pinets_result is None:
            pending = pool.submit(
                run_pinets,
                export.script,
                used.ts_event,
                used.open,
                used.high,
                used.low,
                used.close,
                used.volume,
                bar_seconds=_bar_seconds(used.ts_event),
                node_modules=node_modules,
                timeout=timeout,
            )
        syntax = (checker or PineSyntaxChecker()).check(export.script)
        py_start = time.perf_counter()
        spec = export.spec
        features = compute_features(
            spec, used.ts_event, used.open, used.high, used.low, used.close, used.volume
        )
        warm = features[:, spec.index("warm")] == 1.0
        sign, confidence, _ = reference_outputs(reference, features, warm)
        python_seconds = time.perf_counter() - py_start
        result = pinets_result
        error = ""
        if pending is not None:
            try:
                result = pending.result()
            except PineTSError as exc:
                error = str(exc)
    parity = None
    if result is not None and syntax.ok:
        parity = compare_parity(
            result.plots,
            features,
            spec,
            sign,
            confidence,
            min_confidence=export.options.min_confidence,
            tolerance=tolerance,
            margin=margin,
            min_agreement=min_agreement,
        )
    return CheckReport(
        syntax=syntax,
        parity=parity,
        pinets=result,
        bars=len(used),
        seconds=time.perf_counter() - start,
        python_seconds=python_seconds,
        error=error,
    )


def _bar_seconds(ts_event: NDArray[np.int64]) -> int:
    """The bars' length in seconds (:func:`~nautilus_ai.bar_types.bar_step_ns`, gaps and
    weekends aside), 60 when there are fewer than two bars."""
    step = bar_step_ns(ts_event)
    return 60 if step is None else max(1, step // 1_000_000_000)
