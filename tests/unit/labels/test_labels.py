"""Labels: spec validation and hashing, hand-checked values, and no look-ahead."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.labels import LabelSpec, atr, make_labels

MINUTE = 60_000_000_000
T0 = 1_483_340_460_000_000_000


def random_bars(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """A random walk of 1-minute bid bars around 1.05 with occasional gaps (weekends)."""
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random(n) < 0.01, rng.integers(2, 3000, n), 1)
    ts = T0 + np.cumsum(steps) * MINUTE
    close = 1.05 + np.cumsum(rng.normal(0, 2e-4, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.exponential(1e-4, n)
    low = np.minimum(open_, close) - rng.exponential(1e-4, n)
    return ts, open_, high, low, close


# ---------------------------------------------------------------------------- spec


def test_spec_round_trips_and_hashes() -> None:
    spec = LabelSpec(kind="triple_barrier", horizon=12, unit="pips", buy_threshold=5)
    again = LabelSpec.from_dict(spec.to_dict())
    assert again == spec and again.hash == spec.hash and len(spec.hash) == 16
    assert spec.buy_threshold == 5.0 and isinstance(spec.buy_threshold, float)
    assert LabelSpec(horizon=13).hash != LabelSpec(horizon=12).hash
    assert LabelSpec(spread_pips=0.5).hash != LabelSpec().hash
    assert "triple_barrier over 12 bars" in spec.describe()


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"kind": "median"}, "kind"),
        ({"unit": "points"}, "unit"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": 2.5}, "horizon"),
        ({"buy_threshold": -1}, "buy_threshold"),
        ({"sell_threshold": float("nan")}, "sell_threshold"),
        ({"spread_pips": True}, "spread_pips"),
        ({"pip_size": 0.0}, "pip_size"),
        ({"version": 2}, "version"),
    ],
)
def test_bad_spec_names_the_field(fields: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"LabelSpec.{name}"):
        LabelSpec(**fields)


def test_from_dict_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        LabelSpec.from_dict({"horizon": 3, "hash": "x"})


# ---------------------------------------------------------------------------- values


def test_forward_return_by_hand() -> None:
    close = np.array([1.0, 1.001, 1.0025, 0.998, 0.999, 1.0])
    ts = T0 + np.arange(close.size) * MINUTE
    spec = LabelSpec(horizon=2, unit="pips", buy_threshold=10, sell_threshold=10, spread_pips=1)
    labels = make_labels(spec, ts, close, close, close, close)
    # t=0: +25 pips - 1 spread > 10 -> buy; t=1: -30 - 1 -> short gains 29 > 10 -> sell;
    # t=2: -35 -> sell; t=3: +20 - 1 = 19 > 10 -> buy; t=4, 5: no full horizon
    assert labels.label.tolist() == [1, -1, -1, 1, 0, 0]
    assert labels.valid.tolist() == [True, True, True, True, False, False]
    assert labels.end_index.tolist() == [2, 3, 4, 5, -1, -1]
    np.testing.assert_allclose(labels.forward_return[:4], [25, -30, -35, 20], rtol=1e-9)
    assert labels.class_index().tolist() == [2, 0, 0, 2, 1, 1]


def test_spread_turns_a_small_move_into_hold() -> None:
    close = np.array([1.0, 1.0011, 1.0011])
    ts = T0 + np.arange(3) * MINUTE
    gross = LabelSpec(horizon=1, unit="pips", buy_threshold=10, spread_pips=0)
    net = LabelSpec(horizon=1, unit="pips", buy_threshold=10, spread_pips=2)
    assert make_labels(gross, ts, close, close, close, close).label[0] == 1
    assert make_labels(net, ts, close, close, close, close).label[0] == 0


def test_triple_barrier_by_hand() -> None:
    # bar:       0      1      2      3      4      5
    high = np.array([1.0, 1.0005, 1.0021, 1.0, 1.0, 1.0])
    low = np.array([1.0, 0.9995, 0.9990, 0.9979, 1.0, 1.0])
    close = np.full(6, 1.0)
    ts = T0 + np.arange(6) * MINUTE
    spec = LabelSpec(
        kind="triple_barrier", horizon=3, unit="pips", buy_threshold=20, sell_threshold=20,
        spread_pips=0,
    )  # fmt: skip
    labels = make_labels(spec, ts, close, high, low, close)
    # t=0: bar 2's high reaches 1.0020 first -> buy; t=1: bar 2 high (1.0021) and bar 3 low
    # (0.9979): high first -> buy; t=2: bar 3 low reaches 0.9980 -> sell; others: no full horizon
    assert labels.label.tolist() == [1, 1, -1, 0, 0, 0]
    both = high.copy()
    both[3] = 1.0021  # bar 3 touches both barriers of t=2 at once: ambiguous -> hold
    assert make_labels(spec, ts, close, both, low, close).label[2] == 0
    flat = make_labels(spec, ts, close, np.full(6, 1.0), np.full(6, 1.0), close)
    assert flat.label[:3].tolist() == [0, 0, 0] and flat.valid[:3].all()  # vertical barrier


def test_atr_unit_matches_the_feature_engine() -> None:
    ts, o, h, lo, c = random_bars(2_000, seed=3)
    features = compute_features(FeatureSpec(), ts, o, h, lo, c, np.zeros(ts.size))
    atr_from_features = features[:, FeatureSpec().index("atr_close")] * c
    np.testing.assert_allclose(atr(h, lo, c, 14), atr_from_features, rtol=1e-12, equal_nan=True)
    labels = make_labels(LabelSpec(horizon=5), ts, o, h, lo, c)
    assert not labels.valid[:13].any() and labels.valid[13:-5].all()


def test_inputs_are_not_modified_and_bad_inputs_refused() -> None:
    ts, o, h, lo, c = random_bars(300, seed=1)
    copies = [a.copy() for a in (ts, o, h, lo, c)]
    make_labels(LabelSpec(kind="triple_barrier", horizon=7), ts, o, h, lo, c)
    for before, after in zip(copies, (ts, o, h, lo, c), strict=True):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="strictly increasing"):
        make_labels(LabelSpec(), ts[::-1], o, h, lo, c)
    with pytest.raises(ValueError, match="same length"):
        make_labels(LabelSpec(), ts[:-1], o, h, lo, c)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (4, -1.0, "(non_positive_price): low=-1.0 <= 0"),  # close (and low) negative
        (4, 0.0, "(non_positive_price): low=0.0 <= 0"),
        (3, 2.0, "(high_below_low): high="),  # low above high
        (4, 5.0, "(close_outside_range): close=5.0 outside"),  # a close above the bar's high
    ],
)
def test_a_bar_the_engine_refuses_is_not_labelled(column: int, value: float, reason: str) -> None:
    # a close of -1 at row 150 made every forward_return label that reached it a "sell",
    # and exit 0: the feature engine refuses that bar, the labels used it
    bars = [a.copy() for a in random_bars(300, seed=1)]
    if value <= 0:
        bars[3][150] = value  # low
    bars[column][150] = value
    with pytest.raises(ValueError) as caught:
        make_labels(LabelSpec(horizon=5), *bars)
    message = str(caught.value)
    assert message.startswith(f"row 150: invalid bar {reason}"), message
    assert message.endswith("(filter them with nautilus_ai.features.accepted_bars_mask)")


# ---------------------------------------------------------------------------- no look-ahead


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["forward_return", "triple_barrier"]),
    unit=st.sampled_from(["atr", "pips"]),
    horizon=st.integers(1, 40),
    cut=st.integers(20, 380),
)
def test_a_label_never_depends_on_bars_after_its_horizon(
    seed: int, kind: str, unit: str, horizon: int, cut: int
) -> None:
    ts, o, h, lo, c = random_bars(400, seed)
    spec = LabelSpec(kind=kind, horizon=horizon, unit=unit, buy_threshold=1, sell_threshold=1)  # type: ignore[arg-type]
    base = make_labels(spec, ts, o, h, lo, c)
    rng = np.random.default_rng(seed + 1)
    noise = rng.normal(0, 5e-3, 400 - cut)
    o2, h2, lo2, c2 = (a.copy() for a in (o, h, lo, c))
    for arr in (o2, h2, lo2, c2):
        arr[cut:] += noise
    h2[cut:] += 0.01
    lo2[cut:] -= 0.01  # still a valid bar, very different
    moved = make_labels(spec, ts, o2, h2, lo2, c2)
    untouched = base.valid & (base.end_index < cut)
    assert untouched.sum() > 0 or cut <= horizon + 14
    np.testing.assert_array_equal(moved.label[untouched], base.label[untouched])
    np.testing.assert_array_equal(moved.valid[untouched], base.valid[untouched])
    np.testing.assert_array_equal(moved.forward_return[untouched], base.forward_return[untouched])
    # and the test can fail: some label that reaches past the cut does change
    reaching = base.valid & (base.end_index >= cut) & (np.arange(400) < cut)
    if reaching.sum() > 10 and kind == "forward_return":
        assert not np.array_equal(moved.forward_return[reaching], base.forward_return[reaching])


@pytest.mark.extra("torch")  # through `nautilus-ai train`, which a core install refuses first
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--horizon", "0"], "--horizon (LabelSpec.horizon): expected an int >= 1, got 0"),
        (["--buy", "-1"], "--buy (LabelSpec.buy_threshold): expected a finite number >= 0"),
        (["--spread-pips", "nan"], "--spread-pips (LabelSpec.spread_pips): expected a finite"),
        (["--pip-size", "0"], "--pip-size (LabelSpec.pip_size): must be > 0"),
    ],
)
def test_a_bad_label_flag_is_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    """``train --buy -1`` said 'LabelSpec.buy_threshold: ...' without naming ``--buy``."""
    from nautilus_ai.cli import main

    windows = ["--train", "2017-01-01", "2017-02-01", "--validation", "2017-02-01", "2017-03-01"]
    assert main(["train", *windows, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nautilus-ai: error: {message}") and err.count("\n") == 1
