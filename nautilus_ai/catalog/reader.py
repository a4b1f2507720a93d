"""Fast, columnar readers of a catalog's bars and decision log (pure pyarrow / numpy).

``ParquetDataCatalog.query`` builds one Python object per row (fine for inspection, ~100k
rows/s); training wants numpy arrays at millions of rows per second, so these readers open the
Parquet files of the catalog's layout directly:

* :func:`read_bars` gives the bars as float64 arrays exactly as ``Price.as_double()`` (the data
  package's decoder), so features recomputed from them equal the ones the strategy computed from
  ``Bar`` objects bit for bit.
* :func:`read_snapshots` returns the logged feature vectors as an ``(n, k)`` array plus the other
  columns; :func:`read_outcomes` the closed positions; :func:`decisions_with_outcomes` joins
  each outcome to the decision that opened it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from nautilus_ai.catalog.run_state import open_run_problem
from nautilus_ai.catalog.schema import (
    META_FEATURE_NAMES,
    META_FEATURE_SPEC,
    META_SPEC_HASH,
    OUTCOME_DIR,
    OUTCOME_SCHEMA,
    SNAPSHOT_DIR,
)
from nautilus_ai.data.catalog_layout import files_reaching, reversed_window

__all__ = [
    "CatalogReadError",
    "OpenRunError",
    "Snapshots",
    "decisions_with_outcomes",
    "file_interval",
    "list_runs",
    "logged_feature_spec",
    "read_bars",
    "read_outcomes",
    "read_snapshots",
]

_NAME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{9})Z_"
    r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{9})Z\.parquet$"
)


class CatalogReadError(ValueError):
    """Catalog data is missing or inconsistent (the message names the folder or file)."""


def file_interval(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(first, last)`` ``ts_init`` (UTC ns) encoded in a catalog file name, else ``None``."""
    match = _NAME.match(Path(path).name)
    if match is None:
        return None
    g = match.groups()
    return _to_ns(g[0], g[1], g[2], g[3], g[4]), _to_ns(g[5], g[6], g[7], g[8], g[9])


def _to_ns(day: str, hh: str, mm: str, ss: str, nanos: str) -> int:
    seconds = np.datetime64(f"{day}T{hh}:{mm}:{ss}", "s").astype(np.int64)
    return int(seconds) * 1_000_000_000 + int(nanos)


def _parts(folder: Path) -> list[Path]:
    """Parquet parts of one series folder, in time order (file names sort by time)."""
    files = [p for p in folder.glob("*.parquet") if file_interval(p) is not None]
    return sorted(files, key=lambda p: file_interval(p) or (0, 0))


def list_runs(catalog_path: str | os.PathLike[str], kind: str = "snapshots") -> list[str]:
    """Run ids with logged data in the catalog (``kind``: ``"snapshots"`` or ``"outcomes"``)."""
    base = Path(catalog_path) / "data" / _type_dir(kind)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and _parts(p))


def _type_dir(kind: str) -> str:
    if kind == "snapshots":
        return SNAPSHOT_DIR
    if kind == "outcomes":
        return OUTCOME_DIR
    raise ValueError(f"kind must be 'snapshots' or 'outcomes', was {kind!r}")


def _run_folder(catalog_path: str | os.PathLike[str], kind: str, run_id: str | None) -> Path:
    runs = list_runs(catalog_path, kind)
    base = Path(catalog_path) / "data" / _type_dir(kind)
    if run_id is None:
        if len(runs) != 1:
            raise CatalogReadError(
                f"{base}: {len(runs)} logged runs ({', '.join(runs) or 'none'}); pass run_id"
            )
        run_id = runs[0]
    elif run_id not in runs:
        raise CatalogReadError(
            f"{base}: no logged run {run_id!r} (runs: {', '.join(runs) or 'none'})"
        )
    return base / run_id


class OpenRunError(CatalogReadError):
    """The run's feature log was never closed (killed, crashed, lost rows, or still running):
    its rows may stop short. Read it as it is with ``allow_open=True``."""


def _check_closed(catalog_path: str | os.PathLike[str], run_id: str, allow_open: bool) -> None:
    if allow_open:
        return
    problem = open_run_problem(Path(catalog_path) / "data" / SNAPSHOT_DIR / run_id)
    if problem is not None:
        raise OpenRunError(
            f"{problem}; to read it as it is, pass allow_open=True (CLI: --allow-open-run)"
        )


def _unreadable(path: Path, exc: Exception) -> CatalogReadError:
    return CatalogReadError(
        f"{path}: unreadable Parquet part ({exc}): a copy cut short, or not a part the feature "
        "log wrote? move it out of the run folder"
    )


