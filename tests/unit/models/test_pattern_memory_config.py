"""The pattern memory backend's config refuses settings under which it could never act."""

from __future__ import annotations

import pytest

from nautilus_ai.models.registry import BackendConfigError, validate_backend_config


def test_min_neighbours_above_k_is_refused() -> None:
    # At most k neighbours are looked up: min_neighbours 50 with k 20 held on every bar, each
    # hold saying "hold: 180,000 eligible patterns (< 50)", and the config was taken silently.
    config = {"kind": "pattern_memory", "path": "store", "k": 20, "min_neighbours": 50}
    with pytest.raises(BackendConfigError, match=r"min_neighbours \(50\) must be <= k \(20\)"):
        validate_backend_config(config)
    validate_backend_config({**config, "min_neighbours": 20})
