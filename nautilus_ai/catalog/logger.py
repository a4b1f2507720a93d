"""``FeatureLogger``: every decision (and every closed position) into the catalog, buffered.

The strategy hands each decision to :meth:`FeatureLogger.record` (it has the signature of
``AIPatternStrategy.add_decision_sink``) and each closed position to
:meth:`FeatureLogger.record_outcome`. Rows go into preallocated numpy buffers (about a
microsecond per row); a *flush* turns the buffer into one Arrow table and writes it as a new
Parquet part (:class:`~nautilus_ai.catalog.writer.PartWriter`: temp file, fsync, link, never an
overwrite). Flushes happen when ``flush_rows`` rows are buffered, when ``flush_interval_s``
wall-clock seconds have passed since the last one (checked at each row, and by
:meth:`flush_if_due`, which a live strategy calls on a timer), on :meth:`flush` and on
:meth:`close`. A process killed at any moment keeps every part flushed before and loses at
most the rows buffered since.

The logger never raises into the trading loop once it is constructed: a failed write is
reported through ``on_error`` and the counters, its rows are kept and retried with the next
flush (up to ``max_pending_rows``; beyond that the oldest are dropped and counted).

With ``background=True`` the Parquet encoding and the disk I/O run on one writer thread (what a
live node wants: the event loop only copies the buffer); parts still land in order. Backtests
use the default synchronous writes, which cost less than a thread switch per flush.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nautilus_ai.catalog.run_state import close_run, open_run
from nautilus_ai.catalog.schema import (
    META_FEATURE_NAMES,
    META_FEATURE_SPEC,
    META_SCHEMA_VERSION,
    META_SPEC_HASH,
    OUTCOME_DIR,
    OUTCOME_SCHEMA,
    OUTCOME_TYPE,
    SCHEMA_VERSION,
    SNAPSHOT_DIR,
    SNAPSHOT_SCHEMA,
    SNAPSHOT_TYPE,
    check_identifier,
)
from nautilus_ai.catalog.writer import PartWriter, PartWriterError
from nautilus_ai.models.base import Prediction
from nautilus_ai.models.spec import FeatureSpecLike

__all__ = ["ClosedPosition", "FeatureLogConfig", "FeatureLogger", "LoggerStats"]

_JOIN_TIMEOUT_S = 30.0
# The longest the strategy's thread waits for room in the writer's queue: back-pressure for a
# slow disk, but a hung one (a dead NFS mount) must not stop trading; the rows are kept instead.
_PUT_TIMEOUT_S = 5.0


class FeatureLogConfig(BaseModel):
    """Where and how often to log (the strategy's ``feature_log`` dict).

    Parameters
    ----------
    catalog_path : str
        Catalog root the parts go into.
    run_id : str, optional
        Folder name of this run's parts (letters, digits, ``_ . = + -``). Default: instrument,
        UTC start time and a random suffix, so two runs never share a folder.
    flush_rows : int
        Rows per part (the buffer's capacity).
    flush_interval_s : float
        Wall-clock seconds after which buffered rows are flushed even if fewer than
        ``flush_rows`` (durability in live trading, where a row comes once a minute; a live
        strategy also checks it on a timer). The trade-off: at most this much is lost on a
        crash, and one part per interval (288 a day at the default 300 s).
    background : bool
        Encode and write parts on a writer thread.
    fsync : bool
        Flush each part to disk before it counts as written.
    log_outcomes : bool
        Also log closed positions (``DecisionOutcome``).
    max_pending_rows : int
        Rows kept for retry while writes fail; older rows beyond this are dropped (counted).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog_path: str = Field(min_length=1)
    run_id: str | None = None
    flush_rows: int = Field(default=50_000, ge=1, le=10_000_000)
    flush_interval_s: float = Field(default=300.0, gt=0.0, allow_inf_nan=False)
    background: bool = False
    fsync: bool = True
    log_outcomes: bool = True
    max_pending_rows: int = Field(default=1_000_000, ge=1)

    @field_validator("run_id")
    @classmethod
    def _safe_run_id(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)


class ClosedPosition(Protocol):
    """What :meth:`FeatureLogger.record_outcome` reads (``TradeRecord`` has these fields)."""

    ts_opened: int
    ts_closed: int
    side: str
    quantity: float
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float
    model_id: str
    exit_reason: str
    decision_ts: int


@dataclass(frozen=True)
class LoggerStats:
    """Counters of one logger (``rows_*`` count snapshot rows; outcomes separately)."""

    run_id: str
    rows_recorded: int
    rows_written: int
    rows_dropped: int
    outcomes_recorded: int
    outcomes_written: int
    files_written: int
    write_errors: int
    last_error: str | None

    def shortfall(self) -> str | None:
        """What was recorded but is not on disk (rows failed, pending or dropped), in one line
        naming the run and the last write error; ``None`` when everything recorded is written."""
        rows = self.rows_recorded - self.rows_written
        outcomes = self.outcomes_recorded - self.outcomes_written
        if rows <= 0 and outcomes <= 0:
            return None
        why = f"; last error: {self.last_error}" if self.last_error else ""
        return (
            f"its feature log (run {self.run_id}) is incomplete: {self.rows_written:,} of "
            f"{self.rows_recorded:,} decision rows and {self.outcomes_written:,} of "
            f"{self.outcomes_recorded:,} outcomes written{why}"
        )


class FeatureLogger:
    """Buffered decision logger for one instrument / bar type / feature spec.

    Parameters
    ----------
    config : FeatureLogConfig
    spec : FeatureSpecLike
        The feature spec of the vectors recorded (names, hash and parameters are stored with
        every part).
    instrument_id, bar_type : str
        Stored in every row.
    clock_ns : callable, optional
        Returns the decision time (UTC ns) for ``ts_init``: the strategy passes its Nautilus
        clock. Default: ``ts_init = ts_event``.
    on_error : callable, optional
        Called with a message when a write fails (the strategy passes its logger).
    monotonic : callable
        Wall clock for the time-based flush (injectable for tests).
    """

    def __init__(
        self,
        config: FeatureLogConfig,
        *,
        spec: FeatureSpecLike,
        instrument_id: str,
        bar_type: str,
        clock_ns: Callable[[], int] | None = None,
        on_error: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.run_id = config.run_id or default_run_id(instrument_id)
        self.feature_names = tuple(spec.names)
        self._k = len(self.feature_names)
        self._spec_hash = spec.hash
        self._constants = (instrument_id, bar_type, self.run_id, spec.hash)
        self._metadata = {
            META_SCHEMA_VERSION: str(SCHEMA_VERSION),
            META_FEATURE_NAMES: json.dumps(list(self.feature_names)),
            META_FEATURE_SPEC: json.dumps(dict(spec.to_dict()), sort_keys=True),
            META_SPEC_HASH: spec.hash,
        }
        self._snapshot_writer = PartWriter(
            config.catalog_path, SNAPSHOT_DIR, self.run_id, SNAPSHOT_SCHEMA, fsync=config.fsync
        )
        self._outcome_writer = PartWriter(
            config.catalog_path, OUTCOME_DIR, self.run_id, OUTCOME_SCHEMA, fsync=config.fsync
        )
        self._clock_ns = clock_ns
        self._on_error = on_error
        self._monotonic = monotonic
        self._capacity = config.flush_rows
        self._interval = config.flush_interval_s
        self._new_buffers()
        self._outcomes: list[tuple[object, ...]] = []
        self._last_flush = monotonic()
        self._closed = False
        self._run_opened = False  # the open-run record is written before the first part
        self._lock = threading.Lock()  # guards the pending tables and counters shared with I/O
        self._pending: dict[str, list[pa.Table]] = {SNAPSHOT_DIR: [], OUTCOME_DIR: []}
        self._rows_recorded = 0
        self._outcomes_recorded = 0
        self._rows_dropped = 0
        self._write_errors = 0
        self._last_error: str | None = None
        self._queue: queue.Queue[tuple[str, pa.Table | None] | None] | None = None
        self._thread: threading.Thread | None = None
        if config.background:
            self._queue = queue.Queue(maxsize=4)  # back-pressure instead of unbounded memory
            self._thread = threading.Thread(
                target=self._drain, name=f"feature-log-{self.run_id}", daemon=True
            )
            self._thread.start()

    # ------------------------------------------------------------------ recording (hot path)

    def _new_buffers(self) -> None:
        # Feature vectors go into a preallocated matrix (one memcpy per row), scalars into typed
        # arrays and strings into lists (references to existing str objects). Nothing per row
        # is a new container object: a tuple per row would wake the garbage collector, whose
        # full passes walk every object of the backtest (measured: it doubled the cost).
        self._n = 0
        self._x = np.empty((self._capacity, self._k), dtype=np.float64)
        self._ts = array("q")
        self._ts_init = array("q")
        self._confidence = array("d")
        self._risk = array("d")
        self._latency = array("d")
        self._quantity = array("d")
        self._sent = array("b")
        self._action: list[str] = []
        self._model: list[str] = []
        self._reason: list[str] = []
        self._intent: list[str] = []

    def record(
        self,
        ts_event: int,
        features: np.ndarray,
        prediction: Prediction,
        intent: str,
        quantity: float,
        order_sent: bool,
        reason: str | None = None,
    ) -> None:
        """Buffer one decision (the ``add_decision_sink`` signature); flush when due.

        ``reason`` defaults to ``prediction.reason``; the strategy passes its final reason
        (e.g. ``"sized to zero: drawdown"`` when the sizer blocked the trade).
        """
        self.record_fields(
            ts_event, features, prediction.action.value, prediction.confidence,
            prediction.risk_score, prediction.latency, prediction.model_id,
            prediction.reason if reason is None else reason, intent, quantity, order_sent,
        )  # fmt: skip

    def record_fields(
        self,
        ts_event: int,
        features: np.ndarray,
        action: str,
        confidence: float,
        risk_score: float,
        latency: float,
        model_id: str,
        reason: str,
        intent: str,
        quantity: float,
        order_sent: bool,
    ) -> None:
        """:meth:`record` given the prediction's fields (no ``Prediction`` built: the
        precomputed path logs its decided rows this way)."""
        if self._closed:
            return
        i = self._n
        self._x[i] = features
        self._ts.append(ts_event)
        self._ts_init.append(self._clock_ns() if self._clock_ns is not None else ts_event)
        self._confidence.append(confidence)
        self._risk.append(risk_score)
        self._latency.append(latency)
        self._quantity.append(quantity)
        self._sent.append(order_sent)
        self._action.append(action)
        self._model.append(model_id)
        self._reason.append(reason)
        self._intent.append(intent)
        self._n = i = i + 1
        self._rows_recorded += 1
        if i >= self._capacity or self._monotonic() - self._last_flush >= self._interval:
            self.flush()

    def record_holds(
        self,
        ts_event: Sequence[int],
        features: np.ndarray,
        confidence: Sequence[float],
        risk_score: Sequence[float],
        latency: Sequence[float],
        action: Sequence[str],
        model_id: str,
        reason: Sequence[str],
        ts_init: Sequence[int] | None = None,
    ) -> None:
        """Buffer many decisions that did nothing (intent ``none``, quantity 0, no order) at
        once: the precomputed backtest path logs its quiet bars this way. ``ts_init`` defaults
        to ``ts_event`` (a backtest's clock on a catalog bar stamped at its close)."""
        if self._closed:
            return
        total = len(ts_event)
        start = 0
        while start < total:
            i = self._n
            end = min(total, start + self._capacity - i)
            take = end - start
            self._x[i : i + take] = features[start:end]
            self._ts.extend(_int64s(ts_event[start:end]))
            self._ts_init.extend(_int64s((ts_init if ts_init is not None else ts_event)[start:end]))
            self._confidence.extend(confidence[start:end])
            self._risk.extend(risk_score[start:end])
            self._latency.extend(latency[start:end])
            self._quantity.frombytes(bytes(8 * take))  # 0.0
            self._sent.frombytes(bytes(take))  # False
            self._action.extend(action[start:end])
            self._model.extend([model_id] * take)
            self._reason.extend(reason[start:end])
            self._intent.extend(["none"] * take)
            self._n = i + take
            self._rows_recorded += take
            start = end
            if self._n >= self._capacity:
                self.flush()
        if self._monotonic() - self._last_flush >= self._interval:
            self.flush()

    def record_outcome(self, position: ClosedPosition) -> None:
        """Buffer one closed position, keyed by the ``ts_event`` of the decision that opened it."""
        if self._closed or not self.config.log_outcomes:
            return
        self._outcomes.append(
            (
                position.model_id,
                int(position.decision_ts),
                int(position.ts_opened),
                int(position.ts_closed),
                str(position.side),
                float(position.quantity),
                float(position.avg_px_open),
                float(position.avg_px_close),
                float(position.realized_pnl),
                str(position.exit_reason),
            )
        )
        self._outcomes_recorded += 1

    # ------------------------------------------------------------------ flushing

    def flush(self) -> None:
        """Write the buffered rows (and outcomes) as new parts now (no-op when empty)."""
        self._last_flush = self._monotonic()
        snapshots = None
        if self._n:
            snapshots = self._snapshot_table()
            self._new_buffers()
        self._submit(SNAPSHOT_DIR, snapshots)
        outcomes = None
        if self._outcomes:
            outcomes = self._outcome_table()
            self._outcomes = []
        self._submit(OUTCOME_DIR, outcomes)

    def flush_if_due(self) -> bool:
        """Flush if anything is buffered and ``flush_interval_s`` has passed since the last
        flush (what a live node's timer calls, so rows never wait for the next bar, e.g. over
        a weekend). Returns whether it flushed."""
        if self._closed or not (self._n or self._outcomes):
            return False
        if self._monotonic() - self._last_flush < self._interval:
            return False
        self.flush()
        return True

    def close(self) -> LoggerStats:
        """Flush, stop the writer thread (if any) and return the final counters. Idempotent."""
        if not self._closed:
            self.flush()
            self._closed = True
            if self._queue is not None and self._thread is not None:
                try:
                    self._queue.put(None, timeout=_PUT_TIMEOUT_S)
                except queue.Full:
                    self._report(
                        f"writer thread took no part for {_PUT_TIMEOUT_S:g} s (a hung disk?); "
                        "the parts still queued or pending may be missing"
                    )
                    return self.stats()
                self._thread.join(timeout=_JOIN_TIMEOUT_S)
                if self._thread.is_alive():
                    self._report("writer thread did not finish within 30 s; parts may be missing")
                    return self.stats()
            stats = self.stats()
            if self._run_opened:
                # Removed only when every recorded row is on disk: a run that lost rows, or was
                # killed before this line, stays marked open for the readers.
                try:
                    close_run(self.snapshot_folder, stats.shortfall())
                except OSError as exc:
                    self._report(f"could not record run {self.run_id} as closed: {exc}")
            return stats
        return self.stats()

    def stats(self) -> LoggerStats:
        """Current counters."""
        with self._lock:
            return LoggerStats(
                run_id=self.run_id,
                rows_recorded=self._rows_recorded,
                rows_written=self._snapshot_writer.rows_written,
                rows_dropped=self._rows_dropped,
                outcomes_recorded=self._outcomes_recorded,
                outcomes_written=self._outcome_writer.rows_written,
                files_written=self._snapshot_writer.files_written
                + self._outcome_writer.files_written,
                write_errors=self._write_errors,
                last_error=self._last_error,
            )

    @property
    def snapshot_folder(self) -> Path:
        """Folder of this run's snapshot parts."""
        return self._snapshot_writer.directory

    def _snapshot_table(self) -> pa.Table:
        n, k = self._n, self._k
        instrument_id, bar_type, run_id, spec_hash = self._constants
        flat = self._x[:n].reshape(-1)  # the buffer is discarded after this: no copy needed
        offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
        columns = [
            _constant(instrument_id, n),
            _constant(bar_type, n),
            _constant(run_id, n),
            _constant(spec_hash, n),
            pa.ListArray.from_arrays(offsets, pa.array(flat)),
            _strings(self._model),
            _strings(self._action),
            pa.array(np.frombuffer(self._confidence, dtype=np.float64)),
            pa.array(np.frombuffer(self._risk, dtype=np.float64)),
            pa.array(np.frombuffer(self._latency, dtype=np.float64)),
            _strings(self._reason),
            _strings(self._intent),
            pa.array(np.frombuffer(self._quantity, dtype=np.float64)),
            pa.array(np.frombuffer(self._sent, dtype=np.int8).astype(np.bool_)),
            _constant(SNAPSHOT_TYPE, n),
            pa.array(np.frombuffer(self._ts, dtype=np.int64)),
            pa.array(np.frombuffer(self._ts_init, dtype=np.int64)),
        ]
        return pa.Table.from_arrays(columns, schema=SNAPSHOT_SCHEMA)

    def _outcome_table(self) -> pa.Table:
        rows = self._outcomes
        n = len(rows)
        cols = list(zip(*rows, strict=True))
        model, decision_ts, opened, closed, side, qty, px_open, px_close, pnl, reason = cols
        closed_ns = np.array(closed, dtype=np.int64)
        opened_ns = np.array(opened, dtype=np.int64)
        instrument_id, _, run_id, _ = self._constants
        columns = [
            _constant(instrument_id, n),
            _constant(run_id, n),
            pa.array(model, pa.string()),
            pa.array(np.array(decision_ts, dtype=np.int64)),
            pa.array(opened_ns),
            pa.array(closed_ns),
            pa.array(closed_ns - opened_ns),
            pa.array(side, pa.string()),
            pa.array(np.array(qty, dtype=np.float64)),
            pa.array(np.array(px_open, dtype=np.float64)),
            pa.array(np.array(px_close, dtype=np.float64)),
            pa.array(np.array(pnl, dtype=np.float64)),
            pa.array(reason, pa.string()),
            _constant(OUTCOME_TYPE, n),
            pa.array(closed_ns),
            pa.array(closed_ns),
        ]
        table = pa.Table.from_arrays(columns, schema=OUTCOME_SCHEMA)
        # Positions close in time order, but keep the part valid even if events came late.
        return table.sort_by("ts_init")

    def _submit(self, kind: str, table: pa.Table | None) -> None:
        if table is None and not self._pending[kind]:
            return  # nothing new and nothing to retry
        if self._queue is not None:
            try:
                self._queue.put((kind, table), timeout=_PUT_TIMEOUT_S)
            except queue.Full:
                self._writer_stalled(kind, table)
            return
        self._write(kind, table)

    def _writer_stalled(self, kind: str, table: pa.Table | None) -> None:
        """The writer thread took nothing for ``_PUT_TIMEOUT_S``: keep ``table`` with the rows
        pending for retry (capped like a failed write) instead of blocking the strategy."""
        with self._lock:
            tables = [*self._pending[kind], *([table] if table is not None else [])]
            self._pending[kind].clear()
        if tables:
            combined = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            self._keep_for_retry(
                kind,
                combined,
                f"the writer thread took no part for {_PUT_TIMEOUT_S:g} s (a hung disk?)",
            )

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._write(*item)

    def _write(self, kind: str, table: pa.Table | None) -> None:
        """Write ``table`` after any earlier failed tables of the same kind (oldest first)."""
        with self._lock:
            pending = self._pending[kind]
            tables = [*pending, table] if table is not None else list(pending)
            pending.clear()
        if not tables:
            return
        combined = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        writer = self._snapshot_writer if kind == SNAPSHOT_DIR else self._outcome_writer
        metadata = self._metadata if kind == SNAPSHOT_DIR else {
            META_SCHEMA_VERSION: str(SCHEMA_VERSION)
        }  # fmt: skip
        if not self._run_opened:
            try:
                open_run(self.snapshot_folder)
            except OSError as exc:
                self._keep_for_retry(kind, combined, f"recording the run as open failed: {exc}")
                return
            self._run_opened = True
        try:
            writer.write(combined, metadata)
        except PartWriterError as exc:
            self._keep_for_retry(kind, combined, str(exc))

    def _keep_for_retry(self, kind: str, table: pa.Table, message: str) -> None:
        with self._lock:
            self._write_errors += 1
            self._last_error = message
            keep = table
            if table.num_rows > self.config.max_pending_rows:
                drop = table.num_rows - self.config.max_pending_rows
                keep = table.slice(drop)
                if kind == SNAPSHOT_DIR:
                    self._rows_dropped += drop
            self._pending[kind].append(keep)
        self._report(f"feature log write failed (rows kept for retry): {message}")

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            with contextlib.suppress(Exception):  # a broken callback must not break trading
                self._on_error(message)


def _strings(values: list[str]) -> pa.Array:
    """A string column (the Parquet writer dictionary-encodes it)."""
    return pa.array(values, pa.string())


def _constant(value: str, n: int) -> pa.Array:
    """A string column of ``n`` copies of ``value`` (built as a dictionary, decoded once)."""
    indices = pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value])).cast(pa.string())


def default_run_id(instrument_id: str) -> str:
    """``<instrument>-<UTC yyyymmddThhmmss>-<4 hex>``: unique per logger."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    safe = "".join(c for c in instrument_id if c.isalnum() or c in "._-") or "run"
    return check_identifier(f"{safe}-{stamp}-{secrets.token_hex(2)}")


def _int64s(values: Sequence[int]) -> Sequence[int] | array[int]:
    """``values`` for ``array("q").extend``: an int64 ndarray as one array (a memcpy), not one
    boxed numpy scalar per element."""
    if isinstance(values, np.ndarray) and values.dtype == np.int64:
        return array("q", np.ascontiguousarray(values).tobytes())
    return values
