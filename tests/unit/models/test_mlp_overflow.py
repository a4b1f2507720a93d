"""A finite feature vector large enough to overflow the network's sums (a corrupted bar: a
return of 1e308) made the per-bar answer NaN, and NaN was clipped to confidence 1: BUY at full
confidence and zero risk. It is now refused (a hold that says why), in every path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fixtures.stored_models import MINUTE_BID, mlp_model

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models.base import (
    Action,
    MarketContext,
    PredictionError,
    argmax_and_entropy,
    safe_predict,
)
from nautilus_ai.models.mlp import OUT_OF_RANGE_STDS, MLPPredictor, load_mlp_weights

_OUTSIDE = "outside anything the model was trained on"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("models"), "mlp", MINUTE_BID)


@pytest.fixture(scope="module")
def predictor(folder: Path) -> MLPPredictor:
    return MLPPredictor.from_artifact(folder, spec=FeatureSpec())


def _context() -> MarketContext:
    spec = FeatureSpec()
    return MarketContext("EUR/USD.SIM", 1_500_000_000_000_000_000, spec.names, spec.hash)


def test_nan_probabilities_are_never_a_confidence_of_one() -> None:
    _, confidence, _ = argmax_and_entropy(math.nan, math.nan, math.nan)
    assert math.isnan(confidence)


def test_an_overflowing_vector_is_refused_in_every_path(
    folder: Path, predictor: MLPPredictor
) -> None:
    # finite features whose first hidden unit's sum overflows to inf (then inf - inf = NaN)
    first_row = load_mlp_weights(folder).weights[0][0]
    x = 1e308 * np.sign(first_row).astype(np.float64)
    with np.errstate(all="ignore"):
        # Such a vector is far outside the training range: refused before the network runs.
        with pytest.raises(PredictionError, match=_OUTSIDE):
            predictor.predict(x, _context())
        held = safe_predict(predictor, x, _context())
        assert held.action is Action.HOLD and "outside anything" in held.reason
        assert predictor.predict_signal(x.tolist()) is None  # the strategy's fast path
        ok = np.zeros_like(x)
        with pytest.raises(PredictionError, match=r"in row 1 .*" + _OUTSIDE):
            predictor.predict_batch(np.stack([ok, x]))
    # an ordinary vector still answers
    assert predictor.predict(np.zeros_like(x), _context()).action in set(Action)


def test_a_finite_feature_far_outside_the_training_range_is_a_hold_naming_it(
    folder: Path, predictor: MLPPredictor
) -> None:
    """Features 1e6 training standard deviations from the training mean (a corrupted feed, a
    unit mistake) got a confident answer from the network: an extrapolation no one trained.
    The model now refuses such a row in every path (predict, the strategy's fast path, batches),
    naming the feature, its distance and the limit; the strategy holds on the refusal and its
    status says why (safe_predict's hold carries the reason). Within the limit it answers."""
    weights = load_mlp_weights(folder)
    spec = FeatureSpec()
    j = spec.index("ret_1") if "ret_1" in spec.names else 0
    name = spec.names[j]
    centre = weights.mean.copy()
    far = centre.copy()
    far[j] += 1e6 * weights.std[j]
    with pytest.raises(PredictionError, match=rf"feature '{name}' is .* 1e\+06 training stand"):
        predictor.predict(far, _context())
    held = safe_predict(predictor, far, _context())
    assert held.action is Action.HOLD and held.error is not None and name in held.reason
    assert predictor.predict_signal(far.tolist()) is None
    with pytest.raises(PredictionError, match=rf"feature '{name}' in row 2 .*{_OUTSIDE}"):
        predictor.predict_batch(np.stack([centre, centre, far]))
    # Inside the limit (fat tails), every path answers, and the fast path as predict does.
    near = centre.copy()
    near[j] += 0.9 * OUT_OF_RANGE_STDS * weights.std[j]
    answer = predictor.predict(near, _context())
    signal = predictor.predict_signal(near.tolist())
    assert signal is not None and signal[0] == answer.action.sign
    assert len(predictor.predict_batch(np.stack([centre, near]))) == 2
