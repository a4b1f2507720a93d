"""Fixtures for the model backends: the v1 feature spec and real feature rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_rows import engine_rows
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec


@pytest.fixture(scope="session")
def spec() -> FeatureSpec:
    return FeatureSpec()


@pytest.fixture(scope="session")
def real_features(data_dir: Path) -> NDArray[np.float64]:
    """Warm v1 feature rows from one real month of EUR/USD 1-minute bars (~31k rows)."""
    return engine_rows(data_dir, ("201701",))
