"""``compute_features``: the vectorised twin of :class:`~nautilus_ai.features.engine.FeatureEngine`.

Same definitions, same floating-point operations in the same order: first-order recursions (EMA,
RMA/ATR, RSI averages, MACD signal) run through ``scipy.signal.lfilter`` whose direct-form-II
update ``y = b0*x + (-a1)*y_prev`` is exactly the engine's ``alpha*x + beta*y_prev``; SMA seeds
and the Bollinger sums are accumulated left to right like the engine's loops; calendar features
come from the same lookup tables. Only ``log`` (numpy vs libm) may differ, by an ulp.

Layout: the recursions run once over the whole input (they are sequential); every other step
runs block by block (:data:`_BLOCK` rows) into a small ``(features, rows)`` scratch that stays in
cache and is then transposed into the result, so no full-size intermediate matrix is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

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

# Rows per block: the working set of the many passes per block stays in L2 cache.
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
        Memory layout of the result (rows or columns contiguous).

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
    out = np.empty((n, len(spec.names)), order=order)
    if n == 0:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        series = _whole_series(spec, ts, o, h, lo, c)
        scratch = np.empty((len(spec.names), min(_BLOCK, n)))
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            block = scratch[:, : stop - start]
            _fill_block(spec, series, start, stop, block)
            out[start:stop] = block.T
    return out


@dataclass(frozen=True)
class _Series:
    """Whole-input arrays: the bars, the sequential recursions, the calendar stretches."""

    ts: NDArray[np.int64]
    open: Float64Array
    high: Float64Array
    low: Float64Array
    close: Float64Array
    atr: Float64Array
    rsi: Float64Array
    macd_line: Float64Array
    macd_signal: Float64Array
    emas: tuple[Float64Array, ...]  # one per spec.ema_periods
    stretches: tuple[tuple[int, int, Float64Array], ...]  # (first row, end row, minute table)


def _whole_series(
    spec: FeatureSpec,
    ts: NDArray[np.int64],
    o: Float64Array,
    h: Float64Array,
    lo: Float64Array,
    c: Float64Array,
) -> _Series:
    n = ts.shape[0]
    # True range: the first bar has no previous close; max is exact, so the order is free.
    tr = h - lo
    if n > 1:
        t, u = tr[1:], np.empty(n - 1)
        np.subtract(h[1:], c[:-1], out=u)
        np.abs(u, out=u)
        np.maximum(t, u, out=t)
        np.subtract(lo[1:], c[:-1], out=u)
        np.abs(u, out=u)
        np.maximum(t, u, out=t)
    atr = _seeded_recursion(tr, spec.atr_period, 1.0 / spec.atr_period)

    line = _seeded_recursion(c, spec.macd_fast, 2.0 / (spec.macd_fast + 1))
    line -= _seeded_recursion(c, spec.macd_slow, 2.0 / (spec.macd_slow + 1))
    slow_first = spec.macd_slow - 1
    signal = np.full(n, np.nan)
    if n > slow_first:
        signal[slow_first:] = _seeded_recursion(
            line[slow_first:], spec.macd_signal, 2.0 / (spec.macd_signal + 1)
        )

    stretches = []
    i = 0
    while i < n:  # one stretch of constant UTC offsets at a time (a few per year)
        _, hi_ns, offsets = clock_stretch(spec, int(ts[i]))
        j = int(np.searchsorted(ts, hi_ns, side="left"))
        stretches.append((i, j, _minute_table(spec, offsets)))
        i = j

    return _Series(
        ts=ts,
        open=o,
        high=h,
        low=lo,
        close=c,
        atr=atr,
        rsi=_rsi(c, spec.rsi_period),
        macd_line=line,
        macd_signal=signal,
        emas=tuple(_seeded_recursion(c, p, 2.0 / (p + 1)) for p in spec.ema_periods),
        stretches=tuple(stretches),
    )


def _fill_block(spec: FeatureSpec, s: _Series, start: int, stop: int, out: Float64Array) -> None:
    """Write the features of rows ``[start, stop)`` into ``out[feature, row - start]``."""
    col = spec.index
    first = spec.defined_from
    rows = slice(start, stop)
    o, h, lo, c = s.open[rows], s.high[rows], s.low[rows], s.close[rows]
    atr = s.atr[rows]
    rng = h - lo

    # Candle shape (0 where high == low: fixed up after, it is rare).
    body = out[col("body_ratio")]
    np.subtract(c, o, out=body)
    body /= rng
    upper_wick = out[col("upper_wick_ratio")]
    np.maximum(o, c, out=upper_wick)
    np.subtract(h, upper_wick, out=upper_wick)
    upper_wick /= rng
    lower_wick = out[col("lower_wick_ratio")]
    np.minimum(o, c, out=lower_wick)
    lower_wick -= lo
    lower_wick /= rng
    flat_bar = rng == 0.0
    if flat_bar.any():
        body[flat_bar] = 0.0
        upper_wick[flat_bar] = 0.0
        lower_wick[flat_bar] = 0.0

    for k in spec.return_lags:
        ret = out[col(f"ret_{k}")]
        skip = min(max(k - start, 0), stop - start)  # rows before bar k have no close[k]
        ret[:skip] = np.nan
        if skip < stop - start:
            np.divide(c[skip:], s.close[start + skip - k : stop - k], out=ret[skip:])
            np.log(ret[skip:], out=ret[skip:])

    atr_zero = atr == 0.0  # a NaN ATR gives NaN ratios below; a zero ATR gives 0 ratios
    any_zero = bool(atr_zero.any())
    range_atr = out[col("range_atr")]
    np.divide(rng, atr, out=range_atr)
    if any_zero:
        range_atr[atr_zero] = 0.0
    np.divide(atr, c, out=out[col("atr_close")])
    for period, ema in zip(spec.ema_periods, s.emas, strict=True):
        name = f"ema{period}_dist_atr"
        dist = out[col(name)]
        np.subtract(c, ema[rows], out=dist)
        dist /= atr
        if any_zero:
            dist[atr_zero] = 0.0
        dist[: max(0, first[name] - start)] = np.nan

    out[col("rsi")] = s.rsi[rows]
    line, signal = s.macd_line[rows], s.macd_signal[rows]
    np.divide(line, c, out=out[col("macd_line")])
    np.divide(signal, c, out=out[col("macd_signal")])
    hist = out[col("macd_hist")]
    np.subtract(line, signal, out=hist)
    hist /= c

    _bollinger(spec, s.close, start, stop, out[col("bb_pct_b")], out[col("bb_bandwidth")])
    _vol_rank(spec, s.atr, start, stop, out[col("vol_pct_rank")], out[col("vol_regime")])
    _calendar(spec, s, start, stop, out)

    warm = out[col("warm")]
    warm.fill(0.0)
    warm[max(0, spec.warmup_bars - 1 - start) :] = 1.0


def _seeded_recursion(x: Float64Array, period: int, alpha: float) -> Float64Array:
    """``ta.ema``/``ta.rma`` form: NaN for ``period - 1`` values, then the SMA of the first
    ``period`` values, then ``y = alpha*x + (1 - alpha)*y_prev``."""
    beta = 1.0 - alpha
    n = x.shape[0]
    y = np.empty(n)
    y[: min(period - 1, n)] = np.nan
    if n < period:
        return y
    total = 0.0
    for value in x[:period].tolist():  # left to right, like the engine's running sum
        total += value
    seed = total / period
    y[period - 1] = seed
    if n > period:
        # Direct form II: y = b0*x + z, z = -a1*y_prev, i.e. alpha*x + beta*y_prev exactly.
        # Imported here: scipy.signal costs ~0.8 s to import, which every CLI start would pay.
        from scipy.signal import lfilter

        y[period:] = lfilter([alpha, 0.0], [1.0, -beta], x[period:], zi=[beta * seed])[0]
    return y


def _rsi(c: Float64Array, period: int) -> Float64Array:
    n = c.shape[0]
    out = np.empty(n)
    out[: min(period, n)] = np.nan
    if n <= period:
        return out
    # max(x, 0.0) equals the engine's `x if x > 0.0 else 0.0` (no NaN, no -0.0 here).
    gain = c[1:] - c[:-1]
    np.maximum(gain, 0.0, out=gain)
    loss = c[:-1] - c[1:]
    np.maximum(loss, 0.0, out=loss)
    alpha = 1.0 / period
    gain_avg = _seeded_recursion(gain, period, alpha)[period - 1 :]
    loss_avg = _seeded_recursion(loss, period, alpha)[period - 1 :]
    rsi = out[period:]
    # 1 - 1 / (1 + G / L), the engine's operation order; L == 0 -> 1 (also when G == 0).
    np.divide(gain_avg, loss_avg, out=rsi)
    rsi += 1.0
    np.divide(1.0, rsi, out=rsi)
    np.subtract(1.0, rsi, out=rsi)
    rsi[loss_avg == 0.0] = 1.0
    return out


def _bollinger(
    spec: FeatureSpec,
    close: Float64Array,
    start: int,
    stop: int,
    pct_b: Float64Array,
    bandwidth: Float64Array,
) -> None:
    """%B and bandwidth of rows ``[start, stop)``; row ``r``'s window is ``close[r-p+1 : r+1]``."""
    period = spec.bb_period
    first = max(start, period - 1)  # first row with a full window
    skip = min(first - start, stop - start)
    pct_b[:skip] = np.nan
    bandwidth[:skip] = np.nan
    m = stop - first
    if m <= 0:
        return
    lead = first - period + 1  # the window of row `first` starts here
    total = close[lead : lead + m].copy()
    for j in range(1, period):  # left to right within each window, like the engine
        total += close[lead + j : lead + j + m]
    mean = total
    mean /= period
    d, sq = np.empty(m), np.empty(m)
    np.subtract(close[lead : lead + m], mean, out=d)
    np.multiply(d, d, out=sq)
    for j in range(1, period):
        np.subtract(close[lead + j : lead + j + m], mean, out=d)
        np.multiply(d, d, out=d)
        sq += d
    sq /= period
    dev = np.sqrt(sq, out=sq)
    dev *= spec.bb_mult
    upper = mean + dev
    lower = np.subtract(mean, dev, out=d)
    width = np.subtract(upper, lower, out=upper)
    flat = width <= spec.bb_flat_tolerance * mean
    p, b = pct_b[skip:], bandwidth[skip:]
    np.subtract(close[first:stop], lower, out=p)
    p /= width
    np.divide(width, mean, out=b)
    if flat.any():
        p[flat] = 0.5
        b[flat] = 0.0


