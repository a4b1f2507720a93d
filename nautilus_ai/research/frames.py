"""Bars as a pandas DataFrame: one checked shape that every research function works on.

:func:`as_bars` turns what a researcher has (a catalog read, a CSV loaded with pandas, a frame
from another library) into *the* bars frame: columns ``open, high, low, close, volume``
(float64) and a ``DatetimeIndex`` in UTC nanoseconds named ``ts_event``, holding each bar's
**close** time (the Nautilus convention every feature uses). Anything it cannot read without
guessing is refused with one line that names the problem and the way out.

Clock rule (decided once, applied everywhere):

* a tz-aware index, in any zone, is converted to UTC;
* an integer index is UTC nanoseconds since the epoch (values that look like seconds or
  milliseconds are refused, naming the unit to use);
* a timezone-naive index is refused unless ``tz=`` says which clock it is: ``tz="UTC"`` for
  naive UTC, ``tz="America/New_York"`` for New York local time (DST applied; a wall time that
  does not exist or is ambiguous at a DST change is an error naming it). A naive index is never
  assumed to be UTC, because a local clock read as UTC shifts every calendar feature silently.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nautilus_ai.features.validation import accepted_bars_mask, first_invalid_row

__all__ = [
    "BAR_COLUMNS",
    "INDEX_NAME",
    "ResearchInputError",
    "as_bars",
    "bar_arrays",
    "check_int",
    "check_number",
    "signal_column",
    "to_utc_timestamp",
]

#: The columns of a bars frame, in order.
BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
#: The index name of every frame the facade returns (bar close time, UTC).
INDEX_NAME = "ts_event"

# An int index below this is not plausible as ns since 1970 (it is 1970-01-12 in ns but year
# 33658 in seconds): someone passed seconds or milliseconds.
_MIN_PLAUSIBLE_NS = 10**15


class ResearchInputError(ValueError):
    """Input the research facade refuses; the message is one line naming the problem."""


def check_int(value: object, what: str, *, low: int) -> int:
    """``value`` as an int if it is an integer (Python or numpy, not a bool) ``>= low``, else one
    ResearchInputError line naming ``what`` (a numpy int from array arithmetic was refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ResearchInputError(f"{what}: expected an int >= {low}, got {value!r}")
    if value < low:
        raise ResearchInputError(f"{what}: expected an int >= {low}, got {value!r}")
    return int(value)


def check_number(
    value: object,
    what: str,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """``value`` as a float if it is a finite real number in ``[low, high]`` (``(low, ...`` with
    ``low_open``), else one ResearchInputError line naming ``what``, the range and the value.

    Every numeric option of the facade goes through here: a string compared with an array
    failed deep in numpy or matplotlib, and inf / NaN or an out-of-range confidence was taken
    without a word (a chart with no call drawn, an evaluation of infinite costs).
    """
    bounds = f"{'>' if low_open else '>='} {low:g}" + ("" if high is None else f" and <= {high:g}")
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    result = float(value) if number else float("nan")  # type: ignore[arg-type]
    inside = np.isfinite(result) and (result > low if low_open else result >= low)
    if not inside or (high is not None and result > high):
        raise ResearchInputError(f"{what}: expected a number {bounds} (finite), got {value!r}")
    return result


def signal_column(predictions: pd.DataFrame) -> NDArray[np.int64]:
    """The ``signal`` column of a predictions frame as int64, if every value is -1, 0 or +1;
    else one ResearchInputError line naming the first row that is not (a hand-made signal of 2
    doubled each trade, a NaN was cast to the smallest int64, 0.5 to a hold)."""
    raw = pd.to_numeric(predictions["signal"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isin(raw, (-1.0, 0.0, 1.0)))
    if bad.size:
        row = int(bad[0])
        raise ResearchInputError(
            f"predictions: column 'signal' must hold -1, 0 or +1; row {row} "
            f"({predictions.index[row]}) holds {predictions['signal'].iloc[row]!r}"
        )
    signals: NDArray[np.int64] = raw.astype(np.int64)
    return signals


def to_utc_timestamp(value: object, what: str) -> pd.Timestamp:
    """A query bound as a UTC ``Timestamp``: ISO string, datetime, ``Timestamp`` or int ns.

    Bounds are typed by hand, like the CLI's dates, so a bound without a zone is UTC.
    """
    if isinstance(value, bool | np.bool_):
        raise ResearchInputError(f"{what}: expected a date, datetime or int ns, got {value!r}")
    if isinstance(value, float | np.floating):
        # pandas reads a float as nanoseconds and drops the fraction (1.5 -> 1 ns; 1.49e18 is
        # only as exact as a float): refused, as read_bars refuses it.
        raise ResearchInputError(
            f"{what}: expected a date, datetime or int ns, got the float {value!r} "
            "(a float cannot hold every nanosecond; pass an int or a date string)"
        )
    try:
        if isinstance(value, int | np.integer):
            stamp = pd.Timestamp(int(value), unit="ns")
        else:
            stamp = pd.Timestamp(value)  # type: ignore[call-overload]
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResearchInputError(f"{what}: cannot read {value!r} as a time ({reason})") from None
    if stamp is pd.NaT:
        raise ResearchInputError(f"{what}: {value!r} is not a time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def as_bars(
    frame: pd.DataFrame,
    *,
    tz: str | None = None,
    stamped: Literal["close", "open"] = "close",
    bar_duration: str | pd.Timedelta | None = None,
    time_column: Hashable | None = None,
    invalid: Literal["raise", "drop"] = "raise",
) -> pd.DataFrame:
    """The checked bars frame for ``frame`` (a new frame; ``frame`` is never modified).

    Parameters
    ----------
    frame : pandas.DataFrame
        OHLCV bars: columns ``open, high, low, close, volume`` (any case), one row per bar, the
        time in the index (or in ``time_column``).
    tz : str, optional
        The clock of a timezone-naive index (``"UTC"``, ``"America/New_York"``...). Required
        for a naive index, refused for a tz-aware one in another zone.
    stamped : {"close", "open"}
        Whether the times are bar close times (Nautilus, the catalog) or bar open times (most
        CSV exports). Open times are moved to the close with ``bar_duration``.
    bar_duration : str or Timedelta, optional
        The bar length (``"1min"``, ``"1h"``), required with ``stamped="open"``.
    time_column : column label, optional
        Take the times from this column instead of the index.
    invalid : {"raise", "drop"}
        What to do with bars the feature engine rejects (high < low, price <= 0, open or close
        outside the range, negative volume): ``"raise"`` names the first; ``"drop"`` drops them
        exactly as the engine would skip them (``df.attrs["dropped_bars"]`` counts them).
        NaN / infinite prices, duplicate and unsorted times are always errors.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BAR_COLUMNS` (float64), index ``DatetimeIndex[ns, UTC]`` named
        ``ts_event`` (bar close times, strictly increasing). ``attrs`` are kept.

    Raises
    ------
    ResearchInputError
        One line naming the problem: not a DataFrame, naive index without ``tz``, strings or
        floats as times, unsorted or duplicate times, missing / ambiguous / non-numeric
        columns, NaN prices, an invalid bar.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ResearchInputError(f"bars: expected a pandas DataFrame, got {type(frame).__name__}")
    if invalid not in ("raise", "drop"):
        raise ResearchInputError(f"invalid: expected 'raise' or 'drop', got {invalid!r}")
    if stamped not in ("close", "open"):
        raise ResearchInputError(f"stamped: expected 'close' or 'open', got {stamped!r}")
    if len(frame) == 0:
        raise ResearchInputError("bars: the frame has no rows")
    if stamped == "close" and bar_duration is not None:  # before the checked-frame shortcut
        raise ResearchInputError("bar_duration is only used with stamped='open'")
    if tz is not None and not isinstance(tz, str):
        # pandas reads an int as a fixed offset in seconds: tz=5 was the zone UTC+00:00:05
        raise ResearchInputError(
            f"tz: expected a zone name ('UTC', 'America/New_York', 'Etc/GMT-5'), got {tz!r}"
        )
    if _is_checked(frame) and tz is None and stamped == "close" and time_column is None:
        return frame.rename_axis(INDEX_NAME)  # a new frame (copy) with the facade's index name
    columns = _ohlcv_columns(frame)
    if time_column is not None and time_column not in frame.columns:
        raise ResearchInputError(f"bars: time_column {time_column!r} is not a column")
    raw_times = frame[time_column] if time_column is not None else frame.index
    index = _utc_index(raw_times, tz)
    if stamped == "open":
        index = index + _duration(bar_duration)
    _check_order(index)
    values = {name: _float_column(frame, source, name, index) for name, source in columns.items()}
    out = pd.DataFrame(values, index=index, columns=list(BAR_COLUMNS))
    out.attrs.update(frame.attrs)
    return _check_bars(out, invalid)


def bar_arrays(bars: pd.DataFrame) -> tuple[NDArray[np.int64], tuple[NDArray[np.float64], ...]]:
    """``(ts_event_ns, (open, high, low, close, volume))`` of a checked bars frame (views)."""
    ts = bars.index.asi8
    return ts, tuple(bars[name].to_numpy(dtype=np.float64) for name in BAR_COLUMNS)


# ---------------------------------------------------------------------------------------------


def _is_checked(frame: pd.DataFrame) -> bool:
    """``frame`` already has the exact shape :func:`as_bars` returns (it is re-checked)."""
    index = frame.index
    return (
        isinstance(index, pd.DatetimeIndex)
        and str(index.dtype) == "datetime64[ns, UTC]"
        and tuple(frame.columns) == BAR_COLUMNS
        and all(frame[c].dtype == np.float64 for c in BAR_COLUMNS)
        and index.is_monotonic_increasing
        and index.is_unique
        and not _invalid_rows(frame).any()
    )


def _invalid_rows(frame: pd.DataFrame) -> NDArray[np.bool_]:
    ts, columns = bar_arrays(frame)
    return ~accepted_bars_mask(ts, *columns)


def _ohlcv_columns(frame: pd.DataFrame) -> Mapping[str, Hashable]:
    """Our column name -> the frame's column label, matched case-insensitively."""
    if isinstance(frame.columns, pd.MultiIndex):
        raise ResearchInputError(
            "bars: columns are a MultiIndex (several instruments?); select one first, e.g. "
            "df.xs('EURUSD=X', axis=1, level=1)"
        )
    found: dict[str, list[Hashable]] = {name: [] for name in BAR_COLUMNS}
    for label in frame.columns:
        key = str(label).strip().lower()
        if key in found:
            found[key].append(label)
    missing = [name for name, labels in found.items() if not labels]
    if missing:
        have = ", ".join(map(repr, list(frame.columns)[:12])) or "none"
        hint = " (FX bars without volume: add df['volume'] = 0.0)" if missing == ["volume"] else ""
        raise ResearchInputError(
            f"bars: missing column(s) {', '.join(map(repr, missing))}; have {have}{hint}"
        )
    twice = [f"{labels!r}" for labels in found.values() if len(labels) > 1]
    if twice:
        raise ResearchInputError(f"bars: ambiguous columns {', '.join(twice)}; keep one of each")
    return {name: labels[0] for name, labels in found.items()}


def _utc_index(raw: pd.Index | pd.Series, tz: str | None) -> pd.DatetimeIndex:
    values = pd.Index(raw)
    if isinstance(values, pd.DatetimeIndex):
        index = values
    elif pd.api.types.is_bool_dtype(values.dtype):
        raise ResearchInputError("bars: the times are booleans, not times")
    elif isinstance(values, pd.RangeIndex):
        raise ResearchInputError(
            "bars: the index is a plain row number, not times; set the time column as the "
            "index (df.set_index('timestamp')) or pass time_column="
        )
    elif pd.api.types.is_integer_dtype(values.dtype):
        index = _from_int_ns(values)
    elif pd.api.types.is_float_dtype(values.dtype):
        raise ResearchInputError(
            f"bars: the times are floats ({values.dtype}); pass int ns or datetimes "
            "(pd.to_datetime(x, unit='s', utc=True))"
        )
    else:
        index = _from_objects(values)
    if index.tz is None:
        if tz is None:
            raise ResearchInputError(
                "bars: the times are timezone-naive; say which clock they are in: "
                "as_bars(df, tz='UTC') for UTC, tz='America/New_York' (etc.) for local time"
            )
        index = _localize(index, tz)
    elif tz is not None and not _same_zone(index, tz):
        raise ResearchInputError(
            f"bars: the times are already in zone {index.tz}, but tz={tz!r} was given; "
            "drop tz= (aware times are converted to UTC)"
        )
    return pd.DatetimeIndex(index.tz_convert("UTC").as_unit("ns"), name=INDEX_NAME)


def _from_int_ns(values: pd.Index) -> pd.DatetimeIndex:
    ints = values.to_numpy()
    if ints.size and int(ints.min()) < 0:
        row = int(np.argmin(ints))
        raise ResearchInputError(f"bars: time {int(ints[row])} at row {row} is negative")
    if ints.size and int(ints.max()) < _MIN_PLAUSIBLE_NS:
        unit = "s" if int(ints.max()) < 10**11 else "ms"
        raise ResearchInputError(
            f"bars: integer times look like {'seconds' if unit == 's' else 'milliseconds'} "
            f"(max {int(ints.max())}), not UTC ns; convert with "
            f"pd.to_datetime(df.index, unit='{unit}', utc=True)"
        )
    if ints.dtype.kind == "u" and ints.size and int(ints.max()) > np.iinfo(np.int64).max:
        raise ResearchInputError("bars: integer times exceed int64 ns")
    return pd.DatetimeIndex(pd.to_datetime(ints.astype(np.int64), unit="ns", utc=True))


def _from_objects(values: pd.Index) -> pd.DatetimeIndex:
    """An object index of Python datetimes / Timestamps (strings are refused, not guessed)."""
    if any(isinstance(v, str) for v in values[:1000]):
        raise ResearchInputError(
            f"bars: the times are strings (e.g. {values[0]!r}); parse them first with "
            "pd.to_datetime(..., format=...) and say the zone"
        )
    try:
        parsed = pd.DatetimeIndex(values)
    except (ValueError, TypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "mix" in message.lower() or "offset" in message.lower() or "tz" in message.lower():
            raise ResearchInputError(
                "bars: the times mix time zones (or naive and aware values); convert them "
                "with pd.to_datetime(..., utc=True)"
            ) from None
        raise ResearchInputError(
            f"bars: cannot read the index ({values.dtype}) as times: {message}"
        ) from None
    return parsed


def _localize(index: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    _check_zone(tz)
    try:
        return index.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # pytz / pandas raise several unrelated types for DST problems
        # the wall time, whichever library worded the error ("Cannot infer dst time from ...")
        found = re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", str(exc))
        message = found.group(0) if found else (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ResearchInputError(
            f"bars: naive time {message} does not exist or is ambiguous in {tz} (DST change); "
            "local wall-clock stamps cannot say which instant they mean there: use UTC data"
        ) from None


def _check_zone(tz: str) -> None:
    try:
        pd.Timestamp(0, tz=tz)
    except Exception:
        raise ResearchInputError(f"tz: unknown time zone {tz!r}") from None


def _same_zone(index: pd.DatetimeIndex, tz: str) -> bool:
    _check_zone(tz)
    return str(index[:1].tz_convert(tz).tz) == str(index.tz)


def _duration(value: str | pd.Timedelta | None) -> pd.Timedelta:
    if value is None:
        raise ResearchInputError(
            "bars: stamped='open' needs bar_duration= (e.g. '1min') to move times to the close"
        )
    if isinstance(value, int | float | np.integer | np.floating):
        # pandas reads a bare number as nanoseconds: bar_duration=60 moved each bar by 60 ns
        raise ResearchInputError(
            f"bar_duration: expected a duration ('1min', '1h') or a Timedelta, got the number "
            f"{value!r} (it would be read as nanoseconds)"
        )
    try:
        duration = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ResearchInputError(f"bar_duration: cannot read {value!r} as a duration") from None
    if duration <= pd.Timedelta(0):
        raise ResearchInputError(f"bar_duration: must be positive, got {value!r}")
    return duration


def _check_order(index: pd.DatetimeIndex) -> None:
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise ResearchInputError(f"bars: time at row {row} is missing (NaT)")
    ts = index.asi8
    if ts.size > 1:
        steps = np.diff(ts)
        if (steps < 0).any():
            row = int(np.flatnonzero(steps < 0)[0]) + 1
            raise ResearchInputError(
                f"bars: times are not sorted: row {row} ({index[row]}) comes before row "
                f"{row - 1} ({index[row - 1]}); sort with df.sort_index()"
            )
        if (steps == 0).any():
            rows = np.flatnonzero(steps == 0)
            raise ResearchInputError(
                f"bars: {rows.size} duplicate time(s), first {index[rows[0]]} at rows "
                f"{rows[0]} and {rows[0] + 1}; keep one bar per time "
                "(df[~df.index.duplicated()] once you know which is right)"
            )


def _float_column(
    frame: pd.DataFrame, source: Hashable, name: str, index: pd.DatetimeIndex
) -> NDArray[np.float64]:
    column = frame[source]
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise ResearchInputError(
            f"bars: column {source!r} has dtype {dtype}, not numbers; convert it with "
            f"pd.to_numeric(df[{source!r}])"
        )
    values: NDArray[np.float64] = np.asarray(
        column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64
    )
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "NaN" if np.isnan(values[row]) else "infinite"
        raise ResearchInputError(
            f"bars: column {source!r} has {int(bad.sum())} NaN/infinite value(s), first "
            f"{kind} at {index[row]} (row {row}); drop or fill those bars first"
        )
    return values


def _check_bars(bars: pd.DataFrame, invalid: str) -> pd.DataFrame:
    ts, columns = bar_arrays(bars)
    if invalid == "drop":
        keep = accepted_bars_mask(ts, *columns)
        dropped = int((~keep).sum())
        out = bars[keep].copy() if dropped else bars
        out.attrs["dropped_bars"] = dropped
        return out
    error = first_invalid_row(ts, *columns)
    if error is not None:
        row = error.index if error.index is not None else 0
        raise ResearchInputError(
            f"bars: invalid bar at {bars.index[row]} (row {row}): {error.detail} "
            f"({error.reason}); pass invalid='drop' to skip such bars as the engine does"
        )
    return bars
