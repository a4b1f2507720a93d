"""An ordered fallback chain: ask each backend in turn until one answers within the deadline.

Typical chain: a remote model server, then the in-process torch model, then a rule. The whole
call has one deadline: every link but the last runs on a worker thread and is abandoned when the
time left runs out; the last link runs inline (it should be fast and local) so the chain always
answers unless that link fails too. The answer's ``reason`` records which links failed and why.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nautilus_ai.models.base import MarketContext, Prediction, PredictionError, Predictor
from nautilus_ai.models.deadline import DeadlineRunner
from nautilus_ai.models.itemwise import ItemResult, ItemwiseBackend, check_batch, predict_items
from nautilus_ai.models.registry import (
    BACKEND_SCHEMA,
    Backend,
    BackendConfigError,
    BackendRegistry,
    build_predictor,
    validate_backend_config,
)
from nautilus_ai.models.spec import FeatureSpecLike

__all__ = [
    "FallbackConfig",
    "FallbackPredictor",
    "build_members",
    "close_members",
    "common_spec_hash",
    "validate_members",
]

log = logging.getLogger(__name__)


def common_spec_hash(predictors: Sequence[Predictor]) -> str | None:
    """The one feature spec hash the predictors share (None if none pins one).

    Raises ``ValueError`` naming the disagreeing models when two pin different specs.
    """
    pinned = {p.model_id: p.spec_hash for p in predictors if p.spec_hash is not None}
    if len(set(pinned.values())) > 1:
        raise ValueError(f"predictors were built for different feature specs: {pinned}")
    return next(iter(pinned.values()), None)


class FallbackPredictor(ItemwiseBackend):
    """Try ``predictors`` in order within one per-call deadline.

    Parameters
    ----------
    predictors : sequence of Predictor
        At least one; the last runs inline on the caller's thread.
    deadline_s : float
        Wall-clock budget for one ``predict`` (or one ``predict_batch``) across all links but the
        last; a link that overruns is abandoned (its thread finishes in the background).
    max_workers : int
        Threads for non-last links (overrunning calls each hold one until they return).
    close_members : bool
        Whether :meth:`close` closes the member predictors too.
    """

    def __init__(
        self,
        predictors: Sequence[Predictor],
        *,
        deadline_s: float,
        max_workers: int = 4,
        close_members: bool = True,
    ) -> None:
        if not predictors:
            raise ValueError("predictors must name at least one backend")
        if not (0 < deadline_s < math.inf):  # inf: no deadline, the chain waits for ever
            raise ValueError(f"deadline_s must be a finite number > 0, was {deadline_s!r}")
        self._chain = tuple(predictors)
        self._spec_hash = common_spec_hash(self._chain)
        self._deadline_s = float(deadline_s)
        self._runner = DeadlineRunner(max_workers, name="nautilus-ai-fallback")
        self._close_members = close_members
        self._model_id = "fallback(" + ",".join(p.model_id for p in self._chain) + ")"
        self.answered_by: dict[str, int] = {p.model_id: 0 for p in self._chain}

    @property
    def members(self) -> tuple[Predictor, ...]:
        return self._chain

    def cacheable(self, prediction: Prediction) -> bool:
        """Whether a prediction cache may keep ``prediction`` as this chain's answer: only the
        first link's. A later link answers for a primary that was down or late; kept, it would
        be replayed on every rerun and the primary never asked again for that bar."""
        return prediction.model_id == self._chain[0].model_id

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """The first link's answer that arrives in time; raises if every link fails."""
        started = time.monotonic()
        errors: list[str] = []
        last = len(self._chain) - 1
        for index, predictor in enumerate(self._chain):
            try:
                if index == last:
                    prediction = predictor.predict(features, context)
                else:
                    remaining = self._deadline_s - (time.monotonic() - started)
                    prediction = self._runner.run(
                        lambda p=predictor: p.predict(features, context),  # type: ignore[misc]
                        remaining,
                        what=predictor.model_id,
                    )
            except Exception as exc:
                errors.append(f"{predictor.model_id}: {type(exc).__name__}: {exc}")
                continue
            self.answered_by[predictor.model_id] += 1
            return _annotated(prediction, errors)
        raise PredictionError("every backend in the fallback chain failed: " + "; ".join(errors))

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        """Per-row answers: rows a link fails are retried on the next link only."""
        matrix = check_batch(features, contexts)
        started = time.monotonic()
        results: list[ItemResult] = [PredictionError("not attempted")] * matrix.shape[0]
        errors: list[list[str]] = [[] for _ in range(matrix.shape[0])]
        todo = list(range(matrix.shape[0]))
        last = len(self._chain) - 1
        for index, predictor in enumerate(self._chain):
            if not todo:
                break
            rows = matrix[todo]
            ctxs = [contexts[i] for i in todo] if contexts is not None else None
            if index == last:
                answers = predict_items(predictor, rows, ctxs)
            else:
                remaining = self._deadline_s - (time.monotonic() - started)
                try:
                    answers = self._runner.run(
                        lambda p=predictor, r=rows, c=ctxs: predict_items(p, r, c),  # type: ignore[misc]
                        remaining,
                        what=predictor.model_id,
                    )
                except PredictionError as exc:
                    answers = [exc] * len(todo)
            still: list[int] = []
            for row, answer in zip(todo, answers, strict=True):
                if isinstance(answer, Prediction):
                    self.answered_by[predictor.model_id] += 1
                    results[row] = _annotated(answer, errors[row])
                else:
                    errors[row].append(f"{predictor.model_id}: {answer}")
                    results[row] = PredictionError(
                        "every backend in the fallback chain failed: " + "; ".join(errors[row])
                    )
                    still.append(row)
            todo = still
        return results

    def close(self) -> None:
        self._runner.close()
        if self._close_members:
            close_members(self._chain)


