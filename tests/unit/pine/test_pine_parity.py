"""compare_parity: passes on equal numbers, names what differs, explains boundary mismatches."""

from __future__ import annotations

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.pine.parity import compare_parity

SPEC = FeatureSpec()
MIN_CONF = 0.55


@pytest.fixture(scope="module")
def python() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = 600
    rng = np.random.default_rng(5)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    high, low = close + 2e-4, close - 2e-4
    ts = (np.arange(n, dtype=np.int64) + 28_000_000) * 60_000_000_000
    features = compute_features(SPEC, ts, close, high, low, close, np.zeros(n))
    sign = rng.integers(-1, 2, n).astype(np.int8)
    confidence = rng.uniform(0.3, 0.9, n)
    return features, sign, confidence


def _plots(features: np.ndarray, sign: np.ndarray, confidence: np.ndarray) -> dict:
    warm = features[:, SPEC.index("warm")] == 1.0
    plots = {name: features[:, j].copy() for j, name in enumerate(SPEC.names)}
    action = np.where(warm, sign, 0).astype(float)
    conf = np.where(warm, confidence, 0.0)
    plots["action"] = action
    plots["confidence"] = conf
    plots["signal"] = np.where(conf >= MIN_CONF, action, 0.0)
    return plots


def test_identical_numbers_pass(python) -> None:  # type: ignore[no-untyped-def]
    features, sign, confidence = python
    report = compare_parity(
        _plots(*python), features, SPEC, sign, confidence, min_confidence=MIN_CONF
    )
    assert report.passed, report.summary()
    assert report.feature_max_error == 0.0
    assert report.signals.agreement == 1.0
    assert report.compare_from == SPEC.warmup_bars - 1


def test_an_error_above_tolerance_names_the_feature(python) -> None:  # type: ignore[no-untyped-def]
    features, sign, confidence = python
    plots = _plots(*python)
    plots["ema20_dist_atr"][400] += 2e-6
    report = compare_parity(plots, features, SPEC, sign, confidence, min_confidence=MIN_CONF)
    assert not report.passed
    assert report.failing_features == ("ema20_dist_atr",)
    worst = next(f for f in report.features if f.name == "ema20_dist_atr")
    assert worst.worst_bar == 400 and worst.max_abs_error == pytest.approx(2e-6)
    assert "FAIL ema20_dist_atr" in report.summary()


def test_a_wrong_warm_up_start_is_a_nan_mismatch(python) -> None:  # type: ignore[no-untyped-def]
    features, sign, confidence = python
    plots = _plots(*python)
    plots["vol_pct_rank"][100:113] = 0.5  # PineTS's percentrank starts at bar 100 unmasked
    report = compare_parity(plots, features, SPEC, sign, confidence, min_confidence=MIN_CONF)
    assert report.failing_features == ("vol_pct_rank",)
    assert next(f for f in report.features if f.name == "vol_pct_rank").nan_mismatches == 13


def test_signal_mismatch_at_the_threshold_is_explained(python) -> None:  # type: ignore[no-untyped-def]
    features, sign, confidence = python
    confidence = confidence.copy()
    sign = sign.copy()
    sign[300], confidence[300] = 1, MIN_CONF  # Python: exactly at the threshold -> signal
    plots = _plots(features, sign, confidence)
    plots["confidence"][300] = MIN_CONF - 1e-12  # Pine: a rounding below -> no signal
    plots["signal"][300] = 0.0
    report = compare_parity(plots, features, SPEC, sign, confidence, min_confidence=MIN_CONF)
    assert report.signals.mismatches == (300,)
    assert report.signals.unexplained == ()
    assert report.passed  # 1 of ~490 bars is below the 0.5 % allowed


def test_other_signal_mismatches_fail(python) -> None:  # type: ignore[no-untyped-def]
    features, sign, confidence = python
    plots = _plots(*python)
    i = next(i for i in range(200, 600) if plots["signal"][i] != 0)
    plots["signal"][i] = -plots["signal"][i]
    report = compare_parity(plots, features, SPEC, sign, confidence, min_confidence=MIN_CONF)
    assert report.signals.unexplained == (i,)
    assert not report.passed


def test_missing_plots_fail(python) -> None:  # type: ignore[no-untyped-def]
    features, sign, confidence = python
    plots = _plots(*python)
    del plots["rsi"]
    report = compare_parity(plots, features, SPEC, sign, confidence, min_confidence=MIN_CONF)
    assert report.missing_plots == ("rsi",)
    assert not report.passed


def test_bars_that_end_in_the_warm_up_compare_nothing_and_do_not_pass(python) -> None:  # type: ignore[no-untyped-def]
    """``export-pine --check --check-bars 50`` compared no bar past the warm-up and still said
    'parity PASSED', exit 0 (agreement 1.0 and feature error 0.0 of nothing)."""
    features, sign, confidence = python
    short = SPEC.warmup_bars - 10
    plots = {k: v[:short] for k, v in _plots(*python).items()}
    report = compare_parity(
        plots, features[:short], SPEC, sign[:short], confidence[:short], min_confidence=MIN_CONF
    )
    assert not report.passed and report.signals.bars == 0
    assert report.summary().startswith(f"parity FAILED on {short} bars")
    assert f"nothing compared: {short} bars end before bar {SPEC.warmup_bars - 1}" in (
        report.summary()
    )
