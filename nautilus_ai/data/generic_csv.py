"""Any delimited text file of bars or quotes, described by a typed :class:`CsvSpec`.

A spec names the columns (by header name, or by 0-based index for header-less files), the
timestamp format and clock, and whether a bar's timestamp is its start or end. Presets cover the
shared fixtures (Dukascopy CSV export, NautilusTrader's FXCM bars and TrueFX ticks).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nautilus_ai.config_check import FieldValueError, check, construct
from nautilus_ai.data.arrays import BarArrays, FloatArray, IntArray, QuoteArrays
from nautilus_ai.data.clocks import check_clock
from nautilus_ai.data.errors import DataFormatError
from nautilus_ai.data.textio import (
    FieldCheck,
    check_finite_positive,
    check_float,
    first_line,
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

__all__ = ["CSV_PRESETS", "CsvSpec", "read_csv_bars", "read_csv_quotes"]

Column = str | int
_UNIX = {"unix_s": 1_000_000_000, "unix_ms": 1_000_000, "unix_us": 1_000, "unix_ns": 1}


def _accept(_: str) -> None:
    return None


@dataclass(frozen=True)
class CsvSpec:
    """How to read one CSV layout.

    Parameters
    ----------
    kind : {"bars", "quotes"}
        What the rows are.
    timestamp : str or int
        Timestamp column (header name, or 0-based index when ``header`` is False).
    timestamp_format : str
        A strptime pattern (``"%Y-%m-%d %H:%M:%S"``; literal text such as ``.000`` allowed),
        ``"iso8601"`` (fractional seconds and ``+HH:MM`` offsets allowed; an offset overrides
        ``clock``), or ``"unix_s"`` / ``"unix_ms"`` / ``"unix_us"`` / ``"unix_ns"`` (UTC; a
        fraction such as ``1486000000.5`` is read to the ns; a count outside 1971 - 2099 in
        its unit is refused as the wrong unit).
    clock : str
        Clock of naive timestamps: ``"UTC"``, an IANA zone, or ``"-05:00"`` (not with ``%z``
        or unix formats: their stamps carry their own).
    delimiter : str
        One character.
    header : bool
        Whether the first line is a header.
    open, high, low, close, volume : str or int, optional
        Bar columns (``volume`` optional: 0 when absent).
    bar_seconds : int, optional
        Bar length (required for bars).
    timestamp_is : {"start", "end"}
        Whether a bar's timestamp marks its start or its end (Nautilus stamps the end).

    A file whose rows run newest first (every timestamp at or before the one above it) is read
    oldest first.
    bid, ask, bid_size, ask_size : str or int, optional
        Quote columns (sizes optional: 0 when absent).
    """

    kind: Literal["bars", "quotes"]
    timestamp: Column
    timestamp_format: str
    clock: str = "UTC"
    delimiter: str = ","
    header: bool = True
    open: Column | None = None
    high: Column | None = None
    low: Column | None = None
    close: Column | None = None
    volume: Column | None = None
    bar_seconds: int | None = None
    timestamp_is: Literal["start", "end"] = "start"
    bid: Column | None = None
    ask: Column | None = None
    bid_size: Column | None = None
    ask_size: Column | None = None

    def __post_init__(self) -> None:
        # FieldValueError names the field, so a spec file's error gives its key.
        if self.kind not in ("bars", "quotes"):
            raise FieldValueError(
                "kind", f"CsvSpec.kind must be 'bars' or 'quotes', got {self.kind!r}"
            )
        if not isinstance(self.delimiter, str) or len(self.delimiter) != 1:
            raise FieldValueError(
                "delimiter", f"CsvSpec.delimiter must be one character, got {self.delimiter!r}"
            )
        try:
            check_clock(self.clock)
        except ValueError as exc:
            raise FieldValueError("clock", str(exc)) from None
        if self.timestamp_is not in ("start", "end"):
            raise FieldValueError(
                "timestamp_is", f"CsvSpec.timestamp_is must be start|end, got {self.timestamp_is!r}"
            )
        fmt = self.timestamp_format
        if fmt not in _UNIX and fmt != "iso8601" and "%" not in fmt:
            raise FieldValueError(
                "timestamp_format",
                "CsvSpec.timestamp_format must be a strptime pattern, 'iso8601' or unix_s|ms|us|ns,"
                f" got {fmt!r}",
            )
        if "%f" in fmt:
            raise FieldValueError(
                "timestamp_format",
                "CsvSpec.timestamp_format: %f is not supported; use 'iso8601' for fractional "
                "seconds, or a literal such as '.000'",
            )
        if "%z" in fmt and self.clock != "UTC":
            # Arrow applies each stamp's offset; the clock was then applied on top (a +0100
            # stamp read with clock America/New_York landed 5 h late, without a word).
            raise FieldValueError(
                "clock",
                f"CsvSpec.clock {self.clock!r} would be applied on top of each timestamp's own "
                "offset (%z in timestamp_format): leave clock out",
            )
        if fmt in _UNIX and self.clock != "UTC":
            raise FieldValueError(
                "clock",
                f"CsvSpec.clock {self.clock!r} would be ignored: {fmt} timestamps count from "
                "the epoch in UTC (leave clock out)",
            )
        self._refuse_fields_of_the_other_kind()
        required = ("open", "high", "low", "close") if self.kind == "bars" else ("bid", "ask")
        for name in required:
            if getattr(self, name) is None:
                raise FieldValueError(name, f"CsvSpec.{name} is required for {self.kind}")
        if self.kind == "bars" and (
            not isinstance(self.bar_seconds, int)
            or isinstance(self.bar_seconds, bool)
            or self.bar_seconds <= 0
        ):
            raise FieldValueError(
                "bar_seconds", f"CsvSpec.bar_seconds must be > 0 for bars, got {self.bar_seconds}"
            )
        for name in self._column_fields():
            value = getattr(self, name)
            if value is None:
                continue
            if self.header and not isinstance(value, str):
                raise FieldValueError(name, f"CsvSpec.{name} must be a header name, got {value!r}")
            if not self.header and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise FieldValueError(
                    name, f"CsvSpec.{name} must be a 0-based column index, got {value!r}"
                )

    def _refuse_fields_of_the_other_kind(self) -> None:
        """A bar field in a quote spec (or the reverse) was read by nothing, without a word."""
        bars = ("open", "high", "low", "close", "volume", "bar_seconds")
        other = ("bid", "ask", "bid_size", "ask_size") if self.kind == "bars" else bars
        for name in other:
            if getattr(self, name) is not None:
                raise FieldValueError(
                    name,
                    f"CsvSpec.{name} is not read for kind {self.kind!r} (it would be ignored): "
                    f"remove it, or did you mean kind "
                    f"{'quotes' if self.kind == 'bars' else 'bars'!r}?",
                )
        if self.kind == "quotes" and self.timestamp_is != "start":
            raise FieldValueError(
                "timestamp_is",
                "CsvSpec.timestamp_is is for bars (a tick has one time): it would be ignored",
            )

    @staticmethod
    def _column_fields() -> tuple[str, ...]:
        return (
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "bid",
            "ask",
            "bid_size",
            "ask_size",
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> CsvSpec:
        """Build from plain data (JSON / YAML), strictly (:mod:`nautilus_ai.config_check`).

        Raises
        ------
        ConfigFieldError
            (a ``ValueError``) naming the key: an unknown key (with the nearest valid one), a
            value of the wrong type (``"60"`` is not a number of seconds), or a bad value.
        """
        spec: CsvSpec = construct(cls, check(values, cls))
        return spec


CSV_PRESETS: Mapping[str, CsvSpec] = {
    # Dukascopy CSV export: "DD.MM.YYYY HH:MM:SS.000", UTC, bar start.
    "dukascopy-csv-h1": CsvSpec(
        kind="bars",
        timestamp="Time",
        timestamp_format="%d.%m.%Y %H:%M:%S.000",
        open="Open",
        high="High",
        low="Low",
        close="Close",
        volume="Volume",
        bar_seconds=3600,
    ),
    # NautilusTrader test data: FXCM 1-minute bars, "2012-02-01 00:00:00+00:00".
    "nautilus-fxcm-m1": CsvSpec(
        kind="bars",
        timestamp="timestamp",
        timestamp_format="iso8601",
        open="open",
        high="high",
        low="low",
        close="close",
        bar_seconds=60,
    ),
    # NautilusTrader test data: TrueFX ticks, ISO timestamps with optional fraction and offset.
    "truefx-ticks": CsvSpec(
        kind="quotes", timestamp="timestamp", timestamp_format="iso8601", bid="bid", ask="ask"
    ),
}

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")


def _timestamp_check(spec: CsvSpec) -> FieldCheck:
    fmt = spec.timestamp_format
    if fmt in _UNIX:
        return lambda text: None if _UNIX_TEXT.fullmatch(text) else _fail(text, fmt)
    if fmt == "iso8601":
        return lambda text: None if _ISO.match(text) else _fail(text, fmt)

    def check(text: str) -> None:
        datetime.strptime(text, fmt)

    return check


def _fail(text: str, fmt: str) -> None:
    raise ValueError(f"timestamp {text!r} does not match {fmt!r}")


def _resolve(spec: CsvSpec, names: list[str], name: str) -> int | None:
    value = getattr(spec, name)
    if value is None:
        return None
    if isinstance(value, int):
        if value >= len(names):
            raise ValueError(f"CsvSpec.{name} = {value}, but the file has {len(names)} columns")
        return value
    if value not in names:
        raise ValueError(f"CsvSpec.{name} = {value!r} is not in the header {names}")
    if names.count(value) > 1:  # the first was read, whichever the user meant
        raise ValueError(
            f"CsvSpec.{name} = {value!r} names {names.count(value)} columns of the "
            f"header {names}: which one?"
        )
    return names.index(value)


_UNIX_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
# FX quotes exist from the end of Bretton Woods (1971); a count read in the wrong unit lands far
# outside (ms read as s: year 49,000, past int64 ns; s read as ms: January 1970).
_PLAUSIBLE_NS = (
    int(np.datetime64("1971-01-01", "ns").astype(np.int64)),
    int(np.datetime64("2100-01-01", "ns").astype(np.int64)),
)


def _unix_ns(fmt: str, source: str, data: bytes, text: pa.Array, skip: int) -> IntArray:
    """Counts since the epoch (``1486000000`` or ``1486000000.123``) in unit ``fmt`` -> UTC ns.

    A fraction is read exactly (to the ns). A count that is not a number, or one that lands
    outside 1971 - 2099 in this unit (the wrong unit: it overflowed int64 ns, or read as
    January 1970, without a word), names its line.
    """
    unit = _UNIX[fmt]
    bad = pc.invert(pc.match_substring_regex(text, _UNIX_TEXT.pattern))
    reject_rows(
        source, data, bad.to_numpy(zero_copy_only=False), skip, f"timestamp is not a {fmt} count"
    )
    parts = pc.extract_regex(text, r"^(?P<sign>-?)(?P<whole>\d+)(?:\.(?P<frac>\d+))?$")
    whole_text = pc.struct_field(parts, "whole")
    # Digits past int64 cannot even be parsed: out of range in any unit.
    length = pc.utf8_length(whole_text)
    long = pc.or_(
        pc.greater(length, 19),
        pc.and_(pc.equal(length, 19), pc.greater(whole_text, "9223372036854775807")),
    ).to_numpy(zero_copy_only=False)
    digits = pc.if_else(long, "0", whole_text)
    whole = np.asarray(digits.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    negative = pc.equal(pc.struct_field(parts, "sign"), "-").to_numpy(zero_copy_only=False)
    whole = np.where(negative, -whole, whole)
    approx = whole.astype(np.float64) * unit
    lo, hi = _PLAUSIBLE_NS
    implausible = long | (approx < lo) | (approx >= hi)
    if implausible.any():
        row = int(np.flatnonzero(implausible)[0])
        value = text[row].as_py()
        guess = [
            other
            for other, size in _UNIX.items()
            if not long[row] and lo <= float(whole[row]) * size < hi
        ]
        hint = f": is it {guess[0]}?" if guess else ""
        raise DataFormatError(
            source,
            line_of_row(data, row, skip),
            f"timestamp {value} read as {fmt} is outside 1971 - 2099{hint}",
        )
    frac_text = pc.utf8_slice_codeunits(
        pc.utf8_rpad(pc.fill_null(pc.struct_field(parts, "frac"), ""), width=9, padding="0"),
        0,
        9,
    )
    frac = np.asarray(frac_text.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    return whole * unit + frac * unit // 1_000_000_000  # never negative: 1971 at the earliest


def _parse_timestamps(
    spec: CsvSpec, source: str, data: bytes, column: pa.ChunkedArray, skip: int
) -> IntArray:
    fmt = spec.timestamp_format
    if fmt in _UNIX:
        return _unix_ns(fmt, source, data, column.combine_chunks(), skip)
    if fmt == "iso8601":
        text = column.combine_chunks()
        has_zone = pc.match_substring_regex(text, r"(Z|[+-]\d{2}:?\d{2})$")
        zoned = bool(pc.all(has_zone).as_py()) if len(text) else False
        if not zoned and bool(pc.any(has_zone).as_py()):
            row = int(np.flatnonzero(~has_zone.to_numpy(zero_copy_only=False))[0])
            raise DataFormatError(
                source,
                line_of_row(data, row, skip),
                "timestamp without a UTC offset among zoned ones",
            )
        try:
            target = pa.timestamp("ns", tz="UTC") if zoned else pa.timestamp("ns")
            parsed = text.cast(target)
        except pa.ArrowInvalid as exc:
            # Slow path, only on failure: find the first value Arrow cannot read.
            for row, value in enumerate(text.to_pylist()):
                try:
                    pa.array([value]).cast(target)
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    raise DataFormatError(
                        source, line_of_row(data, row, skip), f"bad timestamp {value!r}"
                    ) from exc
            raise DataFormatError(source, None, f"bad timestamps: {exc}") from exc
        ns = np.asarray(parsed.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        return ns if zoned else local_to_utc_at_lines(source, data, ns, spec.clock, skip)
    parsed = pc.strptime(column, format=fmt, unit="ns", error_is_null=True)
    bad = pc.is_null(parsed).to_numpy(zero_copy_only=False)
    reject_rows(source, data, bad, skip, f"timestamp does not match {fmt!r}")
    ns = np.asarray(parsed.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    return local_to_utc_at_lines(source, data, ns, spec.clock, skip)


def _header_names(spec: CsvSpec, first: str) -> list[str]:
    """The column names of the first line (quotes removed, as Arrow reads the rows), or
    ``"0"``, ``"1"``... for a file without a header."""
    fields = next(csv.reader([first], delimiter=spec.delimiter)) if first else [""]
    if spec.header:
        return [n.strip() for n in fields]
    return [str(i) for i in range(len(fields))]


def _header_hint(spec: CsvSpec, names: list[str], message: str) -> str:
    """``message``, with the likely delimiter when the first line did not split at all."""
    if names == [""]:
        return f"{message}: the first line is empty (an empty file?)"
    if len(names) == 1:
        found = [d for d in ",;\t|" if d != spec.delimiter and d in names[0]]
        if found:
            return (
                f"{message}: the first line has one column for delimiter {spec.delimiter!r}; "
                f"is the delimiter {found[0]!r}?"
            )
    return message


def _read_table(spec: CsvSpec, path: Path) -> tuple[str, bytes, pa.Table, list[str], int]:
    source, data = read_source_bytes(path)
    names = _header_names(spec, first_line(data).decode("utf-8", "replace"))
    prices = {"open", "high", "low", "close", "bid", "ask"}
    checks: list[FieldCheck] = [_accept] * len(names)
    types: list[pa.DataType] = [pa.string()] * len(names)
    for name in CsvSpec._column_fields():
        try:
            index = _resolve(spec, names, name)
        except ValueError as exc:  # the spec and this file's header disagree: name the file
            raise DataFormatError(source, 1, _header_hint(spec, names, str(exc))) from None
        if index is None:
            continue
        if name == "timestamp":
            checks[index] = _timestamp_check(spec)
        else:
            checks[index] = check_finite_positive if name in prices else check_float
            types[index] = pa.float64()
    skip = 1 if spec.header else 0
    table = read_delimited(
        source,
        data,
        columns=[(f"c{i}", t) for i, t in enumerate(types)],
        checks=checks,
        delimiter=spec.delimiter,
        skip_rows=skip,
    )
    return source, data, table, names, skip


def _values(spec: CsvSpec, table: pa.Table, names: list[str], name: str) -> FloatArray | None:
    index = _resolve(spec, names, name)
    if index is None:
        return None
    return np.asarray(table.column(f"c{index}").to_numpy(), dtype=np.float64)


def _newest_first(ts: np.ndarray) -> bool:
    """The rows run newest first (a common export order): read them oldest first, or every
    row after the first would be dropped as out of order."""
    return len(ts) > 1 and bool(ts[0] > ts[-1]) and bool(np.all(np.diff(ts) <= 0))


def _read_bar_file(spec: CsvSpec, path: Path) -> BarArrays:
    source, data, table, names, skip = _read_table(spec, path)
    ts_index = _resolve(spec, names, "timestamp")
    assert ts_index is not None  # required field
    ts = _parse_timestamps(spec, source, data, table.column(f"c{ts_index}"), skip)
    columns = []
    for name in ("open", "high", "low", "close"):
        values = _values(spec, table, names, name)
        assert values is not None  # required for bars (checked by CsvSpec)
        reject_bad_prices(source, data, [values], skip, f"{name} must be a finite number > 0")
        columns.append(values)
    volume = _values(spec, table, names, "volume")
    if volume is None:
        volume = np.zeros(len(ts), dtype=np.float64)
    reject_bad_sizes(source, data, volume, skip, "volume must be >= 0")
    assert spec.bar_seconds is not None
    newest_first = _newest_first(ts)
    # Bars of one length cannot start closer than that length: minute rows read with
    # bar_seconds=3600 would be stored as overlapping 1-HOUR bars, one a minute.
    step = -np.diff(ts) if newest_first else np.diff(ts)
    period = spec.bar_seconds * 1_000_000_000
    close = np.r_[False, (step > 0) & (step < period)]
    if close.any():
        row = int(np.flatnonzero(close)[0])
        reject_rows(
            source,
            data,
            close,
            skip,
            f"bar {int(step[row - 1]) / 1e9:g} s after the one before, but bar_seconds is "
            f"{spec.bar_seconds}: the bars would overlap (is bar_seconds right?)",
        )
    reject_bars_of_another_length(source, ts, period)
    if newest_first:
        ts, columns, volume = ts[::-1], [c[::-1] for c in columns], volume[::-1]
    if spec.timestamp_is == "start":
        ts = ts + spec.bar_seconds * 1_000_000_000
    return BarArrays(ts, columns[0], columns[1], columns[2], columns[3], volume)


def _read_quote_file(spec: CsvSpec, path: Path) -> QuoteArrays:
    source, data, table, names, skip = _read_table(spec, path)
    ts_index = _resolve(spec, names, "timestamp")
    assert ts_index is not None
    ts = _parse_timestamps(spec, source, data, table.column(f"c{ts_index}"), skip)
    bid = _values(spec, table, names, "bid")
    ask = _values(spec, table, names, "ask")
    assert bid is not None and ask is not None
    reject_bad_prices(source, data, [bid, ask], skip, "bid and ask must be finite numbers > 0")
    sizes = []
    for name in ("bid_size", "ask_size"):
        size = _values(spec, table, names, name)
        size = np.zeros(len(ts), dtype=np.float64) if size is None else size
        reject_bad_sizes(source, data, size, skip, f"{name} must be >= 0")
        sizes.append(size)
    if _newest_first(ts):
        return QuoteArrays(ts[::-1], bid[::-1], ask[::-1], sizes[0][::-1], sizes[1][::-1])
    return QuoteArrays(ts, bid, ask, sizes[0], sizes[1])


def read_csv_bars(paths: str | Path | Iterable[str | Path], spec: CsvSpec) -> BarArrays:
    """Read bar files described by ``spec`` into UTC bars stamped at their close.

    Raises
    ------
    DataFormatError
        For a malformed row, naming the file and line.
    ValueError
        If ``spec`` does not describe bars or names a column the file lacks.
    """
    if spec.kind != "bars":
        raise ValueError("read_csv_bars needs a CsvSpec with kind='bars'")
    parts = [_read_bar_file(spec, p) for p in input_paths(paths)]
    return BarArrays.concat(sorted_by_first_timestamp(parts))


def read_csv_quotes(paths: str | Path | Iterable[str | Path], spec: CsvSpec) -> QuoteArrays:
    """Read quote (tick) files described by ``spec`` into UTC quotes.

    Raises
    ------
    DataFormatError
        For a malformed row, naming the file and line.
    """
    if spec.kind != "quotes":
        raise ValueError("read_csv_quotes needs a CsvSpec with kind='quotes'")
    parts = [_read_quote_file(spec, p) for p in input_paths(paths)]
    return QuoteArrays.concat(sorted_by_first_timestamp(parts))
