"""Nautilus glue: write columnar bars / quotes straight into a ``ParquetDataCatalog`` layout.

Nautilus' own ``catalog.write_data`` wants a list of Python objects and serialises them one
call at a time (~30k bars/s here); this module builds the identical Arrow table (128-bit
fixed-point price columns, the same schema metadata) directly from numpy arrays and writes it
where the catalog looks (``data/bar/<bar type>/<start>_<end>.parquet``, see
:mod:`nautilus_ai.data.catalog_layout`), at millions of rows per second.
``tests/integration/data`` reads every such file back through ``catalog.query`` and compares it
with what ``write_data`` would have produced.

Writes never lose stored data (:mod:`nautilus_ai.data.store`): new rows are merged with the
stored ones by ``ts_init``; stored rows at timestamps the new data does not contain are kept,
whatever range the new data spans, and a stored row that the new data contradicts is replaced,
kept or the write refused, by an explicit policy (``on_conflict``, default ``error``). An
identical re-import writes nothing. Each series' directory is swapped in atomically
(:mod:`nautilus_ai.data.swap`), so a crash at any instant leaves every timestamp readable with
its old or its new value, never a hole and never both. ``dry_run`` plans the same writes and
reports the same counts, writing nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import BarType
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import FIXED_PRECISION, PRICE_MAX, QUANTITY_MAX
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data.arrays import BarArrays, FloatArray, IntArray, QuoteArrays
from nautilus_ai.data.catalog_layout import (
    BAR_FOLDER,
    QUOTE_FOLDER,
    files_reaching,
    parse_parquet_file_name,
    reversed_window,
    series_directory,
)
from nautilus_ai.data.import_journal import ImportJournal, interrupted_imports
from nautilus_ai.data.merge import (
    DEFAULT_CONFLICT_POLICY,
    ConflictPolicy,
    check_conflict_policy,
)
from nautilus_ai.data.store import (
    ProvenanceEntry,
    SeriesPlan,
    SourceInfo,
    StoredFile,
    commit_series,
    parquet_rows,
    parquet_schema,
    plan_series,
    read_parquet,
    read_provenance,
    stored_files,
)
from nautilus_ai.data.swap import STAGING_DIR, catalog_lock, link_or_copy, replace_directory
from nautilus_ai.timefmt import utc_millis

__all__ = [
    "CatalogInfo",
    "DataSetInfo",
    "IncompleteWriteError",
    "SeriesData",
    "WriteConflictError",
    "WindowRows",
    "WriteResult",
    "bars_series",
    "catalog_info",
    "fixed_point_column",
    "fixed_point_to_float",
    "int128_times_power_of_ten",
    "quotes_series",
    "read_bars",
    "read_quotes",
    "window_rows",
    "write_bars",
    "write_instrument",
    "write_quotes",
    "write_series",
]


def fixed_point_column(
    values: FloatArray,
    precision: int,
    what: str,
    *,
    exact: bool,
    ts: IntArray | None = None,
    at: str = "the row at",
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
    ts : ndarray of int64, optional
        The rows' times (UTC ns): an error names the bad row's time, which a user can find in
        the files (a row number of the merged, validated series cannot be).
    at : str
        How a message introduces that time (``"the bar closing at"``).
    """
    if not 0 <= precision <= FIXED_PRECISION:
        raise ValueError(f"{what}: precision must be in 0..{FIXED_PRECISION}, got {precision}")
    scaled = values * (10.0**precision)
    points = np.rint(scaled)

    def where(row: int) -> str:
        return f"row {row}" if ts is None else f"{at} {utc_millis(int(ts[row]))}"

    if not np.all(np.isfinite(points)):
        row = int(np.flatnonzero(~np.isfinite(points))[0])
        raise ValueError(f"{what}: {where(row)} is not finite ({float(values[row])})")
    if exact and len(points):
        # Float parsing leaves ~1e-16 relative noise; a real extra decimal is >= 0.1 point.
        tolerance = 1e-6 + 1e-9 * float(np.max(np.abs(points)))
        off = np.abs(scaled - points) > tolerance
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise ValueError(
                f"{what}: {where(row)} has {float(values[row])!r}, more than the "
                f"{precision} decimals of the instrument's prices (refused, not rounded; "
                f"{int(off.sum()):,} such row(s))"
            )
    if not exact and len(points):
        # Sizes are rounded to the instrument's size precision (whole units for FX): a volume
        # given in millions or lots (0.35, 1.25) was stored as 0 / 1 without a word. Rounding
        # that changes a size by more than 1 % is refused instead.
        stored = points / 10.0**precision
        changed = (values > 0) & (np.abs(stored - values) > 0.01 * np.abs(values))
        if changed.any():
            row = int(np.flatnonzero(changed)[0])
            raise ValueError(
                f"{what}: {where(row)} has {float(values[row]):g}, which the instrument's "
                f"sizes ({precision} decimals) would store as {float(stored[row]):g} "
                f"({int(changed.sum()):,} such row(s)): sizes are in units of the base "
                "currency; are these in lots or millions? (a CSV spec may leave the column "
                "out: sizes 0)"
            )
    # Nautilus refuses a larger value when it reads the catalog (a Rust panic in
    # Quantity::from_raw, for a volume of 1e14 in a CSV): refuse it here, before it is stored.
    limit = PRICE_MAX if exact else QUANTITY_MAX
    beyond = np.abs(values) > limit
    if beyond.any():
        row = int(np.flatnonzero(beyond)[0])
        raise ValueError(
            f"{what}: {where(row)} has {float(values[row]):g}, beyond the largest "
            f"{'price' if exact else 'size'} Nautilus reads ({limit:g}); a catalog holding "
            "it could not be read (refused)"
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
            f"{what}: the bar closing at {utc_millis(int(arrays.ts_event[row]))} is not "
            f"OHLC-consistent (o={arrays.open[row]} h={arrays.high[row]} "
            f"l={arrays.low[row]} c={arrays.close[row]}); drop it in validation first"
        )
    if np.any(arrays.volume < 0):
        raise ValueError(f"{what}: negative volume at row {int(np.argmax(arrays.volume < 0))}")
    ts = _timestamps(arrays.ts_event, what, strict=True)
    pp, sp = instrument.price_precision, instrument.size_precision
    exact: dict[str, Any] = {"exact": True, "ts": arrays.ts_event, "at": "the bar closing at"}
    sizes: dict[str, Any] = {**exact, "exact": False}
    fields = [
        ("open", fixed_point_column(arrays.open, pp, f"{what} open", **exact)),
        ("high", fixed_point_column(arrays.high, pp, f"{what} high", **exact)),
        ("low", fixed_point_column(arrays.low, pp, f"{what} low", **exact)),
        ("close", fixed_point_column(arrays.close, pp, f"{what} close", **exact)),
        ("volume", fixed_point_column(arrays.volume, sp, f"{what} volume", **sizes)),
    ]
    metadata = {"bar_type": what, "instrument_id": str(bar_type.instrument_id)}
    return _table(fields, ts, metadata, pp, sp)


