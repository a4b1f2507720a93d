"""The pattern memory: a store, its index, and the no-look-ahead rule that binds them.

A query at time ``t`` sees exactly the patterns whose outcome was known before ``t`` minus the
embargo: ``available_ns < t - embargo_ns``. Because the store is sorted by ``available_ns``, that
is a prefix of it, and :class:`~nautilus_ai.patterns.index.PatternIndex` searches a prefix without
looking past it; so the answer at ``t`` depends only on bars that closed before ``t``.

>>> memory = PatternMemory(build_from_catalog(catalog, bar_type))
>>> hits = memory.search(vectors, as_of_ns=ts, k=20)       # Neighbours (rows, distances)
>>> memory.add(matured)                                      # live: outcomes as they mature
>>> save_memory(memory, store_dir(catalog, spec.hash, "eurusd-m1"))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.patterns.index import (
    IndexConfig,
    IndexMismatchError,
    PatternIndex,
    read_index,
    write_index,
)
from nautilus_ai.patterns.store import (
    INDEX_FILE,
    STORE_FILE,
    PatternSet,
    PatternStoreError,
    format_period,
    read_patterns,
    store_lock,
    write_patterns,
)

__all__ = ["Neighbours", "PatternMemory", "load_memory", "save_memory"]

_FLOAT_COLUMNS = ("close", "atr", "forward_return", "mfe", "mae")


@dataclass(frozen=True)
class Neighbours:
    """Search results: ``rows`` (store rows, -1 padded) and squared ``distances`` (inf padded),
    shape ``(queries, k)``, plus the eligible count each query saw."""

    rows: NDArray[np.int64]
    distances: NDArray[np.float64]
    eligible: NDArray[np.int64]


class PatternMemory:
    """Patterns + index + eligibility. Rows only ever get appended (:meth:`add`).

    Parameters
    ----------
    patterns : PatternSet
        The stored patterns (sorted by ``available_ns``, as every builder returns them).
    index : PatternIndex, optional
        Their index (built here from ``index_config`` when omitted).
    index_config : IndexConfig, optional
    embargo_ns : int
        Extra gap between an outcome becoming known and its pattern being used.
    """

    def __init__(
        self,
        patterns: PatternSet,
        index: PatternIndex | None = None,
        *,
        index_config: IndexConfig | None = None,
        embargo_ns: int = 0,
    ) -> None:
        if embargo_ns < 0:
            raise ValueError(f"embargo_ns must be >= 0, was {embargo_ns}")
        available = patterns.available_ns
        if available.size > 1 and (np.diff(available) < 0).any():
            raise PatternStoreError("patterns must be sorted by available_ns")
        self.feature_spec: FeatureSpec = patterns.feature_spec
        self.pattern_spec = patterns.pattern_spec
        self.embargo_ns = int(embargo_ns)
        self.source = patterns.source
        self.bar_ns = patterns.bar_ns  # the bar period the patterns were cut from (or None)
        self.stored = len(patterns)  # rows that came from the store (the rest were added live)
        self.store_checksum = patterns.checksum()
        if index is None:
            index = PatternIndex.build(patterns.vectors, index_config)
        elif len(index) != len(patterns):
            raise ValueError(f"index has {len(index)} rows, the patterns {len(patterns)}")
        self.index = index
        self._size = len(patterns)
        capacity = max(1024, self._size)
        self._ts: NDArray[np.int64] = _grow(patterns.ts_event, capacity)
        self._available: NDArray[np.int64] = _grow(available, capacity)
        self._label: NDArray[np.int8] = _grow(patterns.label, capacity)
        self._floats: dict[str, NDArray[np.float64]] = {
            name: _grow(getattr(patterns, name), capacity) for name in _FLOAT_COLUMNS
        }
        self.instrument_id = list(patterns.instrument_id)
        counts: NDArray[np.int64] = np.zeros((capacity + 1, 3), dtype=np.int64)
        onehot = np.zeros((self._size, 3), dtype=np.int64)
        onehot[np.arange(self._size), patterns.label.astype(np.int64) + 1] = 1
        np.cumsum(onehot, axis=0, out=counts[1 : self._size + 1])
        self._label_counts = counts  # row i: label counts of rows [0, i)
        self._last_ts: dict[str, int] = {}
        instruments = set(self.instrument_id)
        if len(instruments) == 1 and self._size:  # the usual store: one instrument, no loop
            self._last_ts[instruments.pop()] = int(patterns.ts_event.max())
        else:
            for instrument, ts in zip(self.instrument_id, patterns.ts_event.tolist(), strict=True):
                if ts > self._last_ts.get(instrument, -1):
                    self._last_ts[instrument] = ts

    # ------------------------------------------------------------------ columns
    def __len__(self) -> int:
        return self._size

    @property
    def ts_event(self) -> NDArray[np.int64]:
        return self._ts[: self._size]

    @property
    def available_ns(self) -> NDArray[np.int64]:
        return self._available[: self._size]

    @property
    def label(self) -> NDArray[np.int8]:
        return self._label[: self._size]

    def column(self, name: str) -> NDArray[np.float64]:
        """One of ``close``, ``atr``, ``forward_return``, ``mfe``, ``mae``."""
        return self._floats[name][: self._size]

    @property
    def vectors(self) -> NDArray[np.float32]:
        return self.index.vectors

    def last_ts(self, instrument_id: str) -> int:
        """Newest pattern time held for ``instrument_id`` (-1 if none)."""
        return self._last_ts.get(instrument_id, -1)

    def label_counts(self, eligible: int) -> NDArray[np.int64]:
        """``(sell, hold, buy)`` counts among the first ``eligible`` rows."""
        counts: NDArray[np.int64] = self._label_counts[eligible]
        return counts

    def label_counts_at(self, eligible: NDArray[np.int64]) -> NDArray[np.int64]:
        """:meth:`label_counts` for several counts at once (``(n, 3)``)."""
        counts: NDArray[np.int64] = self._label_counts[np.asarray(eligible, dtype=np.intp)]
        return counts

    # ------------------------------------------------------------------ queries
    def eligible_count(self, as_of_ns: NDArray[np.int64] | int) -> NDArray[np.int64]:
        """Rows usable at ``as_of_ns``: outcome known before ``as_of_ns - embargo_ns``."""
        cutoff = np.asarray(as_of_ns, dtype=np.int64) - self.embargo_ns
        counts: NDArray[np.int64] = np.asarray(
            np.searchsorted(self.available_ns, cutoff, side="left"), dtype=np.int64
        )
        return counts

    def search(
        self, vectors: NDArray[np.float32], as_of_ns: NDArray[np.int64] | int, k: int
    ) -> Neighbours:
        """The ``k`` nearest eligible patterns of each vector (one ``as_of_ns`` per vector, or
        one for all)."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        times = np.broadcast_to(np.asarray(as_of_ns, dtype=np.int64), (queries.shape[0],))
        eligible = self.eligible_count(times)
        rows, distances = self.index.search(queries, eligible, k)
        return Neighbours(rows, distances, eligible)

    # ------------------------------------------------------------------ live
    def add(self, patterns: PatternSet) -> int:
        """Append matured patterns (live). Returns how many were added.

        Patterns at or before the newest one already held for their instrument are skipped
        (the store already has them). One whose outcome matured before the newest stored
        ``available_ns`` is queued behind it (it becomes eligible no earlier than that), so
        the store stays a time-ordered prefix and no pattern is ever used early.
        """
        if patterns.spec_hash != self.feature_spec.hash:
            raise PatternStoreError(
                f"patterns of feature spec {patterns.spec_hash} cannot join a memory of "
                f"{self.feature_spec.hash}"
            )
        if patterns.pattern_spec != self.pattern_spec:
            raise PatternStoreError("patterns of another PatternSpec cannot join this memory")
        if None not in (patterns.bar_ns, self.bar_ns) and patterns.bar_ns != self.bar_ns:
            raise PatternStoreError(
                f"patterns of {format_period(patterns.bar_ns or 0)} bars cannot join a memory "
                f"of {format_period(self.bar_ns or 0)} bars"
            )
        keep = [
            i
            for i, (instrument, ts) in enumerate(
                zip(patterns.instrument_id, patterns.ts_event.tolist(), strict=True)
            )
            if ts > self._last_ts.get(instrument, -1)
        ]
        if not keep:
            return 0
        new = patterns.take(np.array(keep, dtype=np.intp))
        floor = int(self._available[self._size - 1]) if self._size else np.iinfo(np.int64).min
        available = np.maximum.accumulate(np.maximum(new.available_ns, floor))
        start, end = self._size, self._size + len(new)
        self._reserve(end)
        self._ts[start:end] = new.ts_event
        self._available[start:end] = available
        self._label[start:end] = new.label
        for name in _FLOAT_COLUMNS:
            self._floats[name][start:end] = getattr(new, name)
        onehot = np.zeros((len(new), 3), dtype=np.int64)
        onehot[np.arange(len(new)), new.label.astype(np.int64) + 1] = 1
        self._label_counts[start + 1 : end + 1] = self._label_counts[start] + np.cumsum(
            onehot, axis=0
        )
        self.instrument_id.extend(new.instrument_id)
        for instrument, ts in zip(new.instrument_id, new.ts_event.tolist(), strict=True):
            self._last_ts[instrument] = max(ts, self._last_ts.get(instrument, -1))
        self.index.add(new.vectors)
        self._size = end
        return len(new)

    def _reserve(self, size: int) -> None:
        if size <= self._ts.shape[0]:
            return
        capacity = max(size, 2 * self._ts.shape[0])
        self._ts = _grow(self._ts[: self._size], capacity)
        self._available = _grow(self._available[: self._size], capacity)
        self._label = _grow(self._label[: self._size], capacity)
        self._floats = {k: _grow(v[: self._size], capacity) for k, v in self._floats.items()}
        counts = np.zeros((capacity + 1, 3), dtype=np.int64)
        counts[: self._size + 1] = self._label_counts[: self._size + 1]
        self._label_counts = counts

    def patterns(self, start: int = 0) -> PatternSet:
        """The memory's rows from ``start`` on as a :class:`PatternSet` (all of them: what
        :func:`save_memory` writes; from :attr:`stored`: those added since it was loaded)."""
        rows = slice(start, None)
        return PatternSet(
            feature_spec=self.feature_spec,
            pattern_spec=self.pattern_spec,
            vectors=np.array(self.vectors[rows]),
            ts_event=self.ts_event[rows].copy(),
            available_ns=self.available_ns[rows].copy(),
            instrument_id=list(self.instrument_id[rows]),
            close=self.column("close")[rows].copy(),
            atr=self.column("atr")[rows].copy(),
            label=self.label[rows].copy(),
            forward_return=self.column("forward_return")[rows].copy(),
            mfe=self.column("mfe")[rows].copy(),
            mae=self.column("mae")[rows].copy(),
            source=self.source if start == 0 else "live",
            bar_ns=self.bar_ns,
        )


