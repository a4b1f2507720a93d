"""A confidence-weighted vote across several backends.

Each member that answers votes for its action with ``weight * confidence``. The action with the
most votes wins (a tie, or no votes at all, is a ``hold``); the ensemble's confidence is the
winner's share of the total weight of the members that answered, and its risk score is their
weight-averaged risk. Members that fail (or miss the deadline) do not vote; fewer than
``min_members`` answers is a :class:`PredictionError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError, Predictor
from nautilus_ai.models.deadline import DeadlineRunner
from nautilus_ai.models.fallback import (
    build_members,
    close_members,
    common_spec_hash,
    validate_members,
)
from nautilus_ai.models.itemwise import ItemResult, ItemwiseBackend, check_batch, predict_items
from nautilus_ai.models.registry import BACKEND_SCHEMA, Backend, BackendRegistry
from nautilus_ai.models.spec import FeatureSpecLike

__all__ = ["EnsembleConfig", "EnsemblePredictor", "vote"]


def vote(
    answers: Sequence[Prediction], weights: Sequence[float], model_id: str, min_members: int = 1
) -> Prediction:
    """Combine member answers (see the module docstring). Pure; raises if too few answered."""
    if len(answers) != len(weights):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    if len(answers) < min_members:
        raise PredictionError(f"only {len(answers)} of the required {min_members} members answered")
    scores = dict.fromkeys(Action, 0.0)
    total_weight = 0.0
    risk = 0.0
    for answer, weight in zip(answers, weights, strict=True):
        scores[answer.action] += weight * answer.confidence
        total_weight += weight
        risk += weight * answer.risk_score
    best = max(scores.values())
    winners = [a for a, s in scores.items() if s == best]
    action = winners[0] if len(winners) == 1 and best > 0 else Action.HOLD
    confidence = scores[action] / total_weight if total_weight > 0 else 0.0
    reason = "votes " + " ".join(f"{a.value}={s:.3g}" for a, s in scores.items())
    reason += f" from {len(answers)} members"
    return Prediction(
        action,
        min(1.0, max(0.0, confidence)),
        min(1.0, max(0.0, risk / total_weight if total_weight > 0 else 1.0)),
        model_id,
        reason=reason,
    )


class EnsemblePredictor(ItemwiseBackend):
    """Vote across ``members`` (see the module docstring).

    Parameters
    ----------
    members : sequence of Predictor
        Backends to ask; all must accept the same feature spec.
    weights : sequence of float or None
        One positive weight per member (default: all 1).
    min_members : int
        Answers needed for a decision.
    deadline_s : float or None
        If set, members are asked in parallel on worker threads and those not done by the
        deadline do not vote; if None they are asked one after another on the caller's thread.
    close_members : bool
        Whether :meth:`close` closes the members too.
    """

    def __init__(
        self,
        members: Sequence[Predictor],
        weights: Sequence[float] | None = None,
        *,
        min_members: int = 1,
        deadline_s: float | None = None,
        close_members: bool = True,
    ) -> None:
        if not members:
            raise ValueError("members must name at least one backend")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members):
            raise ValueError(f"{len(members)} members but {len(weights)} weights")
        if not all(0 < w < math.inf for w in weights):  # an inf weight makes every vote NaN
            raise ValueError(f"weights must all be finite and > 0, were {weights}")
        if not (1 <= min_members <= len(members)):
            raise ValueError(f"min_members must be in 1..{len(members)}, was {min_members!r}")
        if deadline_s is not None and not (0 < deadline_s < math.inf):
            raise ValueError(f"deadline_s must be a finite number > 0 or None, was {deadline_s!r}")
        self._members = tuple(members)
        self._weights = tuple(weights)
        self._spec_hash = common_spec_hash(self._members)
        self._min_members = min_members
        self._deadline_s = deadline_s
        self._runner = (
            DeadlineRunner(max(2, 2 * len(members)), name="nautilus-ai-ensemble")
            if deadline_s is not None
            else None
        )
        self._close_members = close_members
        self._model_id = "ensemble(" + ",".join(m.model_id for m in self._members) + ")"

    @property
    def members(self) -> tuple[Predictor, ...]:
        return self._members

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        matrix = check_batch(features, contexts)
        per_member = self._ask_members(matrix, contexts)
        results: list[ItemResult] = []
        for row in range(matrix.shape[0]):
            answers: list[Prediction] = []
            weights: list[float] = []
            for member_answers, weight in zip(per_member, self._weights, strict=True):
                answer = member_answers[row]
                if isinstance(answer, Prediction):
                    answers.append(answer)
                    weights.append(weight)
            try:
                results.append(vote(answers, weights, self._model_id, self._min_members))
            except PredictionError as exc:
                results.append(exc)
        return results

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        if self._close_members:
            close_members(self._members)

    def _ask_members(
        self, matrix: NDArray[np.float64], contexts: Sequence[MarketContext] | None
    ) -> list[list[ItemResult]]:
        if self._runner is None or self._deadline_s is None:
            return [predict_items(m, matrix, contexts) for m in self._members]
        calls = [
            (member.model_id, lambda m=member: predict_items(m, matrix, contexts))
            for member in self._members
        ]
        answers = self._runner.run_many(calls, self._deadline_s)  # type: ignore[arg-type]
        return [[a] * matrix.shape[0] if isinstance(a, PredictionError) else a for a in answers]


class EnsembleConfig(BaseModel):
    """``{"kind": "ensemble", "members": [{...}, ...], "weights": [2, 1], "deadline_ms": 100}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ensemble"] = "ensemble"
    members: tuple[Annotated[dict[str, Any], BACKEND_SCHEMA], ...] = Field(min_length=1)
    weights: tuple[float, ...] | None = None
    min_members: int = Field(default=1, ge=1)
    deadline_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @field_validator("members")
    @classmethod
    def _validate_members(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        return validate_members(value, "members")

    @model_validator(mode="after")
    def _check_counts(self) -> EnsembleConfig:
        if self.weights is not None:
            if len(self.weights) != len(self.members):
                raise ValueError(
                    f"weights has {len(self.weights)} values for {len(self.members)} members"
                )
            if not all(0 < w < math.inf for w in self.weights):
                raise ValueError(f"weights must all be finite and > 0, were {list(self.weights)}")
        if self.min_members > len(self.members):
            raise ValueError(
                f"min_members ({self.min_members}) exceeds the {len(self.members)} members"
            )
        return self


def _build_from_registry(
    config: EnsembleConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> EnsemblePredictor:
    members = build_members(config.members, spec, registry)
    return EnsemblePredictor(
        members,
        config.weights,
        min_members=config.min_members,
        deadline_s=None if config.deadline_ms is None else config.deadline_ms / 1000.0,
    )


#: The ``ensemble`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("ensemble", EnsembleConfig, _build_from_registry)
