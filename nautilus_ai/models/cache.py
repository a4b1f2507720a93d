"""A Parquet cache of slow models' predictions, so rerunning a backtest reuses them.

Key: ``(model_id, feature spec hash, instrument id, bar timestamp, prompt hash)``, where
``model_id`` is the cached predictor's id; each row also keeps the id of the model that answered
(``answered_by``: a server may report another one; a fallback chain's answers from a link after
the first are served but not kept, see ``cacheable``). The instrument
id is part of the key (beyond the issue's four fields) because two instruments share bar
timestamps; the prompt hash covers everything the model saw (feature values, bars, prompt
wording), so a fixed feature bug or a reworded prompt never reuses a stale answer.

Writes are atomic (a temporary file in the same folder, fsync, ``os.replace``) under an exclusive
``flock`` on ``<file>.lock``; a flush merges with whatever another process wrote since. A file that
cannot be read raises :class:`PredictionCacheError` naming it, and is never overwritten.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nautilus_ai.artifacts import atomic_file, flock_within
from nautilus_ai.models.base import (
    Action,
    MarketContext,
    Prediction,
    PredictionError,
    Predictor,
    nested_predictors,
)
from nautilus_ai.models.itemwise import (
    ItemwisePredictor,
    check_batch,
    predict_items,
    predict_row,
)
from nautilus_ai.models.prompting import input_fingerprint
from nautilus_ai.models.registry import (
    BACKEND_SCHEMA,
    Backend,
    BackendConfigError,
    BackendRegistry,
    validate_backend_config,
)
from nautilus_ai.models.spec import FeatureSpecLike

__all__ = [
    "CacheKey",
    "CachedConfig",
    "CachedPredictor",
    "PredictionCache",
    "PredictionCacheError",
]

log = logging.getLogger(__name__)

CacheKey = tuple[str, str, str, int, str]
"""``(model_id, spec_hash, instrument_id, ts_event_ns, prompt_hash)``."""

_VERSION = b"1"
_SCHEMA = pa.schema(
    [
        ("model_id", pa.string()),
        ("spec_hash", pa.string()),
        ("instrument_id", pa.string()),
        ("ts_event", pa.int64()),
        ("prompt_hash", pa.string()),
        ("action", pa.int8()),
        ("confidence", pa.float64()),
        ("risk_score", pa.float64()),
        ("latency", pa.float64()),
        ("reason", pa.string()),
        ("answered_by", pa.string()),
    ],
    metadata={b"nautilus_ai.prediction_cache": _VERSION},
)


class PredictionCacheError(RuntimeError):
    """The cache file is unreadable or not a prediction cache; the message names the file."""


class PredictionCache:
    """Predictions by key, loaded from and flushed to one Parquet file.

    Parameters
    ----------
    path : path
        The ``.parquet`` file. Created on the first flush if missing (its folder too).

    Raises
    ------
    PredictionCacheError
        If ``path`` exists but is not a readable prediction cache.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._entries: dict[CacheKey, Prediction] = {}
        self._latency: dict[CacheKey, float] = {}  # measured seconds, kept in the file
        self._new: dict[CacheKey, Prediction] = {}
        self._loaded_stat: tuple[int, int] | None = None
        if self.path.exists():
            # Loading makes ~1M small objects: the cyclic GC would run hundreds of times
            # for nothing (none of them form cycles).
            collecting = gc.isenabled()
            gc.disable()
            try:
                self._entries, self._latency = self._read(self.path)
            finally:
                if collecting:
                    gc.enable()
            self._loaded_stat = _stat(self.path)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: CacheKey) -> Prediction | None:
        """The cached prediction (with ``latency`` 0: it costs nothing now), or None."""
        return self._entries.get(key)

    def put(self, key: CacheKey, prediction: Prediction) -> None:
        """Remember ``prediction`` (kept in memory until :meth:`flush`)."""
        stored = Prediction(
            prediction.action,
            prediction.confidence,
            prediction.risk_score,
            prediction.model_id,
            0.0,
            prediction.reason,
        )
        self._entries[key] = stored
        self._new[key] = stored
        self._latency[key] = prediction.latency

    def latency_samples_s(self) -> list[float]:
        """The measured latencies (seconds) of the cached answers, e.g. for ``EmpiricalLatency``."""
        return [value for value in self._latency.values() if value > 0.0]

    @property
    def unflushed(self) -> int:
        return len(self._new)

    def flush(self) -> int:
        """Write new entries atomically, merged with the file's current content.

        Returns the number of rows in the file afterwards (0 if there was nothing to write).
        """
        if not self._new:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            if self.path.exists() and _stat(self.path) != self._loaded_stat:
                # another writer added rows since we loaded: theirs + ours
                merged, latency = self._read(self.path)
                merged.update(self._new)
                latency.update({key: self._latency[key] for key in self._new})
            else:
                merged, latency = dict(self._entries), dict(self._latency)
            _write_atomic(self.path, _to_table(merged, latency))
            self._loaded_stat = _stat(self.path)
        self._entries.update(merged)
        self._latency.update(latency)
        self._new.clear()
        return len(merged)

    @staticmethod
    def _read(path: Path) -> tuple[dict[CacheKey, Prediction], dict[CacheKey, float]]:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise PredictionCacheError(
                f"prediction cache {path} is unreadable ({type(exc).__name__}: {exc}); "
                "it was left untouched: move it away or delete it to start a new cache"
            ) from exc
        metadata = table.schema.metadata or {}
        if metadata.get(b"nautilus_ai.prediction_cache") != _VERSION or not table.schema.equals(
            _SCHEMA, check_metadata=False
        ):
            raise PredictionCacheError(
                f"{path} is not a version-{_VERSION.decode()} prediction cache (schema: "
                f"{table.schema.names}); it was left untouched"
            )
        _check_columns(path, table)
        columns = table.to_pydict()
        keys = list(
            zip(
                columns["model_id"],
                columns["spec_hash"],
                columns["instrument_id"],
                columns["ts_event"],
                columns["prompt_hash"],
                strict=True,
            )
        )
        actions = [_ACTION_OF_SIGN[sign] for sign in columns["action"]]
        # Rows were valid Predictions when written and the columns are checked above as a
        # whole, so rows are rebuilt without the per-object checks (5x faster for 186k rows).
        entries = dict(
            zip(
                keys,
                map(
                    _trusted_prediction,
                    actions,
                    columns["confidence"],
                    columns["risk_score"],
                    columns["answered_by"],
                    columns["reason"],
                ),
                strict=True,
            )
        )
        latencies = dict(zip(keys, columns["latency"], strict=True))
        return entries, latencies


