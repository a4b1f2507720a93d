"""Both feature paths over all 186,348 real EUR/USD M1 bars of Jan-Jun 2017 (HistData)."""

from __future__ import annotations

import numpy as np

from nautilus_ai.features import FeatureEngine, FeatureSpec, accepted_bars_mask, compute_features

N_BARS = 186_348


def test_incremental_equals_vectorised_on_all_real_bars(
    histdata_eurusd_2017: dict[str, np.ndarray],
) -> None:
    bars = histdata_eurusd_2017
    ts, o, h, lo, c, v = (bars[k] for k in ("ts", "open", "high", "low", "close", "volume"))
    assert ts.shape == (N_BARS,)
    assert accepted_bars_mask(ts, o, h, lo, c, v).all()
    spec = FeatureSpec()
    x = compute_features(spec, ts, o, h, lo, c, v)

    engine = FeatureEngine(spec)
    update = engine.update
    rows = [
        update(*bar)
        for bar in zip(
            ts.tolist(), o.tolist(), h.tolist(), lo.tolist(), c.tolist(), v.tolist(), strict=True
        )
    ]
    y = np.array(rows)

    assert x.shape == y.shape == (N_BARS, len(spec.names))
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    diff = np.abs(np.nan_to_num(x - y, nan=0.0))
    assert diff.max() <= 1e-9
    # Stronger: every column but the log returns is bit-for-bit identical.
    logs = [spec.index(f"ret_{k}") for k in spec.return_lags]
    exact = [j for j in range(len(spec.names)) if j not in logs]
    np.testing.assert_array_equal(x[:, exact], y[:, exact])
    assert diff[:, logs].max() <= 1e-15
    # Warm from bar 113 on, with no NaN after it.
    assert not np.isnan(x[spec.warmup_bars - 1 :]).any()
    assert engine.is_warm and engine.bars_seen == N_BARS


def test_real_bars_sessions_and_regimes_are_plausible(
    histdata_eurusd_2017: dict[str, np.ndarray],
) -> None:
    bars = histdata_eurusd_2017
    spec = FeatureSpec()
    x = compute_features(spec, *(bars[k] for k in ("ts", "open", "high", "low", "close", "volume")))
    warm = x[spec.warmup_bars - 1 :]
    share = {
        name: float(warm[:, spec.index(name)].mean())
        for name in ("session_london", "session_new_york", "session_overlap", "session_tokyo")
    }
    # 9 of 24 hours on trading days -> about 0.375; the overlap is 4-5 hours -> about 0.18.
    for name in ("session_london", "session_new_york", "session_tokyo"):
        assert 0.33 < share[name] < 0.42, share
    assert 0.14 < share["session_overlap"] < 0.22, share
    regime = warm[:, spec.index("vol_regime")]
    for value in (-1.0, 0.0, 1.0):
        assert 0.15 < float(np.mean(regime == value)) < 0.6
    rsi = warm[:, spec.index("rsi")]
    assert 0.45 < float(np.median(rsi)) < 0.55
