"""Download Dukascopy files into an on-disk cache that mirrors the datafeed's URL layout.

* Bounded parallel workers share one pooled HTTP session (via the :class:`DataSource`).
* Transient failures (429, 5xx, timeouts, dropped connections) are retried with exponential
  backoff and jitter, honouring ``Retry-After``.
* A dead network fails fast: after ``max_connection_failures`` requests in a row (all workers
  together) that never reached the server (name resolution failed, connection refused, connect
  timed out) or got no answer within the read timeout, every worker stops and
  :func:`download_files` raises :class:`ServerUnreachableError` naming the cause (``cannot
  reach datafeed.dukascopy.com: name resolution failed (5 attempts in 0.8 s)``). Any answer
  from the server resets the count. The files already fetched stay in the cache.
* Every body is checked before it is cached (LZMA stream complete, whole records), so the cache
  only ever holds good files; a corrupt body is re-fetched, then reported and remembered in
  ``<cache>/.failed/`` so later runs skip it unless asked to retry.
* An empty body is "no data" when the file's period is inside the FX weekly closure; for a period
  with open-market time it is suspicious (the datafeed is known to send spurious empty bodies),
  so it is re-fetched, and if it stays empty it is reported and NOT cached.
* Files are written to a temporary name and renamed, so an interrupted run leaves no partial
  file and simply resumes: a second run downloads nothing that is already cached.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from nautilus_ai.data.dukascopy.decode import CANDLE_DTYPE, TICK_DTYPE, decompress_bi5
from nautilus_ai.data.dukascopy.source import (
    DataSource,
    PermanentFetchError,
    TransientFetchError,
    UnreachableError,
)
from nautilus_ai.data.dukascopy.urls import DukascopyFile
from nautilus_ai.data.errors import DataFormatError
from nautilus_ai.data.markethours import closed_ns_between

__all__ = [
    "CACHE_DIR_ENV",
    "DownloadConfig",
    "DownloadSummary",
    "FileOutcome",
    "ServerUnreachableError",
    "Status",
    "default_cache_dir",
    "download_files",
    "failure_marker",
]

CACHE_DIR_ENV = "NAUTILUS_AI_DUKASCOPY_CACHE"

Status = Literal[
    "cached", "downloaded", "empty", "suspicious_empty", "failed", "skipped_failed", "aborted"
]
_FAILED_DIR = ".failed"


@dataclass(frozen=True)
class DownloadConfig:
    """Download policy.

    Parameters
    ----------
    workers : int
        Parallel downloads (>= 1).
    retries : int
        Extra attempts after a transient failure or a corrupt body.
    backoff_seconds, backoff_max_seconds : float
        First retry delay (doubles per attempt, plus up to 50% jitter) and its cap.
    empty_refetches : int
        Extra fetches of an empty body for a period with open-market time.
    retry_failed : bool
        Re-fetch files that earlier runs found corrupt.
    max_connection_failures : int
        Give up the whole run after this many requests in a row (all workers together) that
        never reached the server; any answer from the server resets the count.
    """

    workers: int = 4
    retries: int = 4
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    empty_refetches: int = 2
    retry_failed: bool = False
    max_connection_failures: int = 5

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"DownloadConfig.workers must be >= 1, got {self.workers}")
        if self.max_connection_failures < 1:
            raise ValueError(
                "DownloadConfig.max_connection_failures must be >= 1, got "
                f"{self.max_connection_failures}"
            )
        if self.retries < 0 or self.empty_refetches < 0:
            raise ValueError("DownloadConfig.retries and empty_refetches must be >= 0")
        if self.backoff_seconds < 0 or self.backoff_max_seconds < self.backoff_seconds:
            raise ValueError("DownloadConfig needs 0 <= backoff_seconds <= backoff_max_seconds")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: ``status``, HTTP ``requests`` made, body ``size``, ``error``."""

    file: DukascopyFile
    status: Status
    requests: int
    size: int = 0
    error: str = ""


