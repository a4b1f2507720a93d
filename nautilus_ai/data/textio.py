"""Fast delimited-text parsing with exact error locations.

The fast path is Arrow's multithreaded CSV reader over the whole file. Only when it fails (or a
parsed value is out of range) does a slow Python pass run over the lines, to name the first bad
line and say why. Good files never pay for the diagnostics.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from nautilus_ai.data.errors import DataFormatError

__all__ = [
    "FieldCheck",
    "check_finite_positive",
    "check_float",
    "check_int",
    "first_bad_line",
    "line_of_row",
    "read_delimited",
    "read_source_bytes",
    "reject_rows",
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
    (``archive.zip:member.csv`` for a zip member).
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
                return f"{path}:{members[0]}", archive.read(members[0])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise DataFormatError(str(path), None, f"unreadable zip: {exc}") from exc
    return str(path), path.read_bytes()


def _data_lines(data: bytes, skip_rows: int) -> list[tuple[int, bytes]]:
    """(1-based line number, content) for each non-blank line after the header rows."""
    lines = data.split(b"\n")
    out: list[tuple[int, bytes]] = []
    for number, raw in enumerate(lines, start=1):
        if number <= skip_rows:
            continue
        line = raw.rstrip(b"\r")
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
            io.BytesIO(data),
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
