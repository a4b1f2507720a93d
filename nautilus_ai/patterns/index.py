"""Nearest-neighbour search over a time-ordered pattern store, exact or through an IVF index.

The store is sorted by when each outcome became known, so "the patterns eligible at time t" is a
prefix ``[0, m)`` of it. :meth:`PatternIndex.search` answers "the k nearest of the first m
patterns" for each query; it never looks at a row ``>= m``.

What is guaranteed (and tested, ``tests/unit/patterns``)
------------------------------------------------------
Distances are the float64 squared L2 distances of the float32 vectors
(:func:`squared_distances`); results are ordered by ``(distance, row)`` (ties by the older row).

1. **Prefix only, in every mode.** A result row is always ``< m``, and the answer for ``m`` is a
   function of rows ``[0, m)`` alone: the IVF quantizer used for a query was trained on a prefix
   of at most ``m`` rows (epochs, below), list membership depends on a row and the quantizer only,
   and rows ``>= m`` are skipped by an id range, never scored. So changing patterns after ``m``
   never changes the answer (no look-ahead through the index).
2. **Exact mode** (``mode="exact"``, and every query with fewer than ``exact_max`` eligible
   rows): the answer *equals* brute force over ``[0, m)`` (same ids, same order, same floats).
3. **IVF mode** beyond that: an approximate top-k (recall@20 measured in ``BENCHMARKS.md``)
   whose members are all eligible and exactly re-ranked: faiss proposes ``overfetch * k`` rows
   from the ``nprobe`` nearest lists among rows ``[0, anchor)`` (``anchor`` = ``m`` rounded down
   to a multiple of ``anchor_grid``), the rows ``[anchor, m)`` are scored exactly, and the union
   is ranked with float64 distances. A query's answer does not depend on the batch it is in.

Epochs: the index keeps one ``IndexIVFFlat`` per epoch ``e``, whose quantizer is trained
(deterministically: fixed seed) on the first ``exact_max * growth**e`` rows once the store has
that many; every row is added to every epoch. A query with ``anchor`` eligible rows uses the
newest epoch trained on ``<= anchor`` rows. Rebuilding from the same rows gives byte-identical
indexes (:meth:`PatternIndex.to_bytes`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

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
_FORMAT = 1


class IndexMismatchError(ValueError):
    """An index file is corrupt or was built for other patterns (the message names the file)."""


class IndexConfig(BaseModel):
    """How the memory searches.

    Parameters
    ----------
    mode : {"ivf", "exact"}
        ``"exact"``: brute force always (equals brute force by definition, O(m) per query).
        ``"ivf"``: brute force below ``exact_max`` eligible patterns, a faiss IVF index above.
    exact_max : int
        Eligible patterns up to which every query is exact; also the first IVF epoch's size.
    growth : int
        Each IVF epoch trains on ``growth`` times the rows of the previous one.
    nprobe : int
        Inverted lists scanned per query (recall vs speed; see ``BENCHMARKS.md``).
    overfetch : int
        Candidates asked from faiss per neighbour (``overfetch * k``), re-ranked exactly.
    anchor_grid : int
        Rows ``[anchor, m)`` with ``anchor = m - m % anchor_grid`` are scored exactly, so that
        queries of nearby times share one faiss call in a batch.
    seed : int
        k-means seed of the IVF quantizers (fixed: rebuilds are identical).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["ivf", "exact"] = "ivf"
    exact_max: int = Field(default=16_384, ge=256)
    growth: int = Field(default=4, ge=2, le=64)
    nprobe: int = Field(default=24, ge=1)
    overfetch: int = Field(default=2, ge=1, le=16)
    anchor_grid: int = Field(default=256, ge=1)
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
        raise ImportError(
            "the pattern memory's IVF index needs faiss: pip install 'nautilus-ai[patterns]' "
            "(or use index mode 'exact')"
        ) from None
    return faiss


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run faiss on one OpenMP thread: deterministic k-means, and on small batches (one bar,
    one pattern) OpenMP's start-up costs far more than it saves (measured: 8 ms per add)."""
    faiss = _faiss()
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


@dataclass
class _Epoch:
    rows: int  # the quantizer was trained on rows [0, rows)
    index: Any  # faiss.IndexIVFFlat holding every row