def _grow(values: NDArray[Any], capacity: int) -> NDArray[Any]:
    out = np.zeros(max(capacity, values.shape[0]), dtype=values.dtype)
    out[: values.shape[0]] = values
    return out


def save_memory(
    memory: PatternMemory,
    folder: str | os.PathLike[str],
    *,
    may_write: Callable[[Path], None] | None = None,
) -> tuple[Path, Path]:
    """Write the store and, beside it, its index (header: spec hash, count, store checksum),
    holding the store's lock (:func:`~nautilus_ai.patterns.store.store_lock`) throughout: two
    saves into one folder at once left one writer's store beside the other's index (a memory
    that no longer opened). ``may_write(folder)``, if given, runs under the lock before anything
    is written and refuses by raising (the CLI's check of what the folder already holds).

    Raises
    ------
    PatternStoreError
        Another live process kept the lock past its timeout (the message names it).
    """
    patterns = memory.patterns()
    with store_lock(folder):
        if may_write is not None:
            may_write(Path(folder))
        store = write_patterns(patterns, folder)
        index = write_index(
            memory.index,
            Path(folder) / INDEX_FILE,
            spec_hash=patterns.spec_hash,
            store_checksum=patterns.checksum(),
            pattern_spec_hash=patterns.pattern_spec.hash,
        )
    return store, index


