"""The core's MLP backend (numpy, no torch) against the torch predictor and its own batch path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.extras import MissingExtraError
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import ArtifactError, MarketContext, build_predictor
from nautilus_ai.models.mlp import MLPPredictor, load_mlp_weights

SPEC = FeatureSpec()


def _rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (n, len(SPEC.names)))


def test_batch_equals_per_bar_and_the_card_is_honoured(numpy_mlp_artifact: Path) -> None:
    predictor = build_predictor(
        {"kind": "torch", "path": str(numpy_mlp_artifact), "device": "cpu"}, SPEC
    )
    assert isinstance(predictor, MLPPredictor)
    rows = _rows(500)
    context = MarketContext("EUR/USD.SIM", 0, spec_hash=SPEC.hash)
    single = [predictor.predict(row, context) for row in rows]
    batch = predictor.predict_batch(rows)
    assert [p.action for p in single] == [p.action for p in batch]
    assert np.allclose([p.confidence for p in single], [p.confidence for p in batch], atol=1e-12)
    assert len({p.action for p in single}) == 3  # a real model: it answers all three ways
    # the numbers by hand: softmax((W2 relu(W1 (x - m) / s + b1) + b2) / T)
    w = load_mlp_weights(numpy_mlp_artifact)
    x = rows[0]
    h = np.maximum(w.weights[0] @ ((x - w.mean) / w.std) + w.biases[0], 0.0)
    logits = (w.weights[1] @ h + w.biases[1]) / w.card.temperature
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert predictor.predict_proba(x) == pytest.approx(tuple(p), abs=1e-12)


def test_numpy_twin_equals_the_torch_predictor_bit_for_bit(numpy_mlp_artifact: Path) -> None:
    from nautilus_ai.models.torch_mlp import TorchPredictor

    torch_side = TorchPredictor.from_artifact(numpy_mlp_artifact, spec=SPEC, device="cpu")
    numpy_side = MLPPredictor.from_artifact(numpy_mlp_artifact, spec=SPEC)
    rows = _rows(300, seed=1)
    for row in rows:
        assert numpy_side.predict_proba(row) == torch_side.predict_proba(row)
    np.testing.assert_allclose(
        numpy_side.predict_proba_batch(rows), torch_side.predict_proba_batch(rows), atol=1e-12
    )


def test_a_core_install_asks_for_the_torch_extra_in_one_line(
    numpy_mlp_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nautilus_ai.extras as extras

    monkeypatch.setattr(extras, "_distribution_installed", lambda name: name != "torch")
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None)
    # auto on a core install: numpy, no torch
    auto = build_predictor({"kind": "torch", "path": str(numpy_mlp_artifact)}, SPEC)
    assert isinstance(auto, MLPPredictor)
    for config, what in [
        ({"kind": "torch_random", "seed": 1}, "the torch_random backend"),
        ({"kind": "torch", "path": str(numpy_mlp_artifact), "device": "cuda"}, "device 'cuda'"),
    ]:
        with pytest.raises(MissingExtraError) as raised:
            build_predictor(config, SPEC)
        message = str(raised.value)
        assert "\n" not in message and what in message
        assert message.endswith("pip install 'nautilus-ai[torch]'")


def test_a_wrong_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no model_card\.json"):
        build_predictor({"kind": "torch", "path": str(tmp_path), "device": "cpu"}, SPEC)
