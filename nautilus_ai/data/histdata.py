"""HistData.com ASCII files: 1-minute bars (``DAT_ASCII_*_M1_*``) and ticks (``DAT_ASCII_*_T_*``).

Formats (no header):

* M1: ``YYYYMMDD HHMMSS;open;high;low;close;volume``, BID prices, bar-START times, volume 0.
* Ticks: ``YYYYMMDD HHMMSSfff,bid,ask,volume``, volume 0.

Clock: the files are stamped in New York local time WITH daylight saving, whatever HistData's
site says ("EST without DST"). This was measured on the 2017 EURUSD files against two UTC sources:
UTC-5 until 2017-03-12, UTC-4 after (see the shared data README). The clock is a parameter so a
file that really is fixed EST can be read with ``clock="-05:00"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nautilus_ai.data.arrays import BarArrays, IntArray, QuoteArrays
from nautilus_ai.data.errors import DataFormatError
from nautilus_ai.data.textio import (
    check_finite_positive,
    check_float,
    float_column,
    input_paths,
    line_of_row,
    local_to_utc_at_lines,
    read_delimited,
    read_source_bytes,
    reject_bad_prices,
    reject_bad_sizes,
    reject_bars_of_another_length,
    reject_rows,
    sorted_by_first_timestamp,
)

__all__ = ["HISTDATA_CLOCK", "histdata_m1_files", "read_histdata_m1", "read_histdata_ticks"]

HISTDATA_CLOCK = "America/New_York"

_M1_STAMP = re.compile(r"^\d{8} \d{6}$")
_TICK_STAMP = re.compile(r"^\d{8} \d{9}$")


def _check_m1_stamp(text: str) -> None:
    if not _M1_STAMP.match(text):
        raise ValueError(f"timestamp must be 'YYYYMMDD HHMMSS', got {text!r}")
    datetime.strptime(text, "%Y%m%d %H%M%S")


def _check_tick_stamp(text: str) -> None:
    if not _TICK_STAMP.match(text):
        raise ValueError(f"timestamp must be 'YYYYMMDD HHMMSSfff', got {text!r}")
    datetime.strptime(text[:15], "%Y%m%d %H%M%S")


def _check_volume(text: str) -> None:
    check_float(text)
    if float(text) < 0:
        raise ValueError(f"volume must be >= 0, got {text!r}")


def histdata_m1_files(
    data_dir: str | Path | None = None, pattern: str = "DAT_ASCII_EURUSD_M1_2017*.csv"
) -> list[Path]:
    """The HistData M1 files in the market data folder (default: the demo's six 2017 months).

    ``data_dir`` defaults to :func:`nautilus_ai.paths.shared_data_dir` (``$NAUTILUS_AI_DATA``).

    Raises
    ------
    FileNotFoundError
        If no file matches, naming the folder and pattern.
    """
    from nautilus_ai.paths import shared_data_dir

    folder = shared_data_dir(data_dir) / "histdata"
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no HistData files matching {pattern!r} in {folder}")
    return files


def _parse_seconds(
    name: str, data: bytes, stamps: pa.ChunkedArray, width: int, fmt: str
) -> IntArray:
    """Wall-clock seconds from fixed-width stamp strings; a bad one raises naming its line."""
    head = pc.utf8_slice_codeunits(stamps, 0, 15)
    parsed = pc.strptime(head, format=fmt, unit="s", error_is_null=True)
    bad = pc.or_(pc.is_null(parsed), pc.not_equal(pc.utf8_length(stamps), width))
    bad_np = bad.to_numpy(zero_copy_only=False)
    if bad_np.any():
        row = int(np.flatnonzero(bad_np)[0])
        raise DataFormatError(
            name, line_of_row(data, row, 0), f"bad timestamp {stamps[row].as_py()!r}"
        )
    return np.asarray(parsed.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _read_m1_file(path: Path, clock: str, bar_seconds: int) -> BarArrays:
    name, data = read_source_bytes(path)
    checks = [
        _check_m1_stamp,
        check_finite_positive,
        check_finite_positive,
        check_finite_positive,
        check_finite_positive,
        _check_volume,
    ]
    table = read_delimited(
        name,
        data,
        columns=[
            ("stamp", pa.string()),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume", pa.float64()),
        ],
        checks=checks,
        delimiter=";",
    )
    seconds = _parse_seconds(name, data, table.column("stamp"), 15, "%Y%m%d %H%M%S")
    prices = [float_column(table, c) for c in ("open", "high", "low", "close")]
    volume = float_column(table, "volume")
    reject_bad_prices(name, data, prices, 0, "prices must be finite numbers > 0")
    reject_bad_sizes(name, data, volume, 0, "volume must be >= 0")
    # An M1 bar starts on the minute; 02:00:30 would be stored as a bar overlapping its
    # neighbours.
    reject_rows(
        name, data, seconds % bar_seconds != 0, 0, f"bar start not on a whole {bar_seconds} s"
    )
    reject_bars_of_another_length(name, seconds * 1_000_000_000, bar_seconds * 1_000_000_000)
    start_utc = local_to_utc_at_lines(name, data, seconds * 1_000_000_000, clock, 0)
    return BarArrays(
        ts_event=start_utc + bar_seconds * 1_000_000_000,
        open=prices[0],
        high=prices[1],
        low=prices[2],
        close=prices[3],
        volume=volume,
    )


def read_histdata_m1(
    paths: str | Path | Iterable[str | Path],
    *,
    clock: str = HISTDATA_CLOCK,
    bar_seconds: int = 60,
) -> BarArrays:
    """Read HistData ASCII 1-minute bar files into UTC bars stamped at their CLOSE.

    Parameters
    ----------
    paths : path or iterable of paths
        One or more ``DAT_ASCII_<SYM>_M1_<YYYYMM>.csv`` files (a ``.zip`` holding one is fine).
    clock : str
        The files' clock (default New York local time with DST, as measured).
    bar_seconds : int
        Bar length; ``ts_event`` = bar start in UTC + ``bar_seconds``.

    Returns
    -------
    BarArrays
        Files are concatenated in order of their first timestamp; rows keep file order (run
        :func:`nautilus_ai.data.validate_bars` to find duplicates or out-of-order rows).

    Raises
    ------
    DataFormatError
        For a malformed row: names the file and the line.
    """
    parts = [_read_m1_file(p, clock, bar_seconds) for p in input_paths(paths)]
    return BarArrays.concat(sorted_by_first_timestamp(parts))


def _read_tick_file(path: Path, clock: str) -> QuoteArrays:
    name, data = read_source_bytes(path)
    checks = [_check_tick_stamp, check_finite_positive, check_finite_positive, _check_volume]
    table = read_delimited(
        name,
        data,
        columns=[
            ("stamp", pa.string()),
            ("bid", pa.float64()),
            ("ask", pa.float64()),
            ("volume", pa.float64()),
        ],
        checks=checks,
        delimiter=",",
    )
    stamps = table.column("stamp")
    seconds = _parse_seconds(name, data, stamps, 18, "%Y%m%d %H%M%S")
    millis_text = pc.utf8_slice_codeunits(stamps, 15, 18)
    millis = millis_text.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    bid = float_column(table, "bid")
    ask = float_column(table, "ask")
    volume = float_column(table, "volume")
    reject_bad_prices(name, data, [bid, ask], 0, "prices must be finite numbers > 0")
    reject_bad_sizes(name, data, volume, 0, "volume must be >= 0")
    local_ns = seconds * 1_000_000_000 + millis * 1_000_000
    ts = local_to_utc_at_lines(name, data, local_ns, clock, 0)
    # HistData gives one volume column (always 0): it is not split by side, so both sides get it.
    return QuoteArrays(ts_event=ts, bid=bid, ask=ask, bid_size=volume, ask_size=volume.copy())


def read_histdata_ticks(
    paths: str | Path | Iterable[str | Path], *, clock: str = HISTDATA_CLOCK
) -> QuoteArrays:
    """Read HistData ASCII tick files (``YYYYMMDD HHMMSSfff,bid,ask,volume``) into UTC quotes.

    Parameters
    ----------
    paths : path or iterable of paths
        ``DAT_ASCII_<SYM>_T_<YYYYMM>*.csv`` files (or zips holding one).
    clock : str
        The files' clock (default New York local time with DST).

    Raises
    ------
    DataFormatError
        For a malformed row: names the file and the line.
    """
    parts = [_read_tick_file(p, clock) for p in input_paths(paths)]
    return QuoteArrays.concat(sorted_by_first_timestamp(parts))
