"""The features against a slow, independent reference written from the TradingView definitions.

The reference is deliberately written differently (PineTS's ``(prev * (n - 1) + x) / n`` RMA
step, numpy's mean and std per window, a direct percentile count), so agreement is evidence
of the formulas, not of the shared code; it only agrees to rounding (1e-9 here).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from features_strategies import NS, Bars, run_engine, vectorised

from nautilus_ai.features import FeatureSpec, compute_features


def _bars(n: int = 1500, seed: int = 11) -> Bars:
    rng = np.random.default_rng(seed)
    steps = rng.integers(-4, 5, n)
    steps[200:240] = 0  # a flat stretch: flat Bollinger window, zero RSI change, zero TR
    close = 110_000 + np.cumsum(steps)
    open_ = np.concatenate([[close[0]], close[:-1]]) + rng.integers(-1, 2, n) * (steps != 0)
    high = np.maximum(open_, close) + rng.integers(0, 3, n) * (steps != 0)
    low = np.minimum(open_, close) - rng.integers(0, 3, n) * (steps != 0)
    ts = 1_483_920_000 * NS + 60 * NS * np.arange(1, n + 1, dtype=np.int64)
    return Bars(ts, open_ * 1e-5, high * 1e-5, low * 1e-5, close * 1e-5, np.zeros(n))


def _sma_seeded(x: list[float], n: int, step: str) -> list[float]:
    """ta.ema / ta.rma: NaN, NaN, ..., SMA(first n), then the recursion."""
    out, prev = [], math.nan
    for i, value in enumerate(x):
        if i < n - 1:
            out.append(math.nan)
            continue
        if i == n - 1:
            prev = float(np.mean(x[:n]))
        elif step == "ema":
            alpha = 2.0 / (n + 1)
            prev = value * alpha + prev * (1 - alpha)
        else:  # PineTS rma/atr form
            prev = (prev * (n - 1) + value) / n
        out.append(prev)
    return out


def _reference(bars: Bars) -> dict[str, np.ndarray]:
    o, h, lo, c = (a.tolist() for a in (bars.open, bars.high, bars.low, bars.close))
    n = len(c)
    ref: dict[str, list[float]] = {}
    for k in (1, 5, 15):
        ref[f"ret_{k}"] = [math.log(c[i] / c[i - k]) if i >= k else math.nan for i in range(n)]
    rng = [h[i] - lo[i] for i in range(n)]
    ref["body_ratio"] = [(c[i] - o[i]) / rng[i] if rng[i] else 0.0 for i in range(n)]
    ref["upper_wick_ratio"] = [
        (h[i] - max(o[i], c[i])) / rng[i] if rng[i] else 0.0 for i in range(n)
    ]
    ref["lower_wick_ratio"] = [
        (min(o[i], c[i]) - lo[i]) / rng[i] if rng[i] else 0.0 for i in range(n)
    ]
    tr = [rng[0]] + [max(rng[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, n)]
    atr = _sma_seeded(tr, 14, "rma")
    ref["range_atr"] = [rng[i] / a if a else 0.0 for i, a in enumerate(atr)]
    ref["atr_close"] = [a / c[i] for i, a in enumerate(atr)]
    # RSI exactly as PineTS: simple averages of the first 14 changes, then Wilder steps.
    rsi = [math.nan] * n
    gains, losses = [], []
    avg_gain = avg_loss = math.nan
    for i in range(1, n):
        diff = c[i] - c[i - 1]
        gain, loss = max(diff, 0.0), max(-diff, 0.0)
        if len(gains) < 14:
            gains.append(gain)
            losses.append(loss)
            if len(gains) < 14:
                continue
            avg_gain, avg_loss = sum(gains) / 14, sum(losses) / 14
        else:
            avg_gain = (avg_gain * 13 + gain) / 14
            avg_loss = (avg_loss * 13 + loss) / 14
        rsi[i] = (100.0 if avg_loss == 0 else 100 - 100 / (1 + avg_gain / avg_loss)) / 100
    ref["rsi"] = rsi
    fast, slow = _sma_seeded(c, 12, "ema"), _sma_seeded(c, 26, "ema")
    line = [f - s for f, s in zip(fast, slow, strict=True)]
    signal = [math.nan] * 25 + _sma_seeded(line[25:], 9, "ema")
    ref["macd_line"] = [x / c[i] for i, x in enumerate(line)]
    ref["macd_signal"] = [x / c[i] for i, x in enumerate(signal)]
    ref["macd_hist"] = [(x - s) / c[i] for i, (x, s) in enumerate(zip(line, signal, strict=True))]
    pct_b, bandwidth = [math.nan] * n, [math.nan] * n
    for i in range(19, n):
        window = np.array(c[i - 19 : i + 1])
        basis, dev = window.mean(), 2.0 * window.std()  # population std (ddof=0)
        upper, lower = basis + dev, basis - dev
        flat = upper - lower <= 1e-9 * basis
        pct_b[i] = 0.5 if flat else (c[i] - lower) / (upper - lower)
        bandwidth[i] = 0.0 if flat else (upper - lower) / basis
    ref["bb_pct_b"], ref["bb_bandwidth"] = pct_b, bandwidth
    for period in (20, 50):
        ema = _sma_seeded(c, period, "ema")
        ref[f"ema{period}_dist_atr"] = [
            math.nan if math.isnan(e) or math.isnan(a) else ((c[i] - e) / a if a else 0.0)
            for i, (e, a) in enumerate(zip(ema, atr, strict=True))
        ]
    rank, regime = [math.nan] * n, [math.nan] * n
    for i in range(113, n):
        previous = atr[i - 100 : i]
        rank[i] = sum(1 for a in previous if a <= atr[i]) / 100
        regime[i] = -1.0 if rank[i] < 0.25 else (1.0 if rank[i] > 0.75 else 0.0)
    ref["vol_pct_rank"], ref["vol_regime"] = rank, regime
    return {name: np.array(values) for name, values in ref.items()}


def test_matches_independent_reference() -> None:
    spec = FeatureSpec()
    bars = _bars()
    x = vectorised(spec, bars)
    ref = _reference(bars)
    for name, expected in ref.items():
        got = x[:, spec.index(name)]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=name)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10, err_msg=name)
    # The flat stretch really exercised the edge cases.
    flat_rows = slice(220, 240)
    np.testing.assert_array_equal(x[flat_rows, spec.index("bb_pct_b")], 0.5)
    np.testing.assert_array_equal(x[flat_rows, spec.index("bb_bandwidth")], 0.0)


def test_rsi_edge_cases() -> None:
    spec = FeatureSpec()
    n = 40
    ts = 1_483_920_000 * NS + 60 * NS * np.arange(1, n + 1, dtype=np.int64)
    rising = 1.0 + 0.001 * np.arange(n)
    for close, expected in ((rising, 1.0), (rising[::-1].copy(), 0.0), (np.full(n, 1.2), 1.0)):
        x = compute_features(spec, ts, close, close, close, close, np.zeros(n))
        rsi = x[:, spec.index("rsi")]
        assert np.isnan(rsi[:14]).all()
        np.testing.assert_array_equal(rsi[14:], expected)


@pytest.mark.parametrize("tolerance", [0.0, 1e-9])
def test_flat_window_is_half_and_zero_width(tolerance: float) -> None:
    spec = FeatureSpec(bb_flat_tolerance=tolerance)
    n = 25
    ts = 1_483_920_000 * NS + 60 * NS * np.arange(1, n + 1, dtype=np.int64)
    close = np.full(n, 1.0)  # the window sum is exact, so the width is exactly 0
    x = compute_features(spec, ts, close, close, close, close, np.zeros(n))
    np.testing.assert_array_equal(x[19:, spec.index("bb_pct_b")], 0.5)
    np.testing.assert_array_equal(x[19:, spec.index("bb_bandwidth")], 0.0)


def test_zero_atr_gives_zero_ratios_not_nan() -> None:
    spec = FeatureSpec()
    n = 130
    ts = 1_483_920_000 * NS + 60 * NS * np.arange(1, n + 1, dtype=np.int64)
    close = np.full(n, 1.3)
    x = run_engine(spec, Bars(ts, close, close, close, close, np.zeros(n)))
    for name in ("range_atr", "ema20_dist_atr", "ema50_dist_atr", "atr_close"):
        column = x[:, spec.index(name)]
        first = spec.defined_from[name]
        np.testing.assert_array_equal(column[first:], 0.0)
    # A constant ATR is <= itself 100 times out of 100.
    np.testing.assert_array_equal(x[113:, spec.index("vol_pct_rank")], 1.0)
    np.testing.assert_array_equal(x[113:, spec.index("vol_regime")], 1.0)


def test_percent_rank_counts_less_or_equal_over_previous_values() -> None:
    spec = FeatureSpec(atr_period=1, vol_rank_window=4, vol_regime_low=0.25, vol_regime_high=0.75)
    # With atr_period=1, ATR is the true range; ranges 1,2,3,4 then 2.5 -> 2 of 4 are <= 2.5.
    ranges = [1, 2, 3, 4, 2.5, 5, 0.5]
    n = len(ranges)
    low = np.full(n, 10.0)
    high = low + np.array(ranges, dtype=float)
    close = low.copy()  # previous close == low keeps TR == high - low
    ts = 1_483_920_000 * NS + 60 * NS * np.arange(1, n + 1, dtype=np.int64)
    x = compute_features(spec, ts, close, high, low, close, np.zeros(n))
    rank = x[:, spec.index("vol_pct_rank")]
    assert np.isnan(rank[:4]).all()
    np.testing.assert_array_equal(rank[4:], [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(x[4:, spec.index("vol_regime")], [0.0, 1.0, -1.0])


@pytest.mark.parametrize(
    ("when", "hour_sin", "hour_cos", "dow_sin", "dow_cos"),
    [
        (datetime(2017, 1, 2, 0, 0, tzinfo=UTC), 0.0, 1.0, 0.0, 1.0),  # Monday midnight
        (datetime(2017, 1, 4, 6, 0, tzinfo=UTC), 1.0, 0.0, math.sin(4 * math.pi / 7), None),
        (datetime(2017, 1, 8, 18, 0, 59, tzinfo=UTC), -1.0, 0.0, math.sin(12 * math.pi / 7), None),
    ],
)
def test_calendar_values(
    when: datetime, hour_sin: float, hour_cos: float, dow_sin: float, dow_cos: float | None
) -> None:
    spec = FeatureSpec()
    ts = np.array([int(when.timestamp()) * NS], dtype=np.int64)
    one = np.array([1.1])
    x = compute_features(spec, ts, one, one, one, one, np.zeros(1))[0]
    assert x[spec.index("hour_sin")] == pytest.approx(hour_sin, abs=1e-15)
    assert x[spec.index("hour_cos")] == pytest.approx(hour_cos, abs=1e-15)
    assert x[spec.index("dow_sin")] == pytest.approx(dow_sin, abs=1e-15)
    if dow_cos is not None:
        assert x[spec.index("dow_cos")] == pytest.approx(dow_cos, abs=1e-15)


def test_candle_shape() -> None:
    spec = FeatureSpec()
    ts = np.array([1_483_920_060 * NS], dtype=np.int64)
    x = compute_features(spec, ts, [1.0], [1.5], [0.5], [1.25], [0.0])[0]
    assert x[spec.index("body_ratio")] == 0.25
    assert x[spec.index("upper_wick_ratio")] == 0.25
    assert x[spec.index("lower_wick_ratio")] == 0.5
    assert x[spec.index("range_atr")] != x[spec.index("range_atr")]  # NaN: no ATR yet
