"""Fast delimited-text parsing with exact error locations, and the plumbing the readers share.

The fast path is Arrow's multithreaded CSV reader over the whole file. Only when it fails (or a
parsed value is out of range) does a slow Python pass run over the lines, to name the first bad
line and say why. Good files never pay for the diagnostics.
"""

from __future__ import annotations

import gzip
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from nautilus_ai.data.arrays import FloatArray, IntArray
from nautilus_ai.data.clocks import NonexistentLocalTimeError, local_to_utc_ns
from nautilus_ai.data.errors import DataFormatError

__all__ = [
    "FieldCheck",
    "check_finite_positive",
    "check_float",
    "check_int",
    "first_bad_line",
    "first_line",
    "float_column",
    "input_paths",
    "line_of_row",
    "local_to_utc_at_lines",
    "read_delimited",
    "read_source_bytes",
    "reject_bad_prices",
    "reject_bad_sizes",
    "reject_bars_of_another_length",
    "reject_rows",
    "sorted_by_first_timestamp",
    "split_lines",
]

# A field check raises ValueError with a short reason when the text is not acceptable.
FieldCheck = Callable[[str], None]


def check_float(text: str) -> None:
    """A finite decimal number."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")


def check_finite_positive(text: str) -> None:
    """A finite number > 0 (a price)."""
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"price must be a finite number > 0, got {text!r}")


def check_int(text: str) -> None:
    """A base-10 integer."""
    int(text)


def read_source_bytes(path: str | Path) -> tuple[str, bytes]:
    """Bytes of a text file, or of the single CSV member of a ``.zip`` (LEAN style).

    Returns ``(name, data)`` where ``name`` is what error messages call the source
    (``archive.zip:member.csv`` for a zip member). A UTF-8 byte-order mark (what Excel's
    "CSV UTF-8" writes) is dropped: it is no part of the first field (a header ``Time`` read
    as ``\ufeffTime`` did not match the spec's column).
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise DataFormatError(
                        str(path), None, f"expected one member in the zip, found {members}"
                    )
                return f"{path}:{members[0]}", archive.read(members[0]).removeprefix(_BOM)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise DataFormatError(str(path), None, f"unreadable zip: {exc}") from exc
    if path.suffix.lower() == ".gz":  # DAT_ASCII_EURUSD_T_202001.csv.gz, as distributed
        data = path.read_bytes()
        if not data:
            raise DataFormatError(str(path), None, "unreadable gzip: an empty file")
        try:
            return str(path), gzip.decompress(data).removeprefix(_BOM)
        except (OSError, EOFError, zlib.error) as exc:
            why = str(exc) or type(exc).__name__
            raise DataFormatError(str(path), None, f"unreadable gzip: {why}") from exc
    data = path.read_bytes()
    if data.startswith(_COMPRESSED):
        raise DataFormatError(
            str(path),
            None,
            "compressed data (gzip / zip) under a text file's name: rename it "
            "to .gz / .zip, or decompress it",
        )
    return str(path), data.removeprefix(_BOM)


_BOM = b"\xef\xbb\xbf"
_COMPRESSED = (b"\x1f\x8b", b"PK\x03\x04")  # gzip, zip


# The line ends Arrow's CSV reader knows: LF, CRLF and a lone CR (classic Mac, some Excel
# exports). Line numbers must count the same lines Arrow reads, or a row's line is wrong (and a
# CR-only file had one "line": naming a bad row's line failed with an IndexError).
_LINE_END = re.compile(rb"\r\n|\r|\n")


def split_lines(data: bytes) -> list[bytes]:
    """``data`` cut into lines at LF, CRLF or a lone CR, as Arrow's CSV reader cuts it."""
    return _LINE_END.split(data)


def first_line(data: bytes) -> bytes:
    """The first line of ``data`` (without its line end), however lines end."""
    match = _LINE_END.search(data)
    return data if match is None else data[: match.start()]


def _data_lines(data: bytes, skip_rows: int) -> list[tuple[int, bytes]]:
    """(1-based line number, content) for each non-blank line after the header rows."""
    out: list[tuple[int, bytes]] = []
    for number, line in enumerate(split_lines(data), start=1):
        if number <= skip_rows:
            continue
        if line.strip():
            out.append((number, line))
    return out


def line_of_row(data: bytes, row: int, skip_rows: int) -> int:
    """The 1-based line number of data row ``row`` (0-based, blank lines skipped as Arrow does)."""
    return _data_lines(data, skip_rows)[row][0]


def first_bad_line(
    data: bytes, delimiter: str, checks: Sequence[FieldCheck], skip_rows: int
) -> tuple[int, str] | None:
    """The first line whose fields fail ``checks`` (one check per column), with the reason."""
    for number, raw in _data_lines(data, skip_rows):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return number, "not UTF-8 text"
        fields = text.split(delimiter)
        if len(fields) != len(checks):
            return number, f"expected {len(checks)} fields, got {len(fields)}: {text!r}"
        for column, (field, check) in enumerate(zip(fields, checks, strict=True), start=1):
            try:
                check(field.strip())
            except ValueError as exc:
                return number, f"field {column}: {exc} in {text!r}"
    return None


def _arrow_reader(data: bytes) -> pa.BufferReader:
    """``data`` copied into an Arrow-owned buffer, read without any Python object.

    Arrow's threaded CSV reader can drop its last reference to the source after ``read_csv``
    has returned; when that source is a Python file object (``io.BytesIO``) the worker thread
    takes the GIL to release it, and if the interpreter is exiting by then (an import refused
    straight after reading: ``nautilus-ai: error: ...``) the thread is killed inside a C++
    destructor: ``terminate called without an active exception``, exit 134, about one run in
    twelve. A native buffer needs no GIL to be freed.
    """
    buffer = pa.allocate_buffer(len(data))
    memoryview(buffer).cast("B")[:] = data
    return pa.BufferReader(buffer)


def read_delimited(
    name: str,
    data: bytes,
    *,
    columns: Sequence[tuple[str, pa.DataType]],
    checks: Sequence[FieldCheck],
    delimiter: str = ",",
    skip_rows: int = 0,
) -> pa.Table:
    """Parse delimited text with Arrow; on failure raise ``DataFormatError`` naming the line.

    Parameters
    ----------
    name : str
        What messages call the source (file path or ``zip:member``).
    data : bytes
        The file content.
    columns : sequence of (name, arrow type)
        Column names and types in file order.
    checks : sequence of FieldCheck
        One per column; used only to find the bad line after a failure.
    delimiter : str
        Field separator.
    skip_rows : int
        Header lines to skip.
    """
    names = [c for c, _ in columns]
    try:
        return pacsv.read_csv(
            _arrow_reader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip_rows),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(columns),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        found = first_bad_line(data, delimiter, checks, skip_rows)
        if found is None:
            raise DataFormatError(name, None, f"unparseable: {exc}") from exc
        raise DataFormatError(name, found[0], found[1]) from exc


def reject_rows(
    name: str,
    data: bytes,
    bad: npt.NDArray[np.bool_],
    skip_rows: int,
    reason: str,
) -> None:
    """Raise ``DataFormatError`` at the first row flagged in ``bad`` (no-op when none is)."""
    rows = np.flatnonzero(bad)
    if len(rows):
        row = int(rows[0])
        raise DataFormatError(name, line_of_row(data, row, skip_rows), reason)


def reject_bad_prices(
    name: str, data: bytes, columns: Sequence[FloatArray], skip_rows: int, reason: str
) -> None:
    """Raise ``DataFormatError`` at the first row where any of ``columns`` is not finite > 0."""
    bad = np.zeros(len(columns[0]), dtype=bool)
    for column in columns:
        bad |= ~(np.isfinite(column) & (column > 0))
    reject_rows(name, data, bad, skip_rows, reason)


def reject_bad_sizes(
    name: str, data: bytes, column: FloatArray, skip_rows: int, reason: str
) -> None:
    """Raise ``DataFormatError`` at the first row where ``column`` is not finite >= 0, saying
    the value read there (a NaN volume read as "volume must be >= 0" alone)."""
    rows = np.flatnonzero(~(np.isfinite(column) & (column >= 0)))
    if len(rows):
        row = int(rows[0])
        message = f"{reason} (finite), got {float(column[row])!r}"
        raise DataFormatError(name, line_of_row(data, row, skip_rows), message)


def _span(ns: int) -> str:
    """A whole duration in words: ``1 day``, ``4 h``, ``15 min``, ``30 s``."""
    for unit, size in (("day", 86_400), ("h", 3_600), ("min", 60)):
        if ns % (size * 1_000_000_000) == 0:
            count = ns // (size * 1_000_000_000)
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{ns / 1e9:g} s"


def reject_bars_of_another_length(name: str, starts_ns: IntArray, period_ns: int) -> None:
    """Raise ``DataFormatError`` when no two bars of a file are one period apart.

    Bars of one length follow each other one period apart wherever the market is open, so a
    file of three or more bars whose closest two are further apart holds bars of another
    length: LEAN daily bars in an ``hour`` folder, hour rows read with ``bar_seconds=60``. They
    were stored as bars of the wrong length (a day's range as an hour's), exit 0.
    """
    steps = np.diff(np.unique(starts_ns))
    if len(steps) >= 2 and int(steps.min()) > period_ns:
        raise DataFormatError(
            name,
            None,
            f"no two bars are {_span(period_ns)} apart (the closest are "
            f"{_span(int(steps.min()))} apart): bars of another length than {_span(period_ns)}?",
        )


def local_to_utc_at_lines(
    name: str, data: bytes, local_ns: IntArray, clock: str, skip_rows: int
) -> IntArray:
    """:func:`~nautilus_ai.data.clocks.local_to_utc_ns`; a time in a DST gap names its line."""
    try:
        return local_to_utc_ns(local_ns, clock)
    except NonexistentLocalTimeError as exc:
        raise DataFormatError(name, line_of_row(data, exc.index, skip_rows), str(exc)) from exc


def float_column(table: pa.Table, name: str) -> FloatArray:
    """Column ``name`` of a parsed table as a float64 array."""
    return np.asarray(table.column(name).to_numpy(), dtype=np.float64)


def input_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """One path or several as a list; an empty collection is an error."""
    if isinstance(paths, str | Path):
        return [Path(paths)]
    out = [Path(p) for p in paths]
    if not out:
        raise ValueError("no input files given")
    return out


class _Timed(Protocol):
    @property
    def ts_event(self) -> IntArray: ...

    def __len__(self) -> int: ...


_T = TypeVar("_T", bound=_Timed)


def sorted_by_first_timestamp(parts: Iterable[_T]) -> list[_T]:
    """Per-file parts in order of their first timestamp (empty parts first); rows keep order."""
    return sorted(parts, key=lambda part: int(part.ts_event[0]) if len(part) else 0)
