"""Tick features (feature spec v2): quote ticks on top of the last completed bar.

Two paths, equal bit for bit and look-ahead-free: :class:`TickFeatureState` (incremental, one
quote tick at a time, for the strategy) and :func:`compute_tick_features` (vectorised over tick
arrays, for research and tests). Plain numpy, no Nautilus import.

Definitions
-----------
A bar is *completed* for a tick at ``ts`` when its close time (the Nautilus bar ``ts_event``)
is ``< ts``. A tick stamped exactly at a bar's close still sees the bar before: whether such a
bar or such a tick is delivered first differs between engines and feeds (a Nautilus backtest
hands the tick over first), and the strict rule makes the answer independent of that order, at
the cost of one tick's lag on a tie. The *forming bar* of a tick is the stretch after the last
completed bar; it *opened* at that bar's close time ``t0``. ``mid = (bid + ask) / 2``; the
forming bar's *open mid* is the mid of its first tick. Per tick, in
:data:`~nautilus_ai.features.spec.TICK_FEATURE_NAMES` order:

=================  ==========================================================================
tick_spread        ``(ask - bid) / mid`` (relative spread; negative for a crossed quote, which
                   FXCM sends ~10% of the time and is kept as it is)
tick_mid_ret       ``mid / open_mid - 1`` (simple return since the forming bar's first tick; 0
                   on that tick)
tick_elapsed_s     ``(ts - t0) / 1e9`` (seconds since the forming bar opened; across a gap it
                   counts from the last completed bar's close)
tick_count         ticks in the forming bar so far, this one included (1.0 on the first)
tick_imbalance     ``(bid_size - ask_size) / (bid_size + ask_size)`` of this quote, in [-1, 1];
                   ``0.0`` when both sizes are 0 (LEAN FXCM / OANDA ticks carry no sizes).
                   Positive: more size bid than offered
=================  ==========================================================================

Every tick feature is NaN until the first bar completed (no ``t0`` yet). Nothing else of the
past is used, and nothing after the tick: changing ticks after ``ts`` never changes the row at
``ts``. Simple returns (not ``log``) keep the two paths bit-equal: numpy and ``math`` may differ
by an ulp on ``log``, never on ``+ - * /``.

Pine sees bars, not quote ticks: on a chart none of these five can be computed from the bar
series (``bid``/``ask`` are only defined on the realtime bar of some symbols and never have
history; quote sizes not at all; ``tick_count`` needs every update). The Pine export refuses
them (:data:`PINE_UNSUPPORTED_TICK_FEATURES`).
"""

from __future__ import annotations

import hashlib
import math
from functools import cached_property
from typing import Any

import numpy as np

from nautilus_ai.features.spec import TICK_FEATURE_NAMES, FeatureSpec

__all__ = [
    "PINE_UNSUPPORTED_TICK_FEATURES",
    "TickFeatureState",
    "TickVectorSpec",
    "compute_tick_features",
    "tick_features_row",
]

N_TICK_FEATURES = len(TICK_FEATURE_NAMES)

# Feature -> why a Pine script on bars cannot compute it (all five, see the module docstring).
PINE_UNSUPPORTED_TICK_FEATURES: dict[str, str] = {
    "tick_spread": "needs bid and ask of every quote; Pine has no quote history",
    "tick_mid_ret": "needs the first quote's mid of the bar; Pine bars carry trade/mid OHLC only",
    "tick_elapsed_s": "needs the time of each quote inside the bar; Pine runs once per bar close",
    "tick_count": "needs every quote update; Pine bars have no quote count",
    "tick_imbalance": "needs bid and ask sizes of each quote; Pine has no quote sizes",
}


class TickVectorSpec:
    """The feature vector of a tick decision: ``spec.names`` then ``spec.tick_names``.

    What a predictor deciding on ticks is built for (it satisfies
    :class:`~nautilus_ai.models.spec.FeatureSpecLike`): its ``hash`` differs from the bar
    spec's, so a model trained on tick vectors is refused on bar vectors and the other way
    round, and a model card stores it like any spec (``to_dict`` is the bar spec's dict plus
    ``"vector": "tick"``; :meth:`from_dict` reads it back).

    Raises
    ------
    ValueError
        ``spec`` has no tick features (version 1).
    """

    def __init__(self, spec: FeatureSpec) -> None:
        if not spec.tick_names:
            raise ValueError(
                f"tick decisions need feature spec version >= 2 (tick features); got version "
                f"{spec.version}"
            )
        self.spec = spec

    @property
    def names(self) -> tuple[str, ...]:
        return self.spec.tick_vector_names

    @cached_property
    def hash(self) -> str:
        """16 hex digits: the bar spec's hash, marked as a tick vector."""
        return hashlib.sha256(f"tick-vector:{self.spec.hash}".encode()).hexdigest()[:16]

    def index(self, name: str) -> int:
        """Column of ``name`` in the tick vector (``KeyError`` naming it otherwise)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown tick vector feature {name!r}") from None

    def to_dict(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "vector": "tick"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TickVectorSpec:
        """Read :meth:`to_dict` output back."""
        fields = dict(data)
        if fields.pop("vector", None) != "tick":
            raise ValueError('not a tick vector spec (no "vector": "tick")')
        return cls(FeatureSpec.from_dict(fields))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TickVectorSpec) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return f"TickVectorSpec({self.spec.hash}, {len(self.names)} features)"


def tick_features_row(
    ts: int,
    bid: float,
    ask: float,
    bid_size: float,
    ask_size: float,
    bar_ts: int,
    open_mid: float,
    count: int,
) -> tuple[float, float, float, float, float]:
    """One row from the forming bar's state (``count`` includes this tick)."""
    mid = (bid + ask) / 2.0
    total = bid_size + ask_size
    return (
        (ask - bid) / mid,
        mid / open_mid - 1.0,
        (ts - bar_ts) / 1e9,
        float(count),
        (bid_size - ask_size) / total if total > 0.0 else 0.0,
    )