def _vol_rank(
    spec: FeatureSpec,
    atr: Float64Array,
    start: int,
    stop: int,
    pct_rank: Float64Array,
    regime: Float64Array,
) -> None:
    """Rank of ATR among the previous ``vol_rank_window`` ATRs, rows ``[start, stop)``."""
    window = spec.vol_rank_window
    first = max(start, spec.atr_period - 1 + window)  # first row with `window` previous ATRs
    skip = min(first - start, stop - start)
    pct_rank[:skip] = np.nan
    regime[:skip] = np.nan
    m = stop - first
    if m <= 0:
        return
    # Counts fit in uint8 for windows up to 255 (the default is 100): bytes add fastest.
    small = window <= 255
    count = np.zeros(m, dtype=np.uint8 if small else np.int64)
    less_equal = np.empty(m, dtype=np.bool_)
    addend = less_equal.view(np.uint8) if small else less_equal
    current = atr[first:stop]
    for k in range(1, window + 1):
        np.less_equal(atr[first - k : stop - k], current, out=less_equal)
        np.add(count, addend, out=count)
    rank = pct_rank[skip:]
    np.divide(count, window, out=rank)
    reg = regime[skip:]
    reg.fill(0.0)
    reg[rank < spec.vol_regime_low] = -1.0
    reg[rank > spec.vol_regime_high] = 1.0


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


def _calendar(spec: FeatureSpec, s: _Series, start: int, stop: int, out: Float64Array) -> None:
    minute = s.ts[start:stop] // NS_PER_MINUTE
    day = minute // MINUTES_PER_DAY
    tod = minute - day * MINUTES_PER_DAY
    weekday = day + 3
    np.remainder(weekday, 7, out=weekday)
    np.take(_DOW_SIN, weekday, out=out[spec.index("dow_sin")])
    np.take(_DOW_COS, weekday, out=out[spec.index("dow_cos")])
    targets = [spec.index(name) for name in _CALENDAR_NAMES]
    for i, j, table in s.stretches:
        lo, hi = max(i, start), min(j, stop)
        if lo >= hi:
            continue
        part = tod[lo - start : hi - start]
        for field, target in enumerate(targets):
            np.take(table[field], part, out=out[target, lo - start : hi - start])
