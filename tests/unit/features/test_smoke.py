"""Smoke test: both paths run on a short synthetic sequence and agree."""

from __future__ import annotations

import numpy as np

from nautilus_ai.features import FeatureEngine, FeatureSpec, compute_features


def test_paths_agree_on_a_short_walk() -> None:
    rng = np.random.default_rng(7)
    n = 400
    close = 1.1 * np.exp(np.cumsum(rng.normal(0.0, 2e-4, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + rng.uniform(0, 2e-4, n)
    low = np.minimum(open_, close) - rng.uniform(0, 2e-4, n)
    ts = 1_483_315_200_000_000_000 + 60_000_000_000 * np.arange(1, n + 1, dtype=np.int64)
    spec = FeatureSpec()
    x = compute_features(spec, ts, open_, high, low, close, np.zeros(n))
    engine = FeatureEngine(spec)
    y = np.array(
        [
            engine.update(int(t), float(o), float(h), float(lo), float(c), 0.0)
            for t, o, h, lo, c in zip(ts, open_, high, low, close, strict=True)
        ]
    )
    assert x.shape == (n, len(spec.names))
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    assert engine.is_warm and engine.bars_seen == n
    assert x[spec.warmup_bars - 2, spec.index("warm")] == 0.0
    assert not np.isnan(x[spec.warmup_bars - 1 :]).any()