class TickFeatureState:
    """Incremental tick features: call :meth:`on_bar` per completed bar, :meth:`update` per tick.

    Ticks must arrive in time order; register a bar before the first tick *after* its close time
    (:class:`~nautilus_ai.tick_decisions.TickDecider` does this whatever the delivery order).
    """

    __slots__ = ("_bar_ts", "_count", "_open_mid")

    def __init__(self) -> None:
        self._bar_ts = -1
        self._open_mid = math.nan
        self._count = 0

    @property
    def has_bar(self) -> bool:
        """True once a bar completed (tick features are defined)."""
        return self._bar_ts >= 0

    @property
    def count(self) -> int:
        """Ticks seen in the forming bar."""
        return self._count

    def reset(self) -> None:
        """Forget every bar and tick."""
        self._bar_ts = -1
        self._open_mid = math.nan
        self._count = 0

    def on_bar(self, ts_event_ns: int) -> None:
        """A bar closing at ``ts_event_ns`` completed: the next tick opens a new forming bar."""
        self._bar_ts = int(ts_event_ns)
        self._open_mid = math.nan
        self._count = 0

    def update(
        self, ts: int, bid: float, ask: float, bid_size: float, ask_size: float
    ) -> tuple[float, float, float, float, float]:
        """Tick features for this quote (NaN row before the first completed bar)."""
        if self._bar_ts < 0:
            return (math.nan, math.nan, math.nan, math.nan, math.nan)
        self._count += 1
        if self._count == 1:
            self._open_mid = (bid + ask) / 2.0
        return tick_features_row(
            ts, bid, ask, bid_size, ask_size, self._bar_ts, self._open_mid, self._count
        )


def compute_tick_features(
    bar_ts: np.ndarray,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    bid_size: np.ndarray,
    ask_size: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Tick features for every tick, vectorised; equal bit for bit to :class:`TickFeatureState`.

    Parameters
    ----------
    bar_ts : int64 array
        Close times (ns) of the completed bars, increasing.
    ts, bid, ask, bid_size, ask_size : arrays
        The ticks, ``ts`` non-decreasing.

    Returns
    -------
    (features, bar_row)
        ``features``: ``(n, 5)`` float64 in ``TICK_FEATURE_NAMES`` order. ``bar_row``: for
        each tick, the index in ``bar_ts`` of its last completed bar (-1: none yet), i.e. the
        row of the bar features the tick's decision sees.
    """
    bar_ts = np.asarray(bar_ts, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    bid = np.asarray(bid, dtype=np.float64)
    ask = np.asarray(ask, dtype=np.float64)
    bid_size = np.asarray(bid_size, dtype=np.float64)
    ask_size = np.asarray(ask_size, dtype=np.float64)
    n = ts.size
    if bar_ts.size > 1 and np.any(np.diff(bar_ts) <= 0):
        raise ValueError("compute_tick_features: bar_ts must be strictly increasing")
    if n > 1 and np.any(np.diff(ts) < 0):
        raise ValueError("compute_tick_features: tick ts must be non-decreasing")
    out = np.full((n, N_TICK_FEATURES), np.nan)
    bar_row = np.searchsorted(bar_ts, ts, side="left").astype(np.int64) - 1
    live = bar_row >= 0
    if not live.any():
        return out, bar_row
    idx = np.flatnonzero(live)
    rows = bar_row[idx]
    # First tick of each forming bar: where the bar row changes.
    first = np.ones(idx.size, dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    count = np.arange(idx.size, dtype=np.int64) - starts[group] + 1
    b, a = bid[idx], ask[idx]
    mid = (b + a) / 2.0
    open_mid = mid[starts][group]
    bs, as_ = bid_size[idx], ask_size[idx]
    total = bs + as_
    positive = total > 0.0
    imbalance = np.zeros(idx.size)
    imbalance[positive] = (bs[positive] - as_[positive]) / total[positive]
    out[idx, 0] = (a - b) / mid
    out[idx, 1] = mid / open_mid - 1.0
    out[idx, 2] = (ts[idx] - bar_ts[rows]) / 1e9
    out[idx, 3] = count.astype(np.float64)
    out[idx, 4] = imbalance
    return out, bar_row
