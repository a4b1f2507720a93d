"""The backends on the feature engine's spec and rows (real EUR/USD bars, January-February 2017)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from model_rows import engine_rows
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import (
    FeatureSpecLike,
    MarketContext,
    RulePredictor,
    SpecMismatchError,
    TorchPredictor,
    build_predictor,
    save_artifact,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def two_months(data_dir: Path) -> NDArray[np.float64]:
    """Warm feature rows of Jan-Feb 2017 (HistData bars, stamped at the close)."""
    return engine_rows(data_dir, ("201701", "201702"))


def test_feature_spec_satisfies_the_protocol(spec: FeatureSpec) -> None:
    assert isinstance(spec, FeatureSpecLike)


def test_rule_on_engine_features(spec: FeatureSpec, two_months: NDArray[np.float64]) -> None:
    rule = RulePredictor(spec)
    signs, _, _, _ = rule.predict_arrays(two_months)
    # Measured Jan-Jun 2017: 2.0% buy, 1.8% sell bars, ~31 signal runs a day, no direct flips.
    assert 0.005 < float((signs == 1).mean()) < 0.06
    assert 0.005 < float((signs == -1).mean()) < 0.06
    assert np.count_nonzero(signs[1:] * signs[:-1] < 0) < 0.001 * len(signs)
    context = MarketContext("EUR/USD.SIM", 0, spec_hash=spec.hash)
    rows = two_months[:5000]
    batch = rule.predict_batch(rows, [context] * len(rows))
    for row, got in zip(rows, batch, strict=True):
        want = rule.predict(row, context)
        assert (got.action, got.confidence, got.risk_score, got.reason) == (
            want.action,
            want.confidence,
            want.risk_score,
            want.reason,
        )


def test_torch_artifact_with_spec(
    spec: FeatureSpec, two_months: NDArray[np.float64], tmp_path: Path
) -> None:
    source = TorchPredictor.random(spec, seed=11, hidden=(32,))
    card = source.card.model_copy(update={"name": "mlp-engine", "version": 1})
    folder = save_artifact(source.module, card, tmp_path)
    loaded = build_predictor({"kind": "torch", "path": str(folder)}, spec)
    assert isinstance(loaded, TorchPredictor)
    rows = two_months[:2000]
    np.testing.assert_array_equal(
        loaded.predict_proba_batch(rows), source.predict_proba_batch(rows)
    )
    changed = copy.deepcopy(spec.to_dict())
    changed["atr_period"] = changed["atr_period"] + 1
    other = FeatureSpec.from_dict(changed)
    with pytest.raises(SpecMismatchError, match=r"atr_period: 14 != 15"):
        TorchPredictor.from_artifact(folder, spec=other)
