"""The predictor protocol every model backend implements.

A predictor turns one feature vector (plus optional market context: recent bars, for backends that
prompt a language model or render a chart) into a :class:`Prediction`: an action, a confidence in
[0, 1] and a risk score in [0, 1]. Backends differ in how they compute it (a rule, a torch MLP, a
transformers model, a REST server); strategies only see this protocol.

Failure contract: ``predict`` may raise. Callers that must never crash (strategies) wrap it with
:func:`safe_predict`, which turns any exception into a logged ``hold``.

Optional capability: a predictor that also implements :class:`LearnsFromOutcomes` is handed a
:class:`TradeOutcome` for each position its decisions opened, once the position closed (see
:mod:`nautilus_ai.feedback`). Check it with ``isinstance(predictor, LearnsFromOutcomes)``.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Action",
    "ArrayPredictor",
    "LearnsFromOutcomes",
    "MarketContext",
    "PlainSignals",
    "Prediction",
    "PredictionError",
    "Predictor",
    "ReportsStatus",
    "SignalBatch",
    "SignalPredictor",
    "TradeOutcome",
    "WrapsPredictors",
    "model_statuses",
    "nested_predictors",
    "safe_predict",
]


class Action(enum.Enum):
    """What the model wants: go long, go short, or stay out / do nothing."""

    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell, 0 for hold (the encoding used in arrays and Parquet)."""
        return _SIGN[self]

    @classmethod
    def from_sign(cls, sign: int) -> Action:
        if sign > 0:
            return cls.BUY
        if sign < 0:
            return cls.SELL
        return cls.HOLD

    @classmethod
    def parse(cls, value: str | Action) -> Action:
        """Parse ``"buy" | "sell" | "hold"`` (case-insensitive); raise ``ValueError`` otherwise."""
        if isinstance(value, Action):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"action must be one of buy|sell|hold, was {value!r}") from None


_SIGN = {Action.BUY: 1, Action.SELL: -1, Action.HOLD: 0}


_LN3 = math.log(3.0)


def softmax3(l0: float, l1: float, l2: float) -> tuple[float, float, float]:
    """Softmax of three logits in Python floats, max-shifted, in the operation order the Pine
    exports repeat (the per-bar path of the MLP and LightGBM predictors)."""
    top = l0 if l0 >= l1 else l1
    top = top if top >= l2 else l2
    e0 = math.exp(l0 - top)
    e1 = math.exp(l1 - top)
    e2 = math.exp(l2 - top)
    total = e0 + e1 + e2
    return e0 / total, e1 / total, e2 / total


def argmax_and_entropy(p0: float, p1: float, p2: float) -> tuple[int, float, float]:
    """Of three class probabilities: the class index (first max on ties), its probability
    clipped to at most 1 (NaN stays NaN), and the entropy over ``ln 3`` (not clipped: callers
    bound it)."""
    if p0 >= p1 and p0 >= p2:
        k, confidence = 0, p0
    elif p1 >= p2:
        k, confidence = 1, p1
    else:
        k, confidence = 2, p2
    entropy = 0.0
    if p0 > 0.0:
        entropy -= p0 * math.log(p0)
    if p1 > 0.0:
        entropy -= p1 * math.log(p1)
    if p2 > 0.0:
        entropy -= p2 * math.log(p2)
    # NaN (a network that overflowed) stays NaN, never a confidence of 1: a Prediction refuses it
    return k, (1.0 if confidence > 1.0 else confidence), entropy / _LN3


