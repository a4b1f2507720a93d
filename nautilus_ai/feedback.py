"""``FeedbackSink``: every closed position becomes a :class:`~nautilus_ai.models.TradeOutcome`
for the decision that opened it, handed to the model that made it.

The strategy tells the sink three things (no Nautilus types cross this line):

* :meth:`FeedbackSink.decided` - each decision (the ``add_decision_sink`` signature): the
  feature vector the model saw is kept for the decisions that sent an opening order;
* :meth:`FeedbackSink.entered` - the client order id of each entry order and its decision;
* :meth:`FeedbackSink.closed` - a position closed, with its opening order's client order id:
  the link back to the decision (no parsing of order tags).

The outcome then goes to the model that decided (when it is still the strategy's predictor and
implements :class:`~nautilus_ai.models.LearnsFromOutcomes`, e.g. the pattern memory) and, with
``url``, over HTTP to a model server (:class:`~nautilus_ai.models.feedback_http.FeedbackSender`:
bearer token from ``token_env``, bounded queue, timeouts, drops counted). The decision log
(``feature_log``) stores each closed position as a ``DecisionOutcome`` row keyed by
``decision_ts`` on its own. Nothing here raises into the trading loop: failures are counted in
:meth:`FeedbackSink.status` (the strategy's ``control_status()["feedback"]``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from nautilus_ai.models.base import LearnsFromOutcomes, Prediction, Predictor, TradeOutcome
from nautilus_ai.models.feedback_http import FeedbackSender

__all__ = ["ClosedTrade", "FeedbackConfig", "FeedbackSink"]


class FeedbackConfig(BaseModel):
    """The strategy's ``feedback`` dict.

    Parameters
    ----------
    to_model : bool
        Hand outcomes to the deciding model when it learns from outcomes.
    url : str, optional
        Also POST every outcome there (a model server's feedback endpoint).
    token_env : str
        Environment variable holding the endpoint's bearer token (required with ``url``).
    queue_size : int
        Outcomes waiting to be sent at most; more are dropped (counted).
    connect_timeout_s, read_timeout_s : float
        Per HTTP call.
    remember : int
        Open entries (and their feature vectors) remembered at most.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    to_model: bool = True
    url: str | None = Field(default=None, pattern=r"^https?://")
    token_env: str = Field(default="NAUTILUS_AI_FEEDBACK_TOKEN", min_length=1)
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    connect_timeout_s: float = Field(default=0.5, gt=0.0, le=60.0)
    read_timeout_s: float = Field(default=2.0, gt=0.0, le=60.0)
    remember: int = Field(default=10_000, ge=1, le=10_000_000)


class ClosedTrade(Protocol):
    """What :meth:`FeedbackSink.closed` reads (the strategy's ``TradeRecord`` has it)."""

    @property
    def ts_opened(self) -> int: ...
    @property
    def ts_closed(self) -> int: ...
    @property
    def side(self) -> str: ...
    @property
    def quantity(self) -> float: ...
    @property
    def avg_px_open(self) -> float: ...
    @property
    def avg_px_close(self) -> float: ...
    @property
    def realized_pnl(self) -> float: ...
    @property
    def exit_reason(self) -> str: ...


class FeedbackSink:
    """Links positions to decisions and delivers their outcomes (see the module docstring).

    Parameters
    ----------
    config : FeedbackConfig
    instrument_id : str
    predictor : callable
        Returns the strategy's current predictor (or None).
    sender : FeedbackSender, optional
        Built from ``config.url`` by :meth:`from_config`.
    """

    def __init__(
        self,
        config: FeedbackConfig,
        instrument_id: str,
        predictor: Callable[[], Predictor | None],
        sender: FeedbackSender | None = None,
    ) -> None:
        self.config = config
        self._instrument_id = instrument_id
        self._predictor = predictor
        self.sender = sender
        self._entries: OrderedDict[str, tuple[int, Prediction]] = OrderedDict()
        self._features: OrderedDict[int, tuple[float, ...]] = OrderedDict()
        self.outcomes: list[TradeOutcome] = []
        self._counts = {
            "outcomes": 0,
            "unlinked": 0,
            "to_model": 0,
            "model_declined": 0,
            "model_not_learning": 0,
            "model_errors": 0,
        }
        self._last_error: str | None = None

    @classmethod
    def from_config(
        cls, config: FeedbackConfig, instrument_id: str, predictor: Callable[[], Predictor | None]
    ) -> FeedbackSink:
        """Build the sink (and its HTTP sender when ``url`` is set; the token must be in
        ``token_env``, else ``ValueError`` naming the variable)."""
        sender = None
        if config.url is not None:
            token = os.environ.get(config.token_env, "")
            if not token:
                raise ValueError(
                    f"feedback.url needs a bearer token in the environment variable "
                    f"{config.token_env}, which is not set"
                )
            sender = FeedbackSender(
                config.url,
                token,
                queue_size=config.queue_size,
                connect_timeout_s=config.connect_timeout_s,
                read_timeout_s=config.read_timeout_s,
            )
        return cls(config, instrument_id, predictor, sender)

    def model(self) -> Predictor | None:
        """The model outcomes go to now (the strategy's current predictor)."""
        return self._predictor()

    # -- what the strategy reports --------------------------------------------------------------

    def decided(
        self,
        ts: int,
        features: np.ndarray,
        prediction: Prediction,
        intent: str,
        quantity: float,
        order_sent: bool,
    ) -> None:
        """A decision (``add_decision_sink`` signature): keep the vector of opening ones."""
        if order_sent and intent in ("enter", "reverse"):
            self._features[ts] = tuple(float(v) for v in features)
            while len(self._features) > self.config.remember:
                self._features.popitem(last=False)

    def entered(self, client_order_id: str, decision_ts: int, prediction: Prediction) -> None:
        """An entry order was sent for the decision about bar ``decision_ts``."""
        self._entries[client_order_id] = (decision_ts, prediction)
        while len(self._entries) > self.config.remember:
            self._entries.popitem(last=False)

    def closed(self, opening_order_id: str, trade: ClosedTrade) -> TradeOutcome | None:
        """A position opened by ``opening_order_id`` closed: build and deliver its outcome.
        Returns it (None when the order is not one of the sink's entries)."""
        link = self._entries.pop(opening_order_id, None)
        if link is None:
            self._counts["unlinked"] += 1  # e.g. adopted at start, or beyond ``remember``
            return None
        decision_ts, prediction = link
        try:
            outcome = TradeOutcome(
                client_order_id=opening_order_id,
                instrument_id=self._instrument_id,
                model_id=prediction.model_id,
                decision_ts=decision_ts,
                features=self._features.pop(decision_ts, ()),
                action=prediction.action.value,
                confidence=prediction.confidence,
                side=1 if trade.side == "long" else -1,
                quantity=float(trade.quantity),
                avg_px_open=float(trade.avg_px_open),
                avg_px_close=float(trade.avg_px_close),
                realized_pnl=float(trade.realized_pnl),
                ts_opened=int(trade.ts_opened),
                ts_closed=int(trade.ts_closed),
                exit_reason=str(trade.exit_reason),
            )
        except ValueError as exc:
            self._counts["unlinked"] += 1
            self._last_error = f"outcome of {opening_order_id}: {exc}"
            return None
        self._counts["outcomes"] += 1
        self.outcomes.append(outcome)
        if self.config.to_model:
            self._to_model(outcome)
        if self.sender is not None:
            self.sender.offer(outcome)
        return outcome

    def _to_model(self, outcome: TradeOutcome) -> None:
        predictor = self._predictor()
        if predictor is None or predictor.model_id != outcome.model_id:
            self._counts["model_declined"] += 1  # the model that decided is gone (switched)
            return
        if not isinstance(predictor, LearnsFromOutcomes):
            self._counts["model_not_learning"] += 1
            return
        try:
            used = predictor.feedback(outcome)
        except Exception as exc:
            self._counts["model_errors"] += 1
            self._last_error = f"{predictor.model_id}.feedback: {type(exc).__name__}: {exc}"
            return
        self._counts["to_model" if used else "model_declined"] += 1

    # -- reporting ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counters (JSON-ready), with the HTTP sender's under ``"http"``."""
        return {
            **self._counts,
            "open_entries": len(self._entries),
            "last_error": self._last_error,
            "http": None if self.sender is None else self.sender.status(),
        }

    def close(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Send what is queued (within ``timeout_s``) and stop the sender. Idempotent."""
        if self.sender is not None:
            self.sender.close(timeout_s)
        return self.status()
