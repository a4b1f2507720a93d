"""Incremental == vectorised, and no look-ahead, on random valid bar sequences (hypothesis)."""

from __future__ import annotations

import numpy as np
from features_strategies import (
    Bars,
    assert_paths_equal,
    bar_sequences,
    run_engine,
    specs,
    vectorised,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus_ai.features import FeatureSpec

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=specs, bars=bar_sequences())
def test_incremental_equals_vectorised(spec: FeatureSpec, bars: Bars) -> None:
    x = vectorised(spec, bars)
    y = run_engine(spec, bars)
    assert_paths_equal(spec, x, y)


@SETTINGS
@given(spec=specs, bars=bar_sequences(min_size=2), data=st.data())
def test_no_look_ahead(spec: FeatureSpec, bars: Bars, data: st.DataObject) -> None:
    """Changing every bar after t (to other valid bars) never changes any feature at <= t."""
    x = vectorised(spec, bars)
    t = data.draw(st.integers(0, len(bars) - 2), label="t")
    replacement = data.draw(bar_sequences(min_size=len(bars), max_size=len(bars)), label="later")
    # Shift the replacement's clock so it starts after bar t (timestamps must keep increasing).
    shift = int(bars.ts[t]) - int(replacement.ts[t]) + 1
    later = slice(t + 1, None)
    perturbed = Bars(
        ts=np.concatenate([bars.ts[: t + 1], replacement.ts[later] + shift]),
        open=np.concatenate([bars.open[: t + 1], replacement.open[later]]),
        high=np.concatenate([bars.high[: t + 1], replacement.high[later]]),
        low=np.concatenate([bars.low[: t + 1], replacement.low[later]]),
        close=np.concatenate([bars.close[: t + 1], replacement.close[later]]),
        volume=np.concatenate([bars.volume[: t + 1], replacement.volume[later]]),
    )
    x2 = vectorised(spec, perturbed)
    np.testing.assert_array_equal(x2[: t + 1], x[: t + 1])
    # And a prefix on its own gives the same rows: nothing from the future was ever used.
    np.testing.assert_array_equal(vectorised(spec, bars.take(slice(0, t + 1))), x[: t + 1])


@SETTINGS
@given(spec=specs, bars=bar_sequences())
def test_undefined_only_before_first_index_and_warm_flag(spec: FeatureSpec, bars: Bars) -> None:
    x = vectorised(spec, bars)
    n = len(bars)
    for name, first in spec.defined_from.items():
        column = x[:, spec.index(name)]
        assert np.isnan(column[: min(first, n)]).all(), name
        assert not np.isnan(column[first:]).any(), name
    warm = x[:, spec.index("warm")]
    expected = (np.arange(n) >= spec.warmup_bars - 1).astype(float)
    np.testing.assert_array_equal(warm, expected)
    others = np.delete(x, spec.index("warm"), axis=1)
    np.testing.assert_array_equal(warm == 1.0, ~np.isnan(others).any(axis=1))


@SETTINGS
@given(spec=specs, bars=bar_sequences())
def test_value_ranges(spec: FeatureSpec, bars: Bars) -> None:
    x = vectorised(spec, bars)

    def col(name: str) -> np.ndarray:
        values = x[:, spec.index(name)]
        return values[~np.isnan(values)]

    for name in ("rsi", "vol_pct_rank", "upper_wick_ratio", "lower_wick_ratio", "range_atr"):
        assert (col(name) >= 0.0).all(), name
    for name in ("rsi", "vol_pct_rank", "upper_wick_ratio", "lower_wick_ratio"):
        assert (col(name) <= 1.0).all(), name
    assert (np.abs(col("body_ratio")) <= 1.0).all()
    assert (col("bb_bandwidth") >= 0.0).all()
    assert set(np.unique(col("vol_regime"))) <= {-1.0, 0.0, 1.0}
    for name in ("session_sydney", "session_tokyo", "session_london", "session_new_york"):
        assert set(np.unique(col(name))) <= {0.0, 1.0}
    overlap = col("session_overlap")
    np.testing.assert_array_equal(overlap, col("session_london") * col("session_new_york"))


def test_engine_reset_starts_over() -> None:
    from features_strategies import NS

    from nautilus_ai.features import FeatureEngine

    spec = FeatureSpec()
    engine = FeatureEngine(spec)
    first = engine.update(1_500_000_000 * NS, 1.1, 1.2, 1.0, 1.15, 0.0)
    engine.update(1_500_000_060 * NS, 1.15, 1.2, 1.1, 1.12, 0.0)
    engine.reset()
    assert engine.bars_seen == 0 and engine.last_ts_event_ns is None and not engine.is_warm
    # An earlier timestamp is fine after a reset, and the first row is reproduced exactly.
    assert engine.update(1_500_000_000 * NS, 1.1, 1.2, 1.0, 1.15, 0.0) == first
