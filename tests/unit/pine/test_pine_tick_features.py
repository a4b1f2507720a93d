"""Pine export and the tick features of spec v2: none can be computed in Pine (it sees bars, not
quote ticks), so scripts say they are omitted and a model reading one is refused in one line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec
from nautilus_ai.features.spec import TICK_FEATURE_NAMES
from nautilus_ai.features.ticks import PINE_UNSUPPORTED_TICK_FEATURES
from nautilus_ai.models.card import MLPArchitecture, ModelCard
from nautilus_ai.models.mlp import save_mlp_artifact
from nautilus_ai.pine.export import export_mlp_artifact, export_rule
from nautilus_ai.pine.features import check_pine_computable


def test_every_tick_feature_is_listed_as_not_computable_in_pine() -> None:
    assert tuple(PINE_UNSUPPORTED_TICK_FEATURES) == TICK_FEATURE_NAMES


def test_a_v2_script_says_the_tick_features_are_omitted_and_v1_has_no_such_line() -> None:
    v2 = export_rule(FeatureSpec()).script
    line = "// Not exported: the tick features tick_spread, tick_mid_ret, tick_elapsed_s"
    assert line in v2
    assert "f_tick_" not in v2  # nothing computes them
    assert "Not exported" not in export_rule(FeatureSpec(version=1)).script


def test_a_model_reading_a_tick_feature_is_refused_naming_it(tmp_path: Path) -> None:
    spec = FeatureSpec()
    names = spec.tick_vector_names
    k = len(names)
    card = ModelCard(
        name="tick-mlp",
        version=1,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        description="reads the tick block (test)",
        feature_spec=dict(spec.to_dict()),  # type: ignore[arg-type]
        spec_hash=spec.hash,
        feature_names=names,
        architecture=MLPArchitecture(input_dim=k, hidden=(4,), activation="relu"),
    )
    rng = np.random.default_rng(1)
    folder = save_mlp_artifact(
        [rng.uniform(-1, 1, (4, k)), rng.uniform(-1, 1, (3, 4))],
        [np.zeros(4), np.zeros(3)],
        np.zeros(k),
        np.ones(k),
        card,
        tmp_path,
    )
    with pytest.raises(ValueError, match=r"model tick-mlp/1 reads 'tick_spread', which Pine"):
        export_mlp_artifact(folder)


def test_check_names_the_reason() -> None:
    with pytest.raises(ValueError, match=r"'tick_imbalance'.*no quote sizes"):
        check_pine_computable(["rsi", "tick_imbalance"], owner="model m/1")
    check_pine_computable(FeatureSpec().names, owner="model m/1")
