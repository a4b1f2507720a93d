"""Where a ``ParquetDataCatalog`` keeps bars and quotes, and how it names files (no Nautilus).

The layout is Nautilus' own, identical in 1.221 and 1.231 (both read the same file names with
the same code):

* ``<catalog>/data/bar/<bar type without '/'>/`` and ``<catalog>/data/quote_tick/<instrument id
  without '/'>/``;
* one Parquet file per time range, named ``<first ts_init>_<last ts_init>.parquet`` where each
  time stamp is ISO 8601 UTC with nanoseconds and ``:`` / ``.`` replaced by ``-``:
  ``2017-01-02T07-01-00-000000000Z``.

Nautilus reads the interval in a file name to pick the files a time-ranged query needs, and its
own ``write_data`` (1.231) refuses to add a file whose interval overlaps another's, so the
writer here keeps every directory's intervals disjoint. Tests compare these names with the
files ``catalog.write_data`` writes and with ``catalog.get_intervals``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "BAR_FOLDER",
    "QUOTE_FOLDER",
    "file_timestamp_to_ns",
    "files_reaching",
    "ns_to_file_timestamp",
    "parquet_file_name",
    "parse_parquet_file_name",
    "reversed_window",
    "series_directory",
]

# ``class_to_filename(Bar)`` / ``class_to_filename(QuoteTick)`` in both Nautilus versions.
BAR_FOLDER = "bar"
QUOTE_FOLDER = "quote_tick"

_FILE_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{9})Z$")


def series_directory(catalog_path: str | os.PathLike[str], folder: str, identifier: str) -> Path:
    """``<catalog>/data/<folder>/<identifier>`` with ``/`` removed, as the catalog's
    ``urisafe_identifier`` does (``EUR/USD.SIM`` -> ``EURUSD.SIM``)."""
    return Path(catalog_path) / "data" / folder / identifier.replace("/", "")


def ns_to_file_timestamp(ns: int) -> str:
    """UTC ns -> the catalog's file-name time stamp, ``2017-01-02T07-01-00-000000000Z``."""
    if ns < 0:
        raise ValueError(f"timestamp must be >= 0 ns, was {ns}")
    seconds, nanos = divmod(int(ns), 1_000_000_000)
    text = str(np.datetime64(seconds, "s"))  # YYYY-MM-DDTHH:MM:SS
    return f"{text.replace(':', '-')}-{nanos:09d}Z"


def file_timestamp_to_ns(text: str) -> int | None:
    """The inverse of :func:`ns_to_file_timestamp`; None if ``text`` is not such a time stamp."""
    match = _FILE_TIMESTAMP.match(text)
    if match is None:
        return None
    day, hour, minute, second, nanos = match.groups()
    try:
        seconds = np.datetime64(f"{day}T{hour}:{minute}:{second}", "s").astype(np.int64)
    except ValueError:
        return None
    return int(seconds) * 1_000_000_000 + int(nanos)


def parquet_file_name(first_ns: int, last_ns: int) -> str:
    """``<first>_<last>.parquet`` as the catalog names a file of rows with these ``ts_init``."""
    if last_ns < first_ns:
        raise ValueError(f"last timestamp {last_ns} is before the first {first_ns}")
    return f"{ns_to_file_timestamp(first_ns)}_{ns_to_file_timestamp(last_ns)}.parquet"


def parse_parquet_file_name(name: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(first_ns, last_ns)`` from a catalog file name (a path is fine); None if it is not one."""
    stem = Path(name).name
    if not stem.endswith(".parquet"):
        return None
    first, sep, last = stem[: -len(".parquet")].partition("_")
    if not sep:
        return None
    start, end = file_timestamp_to_ns(first), file_timestamp_to_ns(last)
    if start is None or end is None:
        return None
    return start, end


def files_reaching(files: Sequence[Path], start_ns: int | None) -> list[Path]:
    """The catalog files that may hold a row with ``ts_event >= start_ns``: a file whose name
    says its last ``ts_init`` is before ``start_ns`` holds none (``ts_event <= ts_init``); a
    file with another name is kept. ``None``: every file."""
    if start_ns is None:
        return list(files)
    return [f for f in files if (parse_parquet_file_name(f) or (0, 2**63))[1] >= start_ns]


def reversed_window(start_ns: int | None, end_ns: int | None) -> str | None:
    """What is wrong with a window whose start is after its end (UTC ns), or ``None``: readers
    refuse it rather than read it as an empty window (nothing, and no error)."""
    if start_ns is None or end_ns is None or start_ns <= end_ns:
        return None
    as_text = [str(np.datetime64(int(ns), "ns"))[:19] + "Z" for ns in (start_ns, end_ns)]
    return (
        f"start_ns {start_ns} is after end_ns {end_ns} ({as_text[0]} > {as_text[1]}): "
        "the window is empty"
    )
