"""Synthetic bars with a learnable pattern, for the training tests (no market data needed)."""

from __future__ import annotations

import numpy as np

from nautilus_ai.datasets import Fold, Window
from nautilus_ai.features import FeatureSpec, compute_features

MINUTE = 60_000_000_000
T0 = 1_483_228_800_000_000_000  # 2017-01-01T00:00:00Z


def patterned_bars(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-minute bars whose returns are partly predictable from recent returns (momentum), so a
    model has something to learn; ``(ts, ohlcv)``."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(1, n + 1) * MINUTE
    noise = rng.normal(0, 1.5e-4, n)
    step = np.zeros(n)
    for i in range(1, n):
        step[i] = 0.6 * step[i - 1] + noise[i]
    close = 1.05 + np.cumsum(step)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.exponential(5e-5, n)
    low = np.minimum(open_, close) - rng.exponential(5e-5, n)
    return ts, np.column_stack([open_, high, low, close, np.zeros(n)])


def features_and_fold(
    ts: np.ndarray, ohlcv: np.ndarray, spec: FeatureSpec | None = None
) -> tuple[np.ndarray, Fold]:
    spec = spec or FeatureSpec()
    features = compute_features(spec, ts, *ohlcv.T)
    span = int(ts[-1] - ts[0])
    a, b, c = int(ts[0]), int(ts[0]) + span * 6 // 10, int(ts[0]) + span * 8 // 10
    fold = Fold(train=Window(a, b), validation=Window(b, c), test=Window(c, int(ts[-1]) + 1))
    return features, fold
