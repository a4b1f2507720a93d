"""Nearest-neighbour search over a time-ordered pattern store, exact or through IVF lists.

The store is sorted by when each outcome became known, so "the patterns eligible at time t" is a
prefix ``[0, m)`` of it. :meth:`PatternIndex.search` answers "the k nearest of the first m
patterns" for each query; it never returns a row ``>= m``.

What is guaranteed (and tested, ``tests/unit/patterns``)
------------------------------------------------------
Distances are the float64 squared L2 distances of the float32 vectors
(:func:`squared_distances`); results are ordered by ``(distance, row)`` (ties by the older row).

1. **Prefix only, in every mode.** The answer for ``m`` is a function of rows ``[0, m)`` alone:
   the IVF centroids used for a query were trained on a prefix of at most ``m`` rows (epochs,
   below), a row's list depends on that row and the centroids only, and rows ``>= m`` are never
   returned. So changing patterns after ``m`` never changes the answer (no look-ahead).
2. **Exact mode** (``mode="exact"``, and every query with fewer than ``exact_max`` eligible
   rows): the answer *equals* brute force over ``[0, m)`` (same ids, same order, same floats).
3. **IVF mode** beyond that: the answer is the *exact* top k (by the float64 distance, ties by
   row) among the eligible rows of the ``nprobe`` lists whose centroids are nearest to the query
   (nearest by the same float64 distance, ties by list number). Approximate only in which lists
   are searched (recall@20 against exact search is measured in ``BENCHMARKS.md``).
4. **Batch-independent.** A query's answer does not depend on the other queries of the call, on
   how rows were added (one at a time or all at once) or on BLAS: float32 matrix products (or
   faiss's float32 scan) only *propose* candidates, with a proven error bound (:func:`_margin`,
   :func:`_scan_slack`) wide enough that every row that can be in the exact answer is proposed;
   the answer is then ranked with float64 distances. So ``predict`` (one row) and
   ``predict_batch`` (a backtest) agree bit for bit.

How a batch is searched (the backtest's precomputed path): queries are grouped by list, so each
list's rows meet all the queries that probe it in one matrix product (``queries @ rows.T``)
instead of one scan per query. A first pass over each query's nearest list gives a threshold
(the k-th best score there, less the margin); the other lists only keep the rows above it; the
few survivors are re-ranked in float64.

How a single query is searched (live bars, and batches too small to share lists): faiss's
``IndexIVFFlat`` scans the query's probed lists (our centroids and list numbers, rows added in
row order) in C++ on one thread, with an ``IDSelectorRange(0, m)`` that binary-searches each
list's ascending ids, so rows ``>= m`` are never read; faiss's float32 distances only propose
candidates within a proven relative error bound (:func:`_scan_slack`), ranked in float64 as
above. Same answer as the batch path, bit for bit (tested); p50 ~0.6 ms for k = 20 over 1M
patterns on one core (``BENCHMARKS.md``).

Epochs: the index keeps centroids per epoch ``e``, trained (faiss k-means, fixed seed, one
thread: deterministic) on the first ``exact_max * growth**e`` rows once the store has that
many; every row belongs to one list of every epoch. A query with ``m`` eligible rows uses the
newest epoch trained on ``<= m`` rows. Rebuilding from the same rows gives byte-identical epochs
(:meth:`PatternIndex.to_bytes`); the index file holds centroids and list numbers, not copies of
the vectors.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from nautilus_ai.artifacts import atomic_file

__all__ = [
    "IndexConfig",
    "IndexMismatchError",
    "PatternIndex",
    "brute_force",
    "read_index",
    "squared_distances",
    "write_index",
]

_MAGIC = b"NAUTILUS-AI-PATTERN-INDEX\n"
_FORMAT = 2
_U32 = 2.0**-24  # float32 unit roundoff
# Matrix products are cut into pieces of at most this many scores (memory, cache).
_CHUNK = 1 << 21
# Rows added since the lists were last packed are scanned as a tail; past this many, repack.
_TAIL_MAX = 4096
# Up to this many queries, each IVF query is scanned alone by faiss (live bars); more are
# scored list by list as one batch (a backtest's precomputed path) when each list meets at
# least this many queries on average; below that, one matrix product per list is too small to
# beat faiss's scan (measured: 1M rows x 300 queries, 7 ms/query batched vs 0.7 ms scanned;
# 100k rows x 2,000 queries, 0.35 ms batched vs 0.65 ms scanned). Both give the same answer.
_SCAN_MAX = 4
_BATCH_PROBES_PER_LIST = 16
_BATCH_MAX = 4096


class IndexMismatchError(ValueError):
    """An index file is corrupt or was built for other patterns (the message names the file)."""


class IndexConfig(BaseModel):
    """How the memory searches.

    Parameters
    ----------
    mode : {"ivf", "exact"}
        ``"exact"``: brute force always (equals brute force by definition, O(m) per query).
        ``"ivf"``: brute force below ``exact_max`` eligible patterns, IVF lists above.
    exact_max : int
        Eligible patterns up to which every query is exact; also the first IVF epoch's size.
    growth : int
        Each IVF epoch trains on ``growth`` times the rows of the previous one.
    nprobe : int
        Lists searched per query (recall vs speed; see ``BENCHMARKS.md``).
    seed : int
        k-means seed of the IVF centroids (fixed: rebuilds are identical).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["ivf", "exact"] = "ivf"
    exact_max: int = Field(default=16_384, ge=256)
    growth: int = Field(default=4, ge=2, le=64)
    nprobe: int = Field(default=24, ge=1)
    seed: int = Field(default=1234, ge=0)