_ACTION_OF_SIGN = {1: Action.BUY, -1: Action.SELL, 0: Action.HOLD}


def _check_columns(path: Path, table: pa.Table) -> None:
    """Whole-column checks standing in for ``Prediction``'s per-object validation."""
    import pyarrow.compute as pc

    problems = []
    if table.num_rows:
        for name in _SCHEMA.names:
            if table[name].null_count:
                problems.append(f"{name} has nulls")
        if not pc.all(pc.is_in(table["action"], pa.array([-1, 0, 1], pa.int8()))).as_py():
            problems.append("action outside -1, 0, 1")
        for name in ("confidence", "risk_score"):
            column = table[name]
            low, high = pc.min(column).as_py(), pc.max(column).as_py()
            if pc.any(pc.is_nan(column)).as_py() or low < 0.0 or high > 1.0:
                problems.append(f"{name} outside [0, 1]")
        if pc.any(pc.equal(pc.utf8_length(table["answered_by"]), 0)).as_py():
            problems.append("answered_by is empty")
    if problems:
        raise PredictionCacheError(
            f"prediction cache {path} has invalid rows ({'; '.join(problems)}); "
            "it was left untouched"
        )


def _trusted_prediction(
    action: Action, confidence: float, risk: float, model_id: str, reason: str
) -> Prediction:
    prediction = object.__new__(Prediction)
    set_field = object.__setattr__
    set_field(prediction, "action", action)
    set_field(prediction, "confidence", confidence)
    set_field(prediction, "risk_score", risk)
    set_field(prediction, "model_id", model_id)
    set_field(prediction, "latency", 0.0)
    set_field(prediction, "reason", reason)
    set_field(prediction, "error", None)  # the cache stores answers, not failures
    return prediction


