"""Which bars the feature engine accepts, bar by bar and over whole arrays (same rules).

A bar is accepted when its own fields are sane (see :data:`~nautilus_ai.features.errors.REASONS`
for the checks, in order) and its timestamp is strictly after the last *accepted* bar's.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nautilus_ai.features.errors import (
    REASON_CLOSE_OUTSIDE_RANGE,
    REASON_HIGH_BELOW_LOW,
    REASON_NEGATIVE_VOLUME,
    REASON_NON_FINITE,
    REASON_NON_INCREASING_TIMESTAMP,
    REASON_NON_POSITIVE_PRICE,
    REASON_NOT_A_NUMBER,
    REASON_OPEN_OUTSIDE_RANGE,
    REASON_PRICE_OUT_OF_RANGE,
    REASON_TIMESTAMP_OUT_OF_RANGE,
    REASON_TIMESTAMP_TYPE,
    InvalidBarError,
)
from nautilus_ai.timefmt import MAX_NS

__all__ = [
    "MAX_PRICE",
    "MIN_PRICE",
    "accepted_bars_mask",
    "as_bar_arrays",
    "check_bar",
    "first_invalid_row",
]

# Timestamps are UTC nanoseconds that must fit a signed 64-bit integer (numpy int64, Arrow).

# Prices the features are computed on. Far beyond any market (a Nautilus Price holds at most
# ~1.7e13, and no finer than 1e-16), and narrow enough that nothing inside the features can
# overflow: Bollinger squares deviations (1e300 gave an inf bandwidth and a NaN %B), returns and
# ATR distances divide one price by another. Within these bounds every intermediate stays below
# ~1e80, so every feature of an accepted bar is finite or a documented warm-up NaN.
MIN_PRICE = 1e-30
MAX_PRICE = 1e30

_FIELDS = ("open", "high", "low", "close", "volume")


def check_bar(
    ts_event_ns: object,
    open: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    last_ts_ns: int | None,
) -> int:
    """Raise :class:`InvalidBarError` for a bad bar; return the timestamp as ``int`` otherwise.

    This is the slow, explicit statement of the rules; the engine runs a fused fast check first
    and calls this only to name the reason.
    """
    try:
        if isinstance(ts_event_ns, bool | np.bool_):  # True is 1 to operator.index
            raise TypeError
        ts = operator.index(ts_event_ns)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidBarError(
            REASON_TIMESTAMP_TYPE, f"ts_event_ns must be an integer (ns), got {ts_event_ns!r}"
        ) from None
    if not 0 <= ts <= MAX_NS:
        raise InvalidBarError(
            REASON_TIMESTAMP_OUT_OF_RANGE, f"ts_event_ns={ts} is outside [0, 2**63 - 1]"
        )
    values = (open, high, low, close, volume)
    for name, value in zip(_FIELDS, values, strict=True):
        # A bool is a numbers.Real (True == 1) and numpy's bool multiplies like one: neither is
        # a price. Decimal, str, complex are not real floats either (Decimal('NaN') included).
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise InvalidBarError(
                REASON_NOT_A_NUMBER,
                f"{name} must be a real number, got {value!r} ({type(value).__name__})",
            )
        if not math.isfinite(value):
            raise InvalidBarError(REASON_NON_FINITE, f"{name}={value!r}")
    for name, value in zip(_FIELDS[:4], values[:4], strict=True):
        if value <= 0.0:
            raise InvalidBarError(REASON_NON_POSITIVE_PRICE, f"{name}={value!r} <= 0")
    for name, value in zip(_FIELDS[:4], values[:4], strict=True):
        if not MIN_PRICE <= value <= MAX_PRICE:
            raise InvalidBarError(
                REASON_PRICE_OUT_OF_RANGE,
                f"{name}={value!r} is outside [{MIN_PRICE:g}, {MAX_PRICE:g}] (the features "
                "would overflow)",
            )
    if high < low:
        raise InvalidBarError(REASON_HIGH_BELOW_LOW, f"high={high!r} < low={low!r}")
    if not low <= open <= high:
        raise InvalidBarError(
            REASON_OPEN_OUTSIDE_RANGE, f"open={open!r} outside [low={low!r}, high={high!r}]"
        )
    if not low <= close <= high:
        raise InvalidBarError(
            REASON_CLOSE_OUTSIDE_RANGE, f"close={close!r} outside [low={low!r}, high={high!r}]"
        )
    if volume < 0.0:
        raise InvalidBarError(REASON_NEGATIVE_VOLUME, f"volume={volume!r} < 0")
    if last_ts_ns is not None and ts <= last_ts_ns:
        kind = "duplicate" if ts == last_ts_ns else "out of order"
        raise InvalidBarError(
            REASON_NON_INCREASING_TIMESTAMP,
            f"ts_event_ns={ts} is not after the last accepted bar's {last_ts_ns} ({kind})",
        )
    return ts


def as_bar_arrays(
    ts_event_ns: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
) -> tuple[NDArray[np.int64], tuple[NDArray[np.float64], ...]]:
    """Inputs as 1-D ``int64`` / ``float64`` arrays of one length (views when already so).

    Raises ``ValueError`` naming the argument for a wrong shape, length or dtype.
    """
    ts = np.asarray(ts_event_ns)
    if ts.ndim != 1:
        raise ValueError(f"ts_event_ns must be 1-D, got shape {ts.shape}")
    if ts.size == 0 and ts.dtype.kind == "f":  # an empty list arrives as float64
        ts = ts.astype(np.int64)
    if ts.dtype.kind not in "iu":
        # Datetimes (object for tz-aware pandas times) are not guessed at here: their zone and
        # unit matter. The research facade converts a pandas frame's times to UTC ns.
        hint = (
            "; for a pandas frame use nautilus_ai.research.features(df), which converts its "
            "times to UTC ns"
            if ts.dtype.kind in "MO"
            else ""
        )
        raise ValueError(f"ts_event_ns must hold integers (UTC ns), got dtype {ts.dtype}{hint}")
    if ts.dtype.kind == "u" and ts.size and int(ts.max()) > MAX_NS:
        raise InvalidBarError(
            REASON_TIMESTAMP_OUT_OF_RANGE,
            f"ts_event_ns={int(ts.max())} exceeds 2**63 - 1",
            index=int(np.argmax(ts > MAX_NS)),
        )
    ts64 = ts.astype(np.int64, copy=False)
    columns = []
    for name, values in zip(_FIELDS, (open, high, low, close, volume), strict=True):
        arr = np.asarray(values)
        if arr.ndim != 1 or arr.shape[0] != ts.shape[0]:
            raise ValueError(
                f"{name} must be 1-D with the length of ts_event_ns ({ts.shape[0]}), "
                f"got shape {arr.shape}"
            )
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        columns.append(arr.astype(np.float64, copy=False))
    return ts64, tuple(columns)


def _row_valid(
    ts: NDArray[np.int64],
    o: NDArray[np.float64],
    h: NDArray[np.float64],
    lo: NDArray[np.float64],
    c: NDArray[np.float64],
    v: NDArray[np.float64],
) -> NDArray[np.bool_]:
    # The fused form of the per-row checks (comparisons with NaN are False, inf fails the bound).
    with np.errstate(invalid="ignore"):
        return (
            (ts >= 0)
            & (lo >= MIN_PRICE)
            & (lo <= o)
            & (o <= h)
            & (lo <= c)
            & (c <= h)
            & (h <= MAX_PRICE)
            & (v >= 0.0)
            & (v < np.inf)
        )


def first_invalid_row(
    ts: NDArray[np.int64],
    o: NDArray[np.float64],
    h: NDArray[np.float64],
    lo: NDArray[np.float64],
    c: NDArray[np.float64],
    v: NDArray[np.float64],
) -> InvalidBarError | None:
    """The error for the first bad row of a sequence that must be valid throughout, or None.

    Rows are checked in order; each row's timestamp must be after the previous row's.
    """
    bad = ~_row_valid(ts, o, h, lo, c, v)
    bad[1:] |= ts[1:] <= ts[:-1]
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    try:
        check_bar(
            int(ts[i]),
            float(o[i]),
            float(h[i]),
            float(lo[i]),
            float(c[i]),
            float(v[i]),
            int(ts[i - 1]) if i > 0 else None,
        )
    except InvalidBarError as exc:
        return InvalidBarError(exc.reason, exc.detail, index=i)
    raise AssertionError(f"row {i} failed the fused check but passed check_bar")  # pragma: no cover


def accepted_bars_mask(
    ts_event_ns: ArrayLike,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    *,
    after_ts_ns: int | None = None,
) -> NDArray[np.bool_]:
    """Exactly the bars a fresh :class:`FeatureEngine` would accept if fed this sequence in order.

    Parameters
    ----------
    ts_event_ns : array of int
        Bar close times, UTC ns.
    open, high, low, close, volume : array of float
        Same length as ``ts_event_ns``.
    after_ts_ns : int, optional
        The last timestamp an engine already accepted (bars at or before it are rejected), for
        an engine that is not fresh.

    Returns
    -------
    numpy.ndarray of bool
        ``mask[i]`` is True when bar ``i`` would be accepted. ``compute_features`` on the masked
        rows gives the rows the engine would return for them.

    Notes
    -----
    A bar is accepted when its own fields are sane and its timestamp is after every earlier
    accepted bar's; since accepted timestamps increase, that is the running maximum over the
    earlier rows whose own fields are sane.
    """
    raw_ts = np.asarray(ts_event_ns)
    too_late = None
    if raw_ts.dtype.kind == "u" and raw_ts.size and int(raw_ts.max()) > MAX_NS:
        # The engine rejects these (timestamp_out_of_range); here they are simply not accepted.
        too_late = raw_ts > MAX_NS
        raw_ts = np.where(too_late, 0, raw_ts)
    ts, (o, h, lo, c, v) = as_bar_arrays(raw_ts, open, high, low, close, volume)
    valid = _row_valid(ts, o, h, lo, c, v)
    if too_late is not None:
        valid &= ~too_late
    if ts.size == 0:
        return valid
    floor = np.iinfo(np.int64).min
    candidates = np.where(valid, ts, floor)
    prior_max = np.empty_like(ts)
    prior_max[0] = floor if after_ts_ns is None else after_ts_ns
    np.maximum.accumulate(candidates[:-1], out=prior_max[1:])
    if after_ts_ns is not None:
        np.maximum(prior_max, after_ts_ns, out=prior_max)
    return valid & (ts > prior_max)
