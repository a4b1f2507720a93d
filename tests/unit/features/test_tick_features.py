"""Tick features: incremental == vectorised bit for bit, look-ahead-free, definitions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.features.spec import TICK_FEATURE_NAMES
from nautilus_ai.features.ticks import TickFeatureState, compute_tick_features

MS = 1_000_000


@dataclass(frozen=True)
class Stream:
    bar_ts: NDArray[np.int64]
    ts: NDArray[np.int64]
    bid: NDArray[np.float64]
    ask: NDArray[np.float64]
    bid_size: NDArray[np.float64]
    ask_size: NDArray[np.float64]


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    n = draw(st.integers(0, 60))
    steps = draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n))
    ts = 1_600_000_000_000 * MS + np.cumsum(np.asarray(steps, dtype=np.int64)) * MS
    mids = draw(st.lists(st.floats(0.5, 2.0), min_size=n, max_size=n))
    spreads = draw(st.lists(st.floats(-2e-4, 5e-4), min_size=n, max_size=n))
    size = st.one_of(st.just(0.0), st.floats(0.0, 50.0))
    bid_size = draw(st.lists(size, min_size=n, max_size=n))
    ask_size = draw(st.lists(size, min_size=n, max_size=n))
    start = int(ts[0]) if n else 1_600_000_000_000 * MS
    bar_steps = draw(st.lists(st.integers(1, 20_000), min_size=0, max_size=12))
    bar_ts = start - 5000 * MS + np.cumsum(np.asarray(bar_steps, dtype=np.int64)) * MS
    mid = np.asarray(mids, dtype=np.float64)
    half = np.asarray(spreads, dtype=np.float64) / 2
    return Stream(
        bar_ts=bar_ts.astype(np.int64),
        ts=ts.astype(np.int64),
        bid=mid - half,
        ask=mid + half,
        bid_size=np.asarray(bid_size, dtype=np.float64),
        ask_size=np.asarray(ask_size, dtype=np.float64),
    )


def incremental(s: Stream) -> NDArray[np.float64]:
    """Bars and ticks merged in time order; a bar counts for ticks strictly after its close."""
    state = TickFeatureState()
    rows = []
    b = 0
    for i in range(s.ts.size):
        while b < s.bar_ts.size and s.bar_ts[b] < s.ts[i]:
            state.on_bar(int(s.bar_ts[b]))
            b += 1
        rows.append(
            state.update(
                int(s.ts[i]),
                float(s.bid[i]),
                float(s.ask[i]),
                float(s.bid_size[i]),
                float(s.ask_size[i]),
            )
        )
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(TICK_FEATURE_NAMES))


@settings(max_examples=300, deadline=None)
@given(streams())
def test_incremental_equals_vectorised_bit_for_bit(s: Stream) -> None:
    vec, _ = compute_tick_features(s.bar_ts, s.ts, s.bid, s.ask, s.bid_size, s.ask_size)
    inc = incremental(s)
    assert vec.shape == inc.shape
    # Bit for bit, NaN included (compare the raw 64-bit words).
    assert np.array_equal(vec.view(np.int64), inc.view(np.int64))


@settings(max_examples=200, deadline=None)
@given(streams(), st.data())
def test_changing_ticks_after_t_never_changes_features_at_t(s: Stream, data: st.DataObject) -> None:
    if s.ts.size < 2:
        return
    cut = data.draw(st.integers(1, s.ts.size - 1))
    t = s.ts[cut - 1]
    later = s.ts > t  # ticks strictly after t (equal timestamps are not "after")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    bid = s.bid.copy()
    ask = s.ask.copy()
    bid_size = s.bid_size.copy()
    bid[later] = bid[later] * rng.uniform(0.5, 1.5, later.sum())
    ask[later] = bid[later] + 1e-4
    bid_size[later] = rng.uniform(0, 9, later.sum())
    # Bars closing after t may move too, and ticks after t may be dropped.
    keep = ~later | (rng.uniform(size=s.ts.size) < 0.5)
    bar_ts = s.bar_ts[s.bar_ts <= t]
    before, _ = compute_tick_features(s.bar_ts, s.ts, s.bid, s.ask, s.bid_size, s.ask_size)
    after, _ = compute_tick_features(
        bar_ts, s.ts[keep], bid[keep], ask[keep], bid_size[keep], s.ask_size[keep]
    )
    upto = ~later
    assert np.array_equal(before[upto].view(np.int64), after[: int(upto.sum())].view(np.int64))


def test_definitions_on_a_hand_checked_stream() -> None:
    bar_ts = np.asarray([1000 * MS], dtype=np.int64)
    ts = np.asarray([500, 1001, 1500, 2500], dtype=np.int64) * MS
    bid = np.asarray([1.0, 1.1000, 1.1002, 1.0998])
    ask = np.asarray([1.0, 1.1002, 1.1004, 1.1000])
    bid_size = np.asarray([1.0, 3.0, 0.0, 0.0])
    ask_size = np.asarray([1.0, 1.0, 2.0, 0.0])
    out, bar_row = compute_tick_features(bar_ts, ts, bid, ask, bid_size, ask_size)
    assert bar_row.tolist() == [-1, 0, 0, 0]
    assert np.isnan(out[0]).all()  # before the first completed bar
    assert out[1, 0] == pytest.approx(0.0002 / 1.1001)
    assert out[1, 1] == 0.0 and out[1, 2] == 0.001 and out[1, 3] == 1.0
    assert out[1, 4] == 0.5  # (3 - 1) / (3 + 1)
    assert out[2, 1] == pytest.approx(1.1003 / 1.1001 - 1)
    assert out[2, 2] == 0.5 and out[2, 3] == 2.0 and out[2, 4] == -1.0
    assert out[3, 4] == 0.0  # no sizes at all -> 0, not NaN
    assert not math.isnan(out[3, 1])
    # A tick stamped exactly at a bar's close still sees the bar before (order-independent).
    _, row = compute_tick_features(bar_ts, np.asarray([1000 * MS]), *(np.ones(1) for _ in range(4)))
    assert row.tolist() == [-1]


def test_spec_v2_carries_the_tick_block_and_v1_does_not() -> None:
    assert FeatureSpec().version == 2
    assert FeatureSpec().tick_names == TICK_FEATURE_NAMES
    assert FeatureSpec(version=1).tick_names == ()
    assert FeatureSpec().names == FeatureSpec(version=1).names  # bar vector unchanged
    spec = FeatureSpec()
    assert spec.tick_vector_names == (*spec.names, *TICK_FEATURE_NAMES)


def test_unsorted_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="bar_ts must be strictly increasing"):
        compute_tick_features(np.asarray([2, 1]), np.asarray([3]), *(np.ones(1) for _ in range(4)))
    with pytest.raises(ValueError, match="tick ts must be non-decreasing"):
        compute_tick_features(np.asarray([1]), np.asarray([3, 2]), *(np.ones(2) for _ in range(4)))
