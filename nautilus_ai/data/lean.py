"""QuantConnect LEAN forex files (zipped CSV, no header): ticks and minute / hour / daily bars.

Layout (LEAN ``Data/forex/readme.md``)::

    forex/<market>/tick/<sym>/YYYYMMDD_quote.zip    ms since midnight, bid, ask
    forex/<market>/minute/<sym>/YYYYMMDD_quote.zip  ms since midnight, bid OHLC, bid size,
                                                    ask OHLC, ask size
    forex/<market>/hour/<sym>.zip                   "YYYYMMDD HH:mm", the same 10 columns
    forex/<market>/daily/<sym>.zip                  "YYYYMMDD HH:mm", the same 10 columns

Bar times are bar STARTS; the readers stamp bars at their close. Clocks come from LEAN's
market-hours database: OANDA data is UTC, FXCM data is a fixed UTC-5 (no DST); both were checked
against independent sources (see the shared data README). Sizes are 0 in these files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nautilus_ai.data.arrays import BarArrays, IntArray, QuoteArrays
from nautilus_ai.data.clocks import check_clock
from nautilus_ai.data.errors import DataFormatError
from nautilus_ai.data.textio import (
    FieldCheck,
    check_finite_positive,
    check_float,
    float_column,
    input_paths,
    local_to_utc_at_lines,
    read_delimited,
    read_source_bytes,
    reject_bad_prices,
    reject_bad_sizes,
    reject_bars_of_another_length,
    reject_rows,
)

__all__ = [
    "LEAN_BAR_SECONDS",
    "LEAN_CLOCKS",
    "LeanLayout",
    "LeanResolution",
    "lean_layout",
    "read_lean_bars",
    "read_lean_ticks",
]

LeanResolution = Literal["tick", "minute", "hour", "daily"]
LEAN_CLOCKS = {"oanda": "UTC", "fxcm": "-05:00"}
LEAN_BAR_SECONDS = {"minute": 60, "hour": 3600, "daily": 86400}
_DAY_FILE = re.compile(r"^(\d{8})_quote\.zip$")
_STAMP = re.compile(r"^\d{8} \d{2}:\d{2}$")
_MEMBER_DAY = re.compile(r"^(\d{8})_(?:([A-Za-z0-9]+)_(?:tick|minute)_)?")
_NS = 1_000_000_000


@dataclass(frozen=True)
class LeanLayout:
    """Where a LEAN file sits: market (``oanda``), resolution and symbol (``eurusd``)."""

    market: str
    resolution: LeanResolution
    symbol: str

    @property
    def clock(self) -> str:
        try:
            return LEAN_CLOCKS[self.market]
        except KeyError:
            raise ValueError(
                f"unknown LEAN market {self.market!r}: pass its clock explicitly "
                f"(known: {sorted(LEAN_CLOCKS)})"
            ) from None


def lean_layout(path: str | Path) -> LeanLayout:
    """Read market, resolution and symbol from a LEAN path (``.../forex/oanda/hour/eurusd.zip``)."""
    parts = Path(path).parts
    for resolution in ("tick", "minute", "hour", "daily"):
        if resolution in parts:
            i = len(parts) - 1 - parts[::-1].index(resolution)
            if i == 0:
                break
            market = parts[i - 1]
            symbol = parts[i + 1] if resolution in ("tick", "minute") else Path(parts[-1]).stem
            if resolution in ("tick", "minute") and len(parts) <= i + 2:
                break
            return LeanLayout(market.lower(), resolution, symbol.lower())  # type: ignore[arg-type]
    raise ValueError(f"{path}: not a LEAN forex path (.../<market>/<tick|minute|hour|daily>/...)")


def _day_of(path: Path) -> datetime:
    match = _DAY_FILE.match(path.name)
    if not match:
        raise DataFormatError(str(path), None, "expected a file named YYYYMMDD_quote.zip")
    try:
        return datetime.strptime(match.group(1), "%Y%m%d")
    except ValueError as exc:
        raise DataFormatError(str(path), None, f"bad date in the file name: {exc}") from exc


def _check_member_day(path: Path, name: str, day: datetime) -> None:
    """The zip's member (``20140501_eurusd_minute_quote.csv``) names the file's day and pair.

    The rows hold only ms since midnight and prices, so a renamed or misplaced zip would
    otherwise be stamped on the wrong day, or stored as another pair, without any error.
    """
    member = Path(name[len(str(path)) + 1 :]).name
    match = _MEMBER_DAY.match(member)
    if not match:
        return
    if match.group(1) != day.strftime("%Y%m%d"):
        raise DataFormatError(
            str(path),
            None,
            f"the file name says {day:%Y%m%d} but its member {member!r} says {match.group(1)}: "
            "renamed or misplaced? (its rows would be stamped on the wrong day)",
        )
    try:
        folder = lean_layout(path).symbol
    except ValueError:  # not in LEAN's folder layout (the caller passed the clock)
        return
    if match.group(2) and match.group(2).lower() != folder:
        raise DataFormatError(
            str(path),
            None,
            f"the folder says {folder} but its member {member!r} says {match.group(2).lower()}: "
            "misplaced? (its rows would be stored as another pair)",
        )


def _check_member_pair(path: Path, name: str) -> None:
    """An hour / daily zip (``eurusd.zip``) holds ``eurusd.csv``: a renamed copy would be stored
    as the pair in its new name."""
    member = Path(name[len(str(path)) + 1 :]).name
    if member and Path(member).stem.lower() != path.stem.lower():
        raise DataFormatError(
            str(path),
            None,
            f"the file name says {path.stem.lower()} but its member {member!r} says "
            f"{Path(member).stem.lower()}: renamed? (its rows would be stored as another pair)",
        )


def _check_ms(text: str) -> None:
    value = int(text)
    if not 0 <= value < 86_400_000:
        raise ValueError(f"ms since midnight must be in 0..86399999, got {text!r}")


def _check_stamp(text: str) -> None:
    if not _STAMP.match(text):
        raise ValueError(f"timestamp must be 'YYYYMMDD HH:mm', got {text!r}")
    datetime.strptime(text, "%Y%m%d %H:%M")


def _check_size(text: str) -> None:
    check_float(text)
    if float(text) < 0:
        raise ValueError(f"size must be >= 0, got {text!r}")


def _ms_column(name: str, data: bytes, table: pa.Table) -> IntArray:
    ms = np.asarray(table.column("ms").to_numpy(), dtype=np.int64)
    reject_rows(name, data, (ms < 0) | (ms >= 86_400_000), 0, "ms since midnight out of range")
    return ms


def _read_tick_file(path: Path, clock: str) -> QuoteArrays:
    day = _day_of(path)
    name, data = read_source_bytes(path)
    _check_member_day(path, name, day)
    table = read_delimited(
        name,
        data,
        columns=[("ms", pa.int64()), ("bid", pa.float64()), ("ask", pa.float64())],
        checks=[_check_ms, check_finite_positive, check_finite_positive],
    )
    ms = _ms_column(name, data, table)
    bid, ask = float_column(table, "bid"), float_column(table, "ask")
    reject_bad_prices(name, data, [bid, ask], 0, "prices must be finite numbers > 0")
    midnight = int(np.datetime64(day, "ns").astype(np.int64))
    ts = local_to_utc_at_lines(name, data, midnight + ms * 1_000_000, clock, 0)
    zeros = np.zeros(len(ts), dtype=np.float64)
    return QuoteArrays(ts_event=ts, bid=bid, ask=ask, bid_size=zeros, ask_size=zeros.copy())


_BAR_COLUMNS = [
    ("bid_open", pa.float64()),
    ("bid_high", pa.float64()),
    ("bid_low", pa.float64()),
    ("bid_close", pa.float64()),
    ("bid_size", pa.float64()),
    ("ask_open", pa.float64()),
    ("ask_high", pa.float64()),
    ("ask_low", pa.float64()),
    ("ask_close", pa.float64()),
    ("ask_size", pa.float64()),
]
_SIDE_CHECKS: list[FieldCheck] = [
    check_finite_positive,
    check_finite_positive,
    check_finite_positive,
    check_finite_positive,
    _check_size,
]
_BAR_CHECKS = _SIDE_CHECKS + _SIDE_CHECKS


def _read_bar_file(
    path: Path, resolution: LeanResolution, clock: str
) -> tuple[BarArrays, BarArrays]:
    name, data = read_source_bytes(path)
    if resolution == "minute":
        day = _day_of(path)
        _check_member_day(path, name, day)
        table = read_delimited(
            name,
            data,
            columns=[("ms", pa.int64()), *_BAR_COLUMNS],
            checks=[_check_ms, *_BAR_CHECKS],
        )
        ms = _ms_column(name, data, table)
        local = int(np.datetime64(day, "ns").astype(np.int64)) + ms * 1_000_000
    else:
        _check_member_pair(path, name)
        table = read_delimited(
            name,
            data,
            columns=[("stamp", pa.string()), *_BAR_COLUMNS],
            checks=[_check_stamp, *_BAR_CHECKS],
        )
        stamps = table.column("stamp")
        parsed = pc.strptime(stamps, format="%Y%m%d %H:%M", unit="s", error_is_null=True)
        bad = pc.or_(pc.is_null(parsed), pc.not_equal(pc.utf8_length(stamps), 14))
        reject_rows(name, data, bad.to_numpy(zero_copy_only=False), 0, "bad timestamp")
        local = np.asarray(parsed.cast(pa.int64()).to_numpy(), dtype=np.int64) * _NS
    period = LEAN_BAR_SECONDS[resolution] * _NS
    # A bar starts on a whole period (local clock): 00:00:30 in a minute file would be stored
    # as a bar overlapping its neighbours.
    reject_rows(
        name, data, local % period != 0, 0, f"{resolution} bar start not on a whole {resolution}"
    )
    reject_bars_of_another_length(name, local, period)
    start = local_to_utc_at_lines(name, data, local, clock, 0)
    close_ts = start + period
    sides = []
    for side in ("bid", "ask"):
        columns = [float_column(table, f"{side}_{c}") for c in ("open", "high", "low", "close")]
        size = float_column(table, f"{side}_size")
        reject_bad_prices(name, data, columns, 0, f"{side} prices must be finite numbers > 0")
        reject_bad_sizes(name, data, size, 0, f"{side} size must be >= 0")
        o, h, low, c = columns
        sides.append(BarArrays(close_ts.copy(), o, h, low, c, size))
    return sides[0], sides[1]


def _resolve_clock(path: Path, clock: str | None) -> str:
    return check_clock(clock) if clock is not None else lean_layout(path).clock


def read_lean_ticks(
    paths: str | Path | Iterable[str | Path], *, clock: str | None = None
) -> QuoteArrays:
    """Read LEAN quote tick zips (``YYYYMMDD_quote.zip``) into UTC quotes, in file-date order.

    Parameters
    ----------
    paths : path or paths
        Tick zips.
    clock : str, optional
        Data clock; inferred from the market folder (``oanda`` UTC, ``fxcm`` UTC-5) if omitted.

    Raises
    ------
    DataFormatError
        For a malformed row (names the ``zip:member`` and line) or a bad file name.
    """
    files = sorted(input_paths(paths), key=lambda p: p.name)
    return QuoteArrays.concat([_read_tick_file(p, _resolve_clock(p, clock)) for p in files])


def read_lean_bars(
    paths: str | Path | Iterable[str | Path],
    *,
    resolution: LeanResolution | None = None,
    clock: str | None = None,
) -> tuple[BarArrays, BarArrays]:
    """Read LEAN minute / hour / daily quote-bar zips into (BID, ASK) UTC bars stamped at close.

    Parameters
    ----------
    paths : path or paths
        Bar zips of one resolution.
    resolution : {"minute", "hour", "daily"}, optional
        Inferred from the path if omitted.
    clock : str, optional
        Data clock; inferred from the market folder if omitted.

    Raises
    ------
    DataFormatError
        For a malformed row, naming the ``zip:member`` and line.
    """
    files = sorted(input_paths(paths), key=lambda p: p.name)
    bids: list[BarArrays] = []
    asks: list[BarArrays] = []
    for path in files:
        res = resolution or lean_layout(path).resolution
        if res == "tick":
            raise ValueError(f"{path} holds ticks; use read_lean_ticks")
        bid, ask = _read_bar_file(path, res, _resolve_clock(path, clock))
        bids.append(bid)
        asks.append(ask)
    return BarArrays.concat(bids), BarArrays.concat(asks)
