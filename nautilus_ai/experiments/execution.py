"""Run an experiment's runs: every fold x trial a Ray task (or, for debugging and as the
benchmark's reference, a plain in-process loop), each result stored as it arrives.

Ray is the optional ``experiments`` extra, imported only here and only when asked for. With no
address Ray starts on this machine with its cores; ``address="host:port"`` (or ``"auto"``) joins
a running cluster, whose nodes need this package installed and the catalog at the same path.

Failure handling: a run that raises, or whose worker dies, is retried (``retries`` times; Ray
re-runs the task) and then reported (stored under ``failures/`` with the cause, the other runs
go on). A run that exceeds ``timeout_s`` raises :class:`RunTimeoutError` in its worker (SIGALRM
deadline) and is treated the same way; the driver keeps its own deadline for each task it
started (:func:`driver_deadline_s`), for a task the alarm cannot stop or that never starts. A
run whose backtest completed with status ``failed`` (e.g. every order refused) is
deterministic: reported without a retry, and so is a run or model build that raises an error its
inputs decide (a ``ValueError`` such as an embargo longer than its window: :class:`Refused`).
Results are stored by the driver as each task finishes, so a driver killed at any point loses
only runs in flight.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from nautilus_ai.experiments.plan import ModelSpec, RunSpec
from nautilus_ai.experiments.store import ResultsStore
from nautilus_ai.experiments.tasks import (
    PreparedModel,
    RunResult,
    hold_key,
    prepare_model,
    run_backtest_task,
)
from nautilus_ai.extras import MissingExtraError

__all__ = [
    "EXPERIMENTS_EXTRA",
    "ExecutionStats",
    "MissingExtraError",
    "RaySession",
    "RunTimeoutError",
    "WORKER_ENV",
    "driver_deadline_s",
    "execute_runs",
    "local_worker_env",
    "require_ray",
]

#: The optional dependency group that brings Ray (and Optuna, DuckDB).
EXPERIMENTS_EXTRA = "experiments"
#: Seconds a cluster address has to answer before ``ray.init`` is asked to join it: where
#: nothing listens, Ray retries for many minutes (its output held), which looks like a hang.
JOIN_TIMEOUT_S = 15.0
Progress = Callable[[str], None]


def require_ray() -> Any:
    """Import and return ``ray``, or raise :class:`MissingExtraError` naming the extra."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError(
            "running experiments on Ray needs the optional 'experiments' extra: "
            "pip install 'nautilus-ai[experiments]' (ray is not installed); "
            "or run with --in-process"
        ) from None
    return ray


@dataclass
class ExecutionStats:
    """What an execution did: runs asked for, found stored, run, failed; models built."""

    planned: int = 0
    skipped: int = 0
    ran: int = 0
    failed: int = 0
    models_built: int = 0
    models_reused: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: ExecutionStats) -> None:
        self.planned += other.planned
        self.skipped += other.skipped
        self.ran += other.ran
        self.failed += other.failed
        self.models_built += other.models_built
        self.models_reused += other.models_reused
        self.seconds += other.seconds
        self.failures += other.failures


# ------------------------------------------------------------------------------ deadlines


NOT_RETRIED = "(not retried: its inputs decide it)"


class RunTimeoutError(Exception):
    """A run (or model build) past ``execution.run_timeout_s``. Deliberately not a
    ``TimeoutError``: that is an ``OSError``, and the readers' handlers of I/O faults took an
    alarm that fired inside them for a broken file ('unreadable Parquet file in the catalog')."""


