"""The backends on the real feature engine (``nautilus_ai.features``) and real EUR/USD bars.

Skipped until ``nautilus_ai.features`` is on this branch (it is written on the ``features``
branch); everything else in this folder uses the stand-in spec in ``standin_features.py``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from standin_features import V1_NAMES, load_histdata_month

from nautilus_ai.models import (
    FeatureSpecLike,
    MarketContext,
    RulePredictor,
    SpecMismatchError,
    TorchPredictor,
    build_predictor,
    save_artifact,
)

features = pytest.importorskip("nautilus_ai.features")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def engine_spec() -> Any:
    return features.FeatureSpec()


@pytest.fixture(scope="module")
def engine_rows(engine_spec: Any, data_dir: Path) -> NDArray[np.float64]:
    """Warm feature rows of Jan-Feb 2017 (HistData bars: New York clock, bar start times)."""
    import pandas as pd

    bars = pd.concat([load_histdata_month(data_dir, m) for m in ("201701", "201702")])
    ts = bars.index.asi8.astype(np.int64) + 60_000_000_000  # Nautilus stamps bars at the close
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    v = np.zeros(len(c))
    ok = features.accepted_bars_mask(ts, o, h, lo, c, v)
    x = features.compute_features(engine_spec, ts[ok], o[ok], h[ok], lo[ok], c[ok], v[ok])
    return np.ascontiguousarray(x[x[:, engine_spec.index("warm")] == 1.0])


def test_feature_spec_satisfies_the_protocol(engine_spec: Any) -> None:
    assert isinstance(engine_spec, FeatureSpecLike)
    assert engine_spec.names == V1_NAMES  # the stand-in's names are the v1 names


def test_rule_on_engine_features(engine_spec: Any, engine_rows: NDArray[np.float64]) -> None:
    rule = RulePredictor(engine_spec)
    signs, _, _, _ = rule.predict_arrays(engine_rows)
    # Measured Jan-Jun 2017: 2.0% buy, 1.8% sell bars, ~31 signal runs a day, no direct flips.
    assert 0.005 < float((signs == 1).mean()) < 0.06
    assert 0.005 < float((signs == -1).mean()) < 0.06
    assert np.count_nonzero(signs[1:] * signs[:-1] < 0) < 0.001 * len(signs)
    context = MarketContext("EUR/USD.SIM", 0, spec_hash=engine_spec.hash)
    rows = engine_rows[:5000]
    batch = rule.predict_batch(rows, [context] * len(rows))
    for row, got in zip(rows, batch, strict=True):
        want = rule.predict(row, context)
        assert (got.action, got.confidence, got.risk_score, got.reason) == (
            want.action,
            want.confidence,
            want.risk_score,
            want.reason,
        )


def test_torch_artifact_with_engine_spec(
    engine_spec: Any, engine_rows: NDArray[np.float64], tmp_path: Path
) -> None:
    source = TorchPredictor.random(engine_spec, seed=11, hidden=(32,))
    card = source.card.model_copy(update={"name": "mlp-engine", "version": 1})
    folder = save_artifact(source.module, card, tmp_path)
    loaded = build_predictor({"kind": "torch", "path": str(folder)}, engine_spec)
    assert isinstance(loaded, TorchPredictor)
    rows = engine_rows[:2000]
    np.testing.assert_array_equal(
        loaded.predict_proba_batch(rows), source.predict_proba_batch(rows)
    )
    changed = copy.deepcopy(engine_spec.to_dict())
    changed["atr_period"] = changed["atr_period"] + 1
    other = features.FeatureSpec.from_dict(changed)
    with pytest.raises(SpecMismatchError, match=r"atr_period: 14 != 15"):
        TorchPredictor.from_artifact(folder, spec=other)
