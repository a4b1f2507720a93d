"""Helpers for backend tests: bars, contexts, a fake predictor (imported by test modules)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError


def make_bars(
    n: int = 64, seed: int = 0, start_ns: int = 1_483_315_200_000_000_000
) -> NDArray[np.float64]:
    """Plausible EUR/USD 1-minute bars: ts, open, high, low, close, volume."""
    rng = np.random.default_rng(seed)
    close = 1.05 + np.cumsum(rng.normal(0.0, 1e-4, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 1e-4, n)
    low = np.minimum(open_, close) - rng.uniform(0, 1e-4, n)
    ts = start_ns + np.arange(1, n + 1) * 60_000_000_000
    return np.c_[ts.astype(np.float64), open_, high, low, close, rng.uniform(1, 100, n)]


def make_context(
    bars: NDArray[np.float64] | None = None,
    names: tuple[str, ...] = ("rsi", "ema_gap"),
    spec_hash: str = "spec-a",
) -> MarketContext:
    ts = int(bars[-1, 0]) if bars is not None else 0
    return MarketContext("EUR/USD.SIM", ts, names, spec_hash, bars)


class FakePredictor:
    """Deterministic, optionally slow or failing predictor for wrapper tests."""

    def __init__(
        self,
        name: str = "fake/1",
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
        self.lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.name

    @property
    def spec_hash(self) -> str | None:
        return self._spec_hash

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        with self.lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail:
            raise PredictionError(f"{self.name} failed on purpose")
        return Prediction(self.action, self.confidence, self.risk, self.name, self.delay_s)

    def predict_batch(
        self, features: NDArray[np.float64], contexts: Sequence[MarketContext] | None = None
    ) -> list[Prediction]:
        return [
            self.predict(row, contexts[i] if contexts else MarketContext("", 0))
            for i, row in enumerate(np.asarray(features))
        ]

    def close(self) -> None:
        self.closed = True
