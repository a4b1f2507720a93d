"""Embedded models carry the exact numbers of the Python models."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import RuleConfig, TorchPredictor, save_artifact
from nautilus_ai.pine.artifact import load_mlp_weights
from nautilus_ai.pine.distill import fit_tree
from nautilus_ai.pine.embed import embed_mlp, embed_rule, embed_tree, reference_erf

SPEC = FeatureSpec()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = TorchPredictor.random(SPEC, seed=11, hidden=(8, 4), device="cpu")
    return save_artifact(model.module, model.card, tmp_path_factory.mktemp("a"))


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]


def test_mlp_rows_are_the_exact_float64_of_the_stored_float32(artifact: Path) -> None:
    weights = load_mlp_weights(artifact)
    code = "\n".join(embed_mlp(weights, SPEC).lines)
    for layer, (w, b) in enumerate(zip(weights.weights, weights.biases, strict=True)):
        rows = re.findall(
            rf"matrix\.add_row\(NAI_W{layer}, (\d+), array\.from\((.*?)\)\)", code, re.S
        )
        assert len(rows) == w.shape[0]
        for r, body in rows:
            values = _numbers(body)
            expected = [*w[int(r)].tolist(), float(b[int(r)])]
            assert values == expected  # exact, not approximately
    assert weights.layer_sizes == (len(SPEC.names), 8, 4, 3)
    assert weights.parameter_count == 28 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3


def test_mlp_standardisation_and_temperature_are_written_out(artifact: Path) -> None:
    weights = load_mlp_weights(artifact)
    code = "\n".join(embed_mlp(weights, SPEC).lines)
    for name in SPEC.names:
        assert f"(f_{name} - 0.0) / 1.0" in code  # identity standardisation of random models
    assert "array.get(nai_logits, 0) / 0.1" in code
    assert "math.max(array.get(nai_h1, 0), 0.0)" in code
    assert "=>" not in code  # no user function: PineTS rounds their scalar results
    assert (
        "int nai_k = nai_p0 >= nai_p1 and nai_p0 >= nai_p2 ? 0 : nai_p1 >= nai_p2 ? 1 : 2" in code
    )
    # class order [sell, hold, buy] -> signs -1, 0, 1
    assert "(nai_k == 0 ? -1 : nai_k == 1 ? 0 : 1)" in code


def test_mlp_refuses_another_spec(artifact: Path) -> None:
    weights = load_mlp_weights(artifact)
    with pytest.raises(ValueError, match="feature lists differ"):
        embed_mlp(weights, FeatureSpec(rsi_period=21))


def test_rule_constants_are_the_predictors_floats() -> None:
    config = RuleConfig(trend_min_atr=1.5, rsi_overbought=0.8, allow_low_volatility=True)
    code = "\n".join(embed_rule(SPEC, config).lines)
    assert "r_e50 >= 1.5 and r_e20 >= 0.0" in code
    assert f"/ {0.8 - 0.5!r}" in code  # the derived constant, as Python computed it
    assert "bool r_ok = f_warm >= 0.5 and true" in code
    strict = "\n".join(embed_rule(SPEC).lines)
    assert "not (f_vol_regime < -0.5)" in strict


def test_tree_arrays_match_the_tree() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, len(SPEC.names)))
    sign = np.where(x[:, 3] > 0.5, 1, 0)
    tree = fit_tree(x, sign, np.full(500, 0.8), np.full(500, 0.2), feature_names=SPEC.names)
    model = embed_tree(tree, SPEC, model_id="m/1", description=("d",))
    code = "\n".join(model.lines)
    feature = re.search(r"NAI_T_FEATURE = array\.from\((.*?)\)", code, re.S)
    assert feature is not None
    assert [int(v) for v in feature.group(1).replace("\n", " ").split(",")] == tree.feature.tolist()
    assert "while array.get(NAI_T_FEATURE, nai_node) >= 0" in code
    assert model.kind == "tree" and model.description == ("d",)


def test_erf_twin_matches_math_erf_on_a_grid() -> None:
    grid = np.linspace(-8, 8, 20_001)
    err = max(abs(reference_erf(v) - math.erf(v)) for v in grid)
    assert err < 1e-14


@given(st.floats(min_value=-40, max_value=40))
def test_erf_twin_matches_math_erf(value: float) -> None:
    assert reference_erf(value) == pytest.approx(math.erf(value), abs=1e-14)
