"""Reading an MLP artifact without torch: every inconsistency is an error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import ArtifactError, TorchPredictor, save_artifact
from nautilus_ai.pine.artifact import load_mlp_weights

SPEC = FeatureSpec()


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    model = TorchPredictor.random(SPEC, seed=2, hidden=(4,), device="cpu")
    return save_artifact(model.module, model.card, tmp_path)


def _rewrite(folder: Path, tensors: dict[str, np.ndarray]) -> None:
    save_file(tensors, str(folder / "model.safetensors"))
    card = json.loads((folder / "model_card.json").read_text())
    card["weights_sha256"] = card["card_sha256"] = None
    (folder / "model_card.json").write_text(json.dumps(card))


def test_loads_the_same_numbers_as_torch(artifact: Path) -> None:
    weights = load_mlp_weights(artifact)
    module = TorchPredictor.from_artifact(artifact, spec=SPEC, device="cpu").module
    assert np.array_equal(weights.weights[0], module.layers[0].weight.detach().double().numpy())
    assert np.array_equal(weights.mean, module.input_mean.double().numpy())


def test_a_changed_file_is_refused(artifact: Path) -> None:
    blob = bytearray((artifact / "model.safetensors").read_bytes())
    blob[-1] ^= 1
    (artifact / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="does not match the card"):
        load_mlp_weights(artifact)


def test_missing_tensor_is_named(artifact: Path) -> None:
    tensors = load_file(str(artifact / "model.safetensors"))
    del tensors["layers.1.bias"]
    _rewrite(artifact, tensors)
    with pytest.raises(ArtifactError, match=r"missing \['layers.1.bias'\]"):
        load_mlp_weights(artifact)


def test_wrong_shape_is_named(artifact: Path) -> None:
    tensors = load_file(str(artifact / "model.safetensors"))
    tensors["layers.0.bias"] = np.zeros(5, dtype=np.float32)
    _rewrite(artifact, tensors)
    with pytest.raises(ArtifactError, match=r"'layers.0.bias' has shape \(5,\)"):
        load_mlp_weights(artifact)


def test_non_positive_std_names_the_feature(artifact: Path) -> None:
    tensors = load_file(str(artifact / "model.safetensors"))
    tensors["input_std"][SPEC.index("rsi")] = 0.0
    _rewrite(artifact, tensors)
    with pytest.raises(ArtifactError, match=r"input_std\[\d+\] \(rsi\)"):
        load_mlp_weights(artifact)


def test_not_an_artifact(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no model_card\.json"):
        load_mlp_weights(tmp_path)
