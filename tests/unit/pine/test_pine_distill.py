"""The small CART: exact on learnable rules, honest fidelity, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.pine.distill import MIN_SPLIT_GAP, distill_signals, fit_tree, signal_of

NAMES = ("a", "b", "c")


def _rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, len(NAMES)))


def test_recovers_an_axis_aligned_rule_exactly() -> None:
    x = _rows(4000)
    sign = np.where(x[:, 0] > 0.3, 1, np.where(x[:, 2] < -0.5, -1, 0)).astype(np.int8)
    confidence = np.full(len(x), 0.9)
    tree, report = distill_signals(
        x, sign, confidence, 1 - confidence, feature_names=NAMES, min_confidence=0.5,
        min_samples_leaf=5,
    )  # fmt: skip
    assert report.fidelity == 1.0
    assert report.train_agreement == 1.0
    assert report.holdout_rows == 800 and report.train_rows == 3200
    assert tree.depth <= 3
    assert set(tree.feature[tree.feature >= 0].tolist()) <= {0, 2}
    assert all(share == 1.0 for _, share in report.holdout_recall.values())
    assert "fidelity 100.00% on 800 held-out rows" in report.summary()


def test_target_is_the_signal_at_the_threshold() -> None:
    sign = np.array([1, 1, -1, 0, -1])
    confidence = np.array([0.9, 0.5, 0.7, 0.99, 0.54])
    assert signal_of(sign, confidence, 0.55).tolist() == [1, 0, -1, 0, 0]


def test_rare_signals_show_in_recall_not_only_in_fidelity() -> None:
    x = _rows(5000, seed=1)
    sign = np.zeros(len(x), dtype=np.int8)
    rare = np.random.default_rng(2).random(len(x)) < 0.01  # noise: not learnable
    sign[rare] = 1
    _, report = distill_signals(
        x, sign, np.full(len(x), 0.9), np.zeros(len(x)), feature_names=NAMES,
        min_confidence=0.5,
    )  # fmt: skip
    assert report.fidelity > 0.95  # high only because holds dominate ...
    rows, share = report.holdout_recall["buy"]
    assert rows > 0 and share < 0.5  # ... and the recall says so
    assert report.model_signal_rate > report.tree_signal_rate


def test_leaf_confidence_and_risk_are_the_models_means() -> None:
    x = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]])
    sign = np.array([0, 0, 1, 1])
    confidence = np.array([0.2, 0.4, 0.6, 0.8])
    risk = np.array([0.9, 0.7, 0.5, 0.1])
    tree = fit_tree(x, sign, confidence, risk, feature_names=NAMES, min_samples_leaf=1)
    s, c, r = tree.predict_arrays(x)
    assert s.tolist() == [0, 0, 1, 1]
    assert c.tolist() == pytest.approx([0.3, 0.3, 0.7, 0.7])
    assert r.tolist() == pytest.approx([0.8, 0.8, 0.3, 0.3])
    assert tree.threshold[0] == 1.5


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=20, max_value=300),
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=0, max_value=10_000),
)
def test_tree_shape_invariants(n: int, depth: int, leaf: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(1)  # ties in the values too
    sign = rng.integers(-1, 2, size=n)
    tree = fit_tree(
        x, sign, rng.random(n), rng.random(n), feature_names=NAMES, max_depth=depth,
        min_samples_leaf=leaf,
    )  # fmt: skip
    assert tree.depth <= depth
    leaves = tree.feature < 0
    assert (tree.samples[leaves] >= min(leaf, n)).all()
    assert tree.samples[leaves].sum() == n
    internal = ~leaves
    assert (tree.left[internal] > np.flatnonzero(internal)).all()  # children after parents
    # every training row lands in a leaf whose count includes it
    counts = np.bincount(tree.apply(x), minlength=tree.node_count)
    assert (counts[leaves] == tree.samples[leaves]).all()
    assert tree.to_dict()["feature_names"] == list(NAMES)


def test_values_closer_than_the_split_gap_are_never_split_apart() -> None:
    base = np.repeat(np.array([0.3, 0.7]), 50)
    x = np.column_stack([base, np.zeros(100), np.zeros(100)])
    x[::2, 0] = np.nextafter(x[::2, 0], 1.0)  # one ulp apart: the same number up to rounding
    # buy only on the nudged 0.7 rows: 0.3 / 0.7 is a real split, the ulp would be the second
    sign = np.where((np.arange(100) % 2 == 0) & (base > 0.5), 1, 0)
    tree = fit_tree(x, sign, np.ones(100), np.zeros(100), feature_names=NAMES, min_samples_leaf=1)
    thresholds = tree.threshold[tree.feature >= 0]
    gaps = np.abs(x[:, 0][:, None] - thresholds[None, :])
    assert gaps.min() >= MIN_SPLIT_GAP / 2
    assert tree.node_count == 3  # only the 0.3 / 0.7 split is made


def test_errors_name_the_problem() -> None:
    x = _rows(10)
    with pytest.raises(ValueError, match="not finite at row 3"):
        bad = x.copy()
        bad[3, 1] = np.nan
        fit_tree(bad, np.zeros(10), np.zeros(10), np.zeros(10), feature_names=NAMES)
    with pytest.raises(ValueError, match="signals must be -1, 0 or 1"):
        fit_tree(x, np.full(10, 2), np.zeros(10), np.zeros(10), feature_names=NAMES)
    with pytest.raises(ValueError, match=r"features must be \(n, 2\)"):
        fit_tree(x, np.zeros(10), np.zeros(10), np.zeros(10), feature_names=("a", "b"))
    with pytest.raises(ValueError, match="holdout_fraction"):
        distill_signals(
            x, np.zeros(10), np.zeros(10), np.zeros(10), feature_names=NAMES,
            min_confidence=0.5, holdout_fraction=1.0,
        )  # fmt: skip


def test_a_tree_that_never_trades_is_not_exported() -> None:
    """--max-depth 0 (or leaves larger than the signals) wrote a Pine strategy that never trades,
    exit 0, its header reading 'fidelity 96.42%' because the holds dominate."""
    from nautilus_ai.features import FeatureSpec, compute_features
    from nautilus_ai.models.rule import RulePredictor
    from nautilus_ai.models.testing import synthetic_bars
    from nautilus_ai.pine import StrategyOptions, export_distilled

    spec = FeatureSpec()
    bars = synthetic_bars(6_000, seed=3)
    features = compute_features(spec, bars[:, 0].astype(np.int64), *bars[:, 1:].T)
    predictor = RulePredictor(spec)
    options = StrategyOptions(min_confidence=0.0)
    export = export_distilled(predictor, spec, features, options=options, min_samples_leaf=5)
    assert export.distill_report is not None and export.distill_report.tree_signal_rate > 0
    with pytest.raises(ValueError, match=r"the distilled tree never calls buy or sell on the \d+ "
                       r"held-out rows, the model does on .*max_depth 0"):  # fmt: skip
        export_distilled(predictor, spec, features, options=options, max_depth=0)