class PatternIndex:
    """Searchable, appendable pattern vectors (see the module docstring for the guarantees).

    Parameters
    ----------
    dims : int
        Vector width.
    config : IndexConfig, optional
    """

    def __init__(self, dims: int, config: IndexConfig | None = None) -> None:
        self.dims = int(dims)
        self.config = config if config is not None else IndexConfig()
        self._vectors = np.empty((0, self.dims), dtype=np.float32)
        self._size = 0
        self._epochs: list[_Epoch] = []

    # ------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return self._size

    @property
    def vectors(self) -> NDArray[np.float32]:
        """The stored vectors (a read-only view)."""
        view = self._vectors[: self._size]
        view.flags.writeable = False
        return view

    @property
    def epoch_rows(self) -> tuple[int, ...]:
        """Rows each IVF epoch's quantizer was trained on."""
        return tuple(e.rows for e in self._epochs)

    def add(self, vectors: NDArray[np.float32]) -> None:
        """Append rows (they become rows ``len(self) ..``); new epochs are trained on the way."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise ValueError(f"vectors must be (n, {self.dims}), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("pattern vectors must be finite")
        new = self._size + x.shape[0]
        if new > self._vectors.shape[0]:
            grown = np.empty((max(new, 2 * self._vectors.shape[0], 1024), self.dims), np.float32)
            grown[: self._size] = self._vectors[: self._size]
            self._vectors = grown
        start = self._size
        self._vectors[start:new] = x
        self._size = new
        if self.config.mode == "exact":
            return
        if self._epochs:
            with _one_thread():
                for epoch in self._epochs:
                    epoch.index.add(x)
        while True:
            rows = self._next_epoch_rows()
            if rows > self._size:
                break
            self._epochs.append(self._train_epoch(rows))

    def _next_epoch_rows(self) -> int:
        return int(self.config.exact_max * self.config.growth ** len(self._epochs))

    def _train_epoch(self, rows: int) -> _Epoch:
        faiss = _faiss()
        nlist = 2 ** round(math.log2(2.0 * math.sqrt(rows)))
        quantizer = faiss.IndexFlatL2(self.dims)
        index = faiss.IndexIVFFlat(quantizer, self.dims, nlist)
        index.cp.seed = self.config.seed
        index.cp.niter = 20
        with _one_thread():  # one thread: the same centroids on every run and machine
            index.train(self._vectors[:rows])
            index.add(self._vectors[: self._size])
        return _Epoch(rows, index)

    # ------------------------------------------------------------------ search
    def search(
        self, queries: NDArray[np.float32], counts: NDArray[np.int64], k: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The ``k`` nearest of rows ``[0, counts[i])`` for each query row ``i``.

        Returns ``(ids, distances)`` of shape ``(q, k)``, ordered by ``(distance, id)``;
        where fewer than ``k`` rows are eligible the rest is ``-1`` / ``inf``.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        m = np.asarray(counts, dtype=np.int64)
        if q.ndim != 2 or q.shape[1] != self.dims or m.shape != (q.shape[0],):
            raise ValueError(f"queries must be (q, {self.dims}) with one count each")
        if (m < 0).any() or (m > self._size).any():
            raise ValueError(f"counts must be in [0, {self._size}]")
        if k < 1:
            raise ValueError(f"k must be >= 1, was {k}")
        n_q = q.shape[0]
        out_ids = np.full((n_q, k), -1, dtype=np.int64)
        out_d = np.full((n_q, k), np.inf)
        grid = self.config.anchor_grid
        anchors = m - m % grid
        epoch_of = self._epoch_for(anchors)
        candidates: list[NDArray[np.int64] | None] = [None] * n_q
        ivf_rows = np.flatnonzero(epoch_of >= 0)
        if ivf_rows.size:
            order = np.lexsort((anchors[ivf_rows], epoch_of[ivf_rows]))
            sorted_rows = ivf_rows[order]
            bounds = (
                np.flatnonzero(np.diff(epoch_of[sorted_rows]) | np.diff(anchors[sorted_rows])) + 1
            )
            for group in np.split(sorted_rows, bounds):
                self._faiss_candidates(q, group, int(epoch_of[group[0]]),
                                       int(anchors[group[0]]), k, candidates)  # fmt: skip
        vectors = self._vectors
        for i in range(n_q):
            query = q[i].astype(np.float64)
            first = candidates[i]
            if first is None:  # exact: brute force over [0, m)
                ids = np.arange(m[i], dtype=np.int64)
                rows = vectors[: m[i]]
            else:
                ids = np.concatenate([first, np.arange(anchors[i], m[i], dtype=np.int64)])
                rows = vectors[ids]
            if ids.size == 0:
                continue
            best, dist = _top_k(squared_distances(rows, query), ids, k)
            out_ids[i, : best.size] = best
            out_d[i, : best.size] = dist
        return out_ids, out_d

    def _epoch_for(self, anchors: NDArray[np.int64]) -> NDArray[np.int64]:
        """Epoch used for each anchor (-1: exact)."""
        if self.config.mode == "exact" or not self._epochs:
            return np.full(anchors.shape, -1, dtype=np.int64)
        rows = np.array(self.epoch_rows, dtype=np.int64)
        return np.searchsorted(rows, anchors, side="right").astype(np.int64) - 1

    def _faiss_candidates(
        self,
        q: NDArray[np.float32],
        group: NDArray[np.int64],
        epoch: int,
        anchor: int,
        k: int,
        out: list[NDArray[np.int64] | None],
    ) -> None:
        faiss = _faiss()
        selector = faiss.IDSelectorRange(0, anchor, True)  # ids are sorted in every list
        params = faiss.SearchParametersIVF(nprobe=self.config.nprobe, sel=selector)
        want = min(anchor, self.config.overfetch * k)
        with _one_thread():
            _, ids = self._epochs[epoch].index.search(q[group], want, params=params)
        for row, found in zip(group.tolist(), ids, strict=True):
            out[row] = found[found >= 0].astype(np.int64)

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> list[bytes]:
        """The serialised IVF epochs (empty in exact mode): identical for identical rows."""
        faiss = _faiss() if self._epochs else None
        return [bytes(faiss.serialize_index(e.index)) for e in self._epochs] if faiss else []

    @classmethod
    def build(cls, vectors: NDArray[np.float32], config: IndexConfig | None = None) -> PatternIndex:
        """An index over ``vectors`` (rows in store order)."""
        index = cls(int(np.asarray(vectors).shape[1]), config)
        index.add(vectors)
        return index


# ---------------------------------------------------------------------------------- files


def _library_version() -> str:
    try:
        return f"faiss-cpu {importlib.metadata.version('faiss-cpu')}"
    except importlib.metadata.PackageNotFoundError:
        return "none"


def write_index(
    index: PatternIndex, path: str | os.PathLike[str], *, spec_hash: str, store_checksum: str
) -> Path:
    """Write ``index`` beside its store: a header (spec hash, pattern count, store checksum,
    config, payload checksum) and the faiss epochs. Atomic (temp file + rename)."""
    target = Path(path)
    blobs = index.to_bytes()
    payload = b"".join(blobs)
    header = {
        "format": _FORMAT,
        "spec_hash": spec_hash,
        "patterns": len(index),
        "dims": index.dims,
        "store_checksum": store_checksum,
        "config": index.config.model_dump(),
        "epochs": [
            {"rows": rows, "bytes": len(blob)}
            for rows, blob in zip(index.epoch_rows, blobs, strict=True)
        ],
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "library": _library_version(),
    }
    raw = json.dumps(header, sort_keys=True).encode()
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(_MAGIC)
        handle.write(struct.pack("<Q", len(raw)))
        handle.write(raw)
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


def read_index(
    path: str | os.PathLike[str],
    vectors: NDArray[np.float32],
    *,
    spec_hash: str,
    store_checksum: str,
    config: IndexConfig | None = None,
) -> PatternIndex:
    """Load an index written by :func:`write_index` for the store rows ``vectors``.

    Raises
    ------
    IndexMismatchError
        Naming the file: not an index, truncated or corrupt payload, another feature spec hash,
        another pattern count or store checksum, or another index config than ``config``.
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
    index = PatternIndex(int(header["dims"]), stored)
    # Rows are added without training (the epochs come from the file).
    index._vectors = np.ascontiguousarray(vectors, dtype=np.float32).copy()
    index._size = len(vectors)
    offset = 0
    for entry in header["epochs"]:
        blob = np.frombuffer(payload, dtype=np.uint8, count=entry["bytes"], offset=offset)
        offset += entry["bytes"]
        faiss = _faiss()
        ivf = faiss.deserialize_index(blob.copy())
        if ivf.ntotal != len(vectors):
            raise IndexMismatchError(
                f"{file}: an epoch holds {ivf.ntotal} rows, not {len(vectors)}"
            )
        index._epochs.append(_Epoch(int(entry["rows"]), ivf))
    if tuple(index.epoch_rows) != tuple(_expected_epochs(stored, len(vectors))):
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