@dataclass(frozen=True)
class DownloadSummary:
    """Per-file outcomes and totals. ``failures`` lists every file not now good in the cache."""

    outcomes: tuple[FileOutcome, ...]
    seconds: float

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def requests(self) -> int:
        return sum(o.requests for o in self.outcomes)

    @property
    def downloaded_bytes(self) -> int:
        return sum(o.size for o in self.outcomes if o.status == "downloaded")

    @property
    def failures(self) -> tuple[FileOutcome, ...]:
        bad = ("failed", "suspicious_empty", "skipped_failed", "aborted")
        return tuple(o for o in self.outcomes if o.status in bad)

    def to_dict(self) -> dict[str, object]:
        statuses: tuple[Status, ...] = (
            "cached",
            "downloaded",
            "empty",
            "suspicious_empty",
            "failed",
            "skipped_failed",
            "aborted",
        )
        return {
            "files": len(self.outcomes),
            **{s: self.count(s) for s in statuses},
            "requests": self.requests,
            "downloaded_bytes": self.downloaded_bytes,
            "seconds": round(self.seconds, 3),
            "failures": [
                {"file": o.file.key, "period": o.file.period, "status": o.status, "error": o.error}
                for o in self.failures
            ],
        }

    def to_text(self) -> str:
        d = self.to_dict()
        lines = [
            f"{d['files']} files: {d['downloaded']} downloaded, {d['cached']} already cached, "
            f"{d['empty']} empty (market closed), {len(self.failures)} not available; "
            f"{d['requests']} requests, {self.downloaded_bytes / 1e6:.1f} MB "
            f"in {self.seconds:.1f} s"
        ]
        lines.extend(
            f"  {o.status}: {o.file.period} ({o.file.key}): {o.error}" for o in self.failures
        )
        return "\n".join(lines)


class ServerUnreachableError(RuntimeError):
    """The run stopped: too many requests in a row never reached the server.

    ``host``, ``cause`` (e.g. ``"name resolution failed"``), ``attempts`` and ``seconds`` (of
    that run of failures) describe it; ``summary`` is what the run did before it stopped (the
    files it fetched are in the cache).
    """

    def __init__(
        self, host: str, cause: str, attempts: int, seconds: float, summary: DownloadSummary
    ) -> None:
        super().__init__(f"cannot reach {host}: {cause} ({attempts} attempts in {seconds:.1f} s)")
        self.host = host
        self.cause = cause
        self.attempts = attempts
        self.seconds = seconds
        self.summary = summary


