"""An MLP artifact written with numpy (no torch), for the core-leg tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models.card import MLPArchitecture, ModelCard
from nautilus_ai.models.mlp import save_mlp_artifact


def numpy_mlp(seed: int, hidden: int = 16) -> tuple[list[np.ndarray], list[np.ndarray], ModelCard]:
    """Weights, biases and card of a random 28 -> hidden -> 3 MLP (a non-trivial standardisation,
    temperature 0.5)."""
    spec = FeatureSpec()
    k = len(spec.names)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.5, 0.5, (hidden, k)), rng.uniform(-0.5, 0.5, (3, hidden))]
    biases = [rng.uniform(-0.1, 0.1, hidden), rng.uniform(-0.1, 0.1, 3)]
    card = ModelCard(
        name=f"numpy-mlp-s{seed}",
        version=1,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        description="random weights written with numpy (tests; no edge)",
        feature_spec=dict(spec.to_dict()),  # type: ignore[arg-type]
        spec_hash=spec.hash,
        feature_names=tuple(spec.names),
        architecture=MLPArchitecture(input_dim=k, hidden=(hidden,), activation="relu"),
        temperature=0.5,
    )
    return weights, biases, card


@pytest.fixture
def numpy_mlp_artifact(tmp_path: Path) -> Path:
    weights, biases, card = numpy_mlp(seed=5)
    k = weights[0].shape[1]
    mean = np.linspace(-0.2, 0.2, k)
    std = np.linspace(0.5, 2.0, k)
    return save_mlp_artifact(weights, biases, mean, std, card, tmp_path / "artifacts")