def _quotes_table(instrument: Instrument, arrays: QuoteArrays) -> pa.Table:
    what = str(instrument.id)
    if np.any(arrays.bid_size < 0) or np.any(arrays.ask_size < 0):
        raise ValueError(f"{what}: negative quote size")
    ts = _timestamps(arrays.ts_event, what, strict=False)
    pp, sp, t = instrument.price_precision, instrument.size_precision, arrays.ts_event
    sizes: dict[str, Any] = {"exact": False, "ts": t}
    fields = [
        ("bid_price", fixed_point_column(arrays.bid, pp, f"{what} bid", exact=True, ts=t)),
        ("ask_price", fixed_point_column(arrays.ask, pp, f"{what} ask", exact=True, ts=t)),
        ("bid_size", fixed_point_column(arrays.bid_size, sp, f"{what} bid_size", **sizes)),
        ("ask_size", fixed_point_column(arrays.ask_size, sp, f"{what} ask_size", **sizes)),
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


@dataclass(frozen=True)
class SeriesData:
    """One series ready to write: its identifier, catalog folder and Arrow table."""

    identifier: str
    folder: str
    table: pa.Table


def bars_series(instrument: Instrument, bar_type: BarType | str, arrays: BarArrays) -> SeriesData:
    """Check ``arrays`` and build the catalog's table for bars of ``bar_type``.

    Raises
    ------
    ValueError
        Unsorted / duplicate timestamps, OHLC-inconsistent bars, a price with more decimals than
        the instrument's precision, or a bar type for another instrument.
    """
    bar_type = BarType.from_str(bar_type) if isinstance(bar_type, str) else bar_type
    if bar_type.instrument_id != instrument.id:
        raise ValueError(f"bar type {bar_type} is not for instrument {instrument.id}")
    return SeriesData(str(bar_type), BAR_FOLDER, _bars_table(instrument, bar_type, arrays))


def quotes_series(instrument: Instrument, arrays: QuoteArrays) -> SeriesData:
    """Check ``arrays`` (sorted by time; equal timestamps allowed: real feeds repeat them) and
    build the catalog's table for quote ticks of ``instrument``."""
    return SeriesData(str(instrument.id), QUOTE_FOLDER, _quotes_table(instrument, arrays))


def _count(n: int) -> str:
    return f"{n:,}"


@dataclass(frozen=True)
class WriteResult:
    """What one series' write did (or, with ``dry_run``, would do).

    Parameters
    ----------
    identifier : str
        Bar type or instrument id.
    directory : str
        The series' catalog directory.
    policy : str
        The conflict policy applied.
    dry_run : bool
        Nothing was written.
    written : bool
        The catalog changed (False for a dry run or when nothing was added or changed).
    rows_in : int
        Rows offered.
    added, unchanged, changed, replaced, skipped, kept, conflicts : int
        See :class:`~nautilus_ai.data.merge.MergeCounts`: ``kept`` are stored rows at
        timestamps the new data does not contain, ``conflicts`` timestamps whose stored and new
        rows differ.
    stored_before, stored_after : int
        Rows of the series before and after.
    start_ns, end_ns : int
        First and last ``ts_init`` offered (UTC ns).
    files_written, files_kept, files_removed : int
        Parquet files of the series written, kept as they were, removed (merged into new ones).
    other_sources : tuple of str
        Stored rows from another source than this import (provenance), when the write mixes.
    unknown_rows : int
        Stored rows with no provenance (written by Nautilus itself or an older version).
    mixed : bool
        The write adds rows to a series holding rows of another (or an unknown) source.
    """

    identifier: str
    directory: str
    policy: str
    dry_run: bool
    written: bool
    rows_in: int
    added: int
    unchanged: int
    changed: int
    replaced: int
    skipped: int
    kept: int
    conflicts: int
    stored_before: int
    stored_after: int
    start_ns: int
    end_ns: int
    files_written: int = 0
    files_kept: int = 0
    files_removed: int = 0
    other_sources: tuple[str, ...] = ()
    unknown_rows: int = 0
    mixed: bool = False

    @property
    def rows_written(self) -> int:
        """New rows that went into the catalog (or would, in a dry run): added + changed."""
        return self.added + self.changed

    @classmethod
    def from_plan(cls, plan: SeriesPlan, *, dry_run: bool, written: bool) -> WriteResult:
        c = plan.counts
        return cls(
            identifier=plan.identifier,
            directory=str(plan.directory),
            policy=plan.policy,
            dry_run=dry_run,
            written=written,
            rows_in=c.rows_in,
            added=c.added,
            unchanged=c.unchanged,
            changed=c.changed,
            replaced=c.replaced,
            skipped=c.skipped,
            kept=c.kept,
            conflicts=c.conflicts,
            stored_before=plan.stored_rows,
            stored_after=plan.stored_rows_after,
            start_ns=plan.start_ns,
            end_ns=plan.end_ns,
            files_written=len(plan.written) if c.modifies else 0,
            files_kept=len(plan.linked),
            files_removed=len(plan.removed) if c.modifies else 0,
            other_sources=_describe_sources(plan.other_sources),
            unknown_rows=plan.unknown_rows,
            mixed=plan.mixes_sources,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "identifier": self.identifier,
            "directory": self.directory,
            "policy": self.policy,
            "dry_run": self.dry_run,
            "written": self.written,
            "rows_in": self.rows_in,
            "added": self.added,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "kept": self.kept,
            "replaced": self.replaced,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "stored_before": self.stored_before,
            "stored_after": self.stored_after,
            "first": _iso(self.start_ns),
            "last": _iso(self.end_ns),
            "files_written": self.files_written,
            "files_kept": self.files_kept,
            "files_removed": self.files_removed,
            "mixed_sources": self.mixed,
            "other_sources": list(self.other_sources),
            "unknown_source_rows": self.unknown_rows,
        }

    def to_text(self) -> str:
        lines = [
            f"  {self.identifier}: {_count(self.added)} added, {_count(self.changed)} changed, "
            f"{_count(self.unchanged)} unchanged, {_count(self.kept)} stored rows kept -> "
            f"{_count(self.stored_after)} rows"
        ]
        if self.conflicts:
            what = {
                "replace": f"new values replaced {_count(self.replaced)} stored rows",
                "keep": f"stored values kept, {_count(self.skipped)} new rows NOT imported",
                "error": "refused",
            }[self.policy]
            lines.append(
                f"    {_count(self.conflicts)} conflicting timestamps (stored values differ): "
                f"{what} (--on-conflict {self.policy})"
            )
        if self.mixed:
            stored = list(self.other_sources)
            if self.unknown_rows:
                stored.append(f"{_count(self.unknown_rows)} rows of unknown source")
            lines.append(
                f"    MIXED SOURCES: this import adds to stored rows from {'; '.join(stored)}; "
                f"overlap: {_count(self.unchanged)} identical rows, {_count(self.conflicts)} "
                "conflicting timestamps"
            )
        return "\n".join(lines)


def _describe_sources(entries: Sequence[ProvenanceEntry]) -> tuple[str, ...]:
    """One line per source: its files (or how many imports), range and rows written."""
    lines: list[str] = []
    for name, group in itertools.groupby(
        sorted(entries, key=lambda e: e.source), lambda e: e.source
    ):
        items = list(group)
        names = list(dict.fromkeys(e.files for e in items))
        files = "; ".join(names) if len(names) <= 3 else f"{len(names)} imports"
        first, last = min(e.first_ns for e in items), max(e.last_ns for e in items)
        rows = sum(e.rows for e in items)
        lines.append(f"{name} [{files}] {_iso(first)} .. {_iso(last)} ({_count(rows)} rows)")
    return tuple(lines)


class WriteConflictError(ValueError):
    """Policy ``error`` met stored rows that the new data contradicts; nothing was written.

    ``results`` holds every series' counts (as a dry run would report them).
    """

    def __init__(self, message: str, results: tuple[WriteResult, ...]) -> None:
        super().__init__(message)
        self.results = results


class IncompleteWriteError(OSError):
    """Writing one series of an import failed after others were written.

    Each series holds its old or its new rows (a series is swapped in whole), but the import
    as a whole is half done: the message names what was written and what was not. ``results``
    holds the series written before the failure.
    """

    def __init__(
        self,
        failed: SeriesPlan,
        results: tuple[WriteResult, ...],
        rest: Sequence[str],
        exc: OSError,
    ) -> None:
        written = [r.identifier for r in results if r.written]
        parts = [f"{failed.identifier}: not written ({' '.join(str(exc).split())})"]
        if written:
            parts.append(f"already written by this import: {', '.join(written)}")
        if rest:
            parts.append(f"not written either: {', '.join(rest)}")
        parts.append("every series holds its old or its new rows; run the import again")
        super().__init__("; ".join(parts))
        self.results = results


def _describe_conflict(plan: SeriesPlan) -> str:
    when = _iso(plan.counts.first_conflict_ns)
    if plan.conflict_example is None:
        return f"first at {when}"
    stored, new = plan.conflict_example
    if stored.num_rows != new.num_rows:
        return f"first at {when}: {stored.num_rows} stored rows, {new.num_rows} new"
    for name in stored.column_names:
        old_column, new_column = stored.column(name), new.column(name)
        if old_column.equals(new_column):
            continue
        if name.startswith("ts_"):
            old_values = old_column.to_numpy().tolist()
            new_values = new_column.to_numpy().tolist()
        else:
            old_values = fixed_point_to_float(old_column, name).tolist()
            new_values = fixed_point_to_float(new_column, name).tolist()
        row = next(i for i, (a, b) in enumerate(zip(old_values, new_values, strict=True)) if a != b)
        return f"first at {when}: stored {name} {old_values[row]!r}, new {new_values[row]!r}"
    return f"first at {when}"


def _conflict_message(plans: Sequence[SeriesPlan]) -> str:
    parts = [
        f"{p.identifier}: {_count(p.counts.conflicts)} stored timestamps hold different values "
        f"({_describe_conflict(p)})"
        for p in plans
        if p.refused
    ]
    return (
        "; ".join(parts) + ". Nothing was written. Choose how to resolve: --on-conflict replace "
        "(new values win) or keep (stored values stay); on_conflict= in Python"
    )


def write_series(
    catalog_path: str | os.PathLike[str],
    series: Sequence[SeriesData],
    *,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    source: SourceInfo | None = None,
    instrument: Instrument | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[WriteResult, ...]:
    """Merge several series into the catalog as one import (see the module docstring).

    Every series is planned first; if policy ``error`` meets a conflict in any of them,
    :class:`WriteConflictError` is raised and nothing is written. Otherwise ``instrument`` (if
    given) and then each series are written, each series' directory swapped in atomically.
    With ``dry_run`` nothing is written (not even a lock file) and the results say what would be.
    """
    policy = check_conflict_policy(on_conflict)
    source = source or SourceInfo("python-api")
    root = Path(catalog_path)
    if root.exists() and not root.is_dir():
        raise ValueError(f"catalog {root} is not a folder")
    ids = [s.identifier for s in series]
    _refuse_case_twins(root, [*ids, *([str(instrument.id)] if instrument is not None else [])])
    if dry_run:
        plans = [_plan(root, s, policy, source) for s in series]
        results = tuple(WriteResult.from_plan(p, dry_run=True, written=False) for p in plans)
        if any(p.refused for p in plans):
            raise WriteConflictError(_conflict_message(plans), results)
        return results
    with catalog_lock(root):
        plans = [_plan(root, s, policy, source) for s in series]
        if any(p.refused for p in plans):
            results = tuple(WriteResult.from_plan(p, dry_run=False, written=False) for p in plans)
            raise WriteConflictError(_conflict_message(plans), results)
        if instrument is not None:
            _write_instrument(root, instrument)
        planned = [p.identifier for p in plans]
        modifying = [p.identifier for p in plans if p.counts.modifies]
        # A record left by this same import, stopped half-way, goes once this run completes.
        stale = ImportJournal.path_for(root, source.source, source.files, planned).exists()
        journal = (
            ImportJournal(root, source.source, source.files, planned, modifying)
            if len(modifying) > 1 or stale
            else None
        )
        done: list[WriteResult] = []
        for number, plan in enumerate(plans):
            if progress is not None and plan.counts.modifies:
                rows = plan.counts.added + plan.counts.changed
                progress(f"writing {plan.identifier}: {rows} new or changed rows")
            try:
                written = commit_series(root, plan)
            except OSError as exc:
                rest = [p.identifier for p in plans[number + 1 :] if p.counts.modifies]
                raise IncompleteWriteError(plan, tuple(done), rest, exc) from exc
            if written and journal is not None:
                journal.written(plan.identifier)
            done.append(WriteResult.from_plan(plan, dry_run=False, written=written))
        if journal is not None:
            journal.finish()
    return tuple(done)


def _refuse_case_twins(root: Path, identifiers: Sequence[str]) -> None:
    """Refuse an id that differs only in letter case from one the catalog holds (``usd/jpy.sim``
    beside ``USD/JPY.SIM``): ids are case-sensitive, so it would start a separate instrument or
    series, silently, beside the one the user meant."""
    data = root / "data"
    if not data.is_dir():
        return
    held = {entry.name.casefold(): entry.name for entry in data.glob("*/*") if entry.is_dir()}
    for identifier in identifiers:
        name = identifier.replace("/", "")  # as series_directory names its folder
        other = held.get(name.casefold())
        if other is not None and other != name:
            raise ValueError(
                f"catalog {root}: {identifier!r} differs only in letter case from {other!r}, "
                "which it already holds; ids are case-sensitive, so this would start a separate "
                "instrument or series: spell it as the catalog does"
            )


def _plan(root: Path, series: SeriesData, policy: ConflictPolicy, source: SourceInfo) -> SeriesPlan:
    directory = series_directory(root, series.folder, series.identifier)
    return plan_series(series.identifier, directory, series.table, policy=policy, source=source)


def _write_instrument(root: Path, instrument: Instrument) -> bool:
    """Write the definition through Nautilus' own writer into a scratch catalog, then swap its
    directory in (atomic, and a no-op when the stored definition is identical)."""
    scratch = root / STAGING_DIR / f"{uuid.uuid4().hex[:12]}.instrument"
    scratch.mkdir(parents=True)
    try:
        ParquetDataCatalog(str(scratch.resolve())).write_data([instrument])
        (produced,) = scratch.rglob("*.parquet")
        target = root / produced.parent.relative_to(scratch)
        existing = target / produced.name
        if existing.is_file() and read_parquet(existing).equals(
            pq.read_table(produced), check_metadata=True
        ):
            return False

        def populate(folder: Path) -> None:
            if target.is_dir():
                for entry in target.iterdir():
                    if entry.name != produced.name:
                        link_or_copy(entry, folder / entry.name)
            link_or_copy(produced, folder / produced.name)

        replace_directory(root, target, populate)
        return True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            (root / STAGING_DIR).rmdir()


def write_instrument(catalog_path: str | os.PathLike[str], instrument: Instrument) -> bool:
    """Write (or overwrite) the instrument definition in the catalog, atomically.

    Returns False when the stored definition is already identical (nothing written).
    """
    with catalog_lock(catalog_path) as root:
        return _write_instrument(root, instrument)


def write_bars(
    catalog_path: str | os.PathLike[str],
    instrument: Instrument,
    bar_type: BarType | str,
    arrays: BarArrays,
    *,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
    source: SourceInfo | None = None,
) -> WriteResult:
    """Merge bars of one bar type into the catalog (see the module docstring).

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
    on_conflict : {"error", "replace", "keep"}
        What to do where a stored bar at the same ``ts_init`` differs: refuse the write (the
        default), replace it, or keep it.
    dry_run : bool
        Report what would be written, write nothing.
    source : SourceInfo, optional
        Recorded as the rows' provenance.

    Raises
    ------
    ValueError
        Bad bars (see :func:`bars_series`), or stored files of another precision.
    WriteConflictError
        Policy ``error`` and a stored bar differs; nothing was written.
    """
    (result,) = write_series(
        catalog_path,
        [bars_series(instrument, bar_type, arrays)],
        on_conflict=on_conflict,
        source=source,
        dry_run=dry_run,
    )
    return result


def write_quotes(
    catalog_path: str | os.PathLike[str],
    instrument: Instrument,
    arrays: QuoteArrays,
    *,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
    source: SourceInfo | None = None,
) -> WriteResult:
    """Merge quote ticks of one instrument into the catalog (see :func:`write_bars`).

    ``arrays`` must be sorted by time (equal timestamps allowed: real feeds repeat them); all
    ticks at one ``ts_init`` are one group, stored, compared and replaced together.
    """
    (result,) = write_series(
        catalog_path,
        [quotes_series(instrument, arrays)],
        on_conflict=on_conflict,
        source=source,
        dry_run=dry_run,
    )
    return result


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
    sources: tuple[str, ...] = ()
    overlaps: tuple[tuple[str, str], ...] = ()
    misnamed_files: tuple[str, ...] = ()
    open_run: str | None = None  # a decision-log run never closed: why, in one line

    def to_dict(self) -> dict[str, object]:
        return {
            "data_type": self.data_type,
            "identifier": self.identifier,
            "files": self.files,
            "rows": self.rows,
            "first": _iso(self.first_ns),
            "last": _iso(self.last_ns),
            "overlapping_files": self.overlapping_files,
            "overlaps": [list(pair) for pair in self.overlaps],
            "misnamed_files": list(self.misnamed_files),
            "sources": list(self.sources),
            "open_run": self.open_run,
        }


@dataclass(frozen=True)
class CatalogInfo:
    """What a catalog holds (read from file names and Parquet footers; no data is loaded)."""

    path: str
    instruments: tuple[str, ...]
    datasets: tuple[DataSetInfo, ...]
    interrupted_imports: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "instruments": list(self.instruments),
            "data": [d.to_dict() for d in self.datasets],
            "interrupted_imports": list(self.interrupted_imports),
        }

    def to_text(self) -> str:
        lines = [f"catalog {self.path}", f"  instruments: {', '.join(self.instruments) or '-'}"]
        lines += [f"  INTERRUPTED IMPORT: {line}" for line in self.interrupted_imports]
        for d in self.datasets:
            warn = "  OVERLAPPING FILES" if d.overlapping_files else ""
            span = f"{_iso(d.first_ns)} .. {_iso(d.last_ns)}  " if d.first_ns is not None else ""
            lines.append(
                f"  {d.data_type:<14} {d.identifier:<36} {d.rows:>10} rows  "
                f"{span}({d.files} file(s)){warn}"
            )
            if len(d.sources) > 1:
                lines.append(f"  {'':<14} sources: {'; '.join(d.sources)}")
            for first, second in d.overlaps[:_NAMED]:
                lines.append(
                    f"  {'':<14} OVERLAP: {first} and {second} hold rows of the same times "
                    "(readers get them twice)"
                )
            if d.misnamed_files:
                names = ", ".join(d.misnamed_files[:_NAMED])
                more = len(d.misnamed_files) - _NAMED
                lines.append(
                    f"  {'':<14} NOT CATALOG FILES: {names}"
                    + (f" (and {more} more)" if more > 0 else "")
                    + " not named <first>_<last>.parquet as the catalog writes them, yet "
                    "counted and read as data (Nautilus reads or fails on them): a copy left "
                    "here? move it out of the folder"
                )
            if d.open_run:
                lines.append(f"  {'':<14} OPEN RUN: {d.open_run}")
        return "\n".join(lines)


_NAMED = 5  # files named per series in the text summary (the JSON has them all)


def _overlapping_pairs(files: Sequence[StoredFile]) -> tuple[tuple[str, str], ...]:
    """Pairs of files (sorted by interval) whose ``ts_init`` intervals overlap: each file with
    the earlier one reaching furthest into it."""
    pairs: list[tuple[str, str]] = []
    reach: StoredFile | None = None
    for stored in files:
        if reach is not None and stored.first_ns <= reach.last_ns:
            pairs.append((reach.name, stored.name))
        if reach is None or stored.last_ns > reach.last_ns:
            reach = stored
    return tuple(pairs)


# Directories holding time series; anything else (currency_pair, ...) holds definitions.
# Nautilus 1.231 renamed the order book folders (order_book_deltas, order_book_depths).
_TIMESERIES_TYPES = (
    "bar",
    "quote_tick",
    "trade_tick",
    "mark_price_update",
    "order_book_delta",
    "order_book_deltas",
    "order_book_depth10",
    "order_book_depths",
)


def _sources(id_dir: Path, files: list[Path]) -> tuple[str, ...]:
    """Row counts per recorded source of a series (``unknown`` for files with no record)."""
    record = read_provenance(id_dir)
    rows: dict[str, int] = {}
    for path in files:
        entries = record.get(path.name)
        if not entries:
            name = "unknown"
            rows[name] = rows.get(name, 0) + parquet_rows(path)
        for entry in entries or ():
            rows[entry.source] = rows.get(entry.source, 0) + entry.rows
    return tuple(f"{source} ({_count(n)} rows written)" for source, n in sorted(rows.items()))


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return utc_millis(int(ns))


def catalog_info(catalog_path: str | os.PathLike[str]) -> CatalogInfo:
    """Summarise a catalog: instruments, and per data type and identifier the row count, the
    first / last ``ts_init`` and whether any files overlap (which a reader would double count).

    Raises
    ------
    FileNotFoundError
        If ``catalog_path`` does not exist.
    """
    from nautilus_ai.catalog.run_state import open_run_problem
    from nautilus_ai.catalog.schema import SNAPSHOT_DIR

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
            # Intervals from the names, or from the data for a file named otherwise (a copy):
            # its rows count and are read like any other, so it must count for overlaps too.
            stored = stored_files(id_dir)
            intervals = [(f.first_ns, f.last_ns) for f in stored if f.rows]
            rows = sum(f.rows for f in stored)
            overlaps = _overlapping_pairs([f for f in stored if f.rows])
            misnamed = tuple(f.name for f in files if parse_parquet_file_name(f.name) is None)
            identifier = id_dir.name
            meta = parquet_schema(files[0]).metadata or {}
            if type_dir.name == "bar" and b"bar_type" in meta:
                identifier = meta[b"bar_type"].decode()
            elif b"instrument_id" in meta:
                identifier = meta[b"instrument_id"].decode()
            elif identifier in by_dir:
                identifier = by_dir[identifier]
            # Custom data (decision logs, feature snapshots: custom_<name>) are time series too:
            # listed without their range, a log's period could not be seen, nor an overlap.
            is_custom = type_dir.name.startswith("custom_")
            is_definition = type_dir.name not in _TIMESERIES_TYPES and not is_custom
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
                    overlapping_files=bool(overlaps) and not is_definition,
                    sources=() if is_definition or is_custom else _sources(id_dir, files),
                    overlaps=() if is_definition else overlaps,
                    misnamed_files=misnamed,
                    open_run=open_run_problem(id_dir) if type_dir.name == SNAPSHOT_DIR else None,
                )
            )
    return CatalogInfo(
        path=str(root),
        instruments=instruments,
        datasets=tuple(datasets),
        interrupted_imports=interrupted_imports(root),
    )


