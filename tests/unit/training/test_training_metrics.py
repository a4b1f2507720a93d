"""Metrics and temperature calibration on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from nautilus_ai.training import (
    brier_score,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    log_loss,
    reliability_bins,
    softmax_with_temperature,
)

CLASSES = ("sell", "hold", "buy")


def test_brier_and_log_loss_by_hand() -> None:
    p = np.array([[1.0, 0.0, 0.0], [0.2, 0.5, 0.3]])
    y = np.array([0, 2])
    assert brier_score(p, y) == pytest.approx((0.0 + (0.04 + 0.25 + 0.49)) / 2)
    assert log_loss(p, y) == pytest.approx(-(np.log(1.0) + np.log(0.3)) / 2)


def test_classification_metrics_by_hand() -> None:
    p = np.array(
        [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6]]
    )
    y = np.array([0, 1, 1, 2, 0])  # predictions: 0, 0, 1, 2, 2
    m = classification_metrics(p, y, CLASSES)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion"] == [[1, 0, 1], [1, 1, 0], [0, 0, 1]]
    sell = m["per_class"]["sell"]
    assert (sell["precision"], sell["recall"], sell["support"]) == (0.5, 0.5, 2)
    hold = m["per_class"]["hold"]
    assert (hold["precision"], hold["recall"]) == (1.0, 0.5)
    assert hold["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert m["predicted_share"] == {"sell": 0.4, "hold": 0.2, "buy": 0.4}


def test_ece_is_zero_when_calibrated_and_measures_overconfidence() -> None:
    # 10 rows at confidence 0.7, 7 right: calibrated
    p = np.tile([0.7, 0.2, 0.1], (10, 1))
    y = np.array([0] * 7 + [1] * 3)
    assert expected_calibration_error(p, y) == pytest.approx(0.0)
    # same confidence, only 4 right: gap 0.3
    y_bad = np.array([0] * 4 + [1] * 6)
    assert expected_calibration_error(p, y_bad) == pytest.approx(0.3)
    bins = reliability_bins(p, y_bad, n_bins=10)
    assert bins.count.sum() == 10 and bins.count[6] == 10  # (0.6, 0.7]
    assert bins.accuracy[6] == pytest.approx(0.4) and np.isnan(bins.accuracy[0])


def test_temperature_recovers_the_overconfidence_factor() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.0, (20_000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(true_logits, axis=1)])
    overconfident = 2.5 * true_logits
    temperature = fit_temperature(overconfident, y)
    assert temperature == pytest.approx(2.5, rel=0.05)
    before = expected_calibration_error(softmax_with_temperature(overconfident, 1.0), y)
    after = expected_calibration_error(softmax_with_temperature(overconfident, temperature), y)
    assert after < before / 3


def test_temperature_never_worse_than_none_and_rejects_bad_input() -> None:
    logits = np.zeros((5, 3))
    assert fit_temperature(logits, np.array([0, 1, 2, 0, 1])) == 1.0  # flat logits: T irrelevant
    with pytest.raises(ValueError, match="n > 0"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.full((2, 3), np.nan), np.array([0, 1]))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax_with_temperature(logits, 0.0)


def test_a_temperature_at_its_search_bound_is_said() -> None:
    # A model without skill on validation got T = 20 (every probability ~1/3) and the card
    # stored it without a word; the card and the summary now carry a warning.
    from nautilus_ai.training.calibration import bound_note
    from nautilus_ai.training.pipeline import split_summary_lines

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 4000)
    no_skill = rng.normal(0.0, 3.0, (4000, 3))  # confident logits unrelated to y
    temperature = fit_temperature(no_skill, y)
    assert temperature == pytest.approx(20.0, rel=0.01)
    note = bound_note(temperature)
    assert note is not None and "carry no skill" in note
    skilled = np.eye(3)[y] * 2.0 + rng.normal(0.0, 1.0, (4000, 3))
    assert bound_note(fit_temperature(skilled, y)) is None
    lines = split_summary_lines({"calibration": {"temperature": temperature, "warning": note}})
    assert lines == [f"  WARNING calibration: {note}"]


def test_a_model_that_never_acts_on_validation_is_said() -> None:
    # A model that called hold on every validation bar got min_confidence 1.0 in its card, the
    # threshold backtests and export-pine take by default: a strategy that never trades, and
    # the training summary said nothing.
    from nautilus_ai.training.pipeline import select_min_confidence, split_summary_lines

    probabilities = np.tile([0.2, 0.6, 0.2], (50, 1))
    decision = select_min_confidence(probabilities, np.ones(50, dtype=np.int64), 0.03)
    assert decision["min_confidence"] == 1.0 and decision["validation_signal_rate"] == 0.0
    [line] = split_summary_lines({"calibration": {"temperature": 1.0}, "decision": decision})
    assert line.startswith("  WARNING decision: the model never calls buy or sell")
    assert "min_confidence is 1.0" in line
    acting = select_min_confidence(np.tile([0.1, 0.2, 0.7], (50, 1)), np.ones(50, np.int64), 0.5)
    assert split_summary_lines({"calibration": {"temperature": 1.0}, "decision": acting}) == []
