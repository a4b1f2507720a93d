"""Switch the active backend at runtime (what the Redis control plane calls).

:class:`SwitchablePredictor` forwards every call to the active predictor. :meth:`switch` builds
the new one first (outside any lock: loading a model can take seconds, and a failure leaves the
old one active), swaps it in atomically, then waits for calls already running on the old one to
finish before closing it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import MarketContext, Prediction, Predictor
from nautilus_ai.models.itemwise import ItemResult, predict_items

__all__ = ["SwitchablePredictor"]

log = logging.getLogger(__name__)

PredictorFactory = Callable[[Mapping[str, Any]], Predictor]


class SwitchablePredictor:
    """A predictor whose backend can be replaced while the strategy runs.

    Parameters
    ----------
    initial : Predictor
        The first active backend.
    factory : callable or None
        Builds a predictor from a config mapping (e.g. ``lambda cfg: build_predictor(cfg, spec)``
        from the model registry); needed to ``switch`` by config.
    spec_hash : str or None
        The feature spec the strategy computes. A backend pinned to another spec is refused.
        Default: ``initial.spec_hash``.
    drain_timeout_s : float
        How long ``switch`` waits for calls on the old backend before closing it anyway.
    """

    def __init__(
        self,
        initial: Predictor,
        factory: PredictorFactory | None = None,
        *,
        spec_hash: str | None = None,
        drain_timeout_s: float = 5.0,
    ) -> None:
        self._factory = factory
        self._spec_hash = spec_hash if spec_hash is not None else initial.spec_hash
        self._check_spec(initial)
        self._active = initial
        self._drain_timeout_s = drain_timeout_s
        self._in_flight: dict[int, int] = {}
        self._condition = threading.Condition()
        self._switch_lock = threading.Lock()
        self.switches = 0

    @property
    def active(self) -> Predictor:
        return self._active

    @property
    def members(self) -> tuple[Predictor, ...]:
        """The predictor it wraps (:class:`~nautilus_ai.models.trained_bars.WrapsPredictors`)."""
        return (self._active,)

    @property
    def model_id(self) -> str:
        return self._active.model_id

    @property
    def batch_exact(self) -> bool:
        """The active backend's (it may change on a switch)."""
        return self._active.batch_exact

    @property
    def spec_hash(self) -> str | None:
        return self._spec_hash

    def switch(self, target: Mapping[str, Any] | Predictor) -> str:
        """Make ``target`` (a config for the factory, or a predictor) the active backend.

        Returns the new model id. Raises (and keeps the old backend) if the factory fails or
        the new backend is pinned to a different feature spec.
        """
        with self._switch_lock:
            if isinstance(target, Mapping):
                if self._factory is None:
                    raise ValueError("switch by config needs a factory; pass a Predictor instead")
                new = self._factory(target)
            else:
                new = target
            try:
                self._check_spec(new)
            except ValueError:
                if isinstance(target, Mapping):
                    new.close()
                raise
            with self._condition:
                old = self._active
                self._active = new
            if old is not new:
                self._drain_and_close(old)
            self.switches += 1
            log.info("switched predictor %s -> %s", old.model_id, new.model_id)
            return new.model_id

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        with self._lease() as predictor:
            return predictor.predict(features, context)

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        with self._lease() as predictor:
            return predictor.predict_batch(features, contexts)

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        with self._lease() as predictor:
            return predict_items(predictor, features, contexts)

    def close(self) -> None:
        with self._switch_lock:
            self._drain_and_close(self._active)

    @contextmanager
    def _lease(self) -> Iterator[Predictor]:
        with self._condition:
            predictor = self._active
            key = id(predictor)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            yield predictor
        finally:
            with self._condition:
                self._in_flight[key] -= 1
                if not self._in_flight[key]:
                    del self._in_flight[key]
                self._condition.notify_all()

    def _drain_and_close(self, predictor: Predictor) -> None:
        key = id(predictor)
        give_up = time.monotonic() + self._drain_timeout_s
        with self._condition:
            while self._in_flight.get(key):
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    log.warning(
                        "closing %s with %d calls still running",
                        predictor.model_id,
                        self._in_flight[key],
                    )
                    break
                self._condition.wait(remaining)
        try:
            predictor.close()
        except Exception:
            log.exception("closing %s failed", predictor.model_id)

    def _check_spec(self, predictor: Predictor) -> None:
        pinned = predictor.spec_hash
        if pinned is not None and self._spec_hash is not None and pinned != self._spec_hash:
            raise ValueError(
                f"{predictor.model_id} was built for feature spec {pinned}, the strategy "
                f"computes {self._spec_hash}"
            )