@dataclass(frozen=True)
class WindowRows:
    """How many rows of a series fall in a window, and its nearest rows outside it (``ts_init``,
    UTC ns; ``None`` where there is none)."""

    rows: int
    before_ns: int | None
    after_ns: int | None


def window_rows(
    catalog_path: str | os.PathLike[str],
    folder: str,
    identifier: str,
    start_ns: int | None,
    end_ns: int | None,
) -> WindowRows:
    """Rows of one series (``folder`` ``bar`` / ``quote_tick``, ``identifier`` a bar type or an
    instrument id) with ``start_ns <= ts_init <= end_ns`` (the catalog's own window), and the
    last row before / first row after it. Reads only the ``ts_init`` column.

    A window between the first and the last row can still hold none (a weekend, a gap in the
    data): the file names and footers say nothing about that.
    """
    directory = series_directory(catalog_path, folder, identifier)
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        return WindowRows(0, None, None)
    ts = np.concatenate(
        [read_parquet(f, columns=["ts_init"]).column("ts_init").to_numpy() for f in files]
    ).astype(np.int64)
    low = np.iinfo(np.int64).min if start_ns is None else start_ns
    high = np.iinfo(np.int64).max if end_ns is None else end_ns
    inside = (ts >= low) & (ts <= high)
    before, after = ts[ts < low], ts[ts > high]
    return WindowRows(
        int(inside.sum()),
        int(before.max()) if before.size else None,
        int(after.min()) if after.size else None,
    )


