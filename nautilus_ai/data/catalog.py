"""Nautilus glue: write columnar bars / quotes straight into a ``ParquetDataCatalog`` layout.

Nautilus' own ``catalog.write_data`` wants a list of Python objects and serialises them one
call at a time (~30k bars/s here); this module builds the identical Arrow table (128-bit
fixed-point price columns, the same schema metadata) directly from numpy arrays and writes it
where the catalog looks (``data/bar/<bar type>/<start>_<end>.parquet``), at millions of rows per
second. ``tests/integration/data`` reads every such file back through ``catalog.query`` and
compares it with what ``write_data`` would have produced.

Writes are idempotent and never lose stored data outside the new range: rows already stored for
the same bar type / instrument inside ``[first ts_init, last ts_init]`` of the new data are
replaced by it (re-importing a file is a no-op in effect), rows outside it are kept. New files are
written under a temporary name and renamed into place before the old ones are removed, so an
interrupted write can leave a duplicate but never a hole.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import FIXED_PRECISION
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.catalog.parquet import (
    _parse_filename_timestamps,
    _timestamps_to_filename,
)

from nautilus_ai.data.arrays import BarArrays, FloatArray, IntArray, QuoteArrays

__all__ = [
    "CatalogInfo",
    "DataSetInfo",
    "WriteResult",
    "catalog_info",
    "fixed_point_column",
    "fixed_point_to_float",
    "int128_times_power_of_ten",
    "read_bars",
    "write_bars",
    "write_instrument",
    "write_quotes",
]

# Nautilus' catalog default; query speed depends on it, so keep the same.
_ROW_GROUP_SIZE = 5_000
_TMP_SUFFIX = ".tmp-nautilus-ai"


@dataclass(frozen=True)
class WriteResult:
    """What one write did.

    Parameters
    ----------
    identifier : str
        Bar type or instrument id written.
    path : str
        The parquet file now holding the new rows.
    rows_written : int
        Rows in the new file.
    rows_replaced : int
        Rows that were already stored inside the new range and were replaced.
    start_ns, end_ns : int
        First and last ``ts_init`` written (UTC ns).
    """

    identifier: str
    path: str
    rows_written: int
    rows_replaced: int
    start_ns: int
    end_ns: int


def fixed_point_column(
    values: FloatArray, precision: int, what: str, *, exact: bool
) -> pa.FixedSizeBinaryArray:
    """Encode floats as Nautilus 128-bit fixed-point raw values (``fixed_size_binary[16]``).

    Parameters
    ----------
    values : ndarray of float64
        Prices or sizes.
    precision : int
        Decimals to keep.
    what : str
        Column name for error messages.
    exact : bool
        If True (prices), a value with more decimals than ``precision`` raises instead of being
        rounded: a real price must never change silently. If False (sizes), values are rounded
        half-to-even.
    """
    if not 0 <= precision <= FIXED_PRECISION:
        raise ValueError(f"{what}: precision must be in 0..{FIXED_PRECISION}, got {precision}")
    scaled = values * (10.0**precision)
    points = np.rint(scaled)
    if not np.all(np.isfinite(points)):
        row = int(np.flatnonzero(~np.isfinite(points))[0])
        raise ValueError(f"{what}: row {row} is not finite ({values[row]})")
    if exact and len(points):
        # Float parsing leaves ~1e-16 relative noise; a real extra decimal is >= 0.1 point.
        tolerance = 1e-6 + 1e-9 * float(np.max(np.abs(points)))
        off = np.abs(scaled - points) > tolerance
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise ValueError(
                f"{what}: row {row} value {values[row]!r} has more than {precision} decimals"
            )
    if np.any(np.abs(points) >= 2.0**62):
        raise ValueError(f"{what}: value out of range for fixed-point precision {precision}")
    words = int128_times_power_of_ten(points.astype(np.int64), FIXED_PRECISION - precision)
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(points), [None, pa.py_buffer(words)]
    )


_LOW32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def int128_times_power_of_ten(points: IntArray, shift: int) -> IntArray:
    """``points * 10**shift`` as little-endian two's-complement int128: an ``(n, 2)`` int64
    array of (low word, high word), which is Nautilus' raw fixed-point layout.

    Vectorised schoolbook multiply on 32-bit limbs (numpy has no int128); ``shift`` <= 18.
    """
    if not 0 <= shift <= 18:
        raise ValueError(f"shift must be in 0..18, got {shift}")
    factor = 10**shift
    words = np.empty((len(points), 2), dtype=np.int64)
    largest = int(np.max(np.abs(points))) if len(points) else 0
    if largest * factor < 2**63:
        # Common case (every FX price): the product fits in int64; the high word is the sign.
        raw = points * np.int64(factor)
        words[:, 0] = raw
        words[:, 1] = raw >> 63
        return words
    if shift and largest * 5**shift < 2**63:
        # 10**s = 5**s * 2**s: multiply by 5**s in int64, then shift the 128-bit value left by
        # s bits (sizes of a few million units at precision 0 take this path).
        scaled = points * np.int64(5**shift)
        words[:, 0] = (scaled.view(np.uint64) << np.uint64(shift)).view(np.int64)
        words[:, 1] = scaled >> np.int64(64 - shift)
        return words
    m_low, m_high = np.uint64(factor & 0xFFFFFFFF), np.uint64(factor >> 32)
    negative = points < 0
    x = np.abs(points).astype(np.uint64)
    x_low, x_high = x & _LOW32, x >> _32
    p0 = x_low * m_low
    p1 = x_high * m_low
    p2 = x_low * m_high
    p3 = x_high * m_high
    middle = (p0 >> _32) + (p1 & _LOW32) + (p2 & _LOW32)
    low = (p0 & _LOW32) | ((middle & _LOW32) << _32)
    high = p3 + (p1 >> _32) + (p2 >> _32) + (middle >> _32)
    if negative.any():
        neg_low = ~low + np.uint64(1)
        neg_high = ~high + (neg_low == 0).astype(np.uint64)
        low = np.where(negative, neg_low, low)
        high = np.where(negative, neg_high, high)
    words[:, 0] = low.view(np.int64)
    words[:, 1] = high.view(np.int64)
    return words


def _timestamps(ts: IntArray, what: str, *, strict: bool) -> pa.Array:
    if len(ts) == 0:
        raise ValueError(f"{what}: nothing to write (0 rows)")
    step = np.diff(ts)
    bad = step <= 0 if strict else step < 0
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        order = "strictly increasing" if strict else "non-decreasing"
        raise ValueError(
            f"{what}: timestamps must be {order}; row {row} ({ts[row]}) follows {ts[row - 1]}. "
            "Validate with a 'drop' policy for duplicates / out-of-order rows first."
        )
    if ts[0] < 0:
        raise ValueError(f"{what}: negative timestamp {ts[0]}")
    return pa.array(ts.astype(np.uint64), type=pa.uint64())


def _bars_table(instrument: Instrument, bar_type: BarType, arrays: BarArrays) -> pa.Table:
    what = str(bar_type)
    bad = (
        (arrays.high < arrays.low)
        | (arrays.high < np.maximum(arrays.open, arrays.close))
        | (arrays.low > np.minimum(arrays.open, arrays.close))
    )
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}: bar {row} is not OHLC-consistent (o={arrays.open[row]} h={arrays.high[row]} "
            f"l={arrays.low[row]} c={arrays.close[row]}); drop it in validation first"
        )
    if np.any(arrays.volume < 0):
        raise ValueError(f"{what}: negative volume at row {int(np.argmax(arrays.volume < 0))}")
    ts = _timestamps(arrays.ts_event, what, strict=True)
    pp, sp = instrument.price_precision, instrument.size_precision
    fields = [
        ("open", fixed_point_column(arrays.open, pp, f"{what} open", exact=True)),
        ("high", fixed_point_column(arrays.high, pp, f"{what} high", exact=True)),
        ("low", fixed_point_column(arrays.low, pp, f"{what} low", exact=True)),
        ("close", fixed_point_column(arrays.close, pp, f"{what} close", exact=True)),
        ("volume", fixed_point_column(arrays.volume, sp, f"{what} volume", exact=False)),
    ]
    metadata = {"bar_type": what, "instrument_id": str(bar_type.instrument_id)}
    return _table(fields, ts, metadata, pp, sp)


def _quotes_table(instrument: Instrument, arrays: QuoteArrays) -> pa.Table:
    what = str(instrument.id)
    if np.any(arrays.bid_size < 0) or np.any(arrays.ask_size < 0):
        raise ValueError(f"{what}: negative quote size")
    ts = _timestamps(arrays.ts_event, what, strict=False)
    pp, sp = instrument.price_precision, instrument.size_precision
    fields = [
        ("bid_price", fixed_point_column(arrays.bid, pp, f"{what} bid", exact=True)),
        ("ask_price", fixed_point_column(arrays.ask, pp, f"{what} ask", exact=True)),
        ("bid_size", fixed_point_column(arrays.bid_size, sp, f"{what} bid_size", exact=False)),
        ("ask_size", fixed_point_column(arrays.ask_size, sp, f"{what} ask_size", exact=False)),
    ]
    return _table(fields, ts, {"instrument_id": what}, pp, sp)


def _table(
    fields: list[tuple[str, pa.Array]],
    ts: pa.Array,
    metadata: dict[str, str],
    price_precision: int,
    size_precision: int,
) -> pa.Table:
    """The value columns, then ``ts_event`` = ``ts_init`` = ``ts``; no nulls; precisions stored."""
    columns = [*fields, ("ts_event", ts), ("ts_init", ts)]
    schema = pa.schema(
        [pa.field(name, column.type, nullable=False) for name, column in columns],
        metadata={
            **metadata,
            "price_precision": str(price_precision),
            "size_precision": str(size_precision),
        },
    )
    return pa.Table.from_arrays([c for _, c in columns], schema=schema)


def _write_parquet(table: pa.Table, path: Path) -> None:
    # Dictionary-encode the price / size columns (few distinct values) but not the timestamps,
    # and keep min/max statistics for the timestamps only: ~35% faster than pyarrow's defaults
    # and a smaller file. Queries filter on ts_init, whose statistics are kept.
    values = [n for n in table.column_names if not n.startswith("ts_")]
    stamps = [n for n in table.column_names if n.startswith("ts_")]
    pq.write_table(
        table,
        path,
        row_group_size=_ROW_GROUP_SIZE,
        use_dictionary=values,
        write_statistics=stamps,
    )


def _write_replacing_range(directory: Path, table: pa.Table, identifier: str) -> WriteResult:
    """Write ``table`` as one file; rows already stored inside its range are replaced."""
    ts_init = table.column("ts_init")
    start, end = int(pc.min(ts_init).as_py()), int(pc.max(ts_init).as_py())
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / _timestamps_to_filename(start, end)
    token = uuid.uuid4().hex[:8]

    staged: list[tuple[Path, Path]] = []  # (temporary, final)
    obsolete: list[Path] = []
    replaced = 0
    for existing in sorted(directory.glob("*.parquet")):
        interval = _parse_filename_timestamps(str(existing))
        if interval is None or interval[1] < start or interval[0] > end:
            continue
        if start <= interval[0] and interval[1] <= end:
            # Entirely inside the new range: every row is replaced, no need to read it.
            replaced += pq.ParquetFile(existing).metadata.num_rows
            if existing != final:
                obsolete.append(existing)
            continue
        old = pq.read_table(existing)
        old_ts = old.column("ts_init").to_numpy()
        inside = (old_ts >= start) & (old_ts <= end)
        replaced += int(inside.sum())
        for keep in (old_ts < start, old_ts > end):
            if keep.any():
                part = old.filter(pa.array(keep))
                part_ts = part.column("ts_init").to_numpy()
                name = _timestamps_to_filename(int(part_ts[0]), int(part_ts[-1]))
                staged.append((directory / f"{name}.{token}{_TMP_SUFFIX}", directory / name))
                _write_parquet(part, staged[-1][0])
        if existing != final:
            obsolete.append(existing)

    tmp = directory / f"{final.name}.{token}{_TMP_SUFFIX}"
    _write_parquet(table, tmp)
    os.replace(tmp, final)  # atomic; replaces a same-range file from an earlier import
    for tmp_part, final_part in staged:
        os.replace(tmp_part, final_part)
    for path in obsolete:
        if all(path != f for _, f in staged):
            path.unlink()
    return WriteResult(
        identifier=identifier,
        path=str(final),
        rows_written=table.num_rows,
        rows_replaced=replaced,
        start_ns=start,
        end_ns=end,
    )


def _catalog_dir(catalog_path: str | os.PathLike[str], data_cls: type, identifier: str) -> Path:
    catalog = ParquetDataCatalog(str(Path(catalog_path).resolve()))
    return Path(catalog._make_path(data_cls, identifier))


def write_instrument(catalog_path: str | os.PathLike[str], instrument: Instrument) -> None:
    """Write (or overwrite) the instrument definition in the catalog."""
    Path(catalog_path).mkdir(parents=True, exist_ok=True)
    ParquetDataCatalog(str(Path(catalog_path).resolve())).write_data([instrument])


def write_bars(
    catalog_path: str | os.PathLike[str],
    instrument: Instrument,
    bar_type: BarType | str,
    arrays: BarArrays,
) -> WriteResult:
    """Write bars of one bar type to the catalog (idempotent; see the module docstring).

    Parameters
    ----------
    catalog_path : path
        Catalog root (created if missing).
    instrument : Instrument
        Gives the price / size precision; its id must match the bar type's.
    bar_type : BarType or str
        For example ``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"``.
    arrays : BarArrays
        Bars with ``ts_event`` = close time, strictly increasing; ``ts_init = ts_event``.

    Raises
    ------
    ValueError
        Unsorted / duplicate timestamps, OHLC-inconsistent bars, a price with more decimals than
        the instrument's precision, or a bar type for another instrument.
    """
    bar_type = BarType.from_str(bar_type) if isinstance(bar_type, str) else bar_type
    if bar_type.instrument_id != instrument.id:
        raise ValueError(f"bar type {bar_type} is not for instrument {instrument.id}")
    table = _bars_table(instrument, bar_type, arrays)
    directory = _catalog_dir(catalog_path, Bar, str(bar_type))
    return _write_replacing_range(directory, table, str(bar_type))


def write_quotes(
    catalog_path: str | os.PathLike[str], instrument: Instrument, arrays: QuoteArrays
) -> WriteResult:
    """Write quote ticks of one instrument to the catalog (idempotent; see the module docstring).

    ``arrays`` must be sorted by time (equal timestamps allowed: real feeds repeat them).
    """
    table = _quotes_table(instrument, arrays)
    directory = _catalog_dir(catalog_path, QuoteTick, str(instrument.id))
    return _write_replacing_range(directory, table, str(instrument.id))


@dataclass(frozen=True)
class DataSetInfo:
    """One stored series: data type directory, identifier, files, rows and time range (UTC ns)."""

    data_type: str
    identifier: str
    files: int
    rows: int
    first_ns: int | None
    last_ns: int | None
    overlapping_files: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "data_type": self.data_type,
            "identifier": self.identifier,
            "files": self.files,
            "rows": self.rows,
            "first": _iso(self.first_ns),
            "last": _iso(self.last_ns),
            "overlapping_files": self.overlapping_files,
        }


@dataclass(frozen=True)
class CatalogInfo:
    """What a catalog holds (read from file names and Parquet footers; no data is loaded)."""

    path: str
    instruments: tuple[str, ...]
    datasets: tuple[DataSetInfo, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "instruments": list(self.instruments),
            "data": [d.to_dict() for d in self.datasets],
        }

    def to_text(self) -> str:
        lines = [f"catalog {self.path}", f"  instruments: {', '.join(self.instruments) or '-'}"]
        for d in self.datasets:
            warn = "  OVERLAPPING FILES" if d.overlapping_files else ""
            span = f"{_iso(d.first_ns)} .. {_iso(d.last_ns)}  " if d.first_ns is not None else ""
            lines.append(
                f"  {d.data_type:<14} {d.identifier:<36} {d.rows:>10} rows  "
                f"{span}({d.files} file(s)){warn}"
            )
        return "\n".join(lines)


# Directories holding time series; anything else (currency_pair, ...) holds definitions.
_TIMESERIES_TYPES = ("bar", "quote_tick", "trade_tick", "order_book_delta", "order_book_depth10")


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return str(np.datetime64(int(ns), "ns"))[:23] + "Z"


def catalog_info(catalog_path: str | os.PathLike[str]) -> CatalogInfo:
    """Summarise a catalog: instruments, and per data type and identifier the row count, the
    first / last ``ts_init`` and whether any files overlap (which a reader would double count).

    Raises
    ------
    FileNotFoundError
        If ``catalog_path`` does not exist.
    """
    root = Path(catalog_path)
    if not root.is_dir():
        raise FileNotFoundError(f"no catalog at {root}")
    catalog = ParquetDataCatalog(str(root.resolve()))
    instruments = tuple(sorted(str(i.id) for i in catalog.instruments()))
    by_dir = {i.replace("/", ""): i for i in instruments}
    datasets: list[DataSetInfo] = []
    data_dir = root / "data"
    for type_dir in sorted(p for p in data_dir.glob("*") if p.is_dir()):
        for id_dir in sorted(p for p in type_dir.glob("*") if p.is_dir()):
            files = sorted(id_dir.glob("*.parquet"))
            if not files:
                continue
            intervals = sorted(
                i for i in (_parse_filename_timestamps(str(f)) for f in files) if i is not None
            )
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            overlapping = any(b[0] <= a[1] for a, b in itertools.pairwise(intervals))
            identifier = id_dir.name
            meta = pq.read_schema(files[0]).metadata or {}
            if type_dir.name == "bar" and b"bar_type" in meta:
                identifier = meta[b"bar_type"].decode()
            elif b"instrument_id" in meta:
                identifier = meta[b"instrument_id"].decode()
            elif identifier in by_dir:
                identifier = by_dir[identifier]
            is_definition = type_dir.name not in _TIMESERIES_TYPES
            datasets.append(
                DataSetInfo(
                    data_type=type_dir.name,
                    identifier=identifier,
                    files=len(files),
                    rows=rows,
                    first_ns=intervals[0][0] if intervals and not is_definition else None,
                    last_ns=max(i[1] for i in intervals)
                    if intervals and not is_definition
                    else None,
                    overlapping_files=overlapping and not is_definition,
                )
            )
    return CatalogInfo(path=str(root), instruments=instruments, datasets=tuple(datasets))


def fixed_point_to_float(column: pa.Array | pa.ChunkedArray, what: str) -> FloatArray:
    """Decode Nautilus 128-bit fixed-point raw values to float64, exactly as ``as_double()``.

    ``Price.as_double()`` is ``raw as f64 / 10**FIXED_PRECISION``. Values that fit in 64 bits
    (every FX price) are converted in one vectorised step; the others (e.g. sizes of millions
    of units at 16 decimals) go through Python's exact int -> float rounding, row by row, which
    is what Rust's ``i128 as f64`` does too.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.zeros(0, dtype=np.float64)
    if array.null_count:
        raise ValueError(f"{what}: {array.null_count} null values")
    raw = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    raw = raw[16 * array.offset : 16 * (array.offset + len(array))]
    words = raw.view("<i8").reshape(-1, 2)
    low, high = words[:, 0], words[:, 1]
    scale = float(10**FIXED_PRECISION)
    values: FloatArray = low.astype(np.float64) / scale
    wide = np.flatnonzero(high != (low >> 63))
    if wide.size:
        rows = raw.reshape(-1, 16)
        for i in wide.tolist():
            values[i] = float(int.from_bytes(rows[i].tobytes(), "little", signed=True)) / scale
    return values