def _to_table(entries: dict[CacheKey, Prediction], latency: dict[CacheKey, float]) -> pa.Table:
    keys = list(entries)
    values = [entries[k] for k in keys]
    return pa.table(
        {
            "model_id": [k[0] for k in keys],
            "spec_hash": [k[1] for k in keys],
            "instrument_id": [k[2] for k in keys],
            "ts_event": pa.array([k[3] for k in keys], pa.int64()),
            "prompt_hash": [k[4] for k in keys],
            "action": pa.array([v.action.sign for v in values], pa.int8()),
            "confidence": pa.array([v.confidence for v in values], pa.float64()),
            "risk_score": pa.array([v.risk_score for v in values], pa.float64()),
            "latency": pa.array([latency.get(k, 0.0) for k in keys], pa.float64()),
            "reason": [v.reason for v in values],
            "answered_by": [v.model_id for v in values],
        },
        schema=_SCHEMA,
    )


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


#: How long a flush waits for another process's lock on the cache before giving up.
LOCK_TIMEOUT_S = 30.0


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The cache's writer lock, waited for at most :data:`LOCK_TIMEOUT_S`: a process that holds
    it for ever (a stuck run sharing the cache) made every flush wait for ever."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as handle:
        if not flock_within(handle.fileno(), LOCK_TIMEOUT_S):
            raise PredictionCacheError(
                f"prediction cache {path} is being written by another process (its lock "
                f"{lock_path} is held); gave up after {LOCK_TIMEOUT_S:g} s, the new entries are "
                "kept in memory for the next flush"
            )
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, table: pa.Table) -> None:
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


_NO_CONTEXT = MarketContext("", 0)


def _predict_rows(
    predictor: Predictor,
    features: NDArray[np.float64],
    contexts: Sequence[MarketContext] | None,
) -> Sequence[Prediction | PredictionError]:
    """One batch call (per-item results when the predictor offers them)."""
    if isinstance(predictor, ItemwisePredictor):
        return predict_items(predictor, features, contexts)
    try:
        return predictor.predict_batch(features, contexts)
    except Exception as exc:  # a failed batch fails each of its rows
        error = exc if isinstance(exc, PredictionError) else PredictionError(repr(exc))
        return [error] * features.shape[0]


def _member_hashers(inner: Predictor) -> list[Callable[[NDArray[np.float64], MarketContext], Any]]:
    """The ``prompt_hash`` of each predictor nested in ``inner`` (at any depth; one that has its
    own covers what it nests), in order: a wrapper's key names the models that answer."""

    def own_hasher(predictor: object) -> bool:
        return predictor is not inner and getattr(predictor, "prompt_hash", None) is not None

    return [
        p.prompt_hash  # type: ignore[attr-defined]
        for p in nested_predictors(inner, stop=own_hasher)
        if own_hasher(p)
    ]


