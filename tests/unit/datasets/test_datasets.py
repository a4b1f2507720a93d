"""Walk-forward datasets: windows, purging, embargo, train-only normalisation, and the
acceptance perturbation test (nothing in a split depends on bars that split would not have)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nautilus_ai.datasets import (
    Fold,
    Window,
    ZScoreNorm,
    build_dataset,
    rows_in_window,
    walk_forward_folds,
)
from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.labels import LabelSpec, make_labels

MINUTE = 60_000_000_000
DAY = 1_440 * MINUTE
T0 = 1_483_228_800_000_000_000  # 2017-01-01T00:00:00Z
SPEC = FeatureSpec()


def random_bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ts, ohlcv)``: a random walk of 1-minute bars with gaps, from 2017-01-01."""
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random(n) < 0.005, rng.integers(2, 2000, n), 1)
    ts = T0 + np.cumsum(steps) * MINUTE
    close = 1.05 + np.cumsum(rng.normal(0, 2e-4, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.exponential(1e-4, n)
    low = np.minimum(open_, close) - rng.exponential(1e-4, n)
    return ts, np.column_stack([open_, high, low, close, np.zeros(n)])


def features_of(ts: np.ndarray, ohlcv: np.ndarray) -> np.ndarray:
    return compute_features(SPEC, ts, *ohlcv.T)


def fold_over(ts: np.ndarray, parts: tuple[float, float, float]) -> Fold:
    """Three consecutive windows splitting the bars' time span in the given proportions."""
    span = int(ts[-1] - ts[0]) + 1
    a = int(ts[0])
    b = a + int(span * parts[0])
    c = b + int(span * parts[1])
    return Fold(train=Window(a, b), validation=Window(b, c), test=Window(c, a + span))


# ---------------------------------------------------------------------------- windows, folds


def test_window_parse_and_order() -> None:
    w = Window.parse("2017-01-01", "2017-02-01T12:00:00Z")
    assert w.start_ns == T0 and w.end_ns == T0 + 31 * DAY + DAY // 2
    assert w.start == datetime(2017, 1, 1, tzinfo=UTC)
    assert str(w) == "[2017-01-01T00:00:00Z, 2017-02-01T12:00:00Z)"
    with pytest.raises(ValueError, match="before end"):
        Window.parse("2017-02-01", "2017-01-01")
    with pytest.raises(ValueError, match="ISO"):
        Window.parse("yesterday", "2017-01-01")
    with pytest.raises(ValueError, match=r"validation .* starts before train"):
        Fold(train=Window(0, 10), validation=Window(5, 20))


def test_walk_forward_folds_tile_the_period() -> None:
    folds = walk_forward_folds(
        "2017-01-01", "2017-07-01", train=timedelta(days=60), validation=timedelta(days=15),
        test=timedelta(days=30),
    )  # fmt: skip
    assert len(folds) == 3
    tests = [f.test for f in folds]
    for prev, nxt in itertools.pairwise(tests):
        assert nxt.start_ns == prev.end_ns  # consecutive, no overlap, no hole
    for fold in folds:
        assert fold.train.end_ns == fold.validation.start_ns  # type: ignore[union-attr]
        assert fold.validation.end_ns == fold.test.start_ns  # type: ignore[union-attr]
    anchored = walk_forward_folds(
        "2017-01-01", "2017-07-01", train=timedelta(days=60), test=timedelta(days=30),
        anchored=True,
    )  # fmt: skip
    assert {f.train.start_ns for f in anchored} == {T0}
    with pytest.raises(ValueError, match="no fold fits"):
        walk_forward_folds("2017-01-01", "2017-01-10", train=timedelta(days=60), test=DAY)


def test_rows_in_window_purges_and_embargoes() -> None:
    ts = T0 + np.arange(100) * MINUTE
    end = np.arange(100) + 5
    end[end >= 100] = -1
    usable = np.ones(100, dtype=bool)
    usable[50] = False
    window = Window(int(ts[20]), int(ts[60]))
    rows = rows_in_window(ts, end, usable, window)
    assert rows.tolist() == [r for r in range(20, 55) if r != 50]  # label must end before 60
    embargoed = rows_in_window(ts, end, usable, window, embargo_bars=7)
    assert embargoed.tolist() == [r for r in range(27, 55) if r != 50]


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 1_000),
    horizon=st.integers(1, 60),
    extra=st.integers(0, 30),
    cuts=st.tuples(st.floats(0.3, 0.6), st.floats(0.1, 0.2)),
)
def test_folds_never_overlap_across_the_embargo(
    seed: int, horizon: int, extra: int, cuts: tuple[float, float]
) -> None:
    ts, ohlcv = random_bars(3_000, seed)
    fold = fold_over(ts, (cuts[0], cuts[1], 1.0))
    spec = LabelSpec(horizon=horizon)
    labels = make_labels(spec, ts, *ohlcv[:, :4].T)
    try:
        data = build_dataset(
            ts, features_of(ts, ohlcv), SPEC.names, ohlcv, spec, fold,
            embargo_bars=horizon + extra, labels=labels,
        )  # fmt: skip
    except ValueError as exc:
        # The random gaps (up to 2,000 minutes) can leave the training window too few bars to
        # warm the features up (seed 330, cuts 0.3125 / 0.125): refusing that is right.
        if "no usable training rows" not in str(exc):
            raise
        usable = labels.valid & np.isfinite(features_of(ts, ohlcv)).all(axis=1)
        assert rows_in_window(ts, labels.end_index, usable, fold.train).size == 0
        assume(False)
    splits = [s for s in data.splits() if len(s)]
    for earlier, later in itertools.pairwise(splits):
        last_bar_seen = int(labels.end_index[earlier.rows].max())
        first_row = int(later.rows.min())
        assert first_row - last_bar_seen > horizon + extra  # gap of more than the embargo
        assert ts[last_bar_seen] < later.window.start_ns  # no label crosses the boundary
    for split in splits:
        assert (split.ts >= split.window.start_ns).all() and (split.ts < split.window.end_ns).all()
        assert (ts[labels.end_index[split.rows]] < split.window.end_ns).all()


