"""``DelayedPredictor``: any backend, answering after a seeded delay (a slow model on demand).

::

    {"kind": "delayed", "backend": {"kind": "rule"}, "min_ms": 50, "max_ms": 500, "seed": 7}

It sleeps a delay drawn uniformly in ``[min_ms, max_ms]`` (seeded, one draw per call) and then
answers what ``backend`` answers, under the backend's ``model_id``: only the timing changes.
Use it to rehearse a slow model in a paper run (``async_predictions``, deadlines) and in the
live tests; ``min_ms = max_ms = 0`` gives the backend's own answers at full speed, so a backtest
of the same config decides as the live run did.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nautilus_ai.models.base import MarketContext, Prediction, Predictor
from nautilus_ai.models.registry import (
    BACKEND_SCHEMA,
    Backend,
    BackendRegistry,
    build_predictor,
    validate_backend_config,
)
from nautilus_ai.models.spec import FeatureSpecLike

__all__ = ["BACKEND", "DelayedConfig", "DelayedPredictor"]


class DelayedConfig(BaseModel):
    """``{"kind": "delayed", "backend": {...}, "min_ms": 50, "max_ms": 500, "seed": 0}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["delayed"] = "delayed"
    backend: Annotated[dict[str, Any], BACKEND_SCHEMA]
    min_ms: float = Field(default=50.0, ge=0.0, le=60_000.0, allow_inf_nan=False)
    max_ms: float = Field(default=500.0, ge=0.0, le=60_000.0, allow_inf_nan=False)
    seed: int = 0

    @field_validator("backend")
    @classmethod
    def _valid_backend(cls, value: dict[str, Any]) -> dict[str, Any]:
        validate_backend_config(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> DelayedConfig:
        if self.max_ms < self.min_ms:
            raise ValueError(f"max_ms ({self.max_ms}) must be >= min_ms ({self.min_ms})")
        return self


#: How many calls :attr:`DelayedPredictor.calls` keeps.
KEPT_CALLS = 4096


class DelayedPredictor:
    """Wraps ``inner``; each call first sleeps a seeded delay in ``[min_s, max_s]``."""

    def __init__(self, inner: Predictor, min_s: float, max_s: float, seed: int = 0) -> None:
        if not 0.0 <= min_s <= max_s:
            raise ValueError(f"need 0 <= min_s <= max_s, got {min_s!r}, {max_s!r}")
        self.inner = inner
        self._min = min_s
        self._max = max_s
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()  # calls may come from worker threads
        #: ``(thread name, delay in s)`` of the last :data:`KEPT_CALLS` calls: where and how long
        #: they waited (bounded: a live run calls for weeks; it grew by one entry per call).
        self.calls: deque[tuple[str, float]] = deque(maxlen=KEPT_CALLS)
        #: Calls made, all of them.
        self.call_count = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    #: Each row waits its own delay: a batch is not promised bit for bit.
    batch_exact = False

    @property
    def spec_hash(self) -> str | None:
        return self.inner.spec_hash

    @property
    def members(self) -> tuple[Predictor, ...]:
        """The predictor it wraps (:class:`~nautilus_ai.models.trained_bars.WrapsPredictors`)."""
        return (self.inner,)

    def _sleep(self) -> None:
        with self._lock:
            delay = float(self._rng.uniform(self._min, self._max)) if self._max > 0 else 0.0
            self.calls.append((threading.current_thread().name, delay))
            self.call_count += 1
        if delay > 0.0:
            time.sleep(delay)

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        self._sleep()
        return self.inner.predict(features, context)

    def predict_batch(
        self, features: NDArray[np.float64], contexts: Sequence[MarketContext] | None = None
    ) -> list[Prediction]:
        self._sleep()  # one delay per call: a batch is one round trip
        return self.inner.predict_batch(features, contexts)

    def close(self) -> None:
        self.inner.close()


def _build(
    config: DelayedConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> DelayedPredictor:
    inner = build_predictor(config.backend, spec, registry=registry)
    return DelayedPredictor(inner, config.min_ms / 1e3, config.max_ms / 1e3, config.seed)


#: The ``delayed`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("delayed", DelayedConfig, _build)
