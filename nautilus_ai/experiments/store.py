"""The results library: every run of every experiment in one Parquet dataset.

Layout under the store's root (``results/`` by default)::

    runs/<experiment>/<run key>.parquet     one row per finished run (the dataset)
    failures/<experiment>/<run key>.json    runs that failed (re-run the experiment to retry)
    models/<model key>/                     each fold's model: files, card, thresholds
    experiments/<experiment>/experiment.json  the checked config, its folds and planned keys
    experiments/<experiment>/report/        the report (report.md and its pictures)

A row holds the run's configuration (JSON), its model card (JSON), its figures (one column
each), its equity curve (``equity_ts`` / ``equity`` lists) and its trades (a list of structs:
times, side, prices, PnL net, gross, commission and spread, confidence at entry). Query it with
pyarrow (``pyarrow.dataset.dataset("results/runs")``) or DuckDB
(``SELECT trial, avg(pnl) FROM 'results/runs/*/*.parquet' GROUP BY trial``).

Every file is written to a temporary name and renamed into place, so a run is either stored
whole or not at all (a driver killed mid-write leaves no half row), and a stored run is never
rewritten: re-running an experiment skips the keys it finds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nautilus_ai.artifacts import flock_within, plain_mode, write_bytes_atomic
from nautilus_ai.experiments.plan import RunSpec
from nautilus_ai.experiments.tasks import PreparedModel, RunResult

__all__ = [
    "ExperimentBusyError",
    "RESULT_COLUMNS",
    "ResultsStore",
    "ResultsStoreError",
    "TRADE_FIELDS",
]


class ResultsStoreError(ValueError):
    """A file of the results library that cannot be read (the message names it)."""


class ExperimentBusyError(ResultsStoreError):
    """Another live driver is running this experiment into this results library."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        detail = " ".join(str(exc).split())
        raise ResultsStoreError(
            f"{path}: unreadable ({detail}); running the experiment file again rewrites it"
        ) from None


TRADE_FIELDS = pa.struct(
    [
        ("ts_opened", pa.int64()),
        ("ts_closed", pa.int64()),
        ("side", pa.string()),
        ("quantity", pa.float64()),
        ("avg_px_open", pa.float64()),
        ("avg_px_close", pa.float64()),
        ("realized_pnl", pa.float64()),
        ("gross", pa.float64()),
        ("commission", pa.float64()),
        ("spread", pa.float64()),
        ("confidence", pa.float64()),
        ("exit_reason", pa.string()),
        ("decision_ts", pa.int64()),
    ]
)

_TRADE_NAMES = tuple(f.name for f in TRADE_FIELDS)
_TIME = pa.timestamp("ns", tz="UTC")
SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("experiment", pa.string()),
        ("role", pa.string()),
        ("trial_id", pa.string()),
        ("trial", pa.string()),
        ("family", pa.string()),
        ("instrument", pa.string()),
        ("bar_type", pa.string()),
        ("fold", pa.int32()),
        ("train_start", _TIME),
        ("train_end", _TIME),
        ("validation_start", _TIME),
        ("validation_end", _TIME),
        ("test_start", _TIME),
        ("test_end", _TIME),
        ("seed", pa.int64()),
        ("model_params", pa.string()),
        ("strategy_params", pa.string()),
        ("config", pa.string()),
        ("model_key", pa.string()),
        ("model_card", pa.string()),
        ("data_fingerprint", pa.string()),
        ("code_version", pa.string()),
        ("status", pa.string()),
        ("notes", pa.list_(pa.string())),
        ("worker", pa.string()),
        ("elapsed_s", pa.float64()),
        ("completed_at", _TIME),
        ("pnl", pa.float64()),
        ("return_pct", pa.float64()),
        ("trades", pa.int64()),
        ("win_rate", pa.float64()),
        ("sharpe_bars", pa.float64()),
        ("max_drawdown_pct", pa.float64()),
        ("profit_factor", pa.float64()),
        ("exposure", pa.float64()),
        ("orders", pa.int64()),
        ("starting_equity", pa.float64()),
        ("final_equity", pa.float64()),
        ("currency", pa.string()),
        ("bars", pa.int64()),
        ("gross", pa.float64()),
        ("commission", pa.float64()),
        ("spread_cost", pa.float64()),
        ("min_confidence", pa.float64()),
        ("model_seconds", pa.float64()),
        ("equity_ts", pa.list_(pa.int64())),
        ("equity", pa.list_(pa.float64())),
        ("trade_log", pa.list_(TRADE_FIELDS)),
    ]
)
#: The scalar columns (what ``experiment list|show|best`` read; the curves and trades are not).
RESULT_COLUMNS = tuple(
    name for name in SCHEMA.names if name not in ("equity_ts", "equity", "trade_log")
)


