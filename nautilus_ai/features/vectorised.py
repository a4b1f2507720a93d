"""``compute_features``: the vectorised twin of :class:`~nautilus_ai.features.engine.FeatureEngine`.

Same definitions, same floating-point operations in the same order: first-order recursions (EMA,
RMA/ATR, RSI averages, MACD signal) run through ``scipy.signal.lfilter`` whose direct-form-II
update ``y = b0*x + (-a1)*y_prev`` is exactly the engine's ``alpha*x + beta*y_prev``; SMA seeds
and the Bollinger sums are accumulated left to right like the engine's loops; calendar features
come from the same lookup tables. Only ``log`` (numpy vs libm) may differ, by an ulp.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

from nautilus_ai.features.clock import (
    DOW_COS,
    DOW_SIN,
    MINUTES_PER_DAY,
    NS_PER_MINUTE,
    clock_stretch,
    minute_rows,
    session_hours,
)
from nautilus_ai.features.spec import SESSION_TIMEZONES, FeatureSpec
from nautilus_ai.features.validation import as_bar_arrays, first_invalid_row

__all__ = ["compute_features"]

Float64Array = NDArray[np.float64]

# Rows per block in the multi-pass window computations: the working set stays in L2 cache.
_BLOCK = 16384

_TABLES: dict[tuple[object, ...], Float64Array] = {}
_DOW_SIN = np.array(DOW_SIN)
_DOW_COS = np.array(DOW_COS)
_CALENDAR_NAMES = (
    "hour_sin",
    "hour_cos",
    *(f"session_{city}" for city in SESSION_TIMEZONES),
    "session_overlap",
)


def compute_features(
    spec: FeatureSpec,
    ts_event_ns: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    *,
    order: Literal["C", "F"] = "C",
) -> Float64Array:
    """Feature rows for a whole bar sequence, equal to feeding it to a fresh ``FeatureEngine``.

    Parameters
    ----------
    spec : FeatureSpec
        The feature definition.
    ts_event_ns : array of int
        Bar close times, UTC ns, strictly increasing.
    open, high, low, close, volume : array of float
        The bars, same length. Every bar must be valid; filter with
        :func:`~nautilus_ai.features.validation.accepted_bars_mask` first if unsure.
    order : {"C", "F"}
        Memory layout of the result. ``"F"`` (columns contiguous) skips a final transpose copy.

    Returns
    -------
    numpy.ndarray
        New ``(n, len(spec.names))`` float64 array; inputs are never modified.

    Raises
    ------
    InvalidBarError
        Naming the first bad row (``.index``) and its ``.reason``.
    ValueError
        For arrays of the wrong shape, length or dtype.
    """
    if not isinstance(spec, FeatureSpec):
        raise TypeError(f"spec must be a FeatureSpec, got {type(spec).__name__}")
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    ts, (o, h, lo, c, v) = as_bar_arrays(ts_event_ns, open, high, low, close, volume)
    error = first_invalid_row(ts, o, h, lo, c, v)
    if error is not None:
        raise error
    n = ts.shape[0]
    names = spec.names
    columns = np.empty((len(names), n))  # one contiguous row per feature; every row is written
    col = spec.index
    first = spec.defined_from
    if n == 0:
        return columns.T.copy(order=order)

    with np.errstate(divide="ignore", invalid="ignore"):
        _calendar(spec, ts, columns)

        rng = h - lo
        flat_bar = rng == 0.0  # high == low: the ratios are defined as 0 (rare: fix up after)
        body = columns[col("body_ratio")]
        np.divide(c - o, rng, out=body)
        upper_wick = columns[col("upper_wick_ratio")]
        np.divide(h - np.maximum(o, c), rng, out=upper_wick)
        lower_wick = columns[col("lower_wick_ratio")]
        np.divide(np.minimum(o, c) - lo, rng, out=lower_wick)
        if flat_bar.any():
            body[flat_bar] = 0.0
            upper_wick[flat_bar] = 0.0
            lower_wick[flat_bar] = 0.0

        for k in spec.return_lags:
            ret = columns[col(f"ret_{k}")]
            ret[:k] = np.nan
            if n > k:
                ret[k:] = np.log(c[k:] / c[:-k])

        # True range: the first bar has no previous close.
        tr = rng.copy()
        if n > 1:
            prev = c[:-1]
            tr[1:] = np.maximum(np.maximum(rng[1:], np.abs(h[1:] - prev)), np.abs(lo[1:] - prev))
        atr = _seeded_recursion(tr, spec.atr_period, 1.0 / spec.atr_period)
        atr_defined = ~np.isnan(atr)
        atr_nonzero = atr != 0.0
        columns[col("range_atr")] = np.where(atr_nonzero, rng / atr, 0.0)
        columns[col("range_atr")][~atr_defined] = np.nan
        columns[col("atr_close")] = atr / c

        columns[col("rsi")] = _rsi(c, spec.rsi_period)

        ema_fast = _seeded_recursion(c, spec.macd_fast, 2.0 / (spec.macd_fast + 1))
        ema_slow = _seeded_recursion(c, spec.macd_slow, 2.0 / (spec.macd_slow + 1))
        line = ema_fast - ema_slow
        signal = np.full(n, np.nan)
        slow_first = spec.macd_slow - 1
        if n > slow_first:
            signal[slow_first:] = _seeded_recursion(
                line[slow_first:], spec.macd_signal, 2.0 / (spec.macd_signal + 1)
            )
        columns[col("macd_line")] = line / c
        columns[col("macd_signal")] = signal / c
        columns[col("macd_hist")] = (line - signal) / c

        _bollinger(spec, c, columns[col("bb_pct_b")], columns[col("bb_bandwidth")])

        for period in spec.ema_periods:
            name = f"ema{period}_dist_atr"
            ema = _seeded_recursion(c, period, 2.0 / (period + 1))
            dist = np.where(atr_nonzero, (c - ema) / atr, 0.0)
            dist[: first[name]] = np.nan
            columns[col(name)] = dist

        _vol_rank(spec, atr, columns[col("vol_pct_rank")], columns[col("vol_regime")])

    columns[col("warm")] = 0.0
    columns[col("warm"), spec.warmup_bars - 1 :] = 1.0
    if order == "F":
        return columns.T  # (n, k) view of the (k, n) buffer: columns contiguous, no copy
    out = np.empty((n, len(names)))
    for start in range(0, n, _BLOCK):  # transpose block by block: cache-friendly
        out[start : start + _BLOCK] = columns[:, start : start + _BLOCK].T
    return out


def _seeded_recursion(x: Float64Array, period: int, alpha: float) -> Float64Array:
    """``ta.ema``/``ta.rma`` form: NaN for ``period - 1`` values, then the SMA of the first
    ``period`` values, then ``y = alpha*x + (1 - alpha)*y_prev``."""
    beta = 1.0 - alpha
    y = np.full(x.shape[0], np.nan)
    if x.shape[0] < period:
        return y
    total = 0.0
    for value in x[:period].tolist():  # left to right, like the engine's running sum
        total += value
    seed = total / period
    y[period - 1] = seed
    if x.shape[0] > period:
        filtered, _ = lfilter([alpha, 0.0], [1.0, -beta], x[period:], zi=[beta * seed])
        y[period:] = filtered
    return y


def _rsi(c: Float64Array, period: int) -> Float64Array:
    out = np.full(c.shape[0], np.nan)
    if c.shape[0] <= period:
        return out
    # max(x, 0.0) equals the engine's `x if x > 0.0 else 0.0` (no NaN, no -0.0 here).
    gain = np.maximum(c[1:] - c[:-1], 0.0)
    loss = np.maximum(c[:-1] - c[1:], 0.0)
    alpha = 1.0 / period
    gain_avg = _seeded_recursion(gain, period, alpha)[period - 1 :]
    loss_avg = _seeded_recursion(loss, period, alpha)[period - 1 :]
    out[period:] = np.where(loss_avg == 0.0, 1.0, 1.0 - 1.0 / (1.0 + gain_avg / loss_avg))
    return out


def _bollinger(
    spec: FeatureSpec, c: Float64Array, pct_b: Float64Array, bandwidth: Float64Array
) -> None:
    period = spec.bb_period
    n = c.shape[0]
    pct_b[: period - 1] = np.nan
    bandwidth[: period - 1] = np.nan
    windows = n - period + 1  # windows ending at rows period-1 .. n-1
    if windows <= 0:
        return
    size = min(_BLOCK, windows)
    total, d, sq = np.empty(size), np.empty(size), np.empty(size)
    for start in range(0, windows, _BLOCK):  # blocks that stay in cache across the passes
        m = min(_BLOCK, windows - start)
        t, dm, q = total[:m], d[:m], sq[:m]
        t[:] = c[start : start + m]
        for j in range(1, period):  # left to right within each window, like the engine
            t += c[start + j : start + j + m]
        mean = t / period
        np.subtract(c[start : start + m], mean, out=dm)
        np.multiply(dm, dm, out=q)
        for j in range(1, period):
            np.subtract(c[start + j : start + j + m], mean, out=dm)
            np.multiply(dm, dm, out=dm)
            q += dm
        q /= period
        dev = spec.bb_mult * np.sqrt(q)
        upper = mean + dev
        lower = mean - dev
        width = upper - lower
        flat = width <= spec.bb_flat_tolerance * mean
        rows = slice(start + period - 1, start + period - 1 + m)
        pct_b[rows] = np.where(flat, 0.5, (c[rows] - lower) / width)
        bandwidth[rows] = np.where(flat, 0.0, width / mean)


def _vol_rank(
    spec: FeatureSpec, atr: Float64Array, pct_rank: Float64Array, regime: Float64Array
) -> None:
    window = spec.vol_rank_window
    first = spec.atr_period - 1 + window  # first row with `window` previous ATRs
    pct_rank[:first] = np.nan
    regime[:first] = np.nan
    n = atr.shape[0]
    if n <= first:
        return
    # Counts fit in uint8 for windows up to 255 (the default is 100): bytes add fastest.
    small = window <= 255
    size = min(_BLOCK, n - first)
    count = np.empty(size, dtype=np.uint8 if small else np.int64)
    less_equal = np.empty(size, dtype=np.bool_)
    for start in range(first, n, _BLOCK):
        m = min(_BLOCK, n - start)
        cnt, le = count[:m], less_equal[:m]
        addend = le.view(np.uint8) if small else le
        current = atr[start : start + m]
        cnt[:] = 0
        for k in range(1, window + 1):
            np.less_equal(atr[start - k : start - k + m], current, out=le)
            np.add(cnt, addend, out=cnt)
        rank = cnt / window
        pct_rank[start : start + m] = rank
        regime[start : start + m] = np.where(
            rank < spec.vol_regime_low, -1.0, np.where(rank > spec.vol_regime_high, 1.0, 0.0)
        )


def _minute_table(spec: FeatureSpec, offsets: tuple[int, ...]) -> Float64Array:
    """The engine's per-minute rows as a ``(fields, 1440)`` array (cached: built per stretch)."""
    key = (session_hours(spec), offsets)
    table = _TABLES.get(key)
    if table is None:
        table = np.array(minute_rows(spec, offsets)).T.copy()
        table.flags.writeable = False
        if len(_TABLES) > 64:
            _TABLES.clear()
        _TABLES[key] = table
    return table


def _calendar(spec: FeatureSpec, ts: NDArray[np.int64], columns: Float64Array) -> None:
    minute = ts // NS_PER_MINUTE
    day = minute // MINUTES_PER_DAY
    tod = minute - day * MINUTES_PER_DAY
    weekday = (day + 3) % 7
    np.take(_DOW_SIN, weekday, out=columns[spec.index("dow_sin")])
    np.take(_DOW_COS, weekday, out=columns[spec.index("dow_cos")])
    targets = [spec.index(name) for name in _CALENDAR_NAMES]
    n = ts.shape[0]
    i = 0
    while i < n:  # one stretch of constant UTC offsets at a time (a few per year)
        _, hi_ns, offsets = clock_stretch(spec, int(ts[i]))
        j = int(np.searchsorted(ts, hi_ns, side="left"))
        table = _minute_table(spec, offsets)
        part = tod[i:j]
        for field, target in enumerate(targets):
            np.take(table[field], part, out=columns[target, i:j])
        i = j