class _Reachability:
    """Counts requests in a row, across workers, that never reached the server."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.in_a_row = 0
        self.first_at = 0.0
        self.seconds = 0.0
        self.last: UnreachableError | None = None

    def answered(self) -> None:
        with self.lock:
            self.in_a_row = 0

    def unreachable(self, error: UnreachableError) -> None:
        with self.lock:
            if self.stopped.is_set():
                return
            now = time.perf_counter()
            if self.in_a_row == 0:
                self.first_at = now
            self.in_a_row += 1
            self.last = error
            if self.in_a_row >= self.limit:
                self.seconds = now - self.first_at
                self.stopped.set()


def default_cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Cache root: ``explicit``, else ``$NAUTILUS_AI_DUKASCOPY_CACHE``, else
    ``$XDG_CACHE_HOME/nautilus-ai/dukascopy`` (``~/.cache/...``)."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nautilus-ai" / "dukascopy"


def failure_marker(cache_dir: Path, file: DukascopyFile) -> Path:
    """Where a corrupt-body record for ``file`` is kept."""
    return cache_dir / _FAILED_DIR / f"{file.key}.json"


def _check_body(body: bytes, file: DukascopyFile) -> None:
    raw = decompress_bi5(body, file)
    size = TICK_DTYPE.itemsize if file.kind == "ticks" else CANDLE_DTYPE.itemsize
    if len(raw) % size:
        raise DataFormatError(
            file.key, None, f"{file.period}: {len(raw)} bytes is not whole {size}-byte records"
        )


def _market_open_in(file: DukascopyFile) -> bool:
    start = np.array([file.start_ns], dtype=np.int64)
    end = np.array([int(file.end.timestamp()) * 1_000_000_000], dtype=np.int64)
    return bool(closed_ns_between(start, end)[0] < end[0] - start[0])


def _store(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.part-{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(body)
    os.replace(tmp, path)


class _Fetcher:
    def __init__(
        self,
        source: DataSource,
        cache_dir: Path,
        config: DownloadConfig,
        sleep: Callable[[float], None] | None,
    ) -> None:
        self.source = source
        self.cache_dir = cache_dir
        self.config = config
        self.reach = _Reachability(config.max_connection_failures)
        self.sleep = sleep or self._wait
        self.rng = random.Random()
        self.lock = threading.Lock()

    def _wait(self, seconds: float) -> None:
        """The default backoff sleep: it ends as soon as the run is stopped."""
        self.reach.stopped.wait(seconds)

    def _delay(self, attempt: int, hint: float | None) -> float:
        base = min(self.config.backoff_max_seconds, self.config.backoff_seconds * 2**attempt)
        with self.lock:
            jitter = self.rng.uniform(0, base / 2)
        if hint is not None:
            return float(min(self.config.backoff_max_seconds, max(hint, base)))
        return float(base + jitter)

    def run(self, file: DukascopyFile) -> FileOutcome:
        path = self.cache_dir / file.key
        if path.exists():
            return FileOutcome(file, "cached", 0, path.stat().st_size)
        marker = failure_marker(self.cache_dir, file)
        if marker.exists() and not self.config.retry_failed:
            reason = json.loads(marker.read_text()).get("error", "corrupt earlier")
            return FileOutcome(file, "skipped_failed", 0, 0, f"failed in an earlier run: {reason}")
        requests = 0
        attempt = 0
        empties = 0
        open_market = _market_open_in(file)
        last_error = ""
        while True:
            if self.reach.stopped.is_set():
                return FileOutcome(file, "aborted", requests, 0, "run stopped: server unreachable")
            requests += 1
            try:
                body = self.source.fetch(file)
            except TransientFetchError as exc:
                last_error = str(exc)
                if isinstance(exc, UnreachableError):
                    self.reach.unreachable(exc)
                elif exc.status is not None:
                    self.reach.answered()
                if attempt >= self.config.retries:
                    return FileOutcome(file, "failed", requests, 0, last_error)
                self.sleep(self._delay(attempt, exc.retry_after))
                attempt += 1
                continue
            except PermanentFetchError as exc:
                self.reach.answered()
                return FileOutcome(file, "failed", requests, 0, str(exc))
            self.reach.answered()
            if not body:
                if open_market and empties < self.config.empty_refetches:
                    empties += 1
                    self.sleep(self._delay(empties - 1, None))
                    continue
                if open_market:
                    return FileOutcome(
                        file,
                        "suspicious_empty",
                        requests,
                        0,
                        f"empty body {empties + 1} times for a period with open market; not cached",
                    )
                _store(path, body)
                return FileOutcome(file, "empty", requests, 0)
            try:
                _check_body(body, file)
            except DataFormatError as exc:
                last_error = exc.reason
                if attempt >= self.config.retries:
                    _store(
                        marker,
                        json.dumps({"error": last_error, "bytes": len(body)}).encode(),
                    )
                    return FileOutcome(file, "failed", requests, 0, last_error)
                self.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            _store(path, body)
            if marker.exists():
                marker.unlink()
            return FileOutcome(file, "downloaded", requests, len(body))


def download_files(
    files: Iterable[DukascopyFile],
    cache_dir: str | os.PathLike[str],
    source: DataSource,
    config: DownloadConfig | None = None,
    *,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> DownloadSummary:
    """Fetch every file not yet cached; see the module docstring for the policy.

    Parameters
    ----------
    files : iterable of DukascopyFile
        What to fetch (e.g. from :func:`dukascopy_files`).
    cache_dir : path
        Cache root; ``<cache_dir>/<file.key>`` mirrors the URL path.
    source : DataSource
        Where bodies come from (:class:`HttpDataSource` for the real datafeed or a mirror).
    config : DownloadConfig, optional
        Workers, retries, backoff.
    progress : callable, optional
        Called as ``progress(done, total, outcome)`` after each file (from the calling thread).
    sleep : callable, optional
        Backoff sleeper (injectable for tests); by default a wait that ends early when the run
        is stopped.

    Raises
    ------
    ServerUnreachableError
        ``config.max_connection_failures`` requests in a row never reached the server; the
        files fetched before are in the cache (``exc.summary`` lists them).
    """
    config = config or DownloadConfig()
    cache = Path(cache_dir)
    todo = list(dict.fromkeys(files))
    fetcher = _Fetcher(source, cache, config, sleep)
    started = time.perf_counter()
    outcomes: list[FileOutcome] = []
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        futures = [pool.submit(fetcher.run, f) for f in todo]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if progress is not None:
                progress(len(outcomes), len(todo), outcome)
    outcomes.sort(key=lambda o: (o.file.start, o.file.kind, o.file.side or ""))
    summary = DownloadSummary(tuple(outcomes), time.perf_counter() - started)
    reach = fetcher.reach
    if reach.stopped.is_set() and reach.last is not None:
        raise ServerUnreachableError(
            reach.last.host, reach.last.cause, reach.in_a_row, reach.seconds, summary
        )
    return summary