def test_embargo_shorter_than_the_horizon_is_refused() -> None:
    ts, ohlcv = random_bars(500, 1)
    with pytest.raises(ValueError, match=r"embargo_bars .* must be >= the label horizon"):
        build_dataset(ts, features_of(ts, ohlcv), SPEC.names, ohlcv, LabelSpec(horizon=30),
                      fold_over(ts, (0.5, 0.2, 0.3)), embargo_bars=10)  # fmt: skip


# ---------------------------------------------------------------------------- normalisation


def test_zscore_statistics_come_from_the_fit_window_only() -> None:
    ts = T0 + np.arange(10) * MINUTE
    x = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    norm = ZScoreNorm.fit(ts, x, Window(int(ts[0]), int(ts[5])))
    np.testing.assert_allclose(norm.mean, [2.0, 3.0])
    np.testing.assert_allclose(norm.std, [np.std([0, 1, 2, 3, 4]), 1.0])  # constant -> 1
    changed = x.copy()
    changed[5:] = 1e6  # rows outside the fit window do not matter
    again = ZScoreNorm.fit(ts, changed, Window(int(ts[0]), int(ts[5])))
    np.testing.assert_array_equal(again.mean, norm.mean)
    np.testing.assert_allclose(norm.transform(x)[:, 1], 0.0)
    with pytest.raises(ValueError, match="no rows in the fit window"):
        ZScoreNorm.fit(ts, x, Window(int(ts[-1]) + 1, int(ts[-1]) + 2))


# ---------------------------------------------------------------------------- acceptance


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 1_000),
    kind=st.sampled_from(["forward_return", "triple_barrier"]),
    horizon=st.integers(5, 60),
    scale=st.floats(1e-4, 1e-2),
)
def test_nothing_in_a_split_depends_on_bars_it_would_not_have(
    seed: int, kind: str, horizon: int, scale: float
) -> None:
    """Perturb every bar at or after a window's end: the features and labels of that window
    (and of every earlier one) do not move. Features at t use bars <= t; labels end inside."""
    ts, ohlcv = random_bars(4_000, seed)
    fold = fold_over(ts, (0.5, 0.2, 0.3))
    spec = LabelSpec(kind=kind, horizon=horizon)  # type: ignore[arg-type]
    base = build_dataset(ts, features_of(ts, ohlcv), SPEC.names, ohlcv, spec, fold)
    rng = np.random.default_rng(seed)
    for boundary, kept in (
        (fold.train.end_ns, ("train",)),
        (fold.validation.end_ns, ("train", "validation")),  # type: ignore[union-attr]
    ):
        after = ts >= boundary
        moved = ohlcv.copy()
        shift = rng.normal(0, scale, int(after.sum()))
        moved[after, :4] += shift[:, None]  # a different future, bars still valid
        moved[after, 1] += scale
        moved[after, 2] -= scale
        again = build_dataset(ts, features_of(ts, moved), SPEC.names, moved, spec, fold)
        for name in kept:
            a, b = getattr(base, name), getattr(again, name)
            np.testing.assert_array_equal(a.rows, b.rows)
            np.testing.assert_array_equal(a.features, b.features)
            np.testing.assert_array_equal(a.y, b.y)
            np.testing.assert_array_equal(a.forward_return, b.forward_return)
        np.testing.assert_array_equal(again.norm.mean, base.norm.mean)
        np.testing.assert_array_equal(again.norm.std, base.norm.std)
        # the perturbation is real: the first window after the boundary does change
        later = "validation" if kept == ("train",) else "test"
        assert not np.array_equal(getattr(base, later).features, getattr(again, later).features)


# ---------------------------------------------------------------------------- outputs


def test_outputs_arrow_torch_and_class_balance() -> None:
    ts, ohlcv = random_bars(3_000, 5)
    data = build_dataset(ts, features_of(ts, ohlcv), SPEC.names, ohlcv, LabelSpec(horizon=10),
                         fold_over(ts, (0.6, 0.2, 0.2)), spec_hash=SPEC.hash)  # fmt: skip
    balance = data.class_balance()
    for split in data.splits():
        counts = balance[split.name]
        assert counts["sell"] + counts["hold"] + counts["buy"] == len(split) > 0
        assert counts["sell_share"] + counts["hold_share"] + counts["buy_share"] == pytest.approx(1)
        assert not np.isnan(split.features).any()  # the warm-up rows were dropped
    table = data.to_arrow()
    assert table.num_rows == sum(len(s) for s in data.splits())
    assert table.column_names[:2] == ["ts_event", SPEC.names[0]]
    assert set(table.column("label").to_pylist()) <= {"sell", "hold", "buy"}
    assert set(table.column("split").to_pylist()) == {"train", "validation", "test"}
    tensors = data.train.to_torch()
    x, y = tensors[0]
    assert x.dtype == torch.float32 and x.shape == (len(SPEC.names),) and y.dtype == torch.int64
    assert "train" in data.describe() and "embargo 10 bars" in data.describe()
