"""The LightGBM backend: our numpy evaluator against LightGBM itself, batch == per row bit for
bit, the artifact (text model + card), spec refusal, the registry config, and inference with the
``lightgbm`` package absent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_rows import NamedSpec
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import (
    ArtifactError,
    BackendConfigError,
    MarketContext,
    PredictionError,
    SpecMismatchError,
    build_predictor,
)
from nautilus_ai.models.lightgbm import (
    MODEL_FILE,
    LightGBMPredictor,
    card_for,
    read_gbt_card,
    save_gbt_artifact,
)
from nautilus_ai.models.lightgbm_trees import (
    LightGBMModelError,
    TreeEvaluator,
    parse_lightgbm_model,
)

CTX = MarketContext("EUR/USD.SIM", 0)


def _labels(x: NDArray[np.float64], seed: int) -> NDArray[np.int64]:
    """A learnable, noisy 3-class target from a few feature columns."""
    rng = np.random.default_rng(seed)
    score = x[:, 0] - 0.5 * x[:, 3] + 0.3 * x[:, 7] + rng.normal(0.0, x[:, 0].std() + 1e-9, len(x))
    lo, hi = np.quantile(score, [0.35, 0.65])
    return np.where(score < lo, 0, np.where(score > hi, 2, 1)).astype(np.int64)


def _booster(x: NDArray[np.float64], y: NDArray[np.int64], **params: object) -> lgb.Booster:
    base = {
        "objective": "multiclass", "num_class": 3, "verbosity": -1, "deterministic": True,
        "force_row_wise": True, "num_threads": 1, "seed": 3, "num_leaves": 15,
        "min_data_in_leaf": 50, "learning_rate": 0.1,
    }  # fmt: skip
    base.update(params)
    rounds = int(base.pop("rounds", 30))  # type: ignore[call-overload]
    names = list(FeatureSpec().names)
    return lgb.train(base, lgb.Dataset(x, label=y, feature_name=names), num_boost_round=rounds)


@pytest.fixture(scope="module")
def rows(real_features: NDArray[np.float64]) -> NDArray[np.float64]:
    return real_features[:12_000]


@pytest.fixture(scope="module")
def boosters(rows: NDArray[np.float64]) -> dict[str, lgb.Booster]:
    """Shapes that stress the evaluator: deep leaf-wise trees, stumps, one-leaf trees."""
    y = _labels(rows, 0)
    return {
        "default": _booster(rows, y),
        "deep": _booster(rows, y, num_leaves=64, max_depth=-1, min_data_in_leaf=5, rounds=8),
        "stumps": _booster(rows, y, num_leaves=2, rounds=40),
        # the middle class gains little from any split: its trees stay single leaves
        "single_leaves": _booster(rows, y, min_gain_to_split=3000.0, rounds=10),
    }


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory, boosters: dict[str, lgb.Booster]) -> Path:
    text = boosters["default"].model_to_string()
    card = card_for(
        parse_lightgbm_model(text), FeatureSpec(), name="unit-gbt", temperature=0.8,
        metrics={"decision": {"min_confidence": 0.45}},
    )  # fmt: skip
    return save_gbt_artifact(text, card, tmp_path_factory.mktemp("artifacts"))


def test_raw_scores_equal_lightgbm_bit_for_bit(
    boosters: dict[str, lgb.Booster], real_features: NDArray[np.float64]
) -> None:
    unseen = real_features[15_000:20_000]
    for name, booster in boosters.items():
        ensemble = parse_lightgbm_model(booster.model_to_string())
        evaluator = TreeEvaluator(ensemble)
        expected = booster.predict(unseen, raw_score=True)
        batch = evaluator.raw_scores(unseen)
        assert batch.tobytes() == np.ascontiguousarray(expected).tobytes(), name
        assert np.array_equal(evaluator.leaves(unseen), booster.predict(unseen, pred_leaf=True)
                              + ensemble.tree_leaves[:-1]), name  # fmt: skip
        for i in range(0, len(unseen), 97):
            assert evaluator.raw_scores_one(unseen[i]).tobytes() == batch[i].tobytes(), name
    single = parse_lightgbm_model(boosters["single_leaves"].model_to_string())
    assert (single.tree_root < 0).any(), "the fixture should hold single-leaf trees"
    assert parse_lightgbm_model(boosters["deep"].model_to_string()).max_leaves == 64


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_rows_on_and_around_split_thresholds_take_lightgbm_s_path(
    data: st.DataObject, boosters: dict[str, lgb.Booster], rows: NDArray[np.float64]
) -> None:
    """Feature values exactly at a threshold (go left) and one ulp above (go right)."""
    booster = boosters[data.draw(st.sampled_from(sorted(boosters)))]
    ensemble = parse_lightgbm_model(booster.model_to_string())
    evaluator = TreeEvaluator(ensemble)
    x = rows[data.draw(st.integers(0, len(rows) - 1))].copy()
    nodes = data.draw(st.lists(st.integers(0, ensemble.num_nodes - 1), min_size=1, max_size=8))
    for node in nodes:
        value = ensemble.threshold[node]
        if data.draw(st.booleans()):
            value = np.nextafter(value, np.inf)
        x[ensemble.split_feature[node]] = value
    expected = booster.predict(x[None, :], raw_score=True)[0]
    assert evaluator.raw_scores_one(x).tobytes() == expected.tobytes()
    assert evaluator.raw_scores(x[None, :])[0].tobytes() == expected.tobytes()


def test_predict_batch_equals_predict_row_by_row(
    artifact: Path, real_features: NDArray[np.float64]
) -> None:
    predictor = LightGBMPredictor.from_artifact(artifact, spec=FeatureSpec())
    assert predictor.batch_exact is True
    rows = real_features[20_000:23_000]
    batch = predictor.predict_batch(rows)
    proba = predictor.predict_proba_batch(rows)
    for i, row in enumerate(rows):
        one = predictor.predict(row, CTX)
        b = batch[i]
        assert (one.action, one.confidence, one.risk_score, one.model_id, one.reason) == (
            b.action, b.confidence, b.risk_score, b.model_id, b.reason,
        )  # fmt: skip
        assert predictor.predict_proba(row) == tuple(proba[i].tolist())
    actions = {p.action for p in batch}
    assert len(actions) >= 2, "a model that only ever says one thing proves little"


def test_probabilities_are_the_tempered_softmax_of_lightgbm(
    artifact: Path, boosters: dict[str, lgb.Booster], real_features: NDArray[np.float64]
) -> None:
    predictor = LightGBMPredictor.from_artifact(artifact, spec=FeatureSpec())
    rows = real_features[5_000:6_000]
    raw = boosters["default"].predict(rows, raw_score=True) / 0.8
    expected = np.exp(raw - raw.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.allclose(predictor.predict_proba_batch(rows), expected, rtol=0, atol=1e-14)


def test_artifact_is_text_and_json_and_never_overwritten(artifact: Path) -> None:
    assert sorted(p.name for p in artifact.iterdir()) == [MODEL_FILE, "model_card.json"]
    card = read_gbt_card(artifact)
    assert card.kind == "lightgbm" and card.model_id == "unit-gbt/1"
    assert card.model_sha256 and card.library_versions["numpy"]
    assert card.architecture.trees == 3 * card.architecture.iterations
    text = (artifact / MODEL_FILE).read_text()
    with pytest.raises(ArtifactError, match="never overwritten"):
        save_gbt_artifact(text, card, artifact.parent.parent)


def test_a_changed_model_file_is_refused(artifact: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    text = (artifact / MODEL_FILE).read_text()
    (copy / MODEL_FILE).write_text(text.replace("shrinkage=0.1", "shrinkage=0.2", 1))
    (copy / "model_card.json").write_text((artifact / "model_card.json").read_text())
    with pytest.raises(ArtifactError, match="SHA-256"):
        LightGBMPredictor.from_artifact(copy, spec=FeatureSpec())


def test_an_edited_card_is_refused(artifact: Path, tmp_path: Path) -> None:
    # The card's temperature (or class order) edited by hand loaded and changed every answer:
    # model_sha256 covers model.txt only. The card's own seal now refuses it.
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(artifact, copy)
    card = json.loads((copy / "model_card.json").read_text())
    card["temperature"] = 0.2
    (copy / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match="LightGBM model card was edited or corrupted"):
        LightGBMPredictor.from_artifact(copy, spec=FeatureSpec())


def test_a_model_file_that_is_not_text_is_named(artifact: Path, tmp_path: Path) -> None:
    # Under a card without a checksum, a binary model.txt raised "'utf-8' codec can't decode"
    # naming no file.
    import json

    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / MODEL_FILE).write_bytes(b"\xff\xfe" + (artifact / MODEL_FILE).read_bytes())
    card = json.loads((artifact / "model_card.json").read_text())
    card.pop("model_sha256")
    card.pop("card_sha256")  # a card written before cards were sealed
    (copy / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match=rf"{MODEL_FILE}.*UTF-8"):
        LightGBMPredictor.from_artifact(copy, spec=FeatureSpec())


def test_another_feature_spec_is_refused_naming_the_first_difference(artifact: Path) -> None:
    with pytest.raises(SpecMismatchError, match=r"first differing field rsi_period: 14 != 21"):
        LightGBMPredictor.from_artifact(artifact, spec=FeatureSpec(rsi_period=21))
    renamed = NamedSpec(("ret_1_renamed", *FeatureSpec().names[1:]))
    with pytest.raises(SpecMismatchError, match=r"feature #0 is 'ret_1' in the model"):
        build_predictor({"kind": "lightgbm", "path": str(artifact)}, renamed)


def test_registry_builds_it_and_names_unknown_fields(artifact: Path) -> None:
    predictor = build_predictor({"kind": "lightgbm", "path": str(artifact)}, FeatureSpec())
    assert isinstance(predictor, LightGBMPredictor)
    with pytest.raises(BackendConfigError, match=r"backend 'lightgbm': device: unknown key"):
        build_predictor({"kind": "lightgbm", "path": str(artifact), "device": "cpu"}, FeatureSpec())


def test_bad_inputs_raise_prediction_errors(artifact: Path) -> None:
    predictor = LightGBMPredictor.from_artifact(artifact, spec=FeatureSpec())
    n = len(FeatureSpec().names)
    with pytest.raises(PredictionError, match="shape"):
        predictor.predict(np.zeros(n - 1), CTX)
    row = np.zeros(n)
    row[FeatureSpec().index("rsi")] = np.nan
    with pytest.raises(PredictionError, match="'rsi' is nan"):
        predictor.predict(row, CTX)
    with pytest.raises(PredictionError, match="'rsi' in row 1"):
        predictor.predict_batch(np.vstack([np.zeros(n), row]))
    with pytest.raises(PredictionError, match="built for spec"):
        predictor.predict(np.zeros(n), MarketContext("EUR/USD.SIM", 0, spec_hash="other"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("objective=multiclass num_class:3", "objective=binary", 1),
         "objective 'binary' is not supported"),
        (lambda t: t.replace("num_cat=0", "num_cat=1", 1), "categorical splits"),
        (lambda t: t.replace("decision_type=2", "decision_type=6", 1), "'Zero' missing type"),
        (lambda t: t.split("Tree=1")[0], "not a positive multiple of num_class"),
        (lambda t: t.replace("tree\n", "nope\n", 1), "not a LightGBM text model"),
    ],
)  # fmt: skip
def test_unsupported_or_broken_models_are_named(
    boosters: dict[str, lgb.Booster], edit: object, message: str
) -> None:
    text = boosters["default"].model_to_string()
    with pytest.raises(LightGBMModelError, match=message):
        parse_lightgbm_model(edit(text), source="m.txt")  # type: ignore[operator]


def test_inference_and_the_core_work_without_lightgbm(artifact: Path) -> None:
    """``lightgbm`` blocked: the core imports, a stored model predicts, training says which
    extra to install, in one line."""
    row = json.dumps([0.0] * len(FeatureSpec().names))
    code = f"""
import sys
sys.modules["lightgbm"] = None  # import lightgbm -> ImportError
import numpy as np
import nautilus_ai, nautilus_ai.models, nautilus_ai.training
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import MarketContext, build_predictor
p = build_predictor({{"kind": "lightgbm", "path": {str(artifact)!r}}}, FeatureSpec())
print(p.predict(np.array({row}), MarketContext("X", 0)).action.value)
from nautilus_ai.training.gbt import MissingExtraError, require_lightgbm
try:
    require_lightgbm()
except MissingExtraError as exc:
    print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] in ("buy", "sell", "hold")
    assert lines[1].startswith("LightGBM training needs the optional 'gbt' extra")
    assert "pip install 'nautilus-ai[gbt]'" in lines[1]