class PredictionError(RuntimeError):
    """A backend could not produce a prediction (bad answer, timeout, wrong feature spec...)."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One model decision.

    Parameters
    ----------
    action : Action
        buy, sell or hold.
    confidence : float
        The model's confidence in ``action``, in [0, 1].
    risk_score : float
        The model's estimate of how risky acting is now, in [0, 1] (0 = calm, 1 = do not trade).
    model_id : str
        Which model produced it (name and version), carried into logs and trade tags.
    latency : float
        Seconds of wall time the backend spent on it (0 for precomputed predictions).
    reason : str
        Free text: the rule that fired, or why a hold was forced (error, timeout, stale answer).
    error : str or None
        Set when the predictor failed and this is the hold that stands in for its answer
        (:meth:`failure`): the typed contract callers test, never ``reason``'s text.
    """

    action: Action
    confidence: float
    risk_score: float
    model_id: str
    latency: float = 0.0
    reason: str = ""
    error: str | None = None

    def __post_init__(self) -> None:
        # Written out (no loop, no getattr): a backtest builds one Prediction per bar.
        if self.action.__class__ is not Action:
            raise TypeError(f"action must be an Action, was {self.action!r}")
        if not (0.0 <= self.confidence <= 1.0):  # also rejects NaN
            raise ValueError(f"confidence must be in [0, 1], was {self.confidence!r}")
        if not (0.0 <= self.risk_score <= 1.0):
            raise ValueError(f"risk_score must be in [0, 1], was {self.risk_score!r}")
        if not self.model_id:
            raise ValueError("model_id must be a non-empty string")
        if not (0.0 <= self.latency < math.inf):
            raise ValueError(
                f"latency must be a finite number of seconds >= 0, was {self.latency!r}"
            )

    @classmethod
    def hold(cls, model_id: str, reason: str, latency: float = 0.0) -> Prediction:
        """A forced hold: no confidence, maximum risk, with the reason recorded."""
        return cls(Action.HOLD, 0.0, 1.0, model_id or "unknown", latency, reason)

    @classmethod
    def failure(cls, model_id: str, error: str, latency: float = 0.0) -> Prediction:
        """The hold that stands in for a failed prediction: ``error`` says what failed."""
        return cls(
            Action.HOLD,
            0.0,
            1.0,
            model_id or "unknown",
            latency,
            f"predictor error: {error}",
            error,
        )

    @property
    def failed(self) -> bool:
        """Whether the predictor failed (this is :meth:`failure`'s stand-in hold)."""
        return self.error is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "confidence": self.confidence,
            "risk_score": self.risk_score,
            "model_id": self.model_id,
            "latency": self.latency,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MarketContext:
    """What a predictor may know besides the feature vector; all of it at or before ``ts_event``.

    ``recent_bars`` is an ``(n, 6)`` float64 array of the last n bars, oldest first, with columns
    ``ts_event_ns, open, high, low, close, volume`` (the bar at ``ts_event`` is the last row). It is
    ``None`` for backends that only need features.
    """

    instrument_id: str
    ts_event: int
    feature_names: tuple[str, ...] = ()
    spec_hash: str = ""
    recent_bars: NDArray[np.float64] | None = field(default=None, compare=False)


@runtime_checkable
class Predictor(Protocol):
    """Anything that maps a feature vector to a :class:`Prediction`."""

    @property
    def model_id(self) -> str:
        """Stable name + version of the model, e.g. ``"rule-rsi-ema/1"``."""
        ...

    @property
    def spec_hash(self) -> str | None:
        """The feature spec hash the model was built for, or ``None`` if it accepts any spec."""
        ...

    @property
    def batch_exact(self) -> bool:
        """Whether ``predict_batch`` answers every row bit for bit as ``predict`` would (then a
        precomputed backtest may batch it without changing a trade)."""
        ...

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """Predict from one feature vector (ordered as the feature spec). May raise."""
        ...

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        """Predict for each row of ``features`` (shape ``(n, k)``); same answers as ``predict``."""
        ...

    def close(self) -> None:
        """Release resources (sessions, GPU memory, threads). Idempotent."""
        ...


class SignalBatch(NamedTuple):
    """Predictions for many rows as columns: ``sign`` (+1 buy, -1 sell, 0 hold),
    ``confidence``, ``risk_score`` and ``reason`` per row; ``latency`` per row (seconds)."""

    sign: list[int]
    confidence: list[float]
    risk_score: list[float]
    reason: list[str]
    latency: float


@runtime_checkable
class ArrayPredictor(Protocol):
    """A predictor that can answer a whole feature matrix as columns, without one
    :class:`Prediction` per row, from the features alone (no context, no state): row for row
    the same answers as ``predict``. The precomputed backtest path uses it."""

    def predict_signals(self, features: NDArray[np.float64]) -> SignalBatch:
        """Columns for each row of ``features`` (shape ``(n, k)``)."""


#: One row's answer as plain values: ``(sign, confidence, risk_score, reason)``.
Signal = tuple[int, float, float, str]


@runtime_checkable
class SignalPredictor(Protocol):
    """A predictor that can answer one feature row as plain values, from the features alone (no
    context, no state), without building a :class:`Prediction`: the strategy's per-bar fast
    path. Whenever it answers, the answer is ``predict``'s for the same row (``action.sign``,
    ``confidence``, ``risk_score``, ``reason``), bit for bit."""

    def predict_signal(self, features: Sequence[float]) -> Signal | None:
        """``(sign, confidence, risk_score, reason)`` for one row (Python floats, ordered as the
        spec); ``None`` where ``predict`` would not answer plainly (a wrong length, a
        non-finite feature...): the caller then asks ``predict``, which says what is wrong."""


