"""Quotes -> time bars, vectorised (``reduceat`` over time buckets; no Python loop per tick).

A bar covers ``[start, start + period)`` and is stamped at its close, ``start + period``, the
Nautilus convention. Periods without a tick produce no bar (no forward-filled flat bars).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from nautilus_ai.data.arrays import BarArrays, FloatArray, IntArray, QuoteArrays

__all__ = ["PriceSide", "bars_covered", "bars_from_prices", "bars_from_quotes"]

PriceSide = Literal["BID", "ASK", "MID"]


def bars_from_prices(
    ts: IntArray, price: FloatArray, volume: FloatArray, period_ns: int
) -> BarArrays:
    """OHLCV bars of one price series.

    Parameters
    ----------
    ts : ndarray of int64
        Sorted (non-decreasing) times, UTC ns.
    price, volume : ndarray of float64
        Per-sample price and volume (volume is summed).
    period_ns : int
        Bar length; bars align to multiples of it since the epoch.

    Lists are accepted. Times that are not integers, columns of other lengths, and a price or
    volume that is NaN or infinite raise one error naming the argument (and the first bad row).
    """
    if isinstance(period_ns, bool) or not isinstance(period_ns, int | np.integer):
        raise TypeError(f"period_ns must be an int (nanoseconds), got {period_ns!r}")
    if period_ns <= 0:
        raise ValueError(f"period_ns must be > 0, got {period_ns}")
    ts = _column("ts", ts, None)
    price = _column("price", price, len(ts))
    volume = _column("volume", volume, len(ts))
    if len(ts) == 0:
        return BarArrays.empty()
    if np.any(np.diff(ts) < 0):
        raise ValueError("timestamps must be sorted to build bars")
    bucket = ts // period_ns
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.append(starts[1:], len(ts)) - 1
    return BarArrays(
        ts_event=(bucket[starts] + 1) * period_ns,
        open=price[starts],
        high=np.maximum.reduceat(price, starts),
        low=np.minimum.reduceat(price, starts),
        close=price[ends],
        volume=np.add.reduceat(volume, starts),
    )


def _column(name: str, values: object, rows: int | None) -> np.ndarray:
    """``values`` as a 1-D int64 (``rows`` None: the times) or finite float64 array, else one
    error naming the argument (and the first bad row)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if rows is None:
        if array.size and (array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"{name} must hold integers (UTC ns), got dtype {array.dtype}")
        return array.astype(np.int64, copy=False)
    if len(array) != rows:
        raise ValueError(f"{name} has {len(array)} rows, ts has {rows}")
    if array.size and (array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(
            f"{name}: row {bad[0]} is not finite ({array[bad[0]]}); {bad.size} such row(s)"
        )
    return array


def bars_from_quotes(
    quotes: QuoteArrays, period_ns: int, side: PriceSide, *, precision: int | None = None
) -> BarArrays:
    """Bars of the BID, ASK or MID price of ``quotes``.

    Volume is the side's size summed (BID: bid sizes, ASK: ask sizes, MID: their mean), which
    is how Dukascopy's own candles are built. MID prices are rounded half-to-even to
    ``precision`` decimals (required for MID; a mid-point can have one more decimal than the
    quotes).
    """
    if side == "BID":
        return bars_from_prices(quotes.ts_event, quotes.bid, quotes.bid_size, period_ns)
    if side == "ASK":
        return bars_from_prices(quotes.ts_event, quotes.ask, quotes.ask_size, period_ns)
    if side != "MID":
        raise ValueError(f"side must be BID, ASK or MID, got {side!r}")
    if precision is None:
        raise ValueError("MID bars need the price precision to round mid-points to")
    mid = np.round((quotes.bid + quotes.ask) / 2.0, precision)
    size = (quotes.bid_size + quotes.ask_size) / 2.0
    return bars_from_prices(quotes.ts_event, mid, size, period_ns)


def bars_covered(
    close_ns: IntArray, period_ns: int, file_starts: IntArray, file_ns: int
) -> np.ndarray:
    """Which bars' periods ``[close - period, close)`` the source files cover entirely.

    ``file_starts`` are the start times of the files that were read, each covering
    ``[start, start + file_ns)`` (aligned to ``file_ns``: Dukascopy's hourly tick files). A bar
    whose period reaches a file that was not read (outside the import, or corrupt) would be
    built from part of its ticks: a wrong open, high, low or close, not a gap.
    """
    if period_ns <= 0 or file_ns <= 0:
        raise ValueError(f"period_ns and file_ns must be > 0, got {period_ns}, {file_ns}")
    read = np.unique(np.asarray(file_starts, dtype=np.int64) // file_ns)
    first = (np.asarray(close_ns, dtype=np.int64) - period_ns) // file_ns
    last = (np.asarray(close_ns, dtype=np.int64) - 1) // file_ns
    found = np.searchsorted(read, last, "right") - np.searchsorted(read, first, "left")
    return np.asarray(found == last - first + 1, dtype=bool)
