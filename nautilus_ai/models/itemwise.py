"""Per-item results for batch calls: one bad row must not sink the whole batch.

Remote and generative backends can fail for one row of a batch (a malformed answer, a server-side
error for one item) while the others succeed. Such backends also implement
``predict_items(features, contexts) -> list[Prediction | PredictionError]``;
:func:`predict_items` calls it when present and otherwise falls back to one ``predict`` per row,
so wrappers (fallback chains, ensembles, caches) can refill just the rows that failed.

:class:`ItemwiseBackend` is the shared base of such backends: they implement ``predict_items``
and inherit ``predict`` (one row through it), ``predict_batch`` (failed rows become holds) and the
``model_id`` / ``spec_hash`` properties.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import MarketContext, Prediction, PredictionError, Predictor

__all__ = [
    "ItemResult",
    "ItemwiseBackend",
    "ItemwisePredictor",
    "check_batch",
    "holds_for_errors",
    "predict_items",
    "predict_row",
]

ItemResult = Prediction | PredictionError


@runtime_checkable
class ItemwisePredictor(Protocol):
    """A predictor whose batch call reports success or failure per row."""

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        """One :class:`Prediction` or :class:`PredictionError` per row of ``features``."""
        ...


class ItemwiseBackend(ABC):
    """Base of backends whose batch call reports per row (remote, generative, composite).

    A subclass sets ``_model_id`` and ``_spec_hash`` (the pinned feature spec hash, or None) in
    ``__init__`` and implements :meth:`predict_items` and :meth:`close`; a backend whose single
    row has its own path overrides :meth:`predict`. One that holds resources sets ``_closed`` in
    ``close`` and calls :meth:`_check_open` before each call.
    """

    _model_id: str
    #: Per-row answers may come from a remote batch: not promised bit for bit.
    batch_exact: bool = False
    _spec_hash: str | None
    _closed: bool = False

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spec_hash(self) -> str | None:
        return self._spec_hash

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """One row through :meth:`predict_items`; raises that row's :class:`PredictionError`."""
        vector = np.asarray(features, dtype=np.float64)
        result = self.predict_items(vector.reshape(1, -1), [context])[0]
        if isinstance(result, PredictionError):
            raise result
        return result

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        """Per-row answers; a row that failed becomes a ``hold`` that says why."""
        return holds_for_errors(self.predict_items(features, contexts), self._model_id)

    @abstractmethod
    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        """One :class:`Prediction` or :class:`PredictionError` per row of ``features``."""

    @abstractmethod
    def close(self) -> None:
        """Release resources. Idempotent."""

    def _check_open(self) -> None:
        if self._closed:
            raise PredictionError(f"{self._model_id}: predictor is closed")

    def _check_context_spec(self, context: MarketContext) -> None:
        """Refuse a row computed with another feature spec than the pinned one (if pinned)."""
        pinned = self._spec_hash
        if pinned is not None and context.spec_hash != pinned:
            raise PredictionError(
                f"{self._model_id} was built for feature spec {pinned}, "
                f"got {context.spec_hash or 'none'}"
            )


def check_batch(
    features: NDArray[np.float64], contexts: Sequence[MarketContext] | None
) -> NDArray[np.float64]:
    """``features`` as a 2-D float64 array whose row count matches ``contexts``."""
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2:
        raise PredictionError(f"batch features must be 2-D (n, k), got shape {matrix.shape}")
    if contexts is not None and len(contexts) != matrix.shape[0]:
        raise PredictionError(
            f"batch has {matrix.shape[0]} feature rows but {len(contexts)} contexts"
        )
    return matrix


def predict_items(
    predictor: Predictor,
    features: NDArray[np.float64],
    contexts: Sequence[MarketContext] | None = None,
) -> list[ItemResult]:
    """Per-row results from any predictor (never raises for a row; may raise for bad input)."""
    matrix = check_batch(features, contexts)
    if isinstance(predictor, ItemwisePredictor):
        try:
            answers = predictor.predict_items(matrix, contexts)
        except Exception as exc:
            error = exc if isinstance(exc, PredictionError) else _wrap(exc)
            return [error] * matrix.shape[0]
        return _checked_items(answers, matrix.shape[0], predictor)
    no_context = MarketContext("", 0)
    return [
        predict_row(predictor, matrix[row], contexts[row] if contexts is not None else no_context)
        for row in range(matrix.shape[0])
    ]


def _checked_items(answers: object, rows: int, predictor: Predictor) -> list[ItemResult]:
    """``answers`` if it is one Prediction or PredictionError per row; else every row fails
    (answers of the wrong length cannot be matched to their rows)."""
    problem = ""
    if not isinstance(answers, list):
        problem = f"predict_items returned {type(answers).__name__}, not a list"
    elif len(answers) != rows:
        problem = f"predict_items gave {len(answers)} answers for {rows} rows"
    else:
        for index, answer in enumerate(answers):
            if not isinstance(answer, Prediction | PredictionError):
                problem = f"predict_items answer {index} is {type(answer).__name__}"
                break
    if not problem:
        return answers  # type: ignore[return-value]
    error = PredictionError(f"{_model_id(predictor)}: {problem}")
    return [error] * rows


def _model_id(predictor: Predictor) -> str:
    try:
        return str(predictor.model_id)
    except Exception:
        return "unknown"


def predict_row(
    predictor: Predictor, features: NDArray[np.float64], context: MarketContext
) -> ItemResult:
    """``predictor.predict`` for one row; a failure is returned as a :class:`PredictionError`."""
    try:
        return predictor.predict(features, context)
    except Exception as exc:
        return exc if isinstance(exc, PredictionError) else _wrap(exc)


def holds_for_errors(results: Sequence[ItemResult], model_id: str) -> list[Prediction]:
    """Turn each failed row into a ``hold`` that says why (what ``predict_batch`` returns)."""
    return [
        item if isinstance(item, Prediction) else Prediction.failure(model_id, str(item))
        for item in results
    ]


def _wrap(exc: Exception) -> PredictionError:
    error = PredictionError(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