class CachedPredictor:
    """Serve predictions from a :class:`PredictionCache`, asking ``inner`` only on a miss.

    Parameters
    ----------
    inner : Predictor
        The slow model. If it has ``prompt_hash(features, context) -> str`` (the transformers,
        OpenAI, stored MLP and LightGBM backends do) that is the key's prompt hash; otherwise
        the features (and the last ``bars_used`` bars) are hashed, with the ``prompt_hash`` of
        each model it nests (an ensemble or fallback chain of them).
    cache : PredictionCache
        Where answers live.
    read_only : bool
        Never add to the cache (a miss still asks ``inner``).
    flush_every : int
        Flush after this many new entries (and on :meth:`close`).
    bars_used : int
        For predictors without ``prompt_hash``: how many recent bars they look at.

    Only successful predictions are cached: an error raised by ``inner`` propagates and is
    asked again next time.
    """

    def __init__(
        self,
        inner: Predictor,
        cache: PredictionCache,
        *,
        read_only: bool = False,
        flush_every: int = 10_000,
        bars_used: int = 0,
    ) -> None:
        if flush_every < 1:
            raise ValueError(f"flush_every must be >= 1, was {flush_every!r}")
        self.inner = inner
        self.cache = cache
        self._read_only = read_only
        self._flush_every = flush_every
        self._bars_used = bars_used
        self._hasher = getattr(inner, "prompt_hash", None)
        # A wrapper (ensemble, fallback...) has none: its members' say which models answer.
        self._member_hashers = [] if self._hasher is not None else _member_hashers(inner)
        # A wrapper that answers for another model at times (a fallback chain) says which of
        # its answers stand for it; the others are served but not kept.
        self._cacheable = getattr(inner, "cacheable", None)
        self.not_kept = 0
        self.flush_failures = 0
        self._model_id = inner.model_id
        self.hits = 0
        self.misses = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spec_hash(self) -> str | None:
        return self.inner.spec_hash

    @property
    def members(self) -> tuple[Predictor, ...]:
        """The predictor it wraps (:class:`~nautilus_ai.models.trained_bars.WrapsPredictors`)."""
        return (self.inner,)

    @property
    def batch_exact(self) -> bool:
        """True: ``predict_batch`` answers each row exactly as ``predict`` would.

        Hits come from the same cache; misses are asked row by row unless ``inner`` itself is
        ``batch_exact`` (then in one batch). So a precomputed backtest may batch through a cache.
        """
        return True

    def key(self, features: NDArray[np.float64], context: MarketContext) -> CacheKey:
        """The cache key of one row."""
        if self._hasher is not None:
            prompt = str(self._hasher(features, context))
        else:
            prompt = input_fingerprint(features, context, bars_used=self._bars_used)
            if self._member_hashers:
                parts = [prompt, *(str(h(features, context)) for h in self._member_hashers)]
                prompt = hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()
        return (self._model_id, context.spec_hash, context.instrument_id, context.ts_event, prompt)

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        key = self.key(features, context)
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        prediction = self.inner.predict(features, context)
        self._remember(key, prediction)
        return prediction

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        matrix = check_batch(features, contexts)
        # Without contexts the model sees only the features: they alone make the key.
        key_contexts = contexts if contexts is not None else [_NO_CONTEXT] * matrix.shape[0]
        keys = [self.key(matrix[i], key_contexts[i]) for i in range(matrix.shape[0])]
        results: list[Prediction | None] = [self.cache.get(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            missing_contexts = [contexts[i] for i in missing] if contexts is not None else None
            if self.inner.batch_exact:
                answers = _predict_rows(self.inner, matrix[missing], missing_contexts)
            else:
                answers = [predict_row(self.inner, matrix[i], key_contexts[i]) for i in missing]
            for i, answer in zip(missing, answers, strict=True):
                if isinstance(answer, Prediction):
                    self._remember(keys[i], answer)
                    results[i] = answer
                else:
                    results[i] = Prediction.failure(self._model_id, str(answer))
        return [r for r in results if r is not None]

    def flush(self) -> int:
        return self.cache.flush()

    def close(self) -> None:
        """Flush new entries, then close ``inner``. Idempotent."""
        try:
            self.cache.flush()
        finally:
            self.inner.close()

    def _remember(self, key: CacheKey, prediction: Prediction) -> None:
        if self._read_only:
            return
        if self._cacheable is not None and not self._cacheable(prediction):
            self.not_kept += 1
            return
        self.cache.put(key, prediction)
        if self.cache.unflushed >= self._flush_every:
            try:
                self.cache.flush()
            except PredictionCacheError as exc:  # a busy lock: the answer stands, kept to retry
                self.flush_failures += 1
                log.warning("%s", exc)


class CachedConfig(BaseModel):
    """``{"kind": "cached", "backend": {...}, "path": "cache/llm.parquet"}``.

    Wraps ``backend`` in a :class:`CachedPredictor` over the Parquet file at ``path``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["cached"] = "cached"
    backend: Annotated[dict[str, Any], BACKEND_SCHEMA]
    path: str = Field(min_length=1)
    read_only: bool = False
    flush_every: int = Field(default=10_000, ge=1)
    bars_used: int = Field(default=0, ge=0)

    @field_validator("backend")
    @classmethod
    def _validate_backend(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            validate_backend_config(value)
        except BackendConfigError as exc:
            raise ValueError(f"backend: {exc}") from None
        return value


def _build_from_registry(
    config: CachedConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> CachedPredictor:
    cache = PredictionCache(config.path)  # a corrupt file fails here, before the model loads
    inner = registry.build(config.backend, spec)
    return CachedPredictor(
        inner,
        cache,
        read_only=config.read_only,
        flush_every=config.flush_every,
        bars_used=config.bars_used,
    )


#: The ``cached`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("cached", CachedConfig, _build_from_registry)
