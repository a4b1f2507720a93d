"""Merge new rows into stored rows by timestamp (pure pyarrow / numpy).

The unit is a *timestamp group*: every row with one ``ts_init`` (a bar series has one row per
timestamp; quote ticks may have several, kept in their order). For each ``ts_init``:

* only stored rows: kept;
* only new rows: added;
* both, and the groups are identical (same rows, same order, every column): unchanged;
* both, and they differ: a conflict, resolved by the policy: ``replace`` (the new group replaces
  the stored one), ``keep`` (the stored group stays, the new one is not written) or ``error``
  (nothing is merged; the caller refuses the write).

Nothing outside the new data's timestamps is ever touched, whatever range the new data spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pyarrow as pa

from nautilus_ai.data.arrays import IntArray

__all__ = [
    "CONFLICT_POLICIES",
    "DEFAULT_CONFLICT_POLICY",
    "ConflictPolicy",
    "MergeCounts",
    "check_conflict_policy",
    "merge_by_timestamp",
    "timestamp_groups",
]

ConflictPolicy = Literal["error", "replace", "keep"]
CONFLICT_POLICIES: tuple[str, ...] = get_args(ConflictPolicy)
# Safest: a stored value never changes unless the user says so, and an import that cannot do
# what it was asked fails before writing anything (exit 0 means the data went in).
DEFAULT_CONFLICT_POLICY: ConflictPolicy = "error"


def check_conflict_policy(policy: str) -> ConflictPolicy:
    """``policy`` if it is one of :data:`CONFLICT_POLICIES`, else a ValueError naming them."""
    if policy not in CONFLICT_POLICIES:
        known = ", ".join(CONFLICT_POLICIES)
        raise ValueError(f"on_conflict must be one of {known}, got {policy!r}")
    return policy  # type: ignore[return-value]


@dataclass(frozen=True)
class MergeCounts:
    """What a merge did, in rows (``conflicts`` in timestamps).

    ``rows_in = added + unchanged + changed + skipped``; stored rows after the merge are
    ``stored - replaced + added + changed``.

    Parameters
    ----------
    rows_in : int
        New rows offered.
    added : int
        New rows at timestamps not stored before.
    unchanged : int
        New rows identical to the stored group at their timestamp (nothing written).
    changed : int
        New rows that replaced a different stored group (policy ``replace``).
    replaced : int
        Stored rows removed by those replacements.
    skipped : int
        New rows not written because their stored group differs (policy ``keep`` or ``error``).
    kept : int
        Stored rows at timestamps the new data does not contain.
    conflicts : int
        Timestamps whose stored and new groups differ.
    first_conflict_ns : int or None
        The first of them.
    """

    rows_in: int = 0
    added: int = 0
    unchanged: int = 0
    changed: int = 0
    replaced: int = 0
    skipped: int = 0
    kept: int = 0
    conflicts: int = 0
    first_conflict_ns: int | None = None

    def __add__(self, other: MergeCounts) -> MergeCounts:
        firsts = [f for f in (self.first_conflict_ns, other.first_conflict_ns) if f is not None]
        return MergeCounts(
            rows_in=self.rows_in + other.rows_in,
            added=self.added + other.added,
            unchanged=self.unchanged + other.unchanged,
            changed=self.changed + other.changed,
            replaced=self.replaced + other.replaced,
            skipped=self.skipped + other.skipped,
            kept=self.kept + other.kept,
            conflicts=self.conflicts + other.conflicts,
            first_conflict_ns=min(firsts) if firsts else None,
        )

    @property
    def modifies(self) -> bool:
        """True if the merge changes what is stored."""
        return self.added + self.changed > 0


def timestamp_groups(ts: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """``(keys, starts, counts)`` of the runs of equal values in a sorted array."""
    if len(ts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    counts = np.diff(np.r_[starts, len(ts)])
    return ts[starts].astype(np.int64), starts.astype(np.int64), counts.astype(np.int64)


def _ts_init(table: pa.Table) -> IntArray:
    return np.asarray(table.column("ts_init").to_numpy(), dtype=np.int64)


def _column_words(column: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray:
    """A column as 64-bit words, one row per row (no copy for fixed-width columns): rows
    compare equal iff the values are identical (fixed-point prices by their raw bytes)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise ValueError(f"column {name!r} has {array.null_count} null values")
    kind = array.type
    if pa.types.is_fixed_size_binary(kind) and kind.byte_width % 8 == 0:
        width = kind.byte_width
        raw = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        raw = raw[width * array.offset : width * (array.offset + len(array))]
        return raw.view(np.uint64).reshape(len(array), width // 8)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = np.asarray(array.to_numpy(zero_copy_only=False))
        wide = values.astype(np.float64 if values.dtype.kind == "f" else np.int64)
        return wide.view(np.uint64).reshape(-1, 1)
    raise TypeError(f"column {name!r}: cannot compare values of type {kind}")


def _rows(words: np.ndarray, rows: IntArray) -> np.ndarray:
    """``words[rows]``, as a view when ``rows`` is a run of consecutive rows."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return words[int(rows[0]) : int(rows[-1]) + 1]
    return words[rows]


def _equal_groups(
    stored: pa.Table,
    new: pa.Table,
    stored_starts: IntArray,
    new_starts: IntArray,
    counts: IntArray,
) -> np.ndarray:
    """For groups of equal size ``counts`` at ``stored_starts`` / ``new_starts``: identical?"""
    if len(counts) == 0:
        return np.zeros(0, dtype=bool)
    total = int(counts.sum())
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    if total == len(counts):  # one row per group (bars)
        stored_rows, new_rows = stored_starts, new_starts
    else:
        within = np.arange(total) - np.repeat(offsets, counts)
        stored_rows = np.repeat(stored_starts, counts) + within
        new_rows = np.repeat(new_starts, counts) + within
    rows_equal = np.ones(total, dtype=bool)
    for name in new.column_names:
        old_words = _rows(_column_words(stored.column(name), name), stored_rows)
        new_words = _rows(_column_words(new.column(name), name), new_rows)
        for word in range(new_words.shape[1]):  # faster than np.all(..., axis=1)
            rows_equal &= old_words[:, word] == new_words[:, word]
    return np.logical_and.reduceat(rows_equal, offsets)


def merge_by_timestamp(
    stored: pa.Table, new: pa.Table, policy: ConflictPolicy
) -> tuple[pa.Table | None, MergeCounts]:
    """Merge ``new`` into ``stored`` (both sorted by ``ts_init``, same columns).

    Returns the merged table (sorted by ``ts_init``; groups keep their row order; ``stored``
    itself when nothing is added or changed) and the counts; the table is None when policy
    ``error`` meets a conflict.
    """
    if stored.schema.names != new.schema.names or stored.schema.types != new.schema.types:
        raise ValueError(
            f"stored columns {stored.schema.names} / {stored.schema.types} differ from the new "
            f"data's {new.schema.names} / {new.schema.types}"
        )
    stored = stored.cast(new.schema)  # same types; the new data's field flags and metadata
    stored_ts, new_ts = _ts_init(stored), _ts_init(new)
    if np.any(np.diff(stored_ts) < 0) or np.any(np.diff(new_ts) < 0):
        raise ValueError("merge_by_timestamp needs both tables sorted by ts_init")
    s_keys, s_starts, s_counts = timestamp_groups(stored_ts)
    n_keys, n_starts, n_counts = timestamp_groups(new_ts)
    # Both key arrays are sorted and unique: locate each new key among the stored ones.
    position = np.searchsorted(s_keys, n_keys)
    found = position < len(s_keys)
    found[found] = s_keys[position[found]] == n_keys[found]
    n_common = np.flatnonzero(found)
    s_common = position[found]
    same_size = s_counts[s_common] == n_counts[n_common]
    identical = np.zeros(len(s_common), dtype=bool)
    identical[same_size] = _equal_groups(
        stored,
        new,
        s_starts[s_common[same_size]],
        n_starts[n_common[same_size]],
        n_counts[n_common[same_size]],
    )
    conflict = ~identical

    s_in_new = np.zeros(len(s_keys), dtype=bool)
    s_in_new[s_common] = True
    n_in_stored = np.zeros(len(n_keys), dtype=bool)
    n_in_stored[n_common] = True
    n_conflict_rows = int(n_counts[n_common[conflict]].sum())
    counts = MergeCounts(
        rows_in=new.num_rows,
        added=int(n_counts[~n_in_stored].sum()),
        unchanged=int(n_counts[n_common[identical]].sum()),
        changed=n_conflict_rows if policy == "replace" else 0,
        replaced=int(s_counts[s_common[conflict]].sum()) if policy == "replace" else 0,
        skipped=0 if policy == "replace" else n_conflict_rows,
        kept=int(s_counts[~s_in_new].sum()),
        conflicts=int(conflict.sum()),
        first_conflict_ns=int(s_keys[s_common[conflict]].min()) if conflict.any() else None,
    )
    if policy == "error" and counts.conflicts:
        return None, counts
    if not counts.modifies:
        return stored, counts  # nothing added or changed: the stored rows as they are

    # Groups to take from each side; a timestamp's rows all come from one side.
    take_stored = np.ones(len(s_keys), dtype=bool)
    take_new = ~n_in_stored
    if policy == "replace":
        take_stored[s_common[conflict]] = False
        take_new[n_common[conflict]] = True
    stored_rows = np.repeat(take_stored, s_counts)
    new_rows = np.repeat(take_new, n_counts)
    parts = [stored.filter(pa.array(stored_rows)), new.filter(pa.array(new_rows))]
    merged = pa.concat_tables(parts)
    merged_ts = np.r_[stored_ts[stored_rows], new_ts[new_rows]]
    order = np.argsort(merged_ts, kind="stable")
    if np.any(order != np.arange(len(order))):
        merged = merged.take(pa.array(order))
    return merged, counts