class PlainSignals:
    """The per-bar fast path's reader: the current predictor's plain signal for a row, or
    ``None`` where the caller must ask ``predict`` (the predictor is no
    :class:`SignalPredictor`, was built for another spec, refuses the row or raised: ``predict``
    then says what is wrong). Bound once per predictor and spec (models swap live)."""

    __slots__ = ("_call", "_owner", "_spec_hash")

    def __init__(self) -> None:
        self._owner: object = None
        self._spec_hash = ""
        self._call: Callable[[Sequence[float]], Signal | None] | None = None

    def read(self, predictor: object, spec_hash: str, row: Sequence[float]) -> Signal | None:
        if predictor is not self._owner or spec_hash is not self._spec_hash:
            self._call = None
            if (
                isinstance(predictor, SignalPredictor)
                and isinstance(predictor, Predictor)
                and predictor.spec_hash == spec_hash  # else predict refuses the context
            ):
                self._call = predictor.predict_signal
            self._owner, self._spec_hash = predictor, spec_hash
        if self._call is None:
            return None
        try:
            signal = self._call(row)
        except Exception:
            return None
        if signal is None:
            return None
        # What a Prediction would refuse never reaches the core (a plugin's NaN confidence or a
        # sign of 5 did): the full path then asks predict, which names the fault.
        sign, confidence, risk, _ = signal
        if (
            (sign == 0 or sign == 1 or sign == -1)
            and 0.0 <= confidence <= 1.0
            and 0.0 <= risk <= 1.0
        ):
            return signal
        return None


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    """A closed position, joined to the decision that opened it (what feedback carries).

    Known only once the position closed (``ts_closed``): a model must not use it for decisions
    about earlier times.

    Parameters
    ----------
    client_order_id : str
        The opening order: the link from the position to its decision.
    instrument_id, model_id : str
        Where, and which model made the decision.
    decision_ts : int
        The bar (``ts_event``, UTC ns) the decision was made for.
    features : tuple[float, ...]
        The feature vector the model saw (empty when unknown).
    action : str
        ``buy`` or ``sell``: what the model said.
    confidence : float
        Its confidence.
    side : int
        +1 long, -1 short.
    quantity, avg_px_open, avg_px_close, realized_pnl : float
        The position.
    ts_opened, ts_closed : int
        UTC ns.
    exit_reason : str
        Why it closed (``stop_loss``, ``take_profit``, ``signal_exit``, ``max_holding``...).
    """

    client_order_id: str
    instrument_id: str
    model_id: str
    decision_ts: int
    features: tuple[float, ...]
    action: str
    confidence: float
    side: int
    quantity: float
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float
    ts_opened: int
    ts_closed: int
    exit_reason: str

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError(f"side must be +1 or -1, was {self.side!r}")
        if self.ts_closed < self.ts_opened or self.ts_opened < self.decision_ts:
            raise ValueError(
                f"need decision_ts <= ts_opened <= ts_closed, got {self.decision_ts}, "
                f"{self.ts_opened}, {self.ts_closed}"
            )

    @property
    def price_move(self) -> float:
        """Close minus open price (the market's move while the position was held)."""
        return self.avg_px_close - self.avg_px_open

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (what goes over the wire)."""
        return {
            "client_order_id": self.client_order_id,
            "instrument_id": self.instrument_id,
            "model_id": self.model_id,
            "decision_ts": self.decision_ts,
            "features": list(self.features),
            "action": self.action,
            "confidence": self.confidence,
            "side": self.side,
            "quantity": self.quantity,
            "avg_px_open": self.avg_px_open,
            "avg_px_close": self.avg_px_close,
            "realized_pnl": self.realized_pnl,
            "ts_opened": self.ts_opened,
            "ts_closed": self.ts_closed,
            "exit_reason": self.exit_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TradeOutcome:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` naming a missing or bad field."""
        try:
            features = data["features"]
            if not isinstance(features, list):
                raise ValueError("features must be a list of numbers")
            outcome = cls(
                client_order_id=str(data["client_order_id"]),
                instrument_id=str(data["instrument_id"]),
                model_id=str(data["model_id"]),
                decision_ts=_int(data["decision_ts"]),
                features=tuple(float(v) for v in features),
                action=str(data["action"]),
                confidence=float(data["confidence"]),  # type: ignore[arg-type]
                side=_int(data["side"]),
                quantity=float(data["quantity"]),  # type: ignore[arg-type]
                avg_px_open=float(data["avg_px_open"]),  # type: ignore[arg-type]
                avg_px_close=float(data["avg_px_close"]),  # type: ignore[arg-type]
                realized_pnl=float(data["realized_pnl"]),  # type: ignore[arg-type]
                ts_opened=_int(data["ts_opened"]),
                ts_closed=_int(data["ts_closed"]),
                exit_reason=str(data["exit_reason"]),
            )
        except KeyError as exc:
            raise ValueError(f"outcome is missing field {exc.args[0]!r}") from None
        except TypeError as exc:
            raise ValueError(f"outcome has a bad field: {exc}") from None
        _check_wire_outcome(outcome)
        return outcome