@contextlib.contextmanager
def run_deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`RunTimeoutError` in this (main) thread after ``seconds`` (no-op
    elsewhere)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise RunTimeoutError(f"the run took longer than execution.run_timeout_s ({seconds:g} s)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Refused:
    """What a task returns for a failure its inputs decide (:func:`_decided`): reported
    without a retry, which would give the same error after as long again (an embargo longer
    than the validation window was trained, failed, then trained and failed once more)."""

    error: str


def _decided(exc: Exception) -> bool:
    """A failure the run's inputs decide: the same inputs and code give the same error. Errors
    of the data's files (pyarrow's, also ``ValueError``) may be a file being written: retried."""
    if not isinstance(exc, (ValueError, TypeError, LookupError, AssertionError, ArithmeticError)):
        return False
    return not type(exc).__module__.startswith("pyarrow")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _refused_or_raised(call: Callable[[], Any], timeout_s: float | None) -> Any:
    """``call()`` under the run's deadline; a failure its inputs decide comes back as
    :class:`Refused` (not retried), any other is raised (retried, then reported)."""
    with run_deadline(timeout_s):
        try:
            return call()
        except Exception as exc:
            if _decided(exc):
                return Refused(_describe(exc))
            raise


def prepare_entry(spec: ModelSpec, timeout_s: float | None) -> PreparedModel | Refused:
    """The task that builds one fold's model (raises on failure: retried, then reported;
    a failure its inputs decide is returned as :class:`Refused`)."""
    built: PreparedModel | Refused = _refused_or_raised(partial(prepare_model, spec), timeout_s)
    return built


def backtest_entry(
    spec: RunSpec, model: PreparedModel | None, timeout_s: float | None
) -> list[RunResult] | Refused:
    """The task that runs one backtest (as :func:`prepare_entry`)."""
    results: list[RunResult] | Refused = _refused_or_raised(
        partial(run_backtest_task, spec, model), timeout_s
    )
    return results


# ------------------------------------------------------------------------------ Ray


#: The workers' environment. A Ray worker runs task after task in one process with a dozen
#: threads; glibc gives threads their own heaps (arenas) and a heap that held a run's arrays
#: stays fragmented: measured +27..50 MB over 18 backtests in one worker, +3 MB with two arenas.
#: One BLAS / OpenMP thread: the runs are the parallelism.
WORKER_ENV = {"MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}


def local_worker_env(workers: int, cores: int | None = None) -> dict[str, str]:
    """:data:`WORKER_ENV` for ``workers`` local workers on ``cores`` cores (default: this
    machine's): each worker's BLAS / OpenMP / Arrow threads get its share of the cores, one when
    every core runs a worker (the default); a single worker on two cores reads its Parquet with
    two threads, as an in-process loop does (measured: 0.58 -> 0.53 s a run)."""
    cores = cores or os.cpu_count() or 1
    return {**WORKER_ENV, "OMP_NUM_THREADS": str(max(1, cores // max(1, workers)))}


class RaySession:
    """Ray for one experiment: started here (local, ``num_cpus`` = the cores or ``workers``)
    or joined (``address``); shut down on close only if started here."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        import logging

        self.ray = require_ray()
        self.started_here = False
        # Ray's own convention: RAY_ADDRESS names the cluster when no address is given
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not self.ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
                "configure_logging": True,
                "runtime_env": {"env_vars": dict(WORKER_ENV)},
            }
            if address:
                self._join(address, kwargs)
            else:
                cpus = workers or os.cpu_count() or 1
                kwargs["runtime_env"] = {"env_vars": local_worker_env(cpus)}
                # "local": a new Ray of our own. With no address ray.init joins any Ray it finds
                # running on this machine (another user's, a stale test's) and refuses num_cpus
                self.ray.init(address="local", num_cpus=cpus,
                              object_store_memory=512 * 1024 * 1024, **kwargs)  # fmt: skip
            self.started_here = True
        self.address = address or "local"

    def _join(self, address: str, kwargs: dict[str, Any]) -> None:
        """``ray.init(address=...)``; a refusal is one line naming the address and, when the
        cluster refused our token, how to send it (Ray 2.60 sends it for an explicit address
        only with RAY_AUTH_MODE=token)."""
        _check_reachable(address, JOIN_TIMEOUT_S)
        # Ray's C++ client logs each of its ~20 connection retries straight to fd 2, before
        # any log level applies: hold them, show them only if the join succeeds
        with _held_stderr() as held:
            try:
                self.ray.init(address=address, **kwargs)
            except (ConnectionError, self.ray.exceptions.AuthenticationError) as exc:
                text = " ".join(str(exc).split())
                refused_token = any(w in held.text() for w in ("Unauthenticated", "AuthToken"))
                hint = (
                    "; the cluster refused this driver's token: a cluster with token "
                    "authentication (Ray's default) needs RAY_AUTH_MODE=token here, with its "
                    "token in ~/.ray/auth_token or RAY_AUTH_TOKEN"
                    if refused_token
                    else ""
                )
                raise ConnectionError(
                    f"cannot join the Ray cluster at {address}: {text}{hint}"
                ) from None
            held.release()

    @property
    def cpus(self) -> int:
        return int(self.ray.cluster_resources().get("CPU", 0))

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self) -> RaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_reachable(address: str, timeout_s: float) -> None:
    """A TCP connection to ``host:port`` (or ``ray://host:port``) within ``timeout_s``, or
    ``ConnectionError`` naming the address; ``auto`` and ``local`` are left to Ray. Anything
    else (``foo``, a port past 65535) is refused here: Ray's own ``ValueError: Invalid address
    format`` was a crash line (exit 1), a bad port a "Connection refused"."""
    if address.strip() in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConnectionError(
            f"cannot join the Ray cluster at {address}: not an address (expected host:port "
            "with a port in 1-65535, ray://host:port, or auto)"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ConnectionError(
            f"cannot join the Ray cluster at {address}: no connection to {host}:{port} "
            f"({reason}; {timeout_s:g} s timeout); is a Ray head running there?"
        ) from None


class _HeldStderr:
    """What was written to fd 2 while held (a temporary file), shown on ``release``."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.released = False

    def text(self) -> str:
        self.file.seek(0)
        return str(self.file.read().decode(errors="replace"))

    def release(self) -> None:
        self.released = True


@contextlib.contextmanager
def _held_stderr() -> Iterator[_HeldStderr]:
    """Redirect fd 2 (C / C++ libraries' stderr) to a file for the block; replay it after the
    block if it called ``release``."""
    import sys
    import tempfile

    with tempfile.TemporaryFile() as file:
        held = _HeldStderr(file)
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(file.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if held.released:
                sys.stderr.write(held.text())
                sys.stderr.flush()


def _describe_ray_error(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    name = type(exc).__name__
    if cause is not None and cause is not exc:
        text = " ".join(str(cause).split()) or type(cause).__name__
        return f"{type(cause).__name__}: {text}"
    if "WorkerCrashed" in name or "ActorDied" in name or "NodeDied" in name:
        return "the worker process running it died (killed or crashed)"
    if "OutOfMemory" in name:
        return "the worker ran out of memory"
    text = " ".join(str(exc).split())
    first = text.split(" Traceback", 1)[0]
    return f"{name}: {first[:300]}"


# ------------------------------------------------------------------------------ execution


def execute_runs(
    runs: Sequence[RunSpec],
    store: ResultsStore,
    *,
    data: Mapping[str, str],
    code: str,
    session: RaySession | None,
    retries: int = 1,
    timeout_s: float | None = None,
    progress: Progress = print,
) -> ExecutionStats:
    """Run the ``runs`` not yet stored (on Ray when ``session``, else in this process), store
    each result as it arrives and report progress; returns the counts."""
    started = time.perf_counter()
    stored = store.stored_keys(runs[0].experiment) if runs else set()
    pending = [r for r in runs if r.key not in stored]
    stats = ExecutionStats(planned=len(runs), skipped=len(runs) - len(pending))
    if not pending:
        stats.seconds = time.perf_counter() - started
        return stats
    models: dict[str, ModelSpec] = {r.model.key: r.model for r in pending if r.model is not None}
    ready_models: dict[str, PreparedModel] = {}
    for key in models:
        found = store.load_model(key)
        if found is not None:
            ready_models[key] = found
    stats.models_reused = len(ready_models)
    tracker = _Tracker(len(pending), progress, started)
    if session is None:
        _execute_in_process(pending, models, ready_models, store, data, code, retries,
                            timeout_s, stats, tracker)  # fmt: skip
    else:
        _execute_on_ray(pending, models, ready_models, store, data, code, retries, timeout_s,
                        stats, tracker, session)  # fmt: skip
    stats.seconds = time.perf_counter() - started
    return stats


class _Tracker:
    def __init__(self, total: int, progress: Progress, started: float) -> None:
        self.total = total
        self.done = 0
        self.progress = progress
        self.started = started

    def finished(self, spec: RunSpec, result: RunResult | None, failure: str = "") -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        if result is not None and result.status == "ok":
            f = result.figures
            what = (
                f"pnl {f.get('pnl', 0.0):+,.2f}, {f.get('trades', 0)} trades, "
                f"{result.elapsed_s:.1f} s"
            )
        else:
            what = f"FAILED: {failure}"
        self.progress(
            f"[{self.done}/{self.total}] {spec.describe()}: {what} "
            f"({rate:.2f} runs/s, ETA {eta:.0f} s)"
        )

    def model(self, spec: ModelSpec, model: PreparedModel | None, failure: str = "") -> None:
        seed = f" seed {spec.seed}" if spec.seed is not None else ""
        if model is None:
            self.progress(
                f"      model fold {spec.fold.index} {spec.family}{seed} FAILED: {failure}"
            )
        else:
            self.progress(
                f"      model fold {spec.fold.index} {spec.family}{seed} ready in "
                f"{model.seconds:.1f} s"
            )


def _store_results(
    spec: RunSpec,
    results: list[RunResult],
    store: ResultsStore,
    data: Mapping[str, str],
    code: str,
    stats: ExecutionStats,
    tracker: _Tracker,
) -> None:
    main = results[0]
    fingerprint = data[spec.market.bar_type]
    if main.status != "ok":
        reason = "; ".join(main.reasons) or "failed"
        store.write_failure(spec, main.reasons or ["failed"], worker=main.worker)
        stats.failed += 1
        stats.failures.append((spec.describe(), reason))
        tracker.finished(spec, main, reason)
        return
    for extra in results[1:]:  # the buy & hold row of a baseline run
        store.write_run(spec, extra, data_fingerprint=fingerprint, code_version=code,
                        trial="buy-and-hold", family="buy_and_hold")  # fmt: skip
        assert extra.key == hold_key(spec.key)
    store.write_run(spec, main, data_fingerprint=fingerprint, code_version=code)
    stats.ran += 1
    tracker.finished(spec, main)


def _fail(
    spec: RunSpec, reason: str, store: ResultsStore, stats: ExecutionStats, tracker: _Tracker
) -> None:
    store.write_failure(spec, [reason])
    stats.failed += 1
    stats.failures.append((spec.describe(), reason))
    tracker.finished(spec, None, reason)


def _execute_in_process(
    pending: Sequence[RunSpec],
    models: Mapping[str, ModelSpec],
    ready: dict[str, PreparedModel],
    store: ResultsStore,
    data: Mapping[str, str],
    code: str,
    retries: int,
    timeout_s: float | None,
    stats: ExecutionStats,
    tracker: _Tracker,
) -> None:
    broken: dict[str, str] = {}
    for spec in pending:
        model = None
        if spec.model is not None:
            key = spec.model.key
            if key not in ready and key not in broken:
                built, error = _attempts(partial(prepare_entry, spec.model, timeout_s), retries)
                if built is None:
                    broken[key] = error
                    tracker.model(spec.model, None, error)
                else:
                    ready[key] = built
                    store.write_model(built)
                    stats.models_built += 1
                    tracker.model(spec.model, built)
            if key in broken:
                _fail(spec, f"its model could not be built: {broken[key]}", store, stats, tracker)
                continue
            model = ready[key]
        results, error = _attempts(partial(backtest_entry, spec, model, timeout_s), retries)
        if results is None:
            _fail(spec, error, store, stats, tracker)
        else:
            _store_results(spec, results, store, data, code, stats, tracker)


def _attempts(call: Callable[[], Any], retries: int) -> tuple[Any, str]:
    error = ""
    for attempt in range(retries + 1):
        try:
            value = call()
        except Exception as exc:  # isolated per run: reported, the others go on
            error = _describe(exc)
            if attempt < retries:
                continue
        else:
            if isinstance(value, Refused):
                return None, f"{value.error} {NOT_RETRIED}"
            return value, ""
    return None, f"{error} (after {retries + 1} attempts)"


def driver_deadline_s(timeout_s: float | None, retries: int) -> float | None:
    """Seconds the driver waits for a task it started before it gives the task up: every
    attempt's ``timeout_s`` (the worker's own deadline) plus as much again, at most a minute, for
    starting a worker and reading the data. ``None``: no timeout asked for."""
    if timeout_s is None:
        return None
    return (retries + 1) * (timeout_s + min(60.0, timeout_s))


def _execute_on_ray(
    pending: Sequence[RunSpec],
    models: Mapping[str, ModelSpec],
    ready: dict[str, PreparedModel],
    store: ResultsStore,
    data: Mapping[str, str],
    code: str,
    retries: int,
    timeout_s: float | None,
    stats: ExecutionStats,
    tracker: _Tracker,
    session: RaySession,
) -> None:
    """Keep the cluster's CPUs busy with at most one task each, so a task starts when it is
    submitted and its deadline (:func:`driver_deadline_s`) counts from there: a task that does
    not return by then (hung where the worker's alarm cannot reach, e.g. in native code, or
    never scheduled: a cluster with no free CPU) is cancelled and reported as failed, and the
    experiment goes on (and exits non-zero)."""
    ray = session.ray
    options = {"num_cpus": 1, "max_retries": retries, "retry_exceptions": True}
    prepare = ray.remote(**options)(prepare_entry)
    backtest = ray.remote(**options)(backtest_entry)
    slots = max(1, session.cpus)
    limit = driver_deadline_s(timeout_s, retries)
    model_refs = {key: ray.put(ready[key]) for key in models if key in ready}
    to_build = deque(spec for key, spec in models.items() if key not in ready)
    runnable: deque[RunSpec] = deque()
    blocked: dict[str, list[RunSpec]] = {}
    for spec in pending:
        if spec.model is None or spec.model.key in model_refs:
            runnable.append(spec)
        else:
            blocked.setdefault(spec.model.key, []).append(spec)
    waiting: dict[Any, tuple[str, Any, float]] = {}

    def model_failed(spec: ModelSpec, reason: str) -> None:
        tracker.model(spec, None, reason)
        for run in blocked.pop(spec.key, []):
            _fail(run, f"its model could not be built: {reason}", store, stats, tracker)

    while waiting or runnable or to_build:
        while len(waiting) < slots and (runnable or to_build):
            due = time.monotonic() + limit if limit is not None else math.inf
            if runnable:
                spec = runnable.popleft()
                model_ref = model_refs[spec.model.key] if spec.model is not None else None
                waiting[backtest.remote(spec, model_ref, timeout_s)] = ("run", spec, due)
            else:
                model_spec = to_build.popleft()
                waiting[prepare.remote(model_spec, timeout_s)] = ("model", model_spec, due)
        now = time.monotonic()
        nearest = min(due for _, _, due in waiting.values())
        done, _ = ray.wait(list(waiting), num_returns=1, timeout=max(0.0, min(5.0, nearest - now)))
        for ref in done:
            kind, task, _ = waiting.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:  # the task's error after its retries, or a dead worker
                reason = _describe_ray_error(exc)
                if kind == "model":
                    model_failed(task, reason)
                else:
                    _fail(task, reason, store, stats, tracker)
                continue
            if isinstance(value, Refused):
                if kind == "model":
                    model_failed(task, f"{value.error} {NOT_RETRIED}")
                else:
                    _fail(task, f"{value.error} {NOT_RETRIED}", store, stats, tracker)
                continue
            if kind == "model":
                store.write_model(value)
                stats.models_built += 1
                tracker.model(task, value)
                model_refs[task.key] = ref
                runnable.extend(blocked.pop(task.key, []))
            else:
                _store_results(task, value, store, data, code, stats, tracker)
        now = time.monotonic()
        for ref in [ref for ref, (_, _, due) in waiting.items() if due <= now]:
            kind, task, _ = waiting.pop(ref)
            with contextlib.suppress(Exception):  # gone already: nothing to stop
                ray.cancel(ref, force=True)
            reason = _overdue(kind, timeout_s, retries, limit)
            if kind == "model":
                model_failed(task, reason)
            else:
                _fail(task, reason, store, stats, tracker)


def _overdue(kind: str, timeout_s: float | None, retries: int, limit: float | None) -> str:
    what = "its model build" if kind == "model" else "the run"
    return (
        f"{what} did not return within {limit:.0f} s of being started "
        f"(execution.run_timeout_s = {timeout_s:g} s per attempt, {retries + 1} attempt(s), "
        "plus start-up): hung past its timeout, or no free CPU on the cluster to run it; "
        "cancelled"
    )
