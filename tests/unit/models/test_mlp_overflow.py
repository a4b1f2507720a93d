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
from nautilus_ai.models.mlp import MLPPredictor, load_mlp_weights


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
        with pytest.raises(PredictionError, match="output is not a number"):
            predictor.predict(x, _context())
        held = safe_predict(predictor, x, _context())
        assert held.action is Action.HOLD and "output is not a number" in held.reason
        assert predictor.predict_signal(x.tolist()) is None  # the strategy's fast path
        ok = np.zeros_like(x)
        with pytest.raises(PredictionError, match="feature vector in row 1"):
            predictor.predict_batch(np.stack([ok, x]))
    # an ordinary vector still answers
    assert predictor.predict(np.zeros_like(x), _context()).action in set(Action)