def _check_wire_outcome(outcome: TradeOutcome) -> None:
    """What a closed position cannot hold (it would go into a model's training data)."""
    if outcome.action not in ("buy", "sell"):
        raise ValueError(f"action must be buy or sell, was {outcome.action!r}")
    if not 0.0 <= outcome.confidence <= 1.0:  # also refuses NaN
        raise ValueError(f"confidence must be in [0, 1], was {outcome.confidence!r}")
    for name in ("quantity", "avg_px_open", "avg_px_close"):
        value = getattr(outcome, name)
        if not 0.0 < value < math.inf:
            raise ValueError(f"{name} must be a finite number > 0, was {value!r}")
    if not math.isfinite(outcome.realized_pnl):
        raise ValueError(f"realized_pnl must be finite, was {outcome.realized_pnl!r}")
    if not all(math.isfinite(v) for v in outcome.features):
        raise ValueError("features must be finite numbers")


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


@runtime_checkable
class WrapsPredictors(Protocol):
    """Optional predictor capability: it answers with (or for) other predictors (fallback,
    ensemble, cached, delayed, switchable), listed in ``members``; what is checked or keyed per
    stored model (its training bars, a prediction cache's key) looks through it."""

    @property
    def members(self) -> tuple[Predictor, ...]:
        """The predictors it nests, in its own order."""
        ...


def nested_predictors(
    predictor: object, *, stop: Callable[[object], bool] = lambda _: False
) -> Iterator[object]:
    """``predictor`` and every predictor it nests (:class:`WrapsPredictors` ``members``, at any
    depth), depth first in their order, each once; one for which ``stop`` is true is yielded but
    not looked into."""
    seen: set[int] = set()
    stack: list[object] = [predictor]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if not stop(item) and isinstance(item, WrapsPredictors):
            stack.extend(reversed(item.members))


@runtime_checkable
class ReportsStatus(Protocol):
    """Optional predictor capability: state an operator should see in the strategy's status
    (``control status``), e.g. what a memory learned and whether it could save it."""

    def model_status(self) -> dict[str, Any]:
        """A small JSON-ready dict (called on the event loop: must not block)."""
        ...


def model_statuses(predictor: object) -> dict[str, dict[str, Any]]:
    """``{model_id: model_status()}`` of ``predictor`` and every predictor it nests that
    :class:`ReportsStatus`."""
    found: dict[str, dict[str, Any]] = {}
    for item in nested_predictors(predictor):
        if isinstance(item, ReportsStatus) and isinstance(item, Predictor):
            found[item.model_id] = item.model_status()
    return found


@runtime_checkable
class LearnsFromOutcomes(Protocol):
    """Optional predictor capability: learn from the outcome of a decision it made."""

    def feedback(self, outcome: TradeOutcome) -> bool:
        """Take ``outcome`` (called on the event loop: must not block). Returns whether the
        model used it (False: not its decision, already known, or queue full). May raise."""
        ...


def safe_predict(
    predictor: Predictor, features: NDArray[np.float64], context: MarketContext
) -> Prediction:
    """Call ``predictor.predict`` and turn any failure into a ``hold`` that says why.

    This is what strategies call: a model fault must never take the strategy down.
    """
    start = time.perf_counter()
    try:
        prediction = predictor.predict(features, context)
        if not isinstance(prediction, Prediction):
            raise PredictionError(
                f"{type(predictor).__name__}.predict returned {type(prediction).__name__}, "
                "not Prediction"
            )
        return prediction
    except Exception as exc:
        model_id = _model_id_or_unknown(predictor)
        return Prediction.failure(
            model_id, f"{type(exc).__name__}: {exc}", latency=time.perf_counter() - start
        )


def _model_id_or_unknown(predictor: Predictor) -> str:
    try:
        return str(predictor.model_id) or "unknown"
    except Exception:
        return "unknown"
