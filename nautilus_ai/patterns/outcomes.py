"""What happened after a pattern: its outcome, known only at the close of bar ``t + horizon``.

For the pattern at bar ``t`` (entry ``close[t]``, unit ``ATR(t)``, the labels' ATR):

* ``forward_return`` - ``(close[t+h] - close[t]) / ATR(t)`` (gross of the spread);
* ``label`` - the triple-barrier result of :func:`nautilus_ai.labels.make_labels`
  (``kind="triple_barrier"``: +1 the long barrier first, -1 the short one, 0 neither or both in
  one bar), net of the spread;
* ``mfe`` / ``mae`` - maximum favourable / adverse excursion of a long over bars
  ``t+1 .. t+h``: ``(max high - close[t]) / ATR(t)`` and ``(close[t] - min low) / ATR(t)``;
* ``available_ns`` - the close time of bar ``t + h``: the first moment the outcome is known.

:func:`bar_outcomes` computes them for a whole bar series (the store builder);
:class:`OutcomeTracker` computes the same numbers bar by bar (live), so a pattern joins the
memory when its outcome matures.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.labels import LabelSpec, atr, make_labels

__all__ = ["BarOutcomes", "MaturedOutcome", "OutcomeTracker", "bar_outcomes"]


@dataclass(frozen=True)
class BarOutcomes:
    """Outcomes of every bar of a series (arrays of the bars' length; see the module doc)."""

    valid: NDArray[np.bool_]
    label: NDArray[np.int8]
    forward_return: NDArray[np.float64]
    mfe: NDArray[np.float64]
    mae: NDArray[np.float64]
    available_ns: NDArray[np.int64]
    atr: NDArray[np.float64]


def bar_outcomes(
    label_spec: LabelSpec,
    ts: NDArray[np.int64],
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    close: NDArray[np.float64],
) -> BarOutcomes:
    """Outcomes for every bar (vectorised; ``valid`` is False where the horizon runs past the
    data or the ATR is not defined yet)."""
    n = ts.shape[0]
    labels = make_labels(label_spec, ts, close, high, low, close)
    unit = atr(high, low, close, label_spec.atr_period)
    h = label_spec.horizon
    mfe = np.full(n, np.nan)
    mae = np.full(n, np.nan)
    available = np.full(n, -1, dtype=np.int64)
    m = n - h
    if m > 0:
        top = high[1 : m + 1].copy()
        bottom = low[1 : m + 1].copy()
        for k in range(2, h + 1):  # same order as OutcomeTracker: left to right over the horizon
            np.maximum(top, high[k : k + m], out=top)
            np.minimum(bottom, low[k : k + m], out=bottom)
        with np.errstate(invalid="ignore", divide="ignore"):
            mfe[:m] = (top - close[:m]) / unit[:m]
            mae[:m] = (close[:m] - bottom) / unit[:m]
        available[:m] = ts[h:]
    valid = labels.valid
    return BarOutcomes(
        valid=valid,
        label=labels.label,
        forward_return=labels.forward_return,
        mfe=np.where(valid, mfe, np.nan),
        mae=np.where(valid, mae, np.nan),
        available_ns=np.where(valid, available, -1),
        atr=unit,
    )


@dataclass(frozen=True)
class MaturedOutcome:
    """One pattern's outcome, produced by :class:`OutcomeTracker` when bar ``t + h`` closed."""

    ts_event: int
    close: float
    unit: float
    label: int
    forward_return: float
    mfe: float
    mae: float
    available_ns: int


class OutcomeTracker:
    """The outcomes of :func:`bar_outcomes`, bar by bar: feed every bar with :meth:`update`.

    The ATR is ``labels.atr`` computed incrementally (the same seed, the same
    ``alpha * tr + beta * prev`` step, so the same floats); the triple barrier scans the bars
    after ``t`` in order, as ``labels`` does. Only ``horizon + 1`` bars are kept.
    """

    def __init__(self, label_spec: LabelSpec) -> None:
        self._spec = label_spec
        self._period = label_spec.atr_period
        self._alpha = 1.0 / self._period
        self._beta = 1.0 - self._alpha
        self._window: deque[tuple[int, float, float, float, float]] = deque(
            maxlen=label_spec.horizon + 1
        )
        self._prev_close: float | None = None
        self._seed_total = 0.0
        self._seen = 0
        self._atr = float("nan")
        self.last_ts = -1

    def update(self, ts: int, high: float, low: float, close: float) -> MaturedOutcome | None:
        """Add the bar closing at ``ts``; return the outcome of the bar ``horizon`` bars ago
        when it is defined (its ATR was defined and > 0), else ``None``.

        Bars at or before the last one seen are ignored (``None``).
        """
        if ts <= self.last_ts:
            return None
        self.last_ts = ts
        tr = high - low
        if self._prev_close is not None:
            prev = self._prev_close
            tr = max(max(tr, abs(high - prev)), abs(low - prev))
        self._prev_close = close
        self._seen += 1
        if self._seen < self._period:
            self._seed_total += tr
        elif self._seen == self._period:
            self._seed_total += tr
            self._atr = self._seed_total / self._period
        else:
            self._atr = self._alpha * tr + self._beta * self._atr
        self._window.append((ts, high, low, close, self._atr))
        if len(self._window) <= self._spec.horizon:
            return None
        return self._outcome()

    def _outcome(self) -> MaturedOutcome | None:
        window = self._window
        t_ts, _, _, entry, unit = window[0]
        if not (unit > 0.0):  # NaN (not warm) or zero
            return None
        spec = self._spec
        upper = entry + spec.spread + spec.buy_threshold * unit
        lower = entry - spec.spread - spec.sell_threshold * unit
        label = 0
        decided = False
        top = -np.inf
        bottom = np.inf
        for i in range(1, len(window)):
            _, high, low, _, _ = window[i]
            top = high if i == 1 else max(top, high)
            bottom = low if i == 1 else min(bottom, low)
            if not decided:
                up = high >= upper
                down = low <= lower
                if up or down:
                    decided = True
                    label = 1 if up and not down else (-1 if down and not up else 0)
        last_ts, _, _, last_close, _ = window[-1]
        return MaturedOutcome(
            ts_event=t_ts,
            close=entry,
            unit=unit,
            label=label,
            forward_return=(last_close - entry) / unit,
            mfe=(top - entry) / unit,
            mae=(entry - bottom) / unit,
            available_ns=last_ts,
        )