def _read_table(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """One part; a corrupt or truncated file is a :class:`CatalogReadError` naming it."""
    try:
        return pq.read_table(path, columns=list(columns) if columns else None)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from exc


def _spec_metadata(path: Path) -> dict[bytes, bytes]:
    """A snapshot part's schema metadata, which must carry the logged feature spec."""
    try:
        metadata = dict(pq.read_schema(path).metadata or {})
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from exc
    missing = [
        key
        for key in (META_SPEC_HASH, META_FEATURE_NAMES, META_FEATURE_SPEC)
        if key.encode() not in metadata
    ]
    if missing:
        raise CatalogReadError(
            f"{path}: no {', '.join(missing)} in its metadata: not a part the feature log "
            "wrote; move it out of the run folder"
        )
    return metadata


def _refuse_reversed(start_ns: int | None, end_ns: int | None) -> None:
    problem = reversed_window(start_ns, end_ns)
    if problem is not None:
        raise CatalogReadError(problem)


def _read_parts(
    files: Sequence[Path], columns: Sequence[str] | None, start_ns: int | None
) -> list[pa.Table]:
    files = files_reaching(files, start_ns)
    if not files:
        raise CatalogReadError("no parts in the requested range")
    return [_read_table(f, columns) for f in files]


@dataclass(frozen=True)
class Snapshots:
    """Logged decisions of one run, columnar.

    Attributes
    ----------
    run_id : str
    feature_names : tuple of str
        Column names of ``features``.
    spec_hash : str
    feature_spec : dict
        The spec's ``to_dict()`` as logged.
    ts_event : ndarray of int64, shape (n,)
    features : ndarray of float64, shape (n, k)
    table : pyarrow.Table
        Every other column (``features`` dropped), row-aligned with the arrays.
    """

    run_id: str
    feature_names: tuple[str, ...]
    spec_hash: str
    feature_spec: dict[str, Any]
    ts_event: NDArray[np.int64]
    features: NDArray[np.float64]
    table: pa.Table = field(repr=False)

    def __len__(self) -> int:
        return int(self.ts_event.size)


def read_snapshots(
    catalog_path: str | os.PathLike[str],
    run_id: str | None = None,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    allow_open: bool = False,
) -> Snapshots:
    """The feature snapshots of one run with ``start_ns <= ts_event < end_ns``.

    ``run_id`` may be omitted when the catalog holds exactly one run. A run whose logger never
    closed (killed, crashed, lost rows, or a live node still running) is refused unless
    ``allow_open``: its rows may stop short.

    Raises
    ------
    CatalogReadError
        No such run, several runs and no ``run_id``, parts with different feature specs, ragged
        feature vectors, rows out of time order, or a ``start_ns`` after ``end_ns``;
        :class:`OpenRunError` for an open run.
    """
    _refuse_reversed(start_ns, end_ns)
    folder = _run_folder(catalog_path, "snapshots", run_id)
    _check_closed(catalog_path, folder.name, allow_open)
    files = _parts(folder)
    metadatas = [_spec_metadata(f) for f in files]
    specs = {m[META_SPEC_HASH.encode()] for m in metadatas}
    if len(specs) != 1:
        raise CatalogReadError(f"{folder}: parts were logged with different feature specs {specs}")
    metadata = metadatas[0]
    table = pa.concat_tables(_read_parts(files, None, start_ns))
    ts = table.column("ts_event").to_numpy()
    keep = np.ones(ts.size, dtype=bool)
    if start_ns is not None:
        keep &= ts >= start_ns
    if end_ns is not None:
        keep &= ts < end_ns
    if not keep.all():
        table = table.filter(pa.array(keep))
        ts = ts[keep]
    if ts.size > 1 and (ts[1:] <= ts[:-1]).any():
        row = int(np.flatnonzero(ts[1:] <= ts[:-1])[0]) + 1
        raise CatalogReadError(f"{folder}: ts_event not increasing at row {row} ({ts[row]})")
    names = tuple(json.loads(metadata[META_FEATURE_NAMES.encode()]))
    features = _feature_matrix(table.column("features"), len(names), folder)
    return Snapshots(
        run_id=folder.name,
        feature_names=names,
        spec_hash=metadata[META_SPEC_HASH.encode()].decode(),
        feature_spec=json.loads(metadata[META_FEATURE_SPEC.encode()]),
        ts_event=ts.astype(np.int64, copy=False),
        features=features,
        table=table.drop_columns(["features"]),
    )


def _feature_matrix(column: pa.ChunkedArray, k: int, where: Path) -> NDArray[np.float64]:
    n = len(column)
    if n == 0:
        return np.empty((0, k))
    lists = column.combine_chunks()
    offsets = lists.offsets.to_numpy()
    if not np.array_equal(np.diff(offsets), np.full(n, k)):
        raise CatalogReadError(f"{where}: feature vectors are not all of length {k}")
    values = lists.values.to_numpy(zero_copy_only=False)
    flat = values[offsets[0] : offsets[0] + n * k]
    return np.ascontiguousarray(flat.reshape(n, k), dtype=np.float64)


def logged_feature_spec(
    catalog_path: str | os.PathLike[str], run_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(spec_hash, spec dict)`` a run was logged with (read from its first part's metadata)."""
    folder = _run_folder(catalog_path, "snapshots", run_id)
    metadata = _spec_metadata(_parts(folder)[0])
    return (
        metadata[META_SPEC_HASH.encode()].decode(),
        json.loads(metadata[META_FEATURE_SPEC.encode()]),
    )


def read_outcomes(
    catalog_path: str | os.PathLike[str], run_id: str | None = None, *, allow_open: bool = False
) -> pa.Table:
    """The closed positions of one run (``OUTCOME_SCHEMA`` columns), in close-time order.

    An empty table when the run closed no position; a run the catalog never logged (a typo)
    is a :class:`CatalogReadError`, not an empty table; a run never closed an
    :class:`OpenRunError` unless ``allow_open``.
    """
    if run_id is not None and run_id not in list_runs(catalog_path, "outcomes"):
        logged = list_runs(catalog_path, "snapshots")
        if run_id not in logged:
            raise CatalogReadError(
                f"{Path(catalog_path) / 'data'}: no logged run {run_id!r} "
                f"(runs: {', '.join(logged) or 'none'})"
            )
        _check_closed(catalog_path, run_id, allow_open)
        return OUTCOME_SCHEMA.empty_table()
    folder = _run_folder(catalog_path, "outcomes", run_id)
    _check_closed(catalog_path, folder.name, allow_open)
    table = pa.concat_tables(_read_parts(_parts(folder), None, None))
    return table.replace_schema_metadata(None)


def decisions_with_outcomes(
    catalog_path: str | os.PathLike[str], run_id: str | None = None, *, allow_open: bool = False
) -> pa.Table:
    """Each decision that sent an opening order, joined to the position it opened.

    Left join of the run's snapshots (``intent`` ``enter`` / ``reverse`` with ``order_sent``) on
    ``ts_event == decision_ts``: columns ``ts_event``, ``action``, ``confidence``,
    ``risk_score``, ``intent``, ``quantity``, ``model_id`` and the outcome's ``realized_pnl``,
    ``holding_ns``, ``exit_reason``, ``side``, ``ts_opened``, ``ts_closed`` (null when the
    order never opened a position, e.g. rejected). ``allow_open`` as in :func:`read_snapshots`.
    """
    snaps = read_snapshots(catalog_path, run_id, allow_open=allow_open)
    table = snaps.table
    opening = pc.and_(
        pc.is_in(table.column("intent"), pa.array(["enter", "reverse"])),
        table.column("order_sent"),
    )
    decisions = table.filter(opening).select(
        ["ts_event", "action", "confidence", "risk_score", "intent", "quantity", "model_id"]
    )
    # the run's open record was checked by read_snapshots above
    outcomes = read_outcomes(catalog_path, snaps.run_id, allow_open=True).select(
        ["decision_ts", "realized_pnl", "holding_ns", "exit_reason", "side", "ts_opened",
         "ts_closed"]
    )  # fmt: skip
    joined = decisions.join(
        outcomes, keys="ts_event", right_keys="decision_ts", join_type="left outer"
    )
    return joined.sort_by("ts_event")


def read_bars(
    catalog_path: str | os.PathLike[str],
    bar_type: str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``(ts_event int64[n], ohlcv float64[n, 5])`` of one bar type with
    ``start_ns <= ts_event < end_ns`` (half-open, like every window here), in time order,
    prices exactly as ``Price.as_double()`` (decoded by
    :func:`nautilus_ai.data.catalog.read_bars`, imported on first use: it needs Nautilus).

    Raises
    ------
    CatalogReadError
        No bars of that type, rows out of order / repeated (overlapping files), or a
        ``start_ns`` after ``end_ns``.
    """
    from nautilus_ai.data.catalog import read_bars as read_bar_arrays

    _refuse_reversed(start_ns, end_ns)
    if start_ns is not None and start_ns == end_ns:  # [t, t): empty, nothing to read
        return np.zeros(0, dtype=np.int64), np.zeros((0, 5))
    try:
        bars = read_bar_arrays(
            catalog_path,
            bar_type,
            start_ns=start_ns,
            end_ns=None if end_ns is None else end_ns - 1,  # theirs is inclusive
        )
    except FileNotFoundError as exc:
        raise CatalogReadError(str(exc)) from None
    ts = bars.ts_event
    if ts.size > 1 and (ts[1:] <= ts[:-1]).any():
        row = int(np.flatnonzero(ts[1:] <= ts[:-1])[0]) + 1
        raise CatalogReadError(
            f"{bar_type} in {catalog_path}: bar timestamps not increasing at row {row} "
            "(overlapping files?)"
        )
    ohlcv = np.column_stack([bars.open, bars.high, bars.low, bars.close, bars.volume])
    return ts.astype(np.int64, copy=False), ohlcv