def _annotated(prediction: Prediction, errors: list[str]) -> Prediction:
    if not errors:
        return prediction
    note = "fallback after " + "; ".join(errors)
    reason = f"{prediction.reason} [{note}]" if prediction.reason else note
    return dataclasses.replace(prediction, reason=reason)


class FallbackConfig(BaseModel):
    """``{"kind": "fallback", "backends": [{...}, {...}], "deadline_ms": 50}``.

    ``backends`` are backend configs tried in order (each validated when this one is).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fallback"] = "fallback"
    backends: tuple[Annotated[dict[str, Any], BACKEND_SCHEMA], ...] = Field(min_length=1)
    deadline_ms: float = Field(gt=0, allow_inf_nan=False)
    max_workers: int = Field(default=4, ge=1, le=64)

    @field_validator("backends")
    @classmethod
    def _validate_members(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        return validate_members(value, "backends")


def validate_members(members: tuple[dict[str, Any], ...], field: str) -> tuple[dict[str, Any], ...]:
    """Validate nested backend configs, naming the failing one (``field[i]``)."""
    for index, member in enumerate(members):
        try:
            validate_backend_config(member)
        except BackendConfigError as exc:
            raise ValueError(f"{field}[{index}]: {exc}") from None
    return members


def build_members(
    configs: Sequence[Mapping[str, Any]],
    spec: FeatureSpecLike,
    registry: BackendRegistry | None = None,
) -> list[Predictor]:
    """Build nested backends (from ``registry``, the default one if not given); if one fails,
    close those already built and re-raise."""
    built: list[Predictor] = []
    try:
        for config in configs:
            built.append(build_predictor(config, spec, registry=registry))
    except BaseException:
        for predictor in built:
            predictor.close()
        raise
    return built


def close_members(predictors: Sequence[Predictor]) -> None:
    """Close each predictor; a failure is logged and the others are still closed."""
    for predictor in predictors:
        try:
            predictor.close()
        except Exception:
            log.exception("closing %s failed", predictor.model_id)


def _build_from_registry(
    config: FallbackConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> FallbackPredictor:
    members = build_members(config.backends, spec, registry)
    return FallbackPredictor(
        members, deadline_s=config.deadline_ms / 1000.0, max_workers=config.max_workers
    )


#: The ``fallback`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("fallback", FallbackConfig, _build_from_registry)
