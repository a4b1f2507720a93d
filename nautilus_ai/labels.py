"""Training labels from future bars: forward return or triple barrier, net of the spread.

>>> from nautilus_ai.labels import LabelSpec, make_labels
>>> spec = LabelSpec(horizon=30, unit="atr", buy_threshold=1.0, sell_threshold=1.0)
>>> labels = make_labels(spec, ts, open, high, low, close)   # labels.label: -1 / 0 / +1

Timing (no look-ahead by construction)
--------------------------------------
Row ``t`` is the decision made at the close of bar ``t`` (the strategy's ``on_bar``): its
features use bars ``<= t`` and its label uses bars ``t + 1 .. t + horizon`` only (plus the
entry price ``close[t]`` and, for ATR units, ``ATR(t)``, both known at ``t``).
``Labels.end_index[t] = t + horizon`` is the last bar a label can depend on; a dataset split
keeps a row only if that bar is inside the same window (:mod:`nautilus_ai.datasets`). Rows
whose horizon runs past the data, or whose unit (ATR) is not yet defined or zero, are not valid.

Prices are the bars the strategy trades on: bid bars, with the ask at ``bid + spread``. A long
bought at ``t`` pays the ask ``close[t] + spread`` and sells at the bid; a short sells at the bid
``close[t]`` and buys back at the ask. ``spread = spread_pips * pip_size``.

Kinds
-----
``forward_return``
    ``long = close[t+h] - close[t] - spread``, ``short = close[t] - close[t+h] - spread``;
    buy if ``long > buy_threshold * unit[t]``, sell if ``short > sell_threshold * unit[t]``,
    else hold (both cannot hold at once when the thresholds and spread are >= 0).
``triple_barrier``
    Upper barrier ``close[t] + spread + buy_threshold * unit[t]`` (a long's take-profit net of
    the spread), lower barrier ``close[t] - spread - sell_threshold * unit[t]``; scanning bars
    ``t+1 .. t+h``, buy if a bar's high reaches the upper barrier first, sell if a bar's low
    reaches the lower one first, hold if neither is reached (the vertical barrier) or both are
    reached inside the same bar (the order inside a bar is unknown).

``unit`` is ``ATR(atr_period)[t]`` (``ta.atr``: Wilder's RMA of the true range, as the feature
engine computes it) or ``pip_size``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

from nautilus_ai.features.errors import InvalidBarError
from nautilus_ai.features.validation import first_invalid_row

__all__ = ["CLASSES", "LABEL_KINDS", "LABEL_UNITS", "LabelSpec", "Labels", "atr", "make_labels"]

#: Class order of the label (and of the model outputs): label -1, 0, +1 -> index 0, 1, 2.
CLASSES: tuple[str, str, str] = ("sell", "hold", "buy")
LABEL_KINDS = ("forward_return", "triple_barrier")
LABEL_UNITS = ("atr", "pips")


@dataclass(frozen=True)
class LabelSpec:
    """Definition of the training label; frozen, validated, hashed like ``FeatureSpec``.

    Parameters
    ----------
    kind : {"forward_return", "triple_barrier"}
        See the module docstring.
    horizon : int
        Bars ahead (``>= 1``); the label at ``t`` uses bars ``t+1 .. t+horizon``.
    unit : {"atr", "pips"}
        Unit of the thresholds: ``ATR(atr_period)`` at ``t``, or one pip.
    buy_threshold, sell_threshold : float
        Net move (after the spread) beyond which the label is buy / sell, in ``unit`` (>= 0).
    spread_pips : float
        Round-trip cost charged to every trade, in pips (>= 0).
    pip_size : float
        Price of one pip (``1e-4`` for EUR/USD; > 0).
    atr_period : int
        ATR length for ``unit="atr"``.
    version : int
        Definition version; only ``1`` exists.
    """

    kind: Literal["forward_return", "triple_barrier"] = "forward_return"
    horizon: int = 30
    unit: Literal["atr", "pips"] = "atr"
    buy_threshold: float = 1.0
    sell_threshold: float = 1.0
    spread_pips: float = 0.3
    pip_size: float = 1e-4
    atr_period: int = 14
    version: int = 1

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ValueError(f"LabelSpec.kind: expected one of {LABEL_KINDS}, got {self.kind!r}")
        if self.unit not in LABEL_UNITS:
            raise ValueError(f"LabelSpec.unit: expected one of {LABEL_UNITS}, got {self.unit!r}")
        for name in ("horizon", "atr_period", "version"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"LabelSpec.{name}: expected an int >= 1, got {value!r}")
        if self.version != 1:
            raise ValueError(f"LabelSpec.version: only version 1 exists, got {self.version!r}")
        for name in ("buy_threshold", "sell_threshold", "spread_pips", "pip_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"LabelSpec.{name}: expected a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"LabelSpec.{name}: expected a finite number >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.pip_size <= 0:
            raise ValueError(f"LabelSpec.pip_size: must be > 0, got {self.pip_size!r}")

    @property
    def spread(self) -> float:
        """The spread in price units."""
        return self.spread_pips * self.pip_size

    @cached_property
    def hash(self) -> str:
        """Stable 16-hex-digit digest of every parameter (canonical JSON)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every parameter."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSpec:
        """Build from :meth:`to_dict` output (extra keys such as ``hash`` are refused)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"LabelSpec.from_dict: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"LabelSpec: unknown field(s) {', '.join(map(repr, unknown))}")
        return cls(**dict(data))

    def describe(self, rows: str = "bars") -> str:
        """One line for reports; ``rows`` names what the horizon counts (``"decision ticks"``
        for a label over a tick series)."""
        unit = "ATR" if self.unit == "atr" else "pips"
        return (
            f"{self.kind} over {self.horizon} {rows}: buy > {self.buy_threshold:g} {unit}, "
            f"sell > {self.sell_threshold:g} {unit} net of a {self.spread_pips:g} pip spread"
        )


@dataclass(frozen=True)
class Labels:
    """Labels of a bar sequence (all arrays have the bars' length).

    Attributes
    ----------
    label : ndarray of int8
        -1 sell, 0 hold, +1 buy (0 where not ``valid``).
    valid : ndarray of bool
        The label is defined (horizon inside the data, unit defined and > 0).
    end_index : ndarray of int64
        Last bar the label depends on (``t + horizon``); -1 where not valid.
    forward_return : ndarray of float64
        ``(close[t+h] - close[t]) / unit[t]``, gross of the spread; NaN where not valid.
    """

    label: NDArray[np.int8]
    valid: NDArray[np.bool_]
    end_index: NDArray[np.int64]
    forward_return: NDArray[np.float64]

    def class_index(self) -> NDArray[np.int64]:
        """Index into :data:`CLASSES` (``label + 1``)."""
        return self.label.astype(np.int64) + 1


def atr(
    high: NDArray[np.float64], low: NDArray[np.float64], close: NDArray[np.float64], period: int
) -> NDArray[np.float64]:
    """``ta.atr(period)``: NaN for the first ``period - 1`` bars, then Wilder's RMA of the true
    range seeded with its simple average (the feature engine's definition)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    tr = high - low
    if n > 1:
        prev = close[:-1]
        tr[1:] = np.maximum(np.maximum(tr[1:], np.abs(high[1:] - prev)), np.abs(low[1:] - prev))
    total = 0.0
    for value in tr[:period].tolist():  # left to right, as the feature engine sums
        total += value
    seed = total / period
    out[period - 1] = seed
    if n > period:
        alpha = 1.0 / period
        beta = 1.0 - alpha
        out[period:], _ = lfilter([alpha, 0.0], [1.0, -beta], tr[period:], zi=[beta * seed])
    return out


def make_labels(
    spec: LabelSpec,
    ts_event_ns: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
) -> Labels:
    """Label every bar (see the module docstring); inputs are never modified.

    Parameters
    ----------
    spec : LabelSpec
    ts_event_ns : array of int
        Bar close times, strictly increasing (checked).
    open, high, low, close : array of float
        The accepted bars (the rows the feature engine used), same length.

    Raises
    ------
    ValueError
        Arrays of different lengths, non-increasing timestamps or non-finite prices; an
        :class:`~nautilus_ai.features.errors.InvalidBarError` (a ``ValueError``) naming the
        first bar the feature engine would refuse.
    """
    if not isinstance(spec, LabelSpec):
        raise TypeError(f"spec must be a LabelSpec, got {type(spec).__name__}")
    ts = np.asarray(ts_event_ns, dtype=np.int64)
    o, h, lo, c = (np.asarray(a, dtype=np.float64) for a in (open, high, low, close))
    n = ts.shape[0]
    if ts.ndim != 1 or any(a.shape != (n,) for a in (o, h, lo, c)):
        raise ValueError("ts_event_ns, open, high, low and close must be 1-d of the same length")
    if n > 1 and (np.diff(ts) <= 0).any():
        row = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
        raise ValueError(f"ts_event_ns must be strictly increasing; row {row} is not")
    if not (np.isfinite(h).all() and np.isfinite(lo).all() and np.isfinite(c).all()):
        raise ValueError("high, low and close must be finite")
    # a bar the feature engine refuses (a price <= 0, high < low, close outside the range) was
    # labelled: a close of -1 made every label that reached it a "sell"
    bad = first_invalid_row(ts, o, h, lo, c, np.zeros(n))
    if bad is not None:
        raise InvalidBarError(
            bad.reason,
            f"{bad.detail}; labels are made from the bars the feature engine accepts (filter "
            "them with nautilus_ai.features.accepted_bars_mask)",
            index=bad.index,
        )

    unit = atr(h, lo, c, spec.atr_period) if spec.unit == "atr" else np.full(n, spec.pip_size)
    hz = spec.horizon
    valid = np.zeros(n, dtype=bool)
    label = np.zeros(n, dtype=np.int8)
    end_index = np.full(n, -1, dtype=np.int64)
    forward = np.full(n, np.nan)
    m = n - hz  # rows 0 .. m-1 have a full horizon
    if m <= 0:
        return Labels(label, valid, end_index, forward)
    u = unit[:m]
    ok = np.isfinite(u) & (u > 0.0)
    entry = c[:m]
    spread = spec.spread
    if spec.kind == "forward_return":
        move = c[hz:] - entry
        buy = ok & (move - spread > spec.buy_threshold * u)
        sell = ok & (-move - spread > spec.sell_threshold * u)
    else:
        buy, sell = _triple_barrier(spec, h, lo, entry, u, ok, m)
        move = c[hz:] - entry
    label[:m][buy] = 1
    label[:m][sell] = -1
    valid[:m] = ok
    end_index[:m][ok] = np.arange(m, dtype=np.int64)[ok] + hz
    with np.errstate(invalid="ignore", divide="ignore"):
        forward[:m] = np.where(ok, move / u, np.nan)
    return Labels(label, valid, end_index, forward)


def _triple_barrier(
    spec: LabelSpec,
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    entry: NDArray[np.float64],
    unit: NDArray[np.float64],
    ok: NDArray[np.bool_],
    m: int,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    upper = entry + spec.spread + spec.buy_threshold * unit
    lower = entry - spec.spread - spec.sell_threshold * unit
    undecided = ok.copy()
    buy = np.zeros(m, dtype=bool)
    sell = np.zeros(m, dtype=bool)
    for k in range(1, spec.horizon + 1):  # one pass per step ahead: O(n * horizon), vectorised
        up = high[k : k + m] >= upper
        down = low[k : k + m] <= lower
        touched = undecided & (up | down)
        buy |= touched & up & ~down
        sell |= touched & down & ~up
        undecided &= ~touched  # both in one bar: ambiguous, stays hold
        if not undecided.any():
            break
    return buy, sell
