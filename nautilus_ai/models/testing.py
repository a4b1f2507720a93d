"""Test doubles for code that drives predictors: a scripted predictor and synthetic bars.

Useful to test wiring (strategies, schedulers, fallback chains, caches) without a model:
:class:`ScriptedPredictor` answers a fixed action, optionally after a delay or by failing, and
counts its calls. :func:`synthetic_bars` makes plausible OHLCV rows in the
``MarketContext.recent_bars`` layout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError

__all__ = ["ScriptedPredictor", "market_context", "synthetic_bars"]


def synthetic_bars(
    n: int = 64, seed: int = 0, start_ns: int = 1_483_315_200_000_000_000
) -> NDArray[np.float64]:
    """``n`` random-walk EUR/USD-like 1-minute bars: ``ts, open, high, low, close, volume``."""
    rng = np.random.default_rng(seed)
    close = 1.05 + np.cumsum(rng.normal(0.0, 1e-4, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 1e-4, n)
    low = np.minimum(open_, close) - rng.uniform(0, 1e-4, n)
    ts = start_ns + np.arange(1, n + 1) * 60_000_000_000
    volume = rng.uniform(1, 100, n)
    return np.column_stack([ts.astype(np.float64), open_, high, low, close, volume])


def market_context(
    bars: NDArray[np.float64] | None = None,
    names: tuple[str, ...] = ("rsi", "ema_gap"),
    spec_hash: str = "spec-a",
    instrument_id: str = "EUR/USD.SIM",
) -> MarketContext:
    """A context at the last bar's time (0 without bars) with the given names and spec."""
    ts = int(bars[-1, 0]) if bars is not None and len(bars) else 0
    return MarketContext(instrument_id, ts, names, spec_hash, bars)


class ScriptedPredictor:
    """A predictor that always gives the same answer (or fails), optionally slowly.

    Parameters
    ----------
    name : str
        Its ``model_id``.
    action, confidence, risk : Action, float, float
        The answer.
    delay_s : float
        Sleep before answering (a slow backend).
    fail : bool
        Raise :class:`PredictionError` instead of answering.
    spec_hash : str or None
        The spec it claims to be built for.
    """

    def __init__(
        self,
        name: str = "scripted/1",
        action: Action = Action.BUY,
        confidence: float = 0.8,
        risk: float = 0.2,
        delay_s: float = 0.0,
        fail: bool = False,
        spec_hash: str | None = None,
    ) -> None:
        self.name = name
        self.action = action
        self.confidence = confidence
        self.risk = risk
        self.delay_s = delay_s
        self.fail = fail
        self._spec_hash = spec_hash
        self.calls = 0
        self.closed = False
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.name

    batch_exact = False

    @property
    def spec_hash(self) -> str | None:
        return self._spec_hash

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        with self._lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail:
            raise PredictionError(f"{self.name} failed on purpose")
        return Prediction(self.action, self.confidence, self.risk, self.name, self.delay_s)

    def predict_batch(
        self, features: NDArray[np.float64], contexts: Sequence[MarketContext] | None = None
    ) -> list[Prediction]:
        matrix = np.asarray(features, dtype=np.float64)
        return [
            self.predict(row, contexts[i] if contexts is not None else MarketContext("", 0))
            for i, row in enumerate(matrix)
        ]

    def close(self) -> None:
        self.closed = True
