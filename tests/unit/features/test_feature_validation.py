"""Bad bars: every reason, state unchanged, the mask agrees with the engine, array errors."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from features_strategies import NS, Bars, bar_sequences, run_engine, specs, vectorised
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus_ai.features import (
    FeatureEngine,
    FeatureSpec,
    InvalidBarError,
    accepted_bars_mask,
    compute_features,
)
from nautilus_ai.features.errors import REASONS
from nautilus_ai.features.validation import MAX_PRICE, MIN_PRICE

T0 = 1_483_920_000 * NS  # 2017-01-09 00:00 UTC, a Monday
GOOD = (1.10, 1.12, 1.09, 1.11, 5.0)

# (reason, bad bar as (ts offset from the last accepted bar, open, high, low, close, volume))
BAD_BARS: list[tuple[str, tuple[Any, ...]]] = [
    ("timestamp_not_integer", (60.5, *GOOD)),
    ("timestamp_not_integer", ("60", *GOOD)),
    ("timestamp_out_of_range", (None, *GOOD)),  # None: ts = 2**63 (see _bad_ts)
    ("non_finite", (60, math.nan, 1.12, 1.09, 1.11, 5.0)),
    ("non_finite", (60, 1.10, math.inf, 1.09, 1.11, 5.0)),
    ("non_finite", (60, 1.10, 1.12, -math.inf, 1.11, 5.0)),
    ("non_finite", (60, 1.10, 1.12, 1.09, math.nan, 5.0)),
    ("non_finite", (60, 1.10, 1.12, 1.09, 1.11, math.nan)),
    ("non_finite", (60, 1.10, 1.12, 1.09, 1.11, math.inf)),
    # Not a real number: was named non_finite (str, Decimal) or accepted (a bool is 1.0).
    ("not_a_number", (60, "1.10", 1.12, 1.09, 1.11, 5.0)),
    ("not_a_number", (60, Decimal("1.10"), 1.12, 1.09, 1.11, 5.0)),
    ("not_a_number", (60, Decimal("NaN"), 1.12, 1.09, 1.11, 5.0)),
    ("not_a_number", (60, True, True, True, True, 5.0)),
    ("not_a_number", (60, np.True_, np.True_, np.True_, np.True_, 5.0)),
    ("not_a_number", (60, 1.10, 1.12, 1.09, 1.11, True)),
    ("not_a_number", (60, 1.10, 1.12, 1.09, 1 + 0j, 5.0)),
    ("timestamp_not_integer", (True, *GOOD)),
    ("non_positive_price", (60, 1.10, 1.12, 0.0, 1.11, 5.0)),
    ("non_positive_price", (60, -1.0, -0.5, -2.0, -1.0, 5.0)),
    # Prices where the Bollinger variance overflowed (inf bandwidth, NaN %B reached the model).
    ("price_out_of_range", (60, 1e300, 1.01e300, 0.99e300, 1e300, 5.0)),
    ("price_out_of_range", (60, 1e-31, 1e-31, 1e-31, 1e-31, 5.0)),
    ("price_out_of_range", (60, 1.10, 2e30, 1.09, 1.11, 5.0)),
    ("high_below_low", (60, 1.10, 1.08, 1.09, 1.085, 5.0)),
    ("open_outside_range", (60, 1.13, 1.12, 1.09, 1.11, 5.0)),
    ("open_outside_range", (60, 1.08, 1.12, 1.09, 1.11, 5.0)),
    ("close_outside_range", (60, 1.10, 1.12, 1.09, 1.125, 5.0)),
    ("close_outside_range", (60, 1.10, 1.12, 1.09, 1.0, 5.0)),
    ("negative_volume", (60, 1.10, 1.12, 1.09, 1.11, -1.0)),
    ("non_increasing_timestamp", (0, *GOOD)),
    ("non_increasing_timestamp", (-60, *GOOD)),
]


def _walk(n: int, start: int = T0) -> list[tuple[int, float, float, float, float, float]]:
    rng = np.random.default_rng(3)
    close = 1.1 + np.cumsum(rng.integers(-3, 4, n)) * 1e-5
    rows = []
    prev = float(close[0])
    for i, c in enumerate(close.tolist()):
        o = prev
        h = max(o, c) + 2e-5
        lo = min(o, c) - 1e-5
        rows.append((start + (i + 1) * 60 * NS, o, h, lo, c, 0.0))
        prev = c
    return rows


def _snapshot(engine: FeatureEngine) -> str:
    # Every slot, with containers listed: repr is stable and shows NaN as 'nan'.
    state = {}
    for name in type(engine).__slots__:
        value = getattr(engine, name)
        state[name] = list(value) if hasattr(value, "maxlen") else value
    return repr(state)


def _bad_ts(offset: Any, last_ts: int) -> Any:
    if isinstance(offset, bool):
        return offset
    if offset is None:
        return 2**63
    if isinstance(offset, str):
        return offset
    if isinstance(offset, float):
        return last_ts + offset * NS
    return last_ts + offset * NS


def test_every_reason_is_exercised() -> None:
    assert {reason for reason, _ in BAD_BARS} == set(REASONS)


@pytest.mark.parametrize(
    ("reason", "bad"), BAD_BARS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD_BARS)]
)
def test_bad_bar_is_rejected_with_reason_and_leaves_state_unchanged(
    reason: str, bad: tuple[Any, ...]
) -> None:
    spec = FeatureSpec()
    rows = _walk(200)
    split = 150  # warm by then (warmup_bars = 114): every state variable is live
    engine = FeatureEngine(spec)
    reference = FeatureEngine(spec)
    for row in rows[:split]:
        engine.update(*row)
        reference.update(*row)
    assert engine.is_warm
    before = _snapshot(engine)
    last_ts = rows[split - 1][0]
    with pytest.raises(InvalidBarError) as info:
        engine.update(_bad_ts(bad[0], last_ts), *bad[1:])
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)
    assert reason in str(info.value)
    assert _snapshot(engine) == before
    assert engine.bars_seen == split
    # The next good bars continue exactly as if the bad one never came.
    for row in rows[split:]:
        assert engine.update(*row) == reference.update(*row)


def test_first_bar_can_be_rejected_too() -> None:
    engine = FeatureEngine(FeatureSpec())
    before = _snapshot(engine)
    with pytest.raises(InvalidBarError, match="high_below_low"):
        engine.update(T0, 1.0, 0.9, 1.0, 1.0, 0.0)
    assert _snapshot(engine) == before
    assert engine.bars_seen == 0 and engine.last_ts_event_ns is None


def test_numpy_scalars_and_ints_are_accepted() -> None:
    spec = FeatureSpec()
    plain, mixed = FeatureEngine(spec), FeatureEngine(spec)
    for ts, o, h, lo, c, _ in _walk(30):
        a = plain.update(ts, o, h, lo, c, 0.0)
        b = mixed.update(np.int64(ts), np.float64(o), h, lo, np.float64(c), 0)
        assert a == b  # numpy scalars compute the same (they may come back as np.float64)
        assert all(type(v) is float for v in a)


def test_prices_at_the_bounds_give_finite_features_in_both_twins() -> None:
    """Prices near 1e300 overflowed the Bollinger variance: bb_bandwidth inf and bb_pct_b NaN
    reached the model on warm rows. Prices are bounded ([MIN_PRICE, MAX_PRICE], refused outside
    as price_out_of_range); at the bounds every warm feature is finite in both twins."""
    spec = FeatureSpec()
    for scale in (MAX_PRICE / 1.2, MIN_PRICE * 1.2):
        rows = [(ts, o * scale, h * scale, lo * scale, c * scale, v) for ts, o, h, lo, c, v in
                _walk(200)]  # fmt: skip
        # The walk's prices sit in [1.05, 1.15]: h * scale stays within the bounds.
        engine = FeatureEngine(spec)
        out = [engine.update(*row) for row in rows]
        arrays = [np.array(col) for col in zip(*rows, strict=True)]
        twin = compute_features(spec, *arrays)
        warm = np.array(out)[spec.warmup_bars :]
        assert np.isfinite(warm).all()
        assert np.array_equal(np.array(out)[spec.warmup_bars :], twin[spec.warmup_bars :])


def test_duplicate_message_says_duplicate() -> None:
    engine = FeatureEngine(FeatureSpec())
    engine.update(T0, *GOOD)
    with pytest.raises(InvalidBarError, match="duplicate"):
        engine.update(T0, *GOOD)
    with pytest.raises(InvalidBarError, match="out of order"):
        engine.update(T0 - 1, *GOOD)


# ---------------------------------------------------------------- accepted_bars_mask

BAD_KINDS = ["nan_close", "zero_low", "high_below_low", "open_out", "neg_volume", "dup_ts",
             "old_ts", "inf_high", "huge_high"]  # fmt: skip


def _inject(bars: Bars, positions: list[int], kinds: list[str]) -> Bars:
    ts, o, h, lo, c, v = (a.copy() for a in bars.arrays())
    for i, kind in zip(positions, kinds, strict=True):
        if kind == "nan_close":
            c[i] = np.nan
        elif kind == "zero_low":
            lo[i] = 0.0
        elif kind == "high_below_low":
            h[i] = lo[i] * 0.5
        elif kind == "open_out":
            o[i] = h[i] * 2.0
        elif kind == "neg_volume":
            v[i] = -1.0
        elif kind == "inf_high":
            h[i] = np.inf
        elif kind == "huge_high":
            h[i] = 1e300
        elif kind == "dup_ts" and i > 0:
            ts[i] = ts[i - 1]
        elif kind == "old_ts" and i > 0:
            ts[i] = ts[max(0, i - 3)] - 1
    return Bars(ts, o, h, lo, c, v)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, bars=bar_sequences(min_size=1, max_size=200), data=st.data())
def test_mask_agrees_with_engine_and_filtered_rows_match(
    spec: FeatureSpec, bars: Bars, data: st.DataObject
) -> None:
    n = len(bars)
    positions = data.draw(st.lists(st.integers(0, n - 1), max_size=max(1, n // 4), unique=True))
    kinds = data.draw(st.lists(st.sampled_from(BAD_KINDS), min_size=len(positions),
                               max_size=len(positions)))  # fmt: skip
    dirty = _inject(bars, positions, kinds)
    engine = FeatureEngine(spec)
    accepted, rows = [], []
    for row in dirty.rows():
        try:
            rows.append(engine.update(*row))
            accepted.append(True)
        except InvalidBarError:
            accepted.append(False)
    mask = accepted_bars_mask(*dirty.arrays())
    np.testing.assert_array_equal(mask, np.array(accepted))
    clean = dirty.take(mask)
    x = vectorised(spec, clean)
    expected = np.array(rows, dtype=np.float64).reshape(len(rows), len(spec.names))
    np.testing.assert_array_equal(np.isnan(x), np.isnan(expected))
    np.testing.assert_allclose(x, expected, rtol=1e-14, atol=1e-18)


def test_mask_after_ts_continues_a_running_engine() -> None:
    rows = _walk(10)
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    cols = [np.array([r[k] for r in rows]) for k in range(1, 6)]
    mask = accepted_bars_mask(ts, *cols, after_ts_ns=int(ts[4]))
    np.testing.assert_array_equal(mask, np.arange(10) > 4)


def test_mask_rejects_unsigned_timestamps_beyond_int64() -> None:
    rows = _walk(4)
    ts = np.array([r[0] for r in rows], dtype=np.uint64)
    ts[2] = np.uint64(2**63)
    cols = [np.array([r[k] for r in rows]) for k in range(1, 6)]
    np.testing.assert_array_equal(accepted_bars_mask(ts, *cols), [True, True, False, True])
    with pytest.raises(InvalidBarError, match="timestamp_out_of_range"):
        compute_features(FeatureSpec(), ts, *cols)


def test_mask_of_empty_input_is_empty() -> None:
    empty = np.array([], dtype=np.float64)
    mask = accepted_bars_mask(np.array([], dtype=np.int64), empty, empty, empty, empty, empty)
    assert mask.shape == (0,) and mask.dtype == np.bool_


# ---------------------------------------------------------------- compute_features input errors


def _arrays(n: int = 50) -> list[np.ndarray]:
    rows = _walk(n)
    return [np.array([r[k] for r in rows], dtype=np.int64 if k == 0 else np.float64)
            for k in range(6)]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "index", "value", "reason"),
    [
        (4, 7, np.nan, "non_finite"),
        (3, 9, -1.0, "non_positive_price"),
        (2, 3, 0.5, "high_below_low"),
        (1, 20, 9.0, "open_outside_range"),
        (4, 11, 9.0, "close_outside_range"),
        (5, 30, -2.0, "negative_volume"),
        (0, 12, None, "non_increasing_timestamp"),
        (0, 0, -5, "timestamp_out_of_range"),
    ],
)
def test_compute_features_names_first_bad_row(
    column: int, index: int, value: Any, reason: str
) -> None:
    arrays = _arrays()
    if value is None:
        arrays[0][index] = arrays[0][index - 1]
    else:
        arrays[column][index] = value
    arrays[5][40] = -1.0  # a later bad row: the first one must be reported
    with pytest.raises(InvalidBarError) as info:
        compute_features(FeatureSpec(), *arrays)
    assert info.value.index == index
    assert info.value.reason == reason
    assert f"row {index}" in str(info.value)


def test_compute_features_rejects_bad_shapes_and_dtypes_by_name() -> None:
    arrays = _arrays()
    spec = FeatureSpec()
    with pytest.raises(ValueError, match="close must be 1-D with the length"):
        compute_features(spec, *arrays[:4], arrays[4][:-1], arrays[5])
    with pytest.raises(ValueError, match="ts_event_ns must hold integers"):
        compute_features(spec, arrays[0].astype(float), *arrays[1:])
    with pytest.raises(ValueError, match="high must be numeric"):
        compute_features(spec, arrays[0], arrays[1], arrays[2].astype(str), *arrays[3:])
    with pytest.raises(ValueError, match="order"):
        compute_features(spec, *arrays, order="K")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="FeatureSpec"):
        compute_features({}, *arrays)  # type: ignore[arg-type]


def test_compute_features_never_mutates_inputs_and_accepts_read_only() -> None:
    arrays = _arrays(150)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    x = compute_features(FeatureSpec(), *arrays)
    for a, b in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    assert x.flags.c_contiguous and x.dtype == np.float64 and x.flags.writeable
    f = compute_features(FeatureSpec(), *arrays, order="F")
    assert f.flags.f_contiguous
    np.testing.assert_array_equal(f, x)


def test_compute_features_on_empty_and_lists() -> None:
    spec = FeatureSpec()
    empty = compute_features(spec, [], [], [], [], [], [])
    assert empty.shape == (0, len(spec.names))
    rows = _walk(3)
    lists = [[r[k] for r in rows] for k in range(6)]
    x = compute_features(spec, *lists)
    np.testing.assert_array_equal(x, run_engine(spec, Bars(*(np.array(c) for c in lists))))