def squared_distances(rows: NDArray[np.float32], query: NDArray[np.float64]) -> NDArray[np.float64]:
    """Float64 squared L2 distance of each float32 row to ``query`` (float64, shape ``(d,)``).

    The definition every search mode ranks by; each row's value is computed the same way
    whatever the number of rows.
    """
    diff = rows.astype(np.float64) - query
    diff *= diff
    out: NDArray[np.float64] = diff.sum(axis=1)
    return out


def _pair_distances(
    rows: NDArray[np.float32],
    queries: NDArray[np.float64],
    query_of: NDArray[np.intp],
    row_of: NDArray[np.intp],
) -> NDArray[np.float64]:
    """:func:`squared_distances` of pairs ``(queries[query_of[i]], rows[row_of[i]])``: the same
    operations per pair, so the same floats (in cache-sized pieces)."""
    out: NDArray[np.float64] = np.empty(query_of.size)
    step = 4096
    for start in range(0, query_of.size, step):
        stop = start + step
        diff = rows[row_of[start:stop]].astype(np.float64)
        diff -= queries[query_of[start:stop]]
        diff *= diff
        out[start:stop] = diff.sum(axis=1)
    return out


def _top_k(
    distances: NDArray[np.float64], ids: NDArray[np.int64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The ``k`` smallest ``(distance, id)`` pairs, in that order (ties by the smaller id)."""
    if distances.size > k:
        kth = np.partition(distances, k - 1)[k - 1]
        keep = np.flatnonzero(distances <= kth)
        distances, ids = distances[keep], ids[keep]
    order = np.lexsort((ids, distances))[:k]
    return ids[order], distances[order]


def brute_force(
    vectors: NDArray[np.float32], query: NDArray[np.float32], m: int, k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Exact top ``k`` of rows ``[0, m)`` for one query (the reference the tests compare to)."""
    q = np.asarray(query, dtype=np.float32).astype(np.float64)
    distances = squared_distances(vectors[:m], q)
    return _top_k(distances, np.arange(m, dtype=np.int64), k)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        from nautilus_ai.extras import MissingExtraError

        raise MissingExtraError(
            "the pattern memory's IVF index needs faiss: pip install 'nautilus-ai[patterns]' "
            "(or use index mode 'exact')"
        ) from None
    return faiss


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's controller (created on first use), or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextmanager
def _one_blas_thread(queries: int) -> Iterator[None]:
    """Matrix products on one BLAS thread for batches: the products here are many and small, and
    on a busy machine a second BLAS thread waiting for a core made them 5-20x slower (measured,
    BENCHMARKS.md). Single queries skip the switch (~15 us)."""
    controller = _blas_controller() if queries > 8 else None
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run faiss on one OpenMP thread: deterministic k-means on every run and machine."""
    faiss = _faiss()
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _augment(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """``[x, -|x|^2 / 2]`` rows: ``[q, 1] . [x, -|x|^2/2] = q.x - |x|^2/2 = (|q|^2 - d^2) / 2``,
    so one matrix product ranks rows by distance (larger score = nearer)."""
    x = np.asarray(vectors, dtype=np.float32)
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = x
    # In cache-sized pieces (the same floats per row): a float64 copy of a whole 100k-row
    # store took 0.1-0.15 s of page faults, the pieces 0.01 s.
    step = 8192
    for start in range(0, x.shape[0], step):
        x64 = x[start : start + step].astype(np.float64)
        out[start : start + step, -1] = -0.5 * np.einsum("ij,ij->i", x64, x64)
    return out


def _margin(query_norms: NDArray[np.float64], row_norm: float, width: int) -> NDArray[np.float64]:
    """An upper bound (x4) on ``|float32 score - exact score|`` for each query.

    A float32 dot product of ``width`` terms errs by at most ``gamma * sum |a_i b_i|`` whatever
    the summation order (``gamma = width u / (1 - width u)``, ``u = 2**-24``); here the terms sum
    to at most ``|q| R + R^2 / 2`` (``R``: the largest row norm), and rounding ``-|x|^2/2`` to
    float32 adds ``u R^2 / 2``. The factor 4 also covers the float64 reference's own rounding.
    """
    gamma = width * _U32 / (1.0 - width * _U32)
    half = 0.5 * row_norm * row_norm
    bound = gamma * (query_norms * row_norm + half) + _U32 * half + 1e-12 * (1.0 + half)
    out: NDArray[np.float64] = 4.0 * bound
    return out


def _below(values: NDArray[np.float64]) -> NDArray[np.float32]:
    """float32 thresholds never above ``values`` (a score ``>=`` it keeps every candidate)."""
    down = values.astype(np.float32)
    too_high = down.astype(np.float64) > values
    down[too_high] = np.nextafter(down[too_high], np.float32(-np.inf))
    return down


def _nearest_lists(
    queries: NDArray[np.float32],
    centroids: NDArray[np.float32],
    count: int,
    *,
    nearest_first: bool = False,
    augmented: NDArray[np.float32] | None = None,
) -> NDArray[np.int64]:
    """For each query, the set of the ``count`` centroids nearest by float64 distance (ties by
    centroid number), as ``(n, count)``. The set is batch-independent; its order is by centroid
    number, or (``nearest_first``) the one with the best float32 score first, the rest in any
    order (for speed only: any probed list gives pass A a valid threshold)."""
    n, nlist = queries.shape[0], centroids.shape[0]
    count = min(count, nlist)
    out = np.empty((n, count), dtype=np.int64)
    if n == 0:
        return out
    if augmented is None:
        augmented = _augment(centroids)
    radius = float(np.sqrt(-2.0 * augmented[:, -1].astype(np.float64).min()))
    q64 = queries.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", q64, q64))
    margin = _margin(norms, radius, queries.shape[1] + 1)
    step = max(1, _CHUNK // max(1, nlist))
    for start in range(0, n, step):
        stop = min(n, start + step)
        scores = queries[start:stop] @ augmented[:, :-1].T
        scores += augmented[:, -1]
        if count == nlist:
            out[start:stop] = np.arange(nlist)
            if nearest_first:
                out[start:stop] = np.argsort(-scores, axis=1, kind="stable")
            continue
        # Where exactly count scores clear the count-th best less twice the margin (no near
        # tie at the boundary), they are the answer, in centroid order.
        if count == 1:  # a new row's list: the best score's column (argmax, not nonzero)
            top = scores.argmax(axis=1)
            kth = scores[np.arange(stop - start), top]
        else:
            kth = np.partition(scores, nlist - count, axis=1)[:, nlist - count]
        keep = scores >= _below(kth.astype(np.float64) - 2.0 * margin[start:stop])[:, None]
        sizes = keep.sum(axis=1)
        plain = np.flatnonzero(sizes == count)
        if plain.size and count == 1:
            out[start + plain, 0] = top[plain]
        elif plain.size:
            _, cols = np.nonzero(keep[plain])
            out[start + plain] = cols.reshape(plain.size, count)
        tied = np.flatnonzero(sizes != count)  # more than count within the margin: decide
        if tied.size:  # by float64 distance, ties by centroid number (as _top_k), all at once
            which, near = np.nonzero(keep[tied])
            dist = _pair_distances(centroids, q64, start + tied[which], near)
            order = np.lexsort((near, dist, which))
            which, near = which[order], near[order]
            first = np.concatenate([[0], np.cumsum(np.bincount(which, minlength=tied.size))])
            slot = np.arange(which.size) - first[which]
            chosen = near[slot < count].reshape(tied.size, count)
            out[start + tied] = np.sort(chosen, axis=1)
        if nearest_first and count > 1:  # the best float32 score's list to column 0 (the
            # first best, as a stable sort puts it; the other columns are not used in order)
            block = out[start:stop]
            at = np.arange(stop - start)
            best = np.take_along_axis(scores, block, axis=1).argmax(axis=1)
            nearest = block[at, best]
            block[at, best] = block[:, 0]
            block[:, 0] = nearest
    return out


@dataclass
class _Epoch:
    """One IVF epoch: centroids trained on rows ``[0, rows)`` and every row's list."""

    rows: int
    centroids: NDArray[np.float32]
    lists: NDArray[np.int32]  # list of each row (capacity; [0, size) valid)
    # Rows [0, packed) laid out list by list (ids ascending in each list), for scanning.
    packed: int = 0
    order: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    offsets: NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    packed_rows: NDArray[np.float32] = field(
        default_factory=lambda: np.empty((0, 1), dtype=np.float32)
    )
    packed_buffer: NDArray[np.float32] = field(  # packed_rows is its first `packed` rows
        default_factory=lambda: np.empty((0, 1), dtype=np.float32)
    )
    # The same lists as a faiss IndexIVFFlat (built on the first single query, then appended to
    # on every add): rows [0, scan_size) in row order, so each list's ids ascend.
    scan: Any = None
    scan_size: int = 0

    augmented: NDArray[np.float32] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.augmented = _augment(self.centroids)  # once per epoch, not per bar

    @property
    def nlist(self) -> int:
        return int(self.centroids.shape[0])


class PatternIndex:
    """Searchable, appendable pattern vectors (see the module docstring for the guarantees).

    Not thread-safe: a batch search may repack the lists in place, so callers serialise
    searches and adds (``PatternMemoryPredictor`` holds a lock).

    Parameters
    ----------
    dims : int
        Vector width.
    config : IndexConfig, optional
    """

    def __init__(self, dims: int, config: IndexConfig | None = None) -> None:
        self.dims = int(dims)
        self.config = config if config is not None else IndexConfig()
        self._rows = np.empty((0, self.dims + 1), dtype=np.float32)  # augmented, time order
        self._size = 0
        self._radius = 0.0  # largest row norm
        self._epochs: list[_Epoch] = []

    # ------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return self._size

    @property
    def vectors(self) -> NDArray[np.float32]:
        """The stored vectors (a read-only view)."""
        view = self._rows[: self._size, : self.dims]
        view.flags.writeable = False
        return view

    @property
    def epoch_rows(self) -> tuple[int, ...]:
        """Rows each IVF epoch's centroids were trained on."""
        return tuple(e.rows for e in self._epochs)

    @property
    def nbytes(self) -> int:
        """Bytes held: augmented vectors, list numbers and packed lists."""
        total = self._size * (self.dims + 1) * 4
        for epoch in self._epochs:
            total += epoch.centroids.nbytes + self._size * 4
            total += epoch.packed_rows.nbytes + epoch.order.nbytes
            total += epoch.scan_size * (self.dims * 4 + 8)  # faiss lists: vector + int64 id
        return total

    def add(self, vectors: NDArray[np.float32]) -> None:
        """Append rows (they become rows ``len(self) ..``); new epochs are trained on the way."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise ValueError(f"vectors must be (n, {self.dims}), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("pattern vectors must be finite")
        new = self._size + x.shape[0]
        if new > self._rows.shape[0]:
            capacity = max(new, 2 * self._rows.shape[0], 1024)
            grown = np.empty((capacity, self.dims + 1), np.float32)
            grown[: self._size] = self._rows[: self._size]
            self._rows = grown
            for epoch in self._epochs:
                lists = np.empty(capacity, dtype=np.int32)
                lists[: self._size] = epoch.lists[: self._size]
                epoch.lists = lists
        start = self._size
        augmented = _augment(x)
        self._rows[start:new] = augmented
        if x.shape[0]:
            self._radius = max(self._radius, float(np.sqrt(-2.0 * augmented[:, -1].min())))
        self._size = new
        if self.config.mode == "exact":
            return
        for epoch in self._epochs:
            epoch.lists[start:new] = _nearest_lists(
                x, epoch.centroids, 1, augmented=epoch.augmented
            )[:, 0]
            if epoch.scan is not None:
                self._extend_scan(epoch)
        while True:
            rows = self._next_epoch_rows()
            if rows > self._size:
                break
            self._epochs.append(self._train_epoch(rows))

    def _load_rows(self, x: NDArray[np.float32]) -> None:
        """Hold ``x`` as the rows, without training or assigning (a loaded index)."""
        self._rows = _augment(x)
        self._size = x.shape[0]
        if self._size:
            self._radius = float(np.sqrt(-2.0 * float(self._rows[:, -1].min())))

    def _next_epoch_rows(self) -> int:
        return int(self.config.exact_max * self.config.growth ** len(self._epochs))

    def _train_epoch(self, rows: int) -> _Epoch:
        faiss = _faiss()
        nlist = 2 ** round(math.log2(2.0 * math.sqrt(rows)))
        kmeans = faiss.Kmeans(self.dims, nlist, niter=20, seed=self.config.seed, verbose=False)
        with _one_thread():  # one thread: the same centroids on every run and machine
            kmeans.train(np.ascontiguousarray(self._rows[:rows, : self.dims]))
        centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
        return self._epoch(rows, centroids)

    def _epoch(self, rows: int, centroids: NDArray[np.float32]) -> _Epoch:
        lists = np.empty(self._rows.shape[0], dtype=np.int32)
        epoch = _Epoch(rows, centroids, lists)
        step = max(1, _CHUNK // centroids.shape[0])
        for start in range(0, self._size, step):
            stop = min(self._size, start + step)
            chunk = np.ascontiguousarray(self._rows[start:stop, : self.dims])
            lists[start:stop] = _nearest_lists(chunk, centroids, 1, augmented=epoch.augmented)[:, 0]
        return epoch

    def _pack(self, epoch: _Epoch) -> None:
        """Lay rows ``[0, size)`` out list by list (stable: ids ascending within a list)."""
        lists = epoch.lists[: self._size]
        order = np.argsort(lists, kind="stable").astype(np.int64)
        counts = np.bincount(lists, minlength=epoch.nlist)
        epoch.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        epoch.order = order
        # Into the epoch's buffer, made half again as large as needed: a fresh 30-50 MB copy
        # per repack (once per learning block in a backtest) took 20-105 ms in the engine's
        # process, most of it first touches of new pages; a reused buffer 8-15 ms.
        buffer = epoch.packed_buffer
        if buffer.shape[0] < self._size or buffer.shape[1] != self._rows.shape[1]:
            rows = max(self._size, buffer.shape[0]) * 3 // 2  # pages are touched when used
            buffer = epoch.packed_buffer = np.empty((rows, self._rows.shape[1]), np.float32)
        # mode "clip": the ids are valid, and "raise" copies through a temporary first
        np.take(self._rows, order, axis=0, out=buffer[: self._size], mode="clip")
        epoch.packed_rows = buffer[: self._size]
        epoch.packed = self._size

    # ------------------------------------------------------------------ search
    def search(
        self, queries: NDArray[np.float32], counts: NDArray[np.int64], k: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The ``k`` nearest of rows ``[0, counts[i])`` for each query row ``i``.

        Returns ``(ids, distances)`` of shape ``(q, k)``, ordered by ``(distance, id)``;
        where fewer than ``k`` rows are found the rest is ``-1`` / ``inf``.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        m = np.asarray(counts, dtype=np.int64)
        if q.ndim != 2 or q.shape[1] != self.dims or m.shape != (q.shape[0],):
            raise ValueError(f"queries must be (q, {self.dims}) with one count each")
        if (m < 0).any() or (m > self._size).any():
            raise ValueError(f"counts must be in [0, {self._size}]")
        if k < 1:
            raise ValueError(f"k must be >= 1, was {k}")
        if not np.isfinite(q).all():
            raise ValueError("queries must be finite")
        n_q = q.shape[0]
        out_ids = np.full((n_q, k), -1, dtype=np.int64)
        out_d = np.full((n_q, k), np.inf)
        epoch_of = self._epoch_for(m)
        with _one_blas_thread(n_q):
            for e in np.unique(epoch_of).tolist():
                group = np.flatnonzero(epoch_of == e)
                if e < 0:
                    out_ids[group], out_d[group] = self._search_exact(q[group], m[group], k)
                    continue
                # Pieces of at most _BATCH_MAX queries: the candidate tables of a larger batch
                # leave the cache (the May backtest's 8,192-query block ranked at 2x the cost
                # per query of a 4,096 one); answers do not depend on the batch.
                for s in range(0, group.size, _BATCH_MAX):
                    part = group[s : s + _BATCH_MAX]
                    found = self._search_ivf(self._epochs[e], q[part], m[part], k)
                    out_ids[part], out_d[part] = found
        return out_ids, out_d

    def _epoch_for(self, counts: NDArray[np.int64]) -> NDArray[np.int64]:
        """Epoch used for each eligible count (-1: exact)."""
        if self.config.mode == "exact" or not self._epochs:
            return np.full(counts.shape, -1, dtype=np.int64)
        rows = np.array(self.epoch_rows, dtype=np.int64)
        return np.searchsorted(rows, counts, side="right").astype(np.int64) - 1

    def _search_exact(
        self, q: NDArray[np.float32], m: NDArray[np.int64], k: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Brute force over ``[0, m)``: float32 scores propose, float64 distances decide."""
        margin = self._margins(q)
        qa = _with_ones(q)
        pairs: list[tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float32]]] = []
        order = np.argsort(m, kind="stable")
        top = int(m.max()) if m.size else 0
        step = max(1, _CHUNK // max(1, top))
        for start in range(0, order.size, step):
            chunk = order[start : start + step]
            width = int(m[chunk].max())
            if width == 0:
                continue
            scores = qa[chunk] @ self._rows[:width].T
            eligible = np.arange(width)[None, :] < m[chunk][:, None]
            scores[~eligible] = -np.inf
            kth = self._kth(scores, np.minimum(k, m[chunk]))
            keep = scores >= _below(kth - 2.0 * margin[chunk])[:, None]
            keep &= eligible
            rows, cols = np.nonzero(keep)
            pairs.append((chunk[rows], cols.astype(np.int64), scores[rows, cols]))
        return self._rank(q, pairs, k)

    def _search_ivf(
        self, epoch: _Epoch, q: NDArray[np.float32], m: NDArray[np.int64], k: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        n_q, nprobe = q.shape[0], min(self.config.nprobe, epoch.nlist)
        if n_q <= _SCAN_MAX or n_q * nprobe < _BATCH_PROBES_PER_LIST * epoch.nlist:
            return self._search_ivf_scan(epoch, q, m, k, nprobe)
        if epoch.offsets.size != epoch.nlist + 1 or self._size - epoch.packed > _TAIL_MAX:
            self._pack(epoch)
        probes = _nearest_lists(
            q, epoch.centroids, nprobe, nearest_first=True, augmented=epoch.augmented
        )
        margin = self._margins(q)
        qa = _with_ones(q)
        offsets, order, packed = epoch.offsets, epoch.order, epoch.packed_rows
        # Pass A: the best k scores of each query in its nearest list; their k-th best, less
        # twice the margin, is a threshold that every row of the exact answer clears. (One list:
        # the 12.9k-query May backtest searched in 0.58 s instead of 0.80 s with the nearest 6
        # lists; the looser threshold costs less in pass B than the extra partitions save.)
        near = 1
        best = np.full((n_q, near * k), -np.inf, dtype=np.float32)
        for rank in range(near):
            for lst, who in _groups(probes[:, rank]):
                start, stop = int(offsets[lst]), int(offsets[lst + 1])
                ids = order[start:stop]
                width = int(np.searchsorted(ids, int(m[who].max())))
                if width == 0:
                    continue
                rows = packed[start : start + width]
                scores = qa[who] @ rows.T
                scores[ids[None, :width] >= m[who][:, None]] = -np.inf
                if width > k:
                    scores = np.partition(scores, width - k, axis=1)[:, width - k :]
                best[who, rank * k : rank * k + scores.shape[1]] = scores
        threshold = self._kth(best, np.full(n_q, k)) - 2.0 * margin
        limit = _below(threshold)
        # Pass B: every probed list, keeping the rows above the threshold.
        pairs: list[tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float32]]] = []
        who_all, rank_all = np.nonzero(np.ones(probes.shape, dtype=bool))
        for lst, members in _groups(probes[who_all, rank_all]):
            who = who_all[members]
            start, stop = int(offsets[lst]), int(offsets[lst + 1])
            if stop == start:
                continue
            ids = order[start:stop]
            width = int(np.searchsorted(ids, int(m[who].max())))
            if width == 0:
                continue
            rows = packed[start : start + width]
            step = max(1, _CHUNK // width)
            for s in range(0, who.size, step):
                part = who[s : s + step]
                scores = qa[part] @ rows.T
                hit = np.flatnonzero(scores >= limit[part][:, None])
                r, c = hit // width, hit % width
                if int(ids[width - 1]) < int(m[part].min()):  # every row eligible for all
                    pairs.append((part[r], ids[c], scores.ravel()[hit]))
                    continue
                ok = ids[c] < m[part[r]]
                pairs.append((part[r[ok]], ids[c[ok]], scores[r[ok], c[ok]]))
        # Rows added since the lists were packed: scanned directly, kept where their list is
        # probed by the query.
        if epoch.packed < self._size:
            tail = np.arange(epoch.packed, self._size, dtype=np.int64)
            probed = np.zeros((n_q, epoch.nlist), dtype=bool)
            probed[np.arange(n_q)[:, None], probes] = True
            tail_lists = epoch.lists[epoch.packed : self._size]
            rows = self._rows[epoch.packed : self._size]
            step = max(1, _CHUNK // tail.size)
            for s in range(0, n_q, step):
                part = np.arange(s, min(n_q, s + step))
                scores = qa[part] @ rows.T
                keep = scores >= limit[part][:, None]
                keep &= probed[part][:, tail_lists]
                keep &= tail[None, :] < m[part][:, None]
                r, c = np.nonzero(keep)
                pairs.append((part[r], tail[c], scores[r, c]))
        return self._rank(q, pairs, k)

    def _search_ivf_scan(
        self, epoch: _Epoch, q: NDArray[np.float32], m: NDArray[np.int64], k: int, nprobe: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """:meth:`_search_ivf` for a handful of queries (live, one bar): the same answer, with
        the probed lists scanned by faiss (``IndexIVFFlat.search_preassigned`` on our lists, an
        ``IDSelectorRange(0, m)`` that binary-searches each list's ascending ids, one thread).

        faiss ranks by its float32 distance ``(x - q)^2`` summed in some order: a sum of
        non-negative terms, so it is within a relative ``gamma`` of the exact distance
        (:func:`_scan_slack`). Every row of the exact top k therefore has a float32 distance
        ``<= slack x`` the k-th float32 distance; faiss is asked for more rows until the last
        one it returns is beyond that, and those candidates are ranked in float64 by
        ``(distance, row)``, as the batch path ranks them.
        """
        faiss = _faiss()
        if epoch.scan is None or epoch.scan_size < self._size:
            self._extend_scan(epoch)
        probes = _nearest_lists(q, epoch.centroids, nprobe, augmented=epoch.augmented)
        n_q = q.shape[0]
        out_ids = np.full((n_q, k), -1, dtype=np.int64)
        out_d = np.full((n_q, k), np.inf)
        slack, floor = _scan_slack(self.dims)
        q64 = q.astype(np.float64)
        with _one_thread():
            for i in range(n_q):
                params = faiss.SearchParametersIVF(
                    sel=faiss.IDSelectorRange(0, int(m[i]), True), nprobe=nprobe
                )
                fetch = 2 * k
                while True:
                    dist, ids = _scan(faiss, epoch.scan, q[i : i + 1], probes[i], fetch, params)
                    found = int((ids >= 0).sum())
                    limit = np.inf if found < k else float(dist[k - 1]) * slack + floor
                    if found < fetch or float(dist[fetch - 1]) > limit:
                        break
                    fetch *= 4
                candidates = ids[(ids >= 0) & (dist.astype(np.float64) <= limit)]
                if candidates.size == 0:
                    continue
                exact = squared_distances(self._rows[candidates, : self.dims], q64[i])
                best, best_d = _top_k(exact, candidates, k)
                out_ids[i, : best.size], out_d[i, : best.size] = best, best_d
        return out_ids, out_d

    def _extend_scan(self, epoch: _Epoch) -> None:
        """Create the epoch's faiss lists (centroids = ours) or append rows added since, in row
        order with our list numbers (``add_core`` with the assignment given: faiss assigns
        nothing itself)."""
        faiss = _faiss()
        if epoch.scan is None:
            quantizer = faiss.IndexFlatL2(self.dims)
            quantizer.add(epoch.centroids)
            epoch.scan = faiss.IndexIVFFlat(quantizer, self.dims, epoch.nlist)
            epoch.scan_size = 0
        start, stop = epoch.scan_size, self._size
        if stop <= start:
            return
        rows = np.ascontiguousarray(self._rows[start:stop, : self.dims])
        ids = np.arange(start, stop, dtype=np.int64)
        lists = np.ascontiguousarray(epoch.lists[start:stop], dtype=np.int64)
        with _one_thread():
            epoch.scan.add_core(
                stop - start, faiss.swig_ptr(rows), faiss.swig_ptr(ids), faiss.swig_ptr(lists)
            )
        epoch.scan_size = stop

    def _margins(self, q: NDArray[np.float32]) -> NDArray[np.float64]:
        q64 = q.astype(np.float64)
        return _margin(np.sqrt(np.einsum("ij,ij->i", q64, q64)), self._radius, self.dims + 1)

    @staticmethod
    def _kth(scores: NDArray[np.float32], k: NDArray[np.int64]) -> NDArray[np.float64]:
        """The k-th largest score of each row (-inf where a row has fewer than k finite)."""
        width = scores.shape[1]
        out = np.full(scores.shape[0], -np.inf)
        for kk in np.unique(k).tolist():
            rows = np.flatnonzero(k == kk)
            if kk < 1 or kk > width:
                continue
            out[rows] = np.partition(scores[rows], width - kk, axis=1)[:, width - kk]
        return out

    def _rank(
        self,
        q: NDArray[np.float32],
        pairs: list[tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float32]]],
        k: int,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """From candidate ``(query, row, float32 score)`` pairs: keep, per query, those within
        twice the margin of its k-th best score, then rank them by float64 distance."""
        n_q = q.shape[0]
        out_ids = np.full((n_q, k), -1, dtype=np.int64)
        out_d = np.full((n_q, k), np.inf)
        if not pairs:
            return out_ids, out_d
        who = np.concatenate([p[0] for p in pairs]).astype(np.intp)
        rows = np.concatenate([p[1] for p in pairs])
        scores = np.concatenate([p[2] for p in pairs]).astype(np.float64)
        if who.size == 0:
            return out_ids, out_d
        # k-th best score per query among its candidates: a dense (queries x candidates) table.
        # Query numbers fit 16 bits in a batch piece: numpy's stable sort is then a radix sort.
        key = who.astype(np.int16) if n_q <= np.iinfo(np.int16).max else who
        order = np.argsort(key, kind="stable")
        who, rows, scores = who[order], rows[order], scores[order]
        sizes = np.bincount(who, minlength=n_q)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        slot = np.arange(who.size) - starts[who]
        small = sizes <= 256
        kth = np.full(n_q, -np.inf)
        in_table = small[who]
        table = np.full((n_q, int(sizes[small].max(initial=1))), -np.inf)
        table[who[in_table], slot[in_table]] = scores[in_table]
        kth[small] = self._kth(table[small], np.minimum(k, sizes[small]))
        for i in np.flatnonzero(~small).tolist():
            own = scores[starts[i] : starts[i] + sizes[i]]
            kk = min(k, own.size)  # k above the candidates: every candidate is kept
            kth[i] = np.partition(own, own.size - kk)[own.size - kk]
        keep = scores >= kth[who] - 2.0 * self._margins(q)[who]
        who, rows = who[keep], rows[keep]
        distances = _pair_distances(self._rows[:, : self.dims], q.astype(np.float64), who, rows)
        # Rank by (distance, row) within each query: ``who`` ascends, and each query keeps a few
        # candidates, so they are sorted as rows of a (queries x candidates) table (faster than
        # one three-key sort of them all; padding sorts last and is not copied out).
        sizes = np.bincount(who, minlength=n_q)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        slot = np.arange(who.size) - starts[who]
        width = max(int(sizes.max(initial=0)), 1)
        d_table = np.full((n_q, width), np.inf)
        r_table = np.full((n_q, width), np.iinfo(np.int64).max, dtype=np.int64)
        d_table[who, slot] = distances
        r_table[who, slot] = rows
        order = np.lexsort((r_table, d_table), axis=-1)[:, :k]
        top = order.shape[1]
        filled = np.arange(top)[None, :] < np.minimum(sizes, k)[:, None]
        out_ids[:, :top] = np.where(filled, np.take_along_axis(r_table, order, axis=1), -1)
        out_d[:, :top] = np.where(filled, np.take_along_axis(d_table, order, axis=1), np.inf)
        return out_ids, out_d

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> list[bytes]:
        """Each IVF epoch (centroids, then every row's list number): identical for identical
        rows, however they were added."""
        return [
            np.ascontiguousarray(e.centroids, dtype="<f4").tobytes()
            + np.ascontiguousarray(e.lists[: self._size], dtype="<i4").tobytes()
            for e in self._epochs
        ]

    @classmethod
    def build(cls, vectors: NDArray[np.float32], config: IndexConfig | None = None) -> PatternIndex:
        """An index over ``vectors`` (rows in store order)."""
        index = cls(int(np.asarray(vectors).shape[1]), config)
        index.add(vectors)
        return index


def _scan_slack(dims: int) -> tuple[float, float]:
    """``(slack, floor)``: a float32 distance ``(x - q)^2`` summed over ``dims`` terms in any
    order is within ``gamma = (dims + 2) u / (1 - (dims + 2) u)`` (relative) of the exact one
    (each term: the difference and the square round once; the sum adds ``dims - 1`` roundings
    of non-negative terms), plus underflow (``floor``). ``slack = (1 + 4 gamma) / (1 - 4 gamma)``
    also covers the float64 reference's rounding, as :func:`_margin` does."""
    gamma = (dims + 2) * _U32 / (1.0 - (dims + 2) * _U32)
    return (1.0 + 4.0 * gamma) / (1.0 - 4.0 * gamma), 4.0 * dims * 2.0**-126


def _scan(
    faiss: Any,
    scan: Any,
    query: NDArray[np.float32],
    probes: NDArray[np.int64],
    fetch: int,
    params: Any,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """faiss's ``fetch`` nearest rows of the lists ``probes`` for one query (the C++ call: the
    Python wrapper of ``search_preassigned`` takes no selector)."""
    x = np.ascontiguousarray(query, dtype=np.float32)
    assign = np.ascontiguousarray(probes, dtype=np.int64)[None, :]
    coarse = np.zeros(assign.shape, dtype=np.float32)
    dist = np.empty((1, fetch), dtype=np.float32)
    ids = np.empty((1, fetch), dtype=np.int64)
    scan.search_preassigned_c(
        1, faiss.swig_ptr(x), fetch, faiss.swig_ptr(assign), faiss.swig_ptr(coarse),
        faiss.swig_ptr(dist), faiss.swig_ptr(ids), False, params,
    )  # fmt: skip
    return dist[0], ids[0]


def _with_ones(q: NDArray[np.float32]) -> NDArray[np.float32]:
    """``[q, 1]`` rows (a query's side of the augmented product)."""
    out = np.ones((q.shape[0], q.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = q
    return out


def _groups(values: NDArray[np.int64]) -> Iterator[tuple[int, NDArray[np.intp]]]:
    """``(value, positions)`` for each distinct value (positions ascending)."""
    if values.size == 0:
        return
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    bounds = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [values.size]])
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        yield int(sorted_values[start]), order[start:stop]


# ---------------------------------------------------------------------------------- files


def _library_version() -> str:
    try:
        return f"faiss-cpu {importlib.metadata.version('faiss-cpu')}"
    except importlib.metadata.PackageNotFoundError:
        return "none"


def write_index(
    index: PatternIndex,
    path: str | os.PathLike[str],
    *,
    spec_hash: str,
    store_checksum: str,
    pattern_spec_hash: str | None = None,
) -> Path:
    """Write ``index`` beside its store: a header (feature spec hash, pattern spec hash, pattern
    count, store checksum, config, payload checksum) and the epochs (centroids + list numbers).
    Atomic."""
    target = Path(path)
    blobs = index.to_bytes()
    payload = b"".join(blobs)
    header = {
        "format": _FORMAT,
        "spec_hash": spec_hash,
        "pattern_spec_hash": pattern_spec_hash,
        "patterns": len(index),
        "dims": index.dims,
        "store_checksum": store_checksum,
        "config": index.config.model_dump(),
        "epochs": [
            {"rows": e.rows, "nlist": e.nlist, "bytes": len(blob)}
            for e, blob in zip(index._epochs, blobs, strict=True)
        ],
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "library": _library_version(),
    }
    raw = json.dumps(header, sort_keys=True).encode()
    with atomic_file(target) as tmp, open(tmp, "wb") as handle:
        handle.write(_MAGIC)
        handle.write(struct.pack("<Q", len(raw)))
        handle.write(raw)
        handle.write(payload)
    return target


def read_index(
    path: str | os.PathLike[str],
    vectors: NDArray[np.float32],
    *,
    spec_hash: str,
    store_checksum: str,
    config: IndexConfig | None = None,
    pattern_spec_hash: str | None = None,
) -> PatternIndex:
    """Load an index written by :func:`write_index` for the store rows ``vectors``.

    Raises
    ------
    IndexMismatchError
        Naming the file: not an index, truncated or corrupt payload, another feature spec hash,
        another pattern spec hash (e.g. another chart model; files that record one), another
        pattern count or store checksum, or another index config than ``config``.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise IndexMismatchError(f"{file}: cannot read the pattern index: {exc}") from None
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        raise IndexMismatchError(f"{file}: not a nautilus-ai pattern index (bad magic)")
    (length,) = struct.unpack_from("<Q", data, len(_MAGIC))
    start = len(_MAGIC) + 8
    try:
        header = json.loads(data[start : start + length])
    except ValueError:
        raise IndexMismatchError(f"{file}: corrupt header") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise IndexMismatchError(f"{file}: unknown index format {header!r:.80}")
    if header.get("spec_hash") != spec_hash:
        raise IndexMismatchError(
            f"{file}: built for feature spec {header.get('spec_hash')}, the store is {spec_hash}"
        )
    recorded = header.get("pattern_spec_hash")
    if pattern_spec_hash is not None and recorded is not None and recorded != pattern_spec_hash:
        raise IndexMismatchError(
            f"{file}: built for pattern spec {recorded}, the store is {pattern_spec_hash} "
            "(another pattern definition or chart model)"
        )
    if header.get("patterns") != len(vectors) or header.get("store_checksum") != store_checksum:
        raise IndexMismatchError(
            f"{file}: built for {header.get('patterns')} patterns with store checksum "
            f"{str(header.get('store_checksum'))[:12]}, the store has {len(vectors)} / "
            f"{store_checksum[:12]} (rebuild it: `nautilus-ai patterns build`)"
        )
    payload = data[start + length :]
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise IndexMismatchError(f"{file}: corrupt payload (checksum mismatch)")
    stored = IndexConfig.model_validate(header["config"])
    if config is not None and config != stored:
        raise IndexMismatchError(
            f"{file}: built with index config {stored.model_dump()}, asked for "
            f"{config.model_dump()}"
        )
    dims = int(header["dims"])
    n = len(vectors)
    index = PatternIndex(dims, stored)
    index._load_rows(np.ascontiguousarray(vectors, dtype=np.float32))  # epochs: from the file
    offset = 0
    for entry in header["epochs"]:
        nlist, size = int(entry["nlist"]), int(entry["bytes"])
        if size != nlist * dims * 4 + n * 4:
            raise IndexMismatchError(f"{file}: an epoch of {size} bytes does not fit {n} rows")
        centroids = np.frombuffer(payload, "<f4", nlist * dims, offset).reshape(nlist, dims)
        lists = np.frombuffer(payload, "<i4", n, offset + nlist * dims * 4)
        offset += size
        if n and (lists.min() < 0 or lists.max() >= nlist):
            raise IndexMismatchError(f"{file}: list numbers out of range")
        epoch = _Epoch(int(entry["rows"]), np.array(centroids, dtype=np.float32),
                       np.empty(index._rows.shape[0], dtype=np.int32))  # fmt: skip
        epoch.lists[:n] = lists
        index._epochs.append(epoch)
    if tuple(index.epoch_rows) != tuple(_expected_epochs(stored, n)):
        raise IndexMismatchError(f"{file}: epochs {index.epoch_rows} do not fit the config")
    return index


def _expected_epochs(config: IndexConfig, size: int) -> list[int]:
    if config.mode == "exact":
        return []
    rows, out = config.exact_max, []
    while rows <= size:
        out.append(rows)
        rows *= config.growth
    return out
