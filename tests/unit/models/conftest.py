"""Fixtures for the model backends: a stand-in feature spec and real-looking feature rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from standin_features import StandinSpec, load_histdata_month, standin_features


@pytest.fixture(scope="session")
def spec() -> StandinSpec:
    return StandinSpec()


@pytest.fixture(scope="session")
def real_features(data_dir: Path) -> NDArray[np.float64]:
    """Warm v1 feature rows from one real month of EUR/USD 1-minute bars (~31k rows)."""
    features = standin_features(load_histdata_month(data_dir, "201701"))
    warm = features[:, -1] == 1.0
    return np.ascontiguousarray(features[warm])