def _unreadable(path: Path) -> str | None:
    """Why the run file ``path`` cannot be read as one row of the library, or None."""
    try:
        meta = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as exc:
        return " ".join(str(exc).split())
    if meta.num_rows != 1:
        return f"{meta.num_rows} rows, a run file holds one"
    return None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class ResultsStore:
    """The results library at ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    # -- paths
    def runs_dir(self, experiment: str) -> Path:
        return self.root / "runs" / experiment

    def failures_dir(self, experiment: str) -> Path:
        return self.root / "failures" / experiment

    def model_dir(self, key: str) -> Path:
        return self.root / "models" / key

    def experiment_dir(self, experiment: str) -> Path:
        return self.root / "experiments" / experiment

    def report_dir(self, experiment: str) -> Path:
        return self.experiment_dir(experiment) / "report"

    # -- runs
    def stored_keys(self, experiment: str) -> set[str]:
        """Keys of the runs stored readable (a run file that cannot be read, e.g. a copy cut
        short, is not stored: running the experiment again recomputes it)."""
        folder = self.runs_dir(experiment)
        if not folder.is_dir():
            return set()
        return {p.stem for p in folder.glob("*.parquet") if _unreadable(p) is None}

    def unreadable_runs(self, experiment: str | None = None) -> list[tuple[Path, str]]:
        """``(path, why)`` of every run file (of one experiment, or all) that cannot be read."""
        folder = self.runs_dir(experiment) if experiment else self.root / "runs"
        found = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
        return [(p, why) for p in found if (why := _unreadable(p)) is not None]

    def write_run(
        self,
        spec: RunSpec,
        result: RunResult,
        *,
        data_fingerprint: str,
        code_version: str,
        role: str | None = None,
        trial: str | None = None,
        family: str | None = None,
    ) -> Path:
        """Store one finished run (atomically; an existing row for the key is kept)."""
        path = self.runs_dir(spec.experiment) / f"{result.key}.parquet"
        if path.exists():
            if _unreadable(path) is None:
                return path
            # Kept beside the new row, never deleted: the user may want to look at it.
            path.replace(path.with_name(f"{path.name}.unreadable-{time.time_ns()}"))
        fold = spec.fold
        windows = {name: w for name, w in fold.windows()}
        f = result.figures
        trades = _trade_rows(result.trades)
        row: dict[str, Any] = {
            "key": result.key,
            "experiment": spec.experiment,
            "role": role or spec.role,
            "trial_id": spec.trial_id if trial is None else f"{spec.trial_id}-{trial}",
            "trial": trial or spec.trial_label,
            "family": family or spec.family,
            "instrument": spec.market.instrument_id,
            "bar_type": spec.market.bar_type,
            "fold": fold.index,
            "seed": spec.seed,
            "model_params": _json(spec.model_params),
            "strategy_params": _json(spec.strategy_params),
            "config": _json({**spec.config(), "key": result.key}),
            "model_key": spec.model.key if spec.model is not None else None,
            "model_card": _json(result.model_card) if result.model_card is not None else None,
            "data_fingerprint": data_fingerprint,
            "code_version": code_version,
            "status": result.status,
            "notes": [str(n) for n in f.get("notes", [])],
            "worker": result.worker,
            "elapsed_s": result.elapsed_s,
            "completed_at": datetime.now(UTC),
            "equity_ts": result.equity_ts.astype(np.int64).tolist(),
            "equity": result.equity.astype(np.float64).tolist(),
            "trade_log": trades,
        }
        for name in ("train", "validation", "test"):
            window = windows.get(name)
            row[f"{name}_start"] = window.start_ns if window is not None else None
            row[f"{name}_end"] = window.end_ns if window is not None else None
        for name in ("pnl", "return_pct", "win_rate", "sharpe_bars", "max_drawdown_pct",
                     "profit_factor", "exposure", "starting_equity", "final_equity", "gross",
                     "commission", "spread_cost", "min_confidence", "model_seconds"):  # fmt: skip
            row[name] = _float(f.get(name))
        for name in ("trades", "orders", "bars"):
            row[name] = int(f[name]) if f.get(name) is not None else None
        row["currency"] = f.get("currency")
        table = pa.Table.from_pylist([row], schema=SCHEMA)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        write_bytes_atomic(path, sink.getvalue().to_pybytes())
        self.clear_failure(spec.experiment, result.key)
        return path

    # -- failures
    def write_failure(
        self, spec: RunSpec, reasons: Sequence[str], *, key: str | None = None, worker: str = ""
    ) -> Path:
        key = key or spec.key
        record = {
            "key": key,
            "experiment": spec.experiment,
            "run": spec.describe(),
            "trial": spec.trial_label,
            "fold": spec.fold.index,
            "seed": spec.seed,
            "reasons": list(reasons),
            "worker": worker,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": spec.config(),
        }
        path = self.failures_dir(spec.experiment) / f"{key}.json"
        write_bytes_atomic(path, (json.dumps(record, indent=2, default=_plain) + "\n").encode())
        return path

    def clear_failure(self, experiment: str, key: str) -> None:
        (self.failures_dir(experiment) / f"{key}.json").unlink(missing_ok=True)

    def failures(self, experiment: str) -> list[dict[str, Any]]:
        folder = self.failures_dir(experiment)
        if not folder.is_dir():
            return []
        out = [_read_json(p) for p in sorted(folder.glob("*.json"))]
        return sorted(out, key=lambda r: (r["fold"], r["trial"], str(r["seed"])))

    # -- models
    def write_model(self, model: PreparedModel) -> Path:
        """Store a fold's model (files, card, thresholds) under its key, atomically."""
        folder = self.model_dir(model.key)
        if (folder / "prepared.json").is_file():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{model.key}-", dir=folder.parent))
        staging.chmod(plain_mode(folder=True))  # published as the model's folder: not 0700
        try:
            for name, content in model.files.items():
                target = staging / "files" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            meta = {
                "key": model.key, "family": model.family, "card": model.card,
                "thresholds": model.thresholds, "predictor": model.predictor,
                "context_bars": model.context_bars, "seconds": model.seconds, "info": model.info,
            }  # fmt: skip
            (staging / "prepared.json").write_text(json.dumps(meta, indent=2, default=_plain))
            if folder.exists() and not (folder / "prepared.json").is_file():
                shutil.rmtree(folder)  # a half-written folder from a killed driver
            try:
                staging.rename(folder)
            except OSError:
                if not (folder / "prepared.json").is_file():
                    raise
                # another driver of this library (an experiment sharing the fold's model) stored
                # the same key meanwhile: same content, keep it
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return folder

    def load_model(self, key: str) -> PreparedModel | None:
        folder = self.model_dir(key)
        meta_path = folder / "prepared.json"
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files_dir = folder / "files"
        files = (
            {p.relative_to(files_dir).as_posix(): p.read_bytes()
             for p in sorted(files_dir.rglob("*")) if p.is_file()}
            if files_dir.is_dir() else {}
        )  # fmt: skip
        return PreparedModel(
            key=meta["key"], family=meta["family"], files=files, card=meta["card"],
            thresholds={k: float(v) for k, v in meta["thresholds"].items()},
            predictor=meta["predictor"], context_bars=int(meta["context_bars"]),
            seconds=float(meta["seconds"]), info=dict(meta.get("info", {})),
        )  # fmt: skip

    # -- experiments
    @contextlib.contextmanager
    def running(self, experiment: str) -> Iterator[None]:
        """Hold ``experiments/<experiment>/.lock`` while one driver runs the experiment (a
        driver that died released it). Two drivers at once each ran every run, each wrote the
        manifest and report over the other's (an edited file's plan over the first's).

        Raises
        ------
        ExperimentBusyError
            Another live process holds it (the message names the lock and that process).
        """
        path = self.experiment_dir(experiment) / ".lock"
        self._make_folders(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not flock_within(fd, 0.0):
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                raise ExperimentBusyError(
                    f"experiment {experiment} is being run into {self.root} by another driver "
                    f"({holder}; lock {path}): wait for it to finish, or give this file "
                    "another name or store"
                )
            os.ftruncate(fd, 0)
            started = datetime.now(UTC).isoformat(timespec="seconds")
            os.pwrite(fd, f"pid {os.getpid()} since {started}".encode(), 0)
            self._make_folders(self.runs_dir(experiment), self.failures_dir(experiment))
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _make_folders(self, *folders: Path) -> None:
        """The folders a driver writes to, made before its first run: a store that is a file
        (or holds a file where a folder goes) stopped the driver after its first backtest, with
        that run's work lost and a bare NotADirectoryError."""
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                blocker = next((p for p in (folder, *folder.parents)
                                if p.exists() and not p.is_dir()), None)  # fmt: skip
                why = f"{blocker} is a file" if blocker is not None else exc.strerror or str(exc)
                raise ResultsStoreError(
                    f"results library {self.root}: cannot make {folder} ({why}): the store must "
                    "be a folder this process can write (experiment store / --store)"
                ) from None

    def write_manifest(self, experiment: str, manifest: Mapping[str, Any]) -> Path:
        path = self.experiment_dir(experiment) / "experiment.json"
        text = json.dumps(manifest, indent=2, default=_plain) + "\n"
        write_bytes_atomic(path, text.encode())
        return path

    def manifest(self, experiment: str) -> dict[str, Any] | None:
        """The experiment's manifest; a ``running`` status whose driver is gone (killed,
        interrupted, its machine rebooted) reads ``interrupted ...``: it said running for good."""
        path = self.experiment_dir(experiment) / "experiment.json"
        if not path.is_file():
            return None
        data: dict[str, Any] = _read_json(path)
        if data.get("status") == "running" and not self.is_running(experiment):
            data["status"] = "interrupted (its driver stopped: run the file again to finish)"
        return data

    def is_running(self, experiment: str) -> bool:
        """Whether a live driver holds the experiment (:meth:`running`)."""
        path = self.experiment_dir(experiment) / ".lock"
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def experiments(self) -> list[str]:
        names = set()
        for folder in (self.root / "runs", self.root / "experiments"):
            if folder.is_dir():
                names |= {p.name for p in folder.iterdir() if p.is_dir()}
        return sorted(names)

    def table(
        self,
        experiment: str | None = None,
        *,
        columns: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
    ) -> pa.Table:
        """The stored runs (of one experiment, or all), as one table (``columns`` to read only
        some: the scalar ones by default skip nothing)."""
        import pyarrow.dataset as ds

        folder = self.runs_dir(experiment) if experiment else self.root / "runs"
        wanted = list(columns) if columns is not None else None
        if keys is not None:  # each run once, however often it is named
            files = [str(folder / f"{k}.parquet") for k in dict.fromkeys(keys)]
            files = [f for f in files if Path(f).is_file()]
        else:
            files = sorted(str(p) for p in folder.rglob("*.parquet")) if folder.is_dir() else []
        if not files:
            return SCHEMA.empty_table().select(wanted) if wanted else SCHEMA.empty_table()
        try:
            dataset = ds.dataset(files, schema=SCHEMA, format="parquet")
            return dataset.to_table(columns=wanted)
        except (pa.ArrowException, OSError) as exc:
            for name in files:
                why = _unreadable(Path(name))
                if why is not None:
                    raise ResultsStoreError(
                        f"{name}: unreadable ({why}); running the experiment file again "
                        "recomputes that run (the file is kept beside it)"
                    ) from None
            raise ResultsStoreError(f"{folder}: the stored runs cannot be read ({exc})") from None


def _trade_rows(trades: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    if not trades or not trades.get("realized_pnl"):
        return []
    n = len(trades["realized_pnl"])
    rows = []
    for i in range(n):
        row = {}
        for name in _TRADE_NAMES:
            values = trades.get(name)
            value = values[i] if values is not None and i < len(values) else None
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            row[name] = value
        rows.append(row)
    return rows
