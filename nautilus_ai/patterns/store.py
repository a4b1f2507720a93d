"""Patterns as columns, built vectorised from bars, stored as Parquet in the catalog.

Layout (versioned by the feature-spec hash, so patterns of another feature definition are never
mixed with these)::

    <catalog>/patterns/<feature spec hash>/<name>/patterns.parquet   the store
    <catalog>/patterns/<feature spec hash>/<name>/patterns.index     its ANN index (index.py)

Rows are sorted by ``available_ns`` (when the outcome became known), then ``ts_event``: the
patterns eligible at any time form a prefix of the store. The file's schema metadata holds the
feature spec, the pattern spec, the vector's column names and a checksum of the rows
(:func:`store_checksum`), which the index header repeats.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from nautilus_ai.artifacts import atomic_file, flock_within
from nautilus_ai.bar_types import bar_step_ns, format_period
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.patterns.outcomes import bar_outcomes
from nautilus_ai.patterns.spec import PatternSpec, pattern_layout, pattern_vectors

if TYPE_CHECKING:
    from nautilus_ai.patterns.chart_embedding import ChartEmbedder

__all__ = [
    "FORMAT_VERSION",
    "PatternSet",
    "PatternStoreError",
    "bar_step_ns",
    "build_from_bars",
    "build_from_catalog",
    "build_from_decision_log",
    "format_period",
    "read_patterns",
    "store_checksum",
    "store_dir",
    "store_lock",
    "write_patterns",
]

FORMAT_VERSION = 1
META_FORMAT = b"nautilus_ai.patterns.format"
META_FEATURE_SPEC = b"nautilus_ai.patterns.feature_spec"
META_SPEC_HASH = b"nautilus_ai.patterns.spec_hash"
META_PATTERN_SPEC = b"nautilus_ai.patterns.pattern_spec"
META_COLUMNS = b"nautilus_ai.patterns.vector_columns"
META_CHECKSUM = b"nautilus_ai.patterns.checksum"
META_BAR_NS = b"nautilus_ai.patterns.bar_ns"
STORE_FILE = "patterns.parquet"
INDEX_FILE = "patterns.index"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+\-]{0,127}$")

#: How long a writer waits for another process writing the same store (its save takes seconds).
STORE_LOCK_TIMEOUT_S = 120.0


class PatternStoreError(ValueError):
    """A store is missing, unreadable or inconsistent (the message names the file)."""


@dataclass(eq=False)
class PatternSet:
    """Patterns as parallel arrays, sorted by ``(available_ns, ts_event)``.

    Attributes
    ----------
    feature_spec : FeatureSpec
    pattern_spec : PatternSpec
    vectors : ndarray of float32, shape (n, d)
        The pattern vectors (:func:`~nautilus_ai.patterns.spec.pattern_vectors`).
    ts_event : ndarray of int64
        Close time of the pattern's bar ``t`` (UTC ns).
    available_ns : ndarray of int64
        Close time of bar ``t + horizon``: when the outcome became known.
    instrument_id : list of str
    close, atr : ndarray of float64
        Entry close and ATR at ``t`` (the outcome's unit).
    label : ndarray of int8
        Triple-barrier result (-1, 0, +1).
    forward_return, mfe, mae : ndarray of float64
        In ATRs (see :mod:`nautilus_ai.patterns.outcomes`).
    source : str
        ``"bars"`` or ``"decision_log"``.
    bar_ns : int or None
        The bar period of the series the patterns came from (:func:`bar_step_ns`): a shape
        of 32 one-minute bars is not one of 32 hours. ``None`` for stores written before it
        was recorded.
    """

    feature_spec: FeatureSpec
    pattern_spec: PatternSpec
    vectors: NDArray[np.float32]
    ts_event: NDArray[np.int64]
    available_ns: NDArray[np.int64]
    instrument_id: list[str]
    close: NDArray[np.float64]
    atr: NDArray[np.float64]
    label: NDArray[np.int8]
    forward_return: NDArray[np.float64]
    mfe: NDArray[np.float64]
    mae: NDArray[np.float64]
    source: str = "bars"
    bar_ns: int | None = None
    _checksum: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.ts_event.size)

    @property
    def spec_hash(self) -> str:
        return self.feature_spec.hash

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def vector_columns(self) -> tuple[str, ...]:
        return pattern_layout(self.feature_spec.names, self.pattern_spec).column_names

    def checksum(self) -> str:
        """:func:`store_checksum` of these rows (cached)."""
        if self._checksum is None:
            self._checksum = store_checksum(self.vectors, self.ts_event, self.available_ns)
        return self._checksum

    def take(self, rows: NDArray[np.intp] | slice) -> PatternSet:
        """The rows ``rows`` as a new set (same specs)."""
        index = np.arange(len(self))[rows]
        return PatternSet(
            feature_spec=self.feature_spec,
            pattern_spec=self.pattern_spec,
            vectors=np.ascontiguousarray(self.vectors[index]),
            ts_event=self.ts_event[index],
            available_ns=self.available_ns[index],
            instrument_id=[self.instrument_id[i] for i in index.tolist()],
            close=self.close[index],
            atr=self.atr[index],
            label=self.label[index],
            forward_return=self.forward_return[index],
            mfe=self.mfe[index],
            mae=self.mae[index],
            source=self.source,
            bar_ns=self.bar_ns,
        )

    @classmethod
    def concat(cls, parts: Sequence[PatternSet]) -> PatternSet:
        """Several sets of the same specs in one, re-sorted by ``(available_ns, ts_event)``."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for part in parts[1:]:
            if part.spec_hash != first.spec_hash or part.pattern_spec != first.pattern_spec:
                raise PatternStoreError("cannot mix patterns of different feature/pattern specs")
        periods = {p.bar_ns for p in parts if p.bar_ns is not None}
        if len(periods) > 1:
            raise PatternStoreError(
                f"cannot mix patterns of bars of different periods ({_periods(periods)})"
            )
        merged = PatternSet(
            feature_spec=first.feature_spec,
            pattern_spec=first.pattern_spec,
            vectors=np.concatenate([p.vectors for p in parts]),
            ts_event=np.concatenate([p.ts_event for p in parts]),
            available_ns=np.concatenate([p.available_ns for p in parts]),
            instrument_id=[i for p in parts for i in p.instrument_id],
            close=np.concatenate([p.close for p in parts]),
            atr=np.concatenate([p.atr for p in parts]),
            label=np.concatenate([p.label for p in parts]),
            forward_return=np.concatenate([p.forward_return for p in parts]),
            mfe=np.concatenate([p.mfe for p in parts]),
            mae=np.concatenate([p.mae for p in parts]),
            source=first.source if all(p.source == first.source for p in parts) else "mixed",
            bar_ns=periods.pop() if periods else None,
        )
        order = np.lexsort((merged.ts_event, merged.available_ns))
        return merged.take(order)


def _periods(periods: set[int]) -> str:
    return ", ".join(format_period(p) for p in sorted(periods))


def store_checksum(
    vectors: NDArray[np.float32], ts_event: NDArray[np.int64], available_ns: NDArray[np.int64]
) -> str:
    """SHA-256 (hex) of the rows that fix an index: vectors, decision and availability times."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
    digest.update(np.ascontiguousarray(ts_event, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(available_ns, dtype="<i8").tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- building


def build_from_bars(
    ts: NDArray[np.int64],
    ohlcv: NDArray[np.float64],
    *,
    instrument_id: str,
    feature_spec: FeatureSpec | None = None,
    pattern_spec: PatternSpec | None = None,
    features: NDArray[np.float64] | None = None,
    chart_embedder: ChartEmbedder | None = None,
) -> PatternSet:
    """Every pattern of a bar series whose features are warm and whose outcome is in the data.

    ``ts`` / ``ohlcv`` (``(n, 5)``: open, high, low, close, volume) are filtered to the bars the
    feature engine accepts first; ``features`` may pass precomputed rows of those bars. A
    ``pattern_spec`` with a chart block needs the ``chart_embedder`` of its ``chart_model``.
    """
    fspec = feature_spec if feature_spec is not None else FeatureSpec()
    pspec = pattern_spec if pattern_spec is not None else PatternSpec()
    ts = np.asarray(ts, dtype=np.int64)
    ohlcv = np.asarray(ohlcv, dtype=np.float64)
    if features is None:
        keep = accepted_bars_mask(ts, *ohlcv.T)
        ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
        features = compute_features(fspec, ts, *ohlcv.T)
    elif features.shape != (ts.size, len(fspec.names)):
        raise ValueError(f"features must be ({ts.size}, {len(fspec.names)}), got {features.shape}")
    high, low, close = ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3]
    outcomes = bar_outcomes(pspec.label_spec(fspec.atr_period), ts, high, low, close)
    _check_embedder(pspec, chart_embedder)
    rows = np.arange(ts.size)
    ok = outcomes.valid & (features[:, fspec.index("warm")] == 1.0)
    ok &= rows >= pspec.context_bars - 1
    ok &= np.isfinite(features).all(axis=1)
    rows = rows[ok]
    charts = _chart_embeddings(pspec, chart_embedder, ts, ohlcv, rows)
    return _assemble(
        fspec, pspec, features, close, ts, outcomes, rows, instrument_id, "bars", charts
    )


def _check_embedder(pspec: PatternSpec, embedder: ChartEmbedder | None) -> None:
    if pspec.chart_model is None:
        if embedder is not None:
            raise PatternStoreError(
                "a chart_embedder was given for a PatternSpec without a chart block "
                "(use PatternSpec.with_chart(embedder))"
            )
        return
    if embedder is None:
        raise PatternStoreError(
            f"the PatternSpec's chart block needs the chart model {pspec.chart_model} "
            "(pass chart_embedder=ChartEmbedder(<model folder>))"
        )
    if embedder.model_id != pspec.chart_model or embedder.dims != pspec.chart_dims:
        raise PatternStoreError(
            f"chart model {embedder.model_dir} is {embedder.model_id} ({embedder.dims} dims); "
            f"the PatternSpec was made for {pspec.chart_model} ({pspec.chart_dims} dims)"
        )


def _chart_embeddings(
    pspec: PatternSpec,
    embedder: ChartEmbedder | None,
    ts: NDArray[np.int64],
    ohlcv: NDArray[np.float64],
    rows: NDArray[np.intp],
) -> NDArray[np.float32] | None:
    """The chart embedding of the ``chart_bars`` bars ending at each row (bars <= t only)."""
    if pspec.chart_model is None or embedder is None:
        return None
    bars = np.column_stack([ts.astype(np.float64), ohlcv])
    windows = np.lib.stride_tricks.sliding_window_view(bars, pspec.chart_bars, axis=0)
    # sliding_window_view puts the window last: (rows, 6, chart_bars) -> (rows, chart_bars, 6)
    chosen = windows[rows - (pspec.chart_bars - 1)].transpose(0, 2, 1)
    return embedder.embed(chosen)


def _assemble(
    fspec: FeatureSpec,
    pspec: PatternSpec,
    features: NDArray[np.float64],
    close: NDArray[np.float64],
    ts: NDArray[np.int64],
    outcomes: Any,
    rows: NDArray[np.intp],
    instrument_id: str,
    source: str,
    charts: NDArray[np.float32] | None = None,
) -> PatternSet:
    layout = pattern_layout(fspec.names, pspec)
    n_bars = pspec.shape_bars
    if close.size < n_bars:  # too few bars for one shape: no row qualifies (rows is empty)
        windows = np.zeros((0, n_bars), dtype=np.float64)
    else:  # row r ends at bar r+N-1
        windows = np.lib.stride_tricks.sliding_window_view(close, n_bars)
    vectors = np.empty((rows.size, layout.dims), dtype=np.float32)
    step = 8192  # gathers of cache-sized blocks (row-wise: the same bits as one block)
    for start in range(0, rows.size, step):
        part = rows[start : start + step]
        vectors[start : start + part.size] = pattern_vectors(
            layout,
            features[part],
            windows[part - (n_bars - 1)],
            None if charts is None else charts[start : start + part.size],
        )
    patterns = PatternSet(
        feature_spec=fspec,
        pattern_spec=pspec,
        vectors=vectors,
        ts_event=ts[rows],
        available_ns=outcomes.available_ns[rows],
        instrument_id=[instrument_id] * int(rows.size),
        close=close[rows],
        atr=outcomes.atr[rows],
        label=outcomes.label[rows],
        forward_return=outcomes.forward_return[rows],
        mfe=outcomes.mfe[rows],
        mae=outcomes.mae[rows],
        source=source,
        bar_ns=bar_step_ns(ts),
    )
    order = np.lexsort((patterns.ts_event, patterns.available_ns))
    if not np.array_equal(order, np.arange(order.size)):
        patterns = patterns.take(order)
    return patterns


def build_from_catalog(
    catalog_path: str | os.PathLike[str],
    bar_type: str,
    *,
    feature_spec: FeatureSpec | None = None,
    pattern_spec: PatternSpec | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    chart_embedder: ChartEmbedder | None = None,
) -> PatternSet:
    """:func:`build_from_bars` over one bar type of a catalog (``start_ns <= ts < end_ns``).

    Only bars inside the window are used, outcomes included: a pattern whose horizon runs past
    ``end_ns`` is left out, so a store built on a training window never sees the test window.
    """
    from nautilus_ai.catalog.reader import read_bars

    ts, ohlcv = read_bars(catalog_path, bar_type, start_ns=start_ns, end_ns=end_ns)
    return build_from_bars(
        ts,
        ohlcv,
        instrument_id=bar_type.rsplit("-", 4)[0],
        feature_spec=feature_spec,
        pattern_spec=pattern_spec,
        chart_embedder=chart_embedder,
    )


def build_from_decision_log(
    catalog_path: str | os.PathLike[str],
    run_id: str | None = None,
    *,
    pattern_spec: PatternSpec | None = None,
    chart_embedder: ChartEmbedder | None = None,
    allow_open_run: bool = False,
) -> PatternSet:
    """Patterns from a logged run: the feature vectors the strategy saw (``FeatureSnapshot``),
    with shapes and outcomes from the catalog's bars of the logged bar type.

    The feature spec is the one the run was logged with. Snapshots whose bar is not in the
    catalog, or whose outcome runs past the bars, are left out.
    """
    from nautilus_ai.catalog.reader import read_bars, read_snapshots

    snaps = read_snapshots(catalog_path, run_id, allow_open=allow_open_run)
    fspec = FeatureSpec.from_dict(snaps.feature_spec)
    pspec = pattern_spec if pattern_spec is not None else PatternSpec()
    _check_embedder(pspec, chart_embedder)
    bar_types = sorted(set(snaps.table.column("bar_type").to_pylist()))
    if len(bar_types) != 1:
        raise PatternStoreError(
            f"run {snaps.run_id} in {catalog_path} logged {len(bar_types)} bar types "
            f"({', '.join(bar_types)}); build one store per bar type"
        )
    bar_type = bar_types[0]
    ts, ohlcv = read_bars(catalog_path, bar_type)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
    position = np.searchsorted(ts, snaps.ts_event)
    found = (position < ts.size) & (ts[np.minimum(position, ts.size - 1)] == snaps.ts_event)
    features = np.full((ts.size, len(fspec.names)), np.nan)
    features[position[found]] = snaps.features[found]
    close = ohlcv[:, 3]
    outcomes = bar_outcomes(pspec.label_spec(fspec.atr_period), ts, ohlcv[:, 1], ohlcv[:, 2], close)
    rows = np.zeros(ts.size, dtype=bool)
    rows[position[found]] = True
    rows &= outcomes.valid & (np.arange(ts.size) >= pspec.context_bars - 1)
    rows &= np.isfinite(features).all(axis=1)
    rows &= features[:, fspec.index("warm")] == 1.0
    instrument = str(snaps.table.column("instrument_id")[0]) if len(snaps) else "unknown"
    chosen = np.flatnonzero(rows)
    charts = _chart_embeddings(pspec, chart_embedder, ts, ohlcv, chosen)
    return _assemble(
        fspec, pspec, features, close, ts, outcomes, chosen, instrument, "decision_log", charts
    )


# ---------------------------------------------------------------------------------- Parquet


def _bar_ns_of(metadata: Mapping[bytes, bytes], file: Path) -> int | None:
    raw = metadata.get(META_BAR_NS)
    if raw is None:
        return None  # a store written before the bar period was recorded
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise PatternStoreError(f"{file}: bar period {raw!r} in its metadata is not a period")
    return value


def store_dir(catalog_path: str | os.PathLike[str], spec_hash: str, name: str) -> Path:
    """``<catalog>/patterns/<spec_hash>/<name>`` (the name is checked: it becomes a folder)."""
    if not _NAME.match(name):
        raise PatternStoreError(f"store name {name!r} must match {_NAME.pattern}")
    return Path(catalog_path) / "patterns" / spec_hash / name


@contextmanager
def store_lock(
    folder: str | os.PathLike[str], timeout_s: float = STORE_LOCK_TIMEOUT_S
) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside the store folder ``<name>`` while checking what it holds and
    writing it: two builds of one store at once each checked an empty folder, then both wrote
    it (one store and the other's index, or a store of two writers' bytes, each saying
    "built"). A holder that died released it; a live one is waited for ``timeout_s``.

    Raises
    ------
    PatternStoreError
        Another live process still holds it (the message names the lock and that process).
    """
    directory = Path(folder)
    directory.parent.mkdir(parents=True, exist_ok=True)
    path = directory.parent / f".{directory.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not flock_within(fd, timeout_s):
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise PatternStoreError(
                f"{directory}: another process is writing this pattern store ({holder}; lock "
                f"{path}) and still was after {timeout_s:g} s: wait for it, or use another name"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _schema(dims: int) -> pa.Schema:
    return pa.schema(
        [
            ("ts_event", pa.int64()),
            ("available_ns", pa.int64()),
            ("instrument_id", pa.string()),
            ("close", pa.float64()),
            ("atr", pa.float64()),
            ("label", pa.int8()),
            ("forward_return", pa.float64()),
            ("mfe", pa.float64()),
            ("mae", pa.float64()),
            ("vector", pa.list_(pa.float32(), dims)),
        ]
    )


def write_patterns(
    patterns: PatternSet, folder: str | os.PathLike[str], *, name: str = STORE_FILE
) -> Path:
    """Write ``patterns`` to ``folder/<name>`` (``patterns.parquet``) atomically (temp file +
    rename)."""
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    dims = patterns.dims
    flat = pa.array(np.ascontiguousarray(patterns.vectors).reshape(-1), type=pa.float32())
    columns = [
        pa.array(patterns.ts_event, pa.int64()),
        pa.array(patterns.available_ns, pa.int64()),
        pa.array(patterns.instrument_id, pa.string()),
        pa.array(patterns.close, pa.float64()),
        pa.array(patterns.atr, pa.float64()),
        pa.array(patterns.label, pa.int8()),
        pa.array(patterns.forward_return, pa.float64()),
        pa.array(patterns.mfe, pa.float64()),
        pa.array(patterns.mae, pa.float64()),
        pa.FixedSizeListArray.from_arrays(flat, dims),
    ]
    metadata = {
        META_FORMAT: str(FORMAT_VERSION).encode(),
        META_FEATURE_SPEC: json.dumps(patterns.feature_spec.to_dict()).encode(),
        META_SPEC_HASH: patterns.spec_hash.encode(),
        META_PATTERN_SPEC: json.dumps(patterns.pattern_spec.model_dump()).encode(),
        META_COLUMNS: json.dumps(list(patterns.vector_columns)).encode(),
        META_CHECKSUM: patterns.checksum().encode(),
        b"nautilus_ai.patterns.source": patterns.source.encode(),
    }
    if patterns.bar_ns is not None:
        metadata[META_BAR_NS] = str(patterns.bar_ns).encode()
    table = pa.Table.from_arrays(columns, schema=_schema(dims).with_metadata(metadata))
    target = directory / name
    with atomic_file(target) as tmp:
        pq.write_table(table, tmp, row_group_size=1 << 17)
    return target


def read_patterns(path: str | os.PathLike[str], *, verify: bool = True) -> PatternSet:
    """Read a store (a ``patterns.parquet`` file or its folder).

    Raises
    ------
    PatternStoreError
        Missing or unreadable file, unknown format, or (``verify``) rows whose checksum differs
        from the one recorded when the file was written.
    """
    file = Path(path)
    if file.is_dir():
        file = file / STORE_FILE
    if not file.is_file():
        raise PatternStoreError(f"{file}: no pattern store (run `nautilus-ai patterns build`)")
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise PatternStoreError(f"{file}: unreadable pattern store: {exc}") from None
    metadata: Mapping[bytes, bytes] = table.schema.metadata or {}
    if metadata.get(META_FORMAT) != str(FORMAT_VERSION).encode():
        raise PatternStoreError(
            f"{file}: not a pattern store of format {FORMAT_VERSION} "
            f"(found {metadata.get(META_FORMAT)!r})"
        )
    fspec = FeatureSpec.from_dict(json.loads(metadata[META_FEATURE_SPEC]))
    pspec = PatternSpec.model_validate(json.loads(metadata[META_PATTERN_SPEC]))
    if fspec.hash != metadata[META_SPEC_HASH].decode():
        raise PatternStoreError(f"{file}: feature spec does not match its recorded hash")
    vector = table.column("vector").combine_chunks()
    dims = vector.type.list_size
    flat = vector.values.to_numpy(zero_copy_only=False)
    vectors = np.ascontiguousarray(flat[vector.offset * dims :][: len(vector) * dims])
    patterns = PatternSet(
        feature_spec=fspec,
        pattern_spec=pspec,
        vectors=vectors.reshape(len(vector), dims).astype(np.float32, copy=False),
        ts_event=table.column("ts_event").to_numpy().astype(np.int64),
        available_ns=table.column("available_ns").to_numpy().astype(np.int64),
        instrument_id=table.column("instrument_id").to_pylist(),
        close=table.column("close").to_numpy(),
        atr=table.column("atr").to_numpy(),
        label=table.column("label").to_numpy().astype(np.int8),
        forward_return=table.column("forward_return").to_numpy(),
        mfe=table.column("mfe").to_numpy(),
        mae=table.column("mae").to_numpy(),
        source=metadata.get(b"nautilus_ai.patterns.source", b"bars").decode(),
        bar_ns=_bar_ns_of(metadata, file),
    )
    if verify and patterns.checksum() != metadata[META_CHECKSUM].decode():
        raise PatternStoreError(f"{file}: rows do not match the checksum recorded in the file")
    return patterns