def load_memory(
    folder: str | os.PathLike[str],
    *,
    feature_spec_hash: str | None = None,
    index_config: IndexConfig | None = None,
    embargo_ns: int = 0,
) -> PatternMemory:
    """Open a saved memory: the store, checked, and its index, checked against the store.

    Raises
    ------
    PatternStoreError
        No store, an unreadable one, or one of another feature spec than ``feature_spec_hash``.
    IndexMismatchError
        The index file is missing, corrupt or belongs to other patterns (the message names it).
    """
    directory = Path(folder)
    patterns = read_patterns(directory / STORE_FILE)
    if feature_spec_hash is not None and patterns.spec_hash != feature_spec_hash:
        raise PatternStoreError(
            f"{directory / STORE_FILE}: patterns of feature spec {patterns.spec_hash}, the "
            f"strategy computes {feature_spec_hash}"
        )
    index_file = directory / INDEX_FILE
    if not index_file.is_file():
        raise IndexMismatchError(f"{index_file}: no index beside the store (run patterns build)")
    index = read_index(
        index_file,
        patterns.vectors,
        spec_hash=patterns.spec_hash,
        store_checksum=patterns.checksum(),
        config=index_config,
        pattern_spec_hash=patterns.pattern_spec.hash,
    )
    return PatternMemory(patterns, index, embargo_ns=embargo_ns)