def read_bars(
    catalog_path: str | os.PathLike[str],
    bar_type: BarType | str,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> BarArrays:
    """Read one bar type from the catalog as arrays, sorted by ``ts_init`` (the fast path).

    Equal, value for value, to ``catalog.bars([bar_type])`` unwrapped with ``as_double()`` (a
    test checks it on the demo catalog), at a fraction of the cost: no ``Bar`` objects.

    Raises
    ------
    FileNotFoundError
        The catalog holds no bars of that type.
    """
    bar_type = BarType.from_str(bar_type) if isinstance(bar_type, str) else bar_type
    directory = _catalog_dir(catalog_path, Bar, str(bar_type))
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no bars of type {bar_type} in catalog {catalog_path}")
    table = pa.concat_tables([pq.read_table(f) for f in files])
    ts_init = table.column("ts_init").to_numpy().astype(np.int64)
    order = np.argsort(ts_init, kind="stable")
    ts_event = table.column("ts_event").to_numpy().astype(np.int64)[order]
    keep = np.ones(len(order), dtype=bool)
    if start_ns is not None:
        keep &= ts_event >= start_ns
    if end_ns is not None:
        keep &= ts_event <= end_ns
    columns = {
        name: fixed_point_to_float(table.column(name), f"{bar_type} {name}")[order][keep]
        for name in ("open", "high", "low", "close", "volume")
    }
    return BarArrays(ts_event=ts_event[keep], **columns)