_SPLIT_HIGH = 1 << 20  # |high word| below this: |v| < 2**84 (see fixed_point_to_float)


def fixed_point_to_float(column: pa.Array | pa.ChunkedArray, what: str) -> FloatArray:
    """Decode Nautilus 128-bit fixed-point raw values to float64, exactly as ``as_double()``.

    ``Price.as_double()`` is ``raw as f64 / 10**FIXED_PRECISION``. Values that fit in 64 bits
    (every FX price) are converted in one vectorised step. Wider ones (e.g. sizes of millions
    of units at 16 decimals) need the correctly rounded ``i128 as f64`` (Rust's rounding, and
    Python's ``float(int)``): below 2**84 that is ``float(v >> 32) * 2**32 + (v & 0xFFFFFFFF)``,
    vectorised (the first term is exact, as ``v >> 32`` fits in 53 bits, so the one addition
    is the only rounding); the rest go through Python's ``float(int)`` row by row.
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
        hi, lo = high[wide], low[wide].view(np.uint64)
        split = (hi < _SPLIT_HIGH) & (hi > -_SPLIT_HIGH)  # |v| < 2**84: v >> 32 fits 53 bits
        upper = (hi[split] << 32) | (lo[split] >> np.uint64(32)).astype(np.int64)
        lower = (lo[split] & np.uint64(0xFFFFFFFF)).astype(np.float64)
        values[wide[split]] = (upper.astype(np.float64) * 4294967296.0 + lower) / scale
        rows = raw.reshape(-1, 16)
        for i in wide[~split].tolist():
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
    ValueError
        ``start_ns`` is after ``end_ns``.
    """
    bar_type = BarType.from_str(bar_type) if isinstance(bar_type, str) else bar_type
    directory = series_directory(catalog_path, BAR_FOLDER, str(bar_type))
    ts_event, columns = _read_series(
        directory,
        {name: name for name in ("open", "high", "low", "close", "volume")},
        str(bar_type),
        start_ns,
        end_ns,
        missing=_missing(catalog_path, BAR_FOLDER, str(bar_type), "bars of type"),
    )
    return BarArrays(ts_event=ts_event, **columns)


