"""Hypothesis strategies and helpers shared by the feature tests (valid bars, small specs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

from nautilus_ai.features import FeatureEngine, FeatureSpec, compute_features

NS = 1_000_000_000
# 2000-01-01 .. 2035-01-01: covers DST rule changes (US 2007) and the 2017 data year.
TS_MIN = 946_684_800 * NS
TS_MAX = 2_051_222_400 * NS


@dataclass(frozen=True)
class Bars:
    ts: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def arrays(
        self,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
    ]:
        return self.ts, self.open, self.high, self.low, self.close, self.volume

    def rows(self) -> list[tuple[int, float, float, float, float, float]]:
        return list(
            zip(
                self.ts.tolist(),
                self.open.tolist(),
                self.high.tolist(),
                self.low.tolist(),
                self.close.tolist(),
                self.volume.tolist(),
                strict=True,
            )
        )

    def take(self, index: NDArray[np.int64] | NDArray[np.bool_] | slice) -> Bars:
        return Bars(*(a[index] for a in self.arrays()))


@st.composite
def bar_sequences(draw: st.DrawFn, min_size: int = 1, max_size: int = 260) -> Bars:
    """Valid bars: a tick-quantised random walk with flat stretches, gaps and odd timestamps."""
    n = draw(st.integers(min_size, max_size))
    tick = draw(st.sampled_from([1e-5, 1e-3, 0.25, 1.0]))
    base_ticks = draw(st.integers(200, 200_000))
    # Small steps with many zeros: flat windows (zero ATR, flat Bollinger, zero RSI loss).
    step = st.integers(-3, 3) | st.just(0)
    steps = np.array(draw(st.lists(step, min_size=n, max_size=n)), dtype=np.int64)
    ext = st.integers(0, 2)
    ups = np.array(draw(st.lists(ext, min_size=n, max_size=n)), dtype=np.int64)
    downs = np.array(draw(st.lists(ext, min_size=n, max_size=n)), dtype=np.int64)
    close_ticks = np.maximum(base_ticks + np.cumsum(steps), 50)
    open_ticks = np.concatenate([[close_ticks[0]], close_ticks[:-1]])
    if draw(st.booleans()):  # opening gaps: open away from the previous close
        gaps = np.array(draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n)), np.int64)
        open_ticks = np.maximum(open_ticks + gaps, 50)
    high_ticks = np.maximum(open_ticks, close_ticks) + ups
    low_ticks = np.maximum(np.minimum(open_ticks, close_ticks) - downs, 1)
    start = draw(st.integers(TS_MIN, TS_MAX))
    # Mostly one minute apart, sometimes a weekend-sized gap or an odd number of ns.
    delta = st.sampled_from([60 * NS, 60 * NS, 60 * NS, 300 * NS, 172_800 * NS]) | st.integers(
        1, 4 * 86_400 * NS
    )
    deltas = np.array(draw(st.lists(delta, min_size=n, max_size=n)), dtype=np.int64)
    ts = start + np.cumsum(deltas)
    volume = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 1e6]), min_size=n, max_size=n)))
    return Bars(
        ts=ts.astype(np.int64),
        open=open_ticks * tick,
        high=high_ticks * tick,
        low=low_ticks * tick,
        close=close_ticks * tick,
        volume=volume,
    )


@st.composite
def small_specs(draw: st.DrawFn) -> FeatureSpec:
    """Specs with short periods, so a few hundred bars reach every code path (warm included)."""
    fast = draw(st.integers(1, 8))
    low = draw(st.sampled_from([0.0, 0.25, 0.5]))
    return FeatureSpec(
        return_lags=tuple(draw(st.lists(st.integers(1, 20), min_size=1, max_size=3, unique=True))),
        atr_period=draw(st.integers(1, 15)),
        rsi_period=draw(st.integers(1, 15)),
        macd_fast=fast,
        macd_slow=draw(st.integers(fast + 1, 20)),
        macd_signal=draw(st.integers(1, 9)),
        bb_period=draw(st.integers(1, 21)),
        bb_mult=draw(st.sampled_from([0.5, 2.0, 3.0])),
        # 0: only exactly-zero widths are flat (integer prices make constant windows exact).
        bb_flat_tolerance=draw(st.sampled_from([0.0, 1e-9])),
        ema_periods=tuple(draw(st.lists(st.integers(1, 40), min_size=1, max_size=3, unique=True))),
        vol_rank_window=draw(st.integers(1, 60)),
        vol_regime_low=low,
        vol_regime_high=draw(st.sampled_from([low, 0.75, 1.0])),
        session_sydney_hours=draw(st.sampled_from([(7, 16), (22, 6)])),
    )


specs = st.just(FeatureSpec()) | small_specs()


def run_engine(spec: FeatureSpec, bars: Bars) -> NDArray[np.float64]:
    engine = FeatureEngine(spec)
    rows = [engine.update(*row) for row in bars.rows()]
    return np.array(rows, dtype=np.float64).reshape(len(bars), len(spec.names))


def vectorised(spec: FeatureSpec, bars: Bars) -> NDArray[np.float64]:
    return compute_features(spec, *bars.arrays())


def log_columns(spec: FeatureSpec) -> list[int]:
    """Columns computed with ``log`` (numpy's and libm's may differ by an ulp)."""
    return [spec.index(f"ret_{k}") for k in spec.return_lags]


def assert_paths_equal(spec: FeatureSpec, x: NDArray[np.float64], y: NDArray[np.float64]) -> None:
    """Bitwise equal except the log columns (within 1e-15 relative), NaN in the same places."""
    assert x.shape == y.shape
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    logs = log_columns(spec)
    exact = [j for j in range(x.shape[1]) if j not in logs]
    np.testing.assert_array_equal(x[:, exact], y[:, exact])
    np.testing.assert_allclose(x[:, logs], y[:, logs], rtol=1e-14, atol=1e-18)
