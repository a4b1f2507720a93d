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
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from nautilus_ai.labels import LabelSpec, atr, make_labels

__all__ = ["BarOutcomes", "MaturedOutcome", "MaturedOutcomes", "OutcomeTracker", "bar_outcomes"]


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


@dataclass(frozen=True)
class MaturedOutcomes:
    """Several :class:`MaturedOutcome` as columns (what :meth:`OutcomeTracker.update_many`
    returns), in the order :meth:`OutcomeTracker.update` would have produced them."""

    ts_event: NDArray[np.int64]
    close: NDArray[np.float64]
    unit: NDArray[np.float64]
    label: NDArray[np.int8]
    forward_return: NDArray[np.float64]
    mfe: NDArray[np.float64]
    mae: NDArray[np.float64]
    available_ns: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ts_event.shape[0])

    @classmethod
    def of(cls, outcomes: list[MaturedOutcome]) -> MaturedOutcomes:
        """Columns of ``outcomes``."""
        return cls(
            ts_event=np.array([o.ts_event for o in outcomes], dtype=np.int64),
            close=np.array([o.close for o in outcomes], dtype=np.float64),
            unit=np.array([o.unit for o in outcomes], dtype=np.float64),
            label=np.array([o.label for o in outcomes], dtype=np.int8),
            forward_return=np.array([o.forward_return for o in outcomes], dtype=np.float64),
            mfe=np.array([o.mfe for o in outcomes], dtype=np.float64),
            mae=np.array([o.mae for o in outcomes], dtype=np.float64),
            available_ns=np.array([o.available_ns for o in outcomes], dtype=np.int64),
        )

    def take(self, rows: NDArray[np.intp]) -> MaturedOutcomes:
        return MaturedOutcomes(
            self.ts_event[rows], self.close[rows], self.unit[rows], self.label[rows],
            self.forward_return[rows], self.mfe[rows], self.mae[rows], self.available_ns[rows],
        )  # fmt: skip


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

    def update_many(
        self,
        ts: NDArray[np.int64],
        high: NDArray[np.float64],
        low: NDArray[np.float64],
        close: NDArray[np.float64],
    ) -> MaturedOutcomes:
        """:meth:`update` for each bar in order, vectorised: the same outcomes (the same floats)
        as columns, and the same state after. The ATR recursion stays a loop (each step needs
        the last); the barrier scans are array operations over the horizon windows. Bars with a
        non-finite price take the bar-by-bar path (the comparisons' NaN rules differ)."""
        t = np.asarray(ts, dtype=np.int64)
        hi = np.asarray(high, dtype=np.float64)
        lo = np.asarray(low, dtype=np.float64)
        cl = np.asarray(close, dtype=np.float64)
        if t.size:
            before = np.maximum.accumulate(np.concatenate([[self.last_ts], t[:-1]]))
            keep = t > before  # update() ignores bars at or before the last one seen
            if not keep.all():
                t, hi, lo, cl = t[keep], hi[keep], lo[keep], cl[keep]
        n = t.size
        if n == 0:
            return MaturedOutcomes.of([])
        if not (np.isfinite(hi).all() and np.isfinite(lo).all() and np.isfinite(cl).all()):
            found = [self.update(*row) for row in zip(t.tolist(), hi.tolist(), lo.tolist(),
                                                      cl.tolist(), strict=True)]  # fmt: skip
            return MaturedOutcomes.of([o for o in found if o is not None])
        # True ranges, as update() takes them: max(max(h - l, |h - prev|), |l - prev|) (Python's
        # max keeps the first of equals; for finite floats the value is the same).
        tr = hi - lo
        prev = np.concatenate([[np.nan if self._prev_close is None else self._prev_close],
                               cl[:-1]])  # fmt: skip
        has_prev = np.ones(n, dtype=bool)
        has_prev[0] = self._prev_close is not None
        tr = np.where(has_prev, np.maximum(np.maximum(tr, np.abs(hi - prev)), np.abs(lo - prev)),
                      tr)  # fmt: skip
        atrs = np.empty(n)
        period, alpha, beta = self._period, self._alpha, self._beta
        seen, seed_total, value = self._seen, self._seed_total, self._atr
        for i, r in enumerate(tr.tolist()):
            seen += 1
            if seen < period:
                seed_total += r
            elif seen == period:
                seed_total += r
                value = seed_total / period
            else:
                value = alpha * r + beta * value
            atrs[i] = value
        self._seen, self._seed_total, self._atr = seen, seed_total, value
        self._prev_close = float(cl[-1])
        self.last_ts = int(t[-1])
        # The window so far, then the new bars: an outcome for every full window that ends on
        # a new bar.
        old = list(self._window)
        h = self._spec.horizon
        w_ts = np.concatenate([np.array([row[0] for row in old], dtype=np.int64), t])
        w_hi = np.concatenate([np.array([row[1] for row in old]), hi])
        w_lo = np.concatenate([np.array([row[2] for row in old]), lo])
        w_cl = np.concatenate([np.array([row[3] for row in old]), cl])
        w_atr = np.concatenate([np.array([row[4] for row in old]), atrs])
        self._window.clear()
        for i in range(max(0, w_ts.size - (h + 1)), w_ts.size):
            self._window.append((int(w_ts[i]), float(w_hi[i]), float(w_lo[i]),
                                 float(w_cl[i]), float(w_atr[i])))  # fmt: skip
        first = max(0, len(old) - h)  # entries whose window ends on a new bar
        last = w_ts.size - h  # exclusive
        if last <= first:
            return MaturedOutcomes.of([])
        entry_rows = np.arange(first, last)
        unit = w_atr[entry_rows]
        ok = unit > 0.0  # NaN (not warm) or zero: no outcome
        entry_rows, unit = entry_rows[ok], unit[ok]
        entry = w_cl[entry_rows]
        spec = self._spec
        upper = entry + spec.spread + spec.buy_threshold * unit
        lower = entry - spec.spread - spec.sell_threshold * unit
        highs = sliding_window_view(w_hi[1:], h)[entry_rows]  # bars t+1 .. t+h
        lows = sliding_window_view(w_lo[1:], h)[entry_rows]
        up = highs >= upper[:, None]
        down = lows <= lower[:, None]
        hit = up | down
        at = np.argmax(hit, axis=1)
        pick = np.arange(entry_rows.size)
        u, d = up[pick, at], down[pick, at]
        label = np.where(hit.any(axis=1), np.where(u & ~d, 1, np.where(d & ~u, -1, 0)), 0)
        top, bottom = highs.max(axis=1), lows.min(axis=1)
        end = entry_rows + h
        return MaturedOutcomes(
            ts_event=w_ts[entry_rows],
            close=entry,
            unit=unit,
            label=label.astype(np.int8),
            forward_return=(w_cl[end] - entry) / unit,
            mfe=(top - entry) / unit,
            mae=(entry - bottom) / unit,
            available_ns=w_ts[end],
        )

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