def read_quotes(
    catalog_path: str | os.PathLike[str],
    instrument_id: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> QuoteArrays:
    """Read one instrument's quote ticks from the catalog as arrays, sorted by ``ts_init``.

    Values exactly as ``QuoteTick.bid_price.as_double()`` etc. (no ``QuoteTick`` objects);
    ``start_ns <= ts_event <= end_ns``.

    Raises
    ------
    FileNotFoundError
        The catalog holds no quote ticks of that instrument.
    ValueError
        ``start_ns`` is after ``end_ns``.
    """
    directory = series_directory(catalog_path, QUOTE_FOLDER, instrument_id)
    ts_event, columns = _read_series(
        directory,
        {"bid": "bid_price", "ask": "ask_price", "bid_size": "bid_size", "ask_size": "ask_size"},
        instrument_id,
        start_ns,
        end_ns,
        missing=_missing(catalog_path, QUOTE_FOLDER, instrument_id, "quote ticks of"),
    )
    return QuoteArrays(ts_event=ts_event, **columns)


def _missing(catalog_path: str | os.PathLike[str], folder: str, identifier: str, what: str) -> str:
    """The error for a series the catalog lacks, naming the ones it holds (a typo in a bar
    type, BID for MID, another step, said nothing of what was there) and the nearest."""
    from nautilus_ai.config_check import nearest

    root = Path(catalog_path) / "data" / folder
    key = b"bar_type" if folder == BAR_FOLDER else b"instrument_id"
    held = []
    for directory in sorted(root.iterdir() if root.is_dir() else ()):
        files = sorted(directory.glob("*.parquet"))
        if not files:
            continue
        try:  # the identifier as written (EUR/USD.SIM), not as the folder spells it
            metadata = pq.read_schema(files[0]).metadata or {}
            held.append(metadata[key].decode())
        except (OSError, KeyError, UnicodeDecodeError, pa.ArrowException):
            held.append(directory.name)
    guess = nearest(identifier, held)
    return (
        f"no {what} {identifier} in catalog {catalog_path} (it holds: "
        f"{', '.join(held) or 'none'}"
        + (f"; did you mean {guess}?" if guess is not None else "")
        + ")"
    )


def _read_series(
    directory: Path,
    columns: dict[str, str],
    label: str,
    start_ns: int | None,
    end_ns: int | None,
    *,
    missing: str,
) -> tuple[IntArray, dict[str, FloatArray]]:
    """One series folder's Parquet files as ``ts_event`` and float columns (``name: column``),
    sorted by ``ts_init`` (stable), kept where ``start_ns <= ts_event <= end_ns``."""
    for name, value in (("start_ns", start_ns), ("end_ns", end_ns)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer)
        ):
            raise TypeError(f"{name} must be an int (UTC ns) or None, got {value!r}")
    problem = reversed_window(start_ns, end_ns)
    if problem is not None:  # else read as an empty window: nothing, and no error
        raise ValueError(problem)
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        raise FileNotFoundError(missing)
    files = files_reaching(files, start_ns)  # a window late in a long catalog: its files only
    if not files:
        return np.zeros(0, dtype=np.int64), {name: np.zeros(0) for name in columns}
    table = pa.concat_tables([read_parquet(f) for f in files])
    ts_init = table.column("ts_init").to_numpy().astype(np.int64)
    order = np.argsort(ts_init, kind="stable")
    ts_event = table.column("ts_event").to_numpy().astype(np.int64)[order]
    window = np.ones(len(order), dtype=bool)
    if start_ns is not None:
        window &= ts_event >= start_ns
    if end_ns is not None:
        window &= ts_event <= end_ns
    if window.all():
        return ts_event, {
            name: fixed_point_to_float(table.column(column), f"{label} {column}")[order]
            for name, column in columns.items()
        }
    rows = pa.array(order[window])  # decode only the window's rows, in ts_init order
    values = {
        name: fixed_point_to_float(table.column(column).take(rows), f"{label} {column}")
        for name, column in columns.items()
    }
    return ts_event[window], values
