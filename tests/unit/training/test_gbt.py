"""LightGBM training on the MLP's datasets: determinism, early stopping, calibration, the card,
and the artifact loading into a predictor that reproduces the training's own figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from training_bars import features_and_fold, patterned_bars

from nautilus_ai.features import FeatureSpec
from nautilus_ai.labels import LabelSpec
from nautilus_ai.models import build_predictor
from nautilus_ai.models.lightgbm import LightGBMPredictor
from nautilus_ai.training.gbt import (
    GBTConfig,
    MissingExtraError,
    fit_lightgbm,
    train_gbt_on_arrays,
)
from nautilus_ai.training.metrics import classification_metrics
from nautilus_ai.workflows.oos import artifact_predictor_config, suggested_min_confidence

CONFIG = GBTConfig(threads=1, max_iterations=60, early_stopping_rounds=8, min_child_samples=40)
LABEL = LabelSpec(horizon=10, unit="atr", buy_threshold=1.0, sell_threshold=1.0, spread_pips=0.1)


@pytest.fixture(scope="module")
def data() -> tuple[Any, ...]:
    ts, ohlcv = patterned_bars(8_000)
    features, fold = features_and_fold(ts, ohlcv)
    return ts, ohlcv, features, fold


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data: tuple[Any, ...]) -> Any:
    ts, ohlcv, features, fold = data
    root = tmp_path_factory.mktemp("artifacts")
    seen: list[Path] = []

    def oos(staged: Path) -> dict[str, Any]:
        seen.append(staged)
        assert (staged / "model.txt").is_file()
        return {"pnl": -3.5}

    lines: list[str] = []
    result = train_gbt_on_arrays(
        ts, ohlcv, features, FeatureSpec(), fold=fold, label=LABEL, config=CONFIG,
        artifacts_root=root, name="unit-gbt", oos_evaluator=oos, progress=lines.append,
    )  # fmt: skip
    return result, root, seen, lines


def test_same_data_and_seed_give_the_same_model_byte_for_byte(data: tuple[Any, ...]) -> None:
    ts, ohlcv, features, fold = data
    from nautilus_ai.datasets import build_dataset

    dataset = build_dataset(ts, features, FeatureSpec().names, ohlcv, LABEL, fold)
    assert dataset.validation is not None
    args = (dataset.train.features, dataset.train.y, dataset.validation.features,
            dataset.validation.y)  # fmt: skip
    first = fit_lightgbm(*args, feature_names=dataset.feature_names, config=CONFIG)
    again = fit_lightgbm(*args, feature_names=dataset.feature_names, config=CONFIG)
    assert first.model_text == again.model_text
    other_seed = fit_lightgbm(
        *args, feature_names=dataset.feature_names, config=CONFIG.model_copy(update={"seed": 8})
    )
    assert other_seed.model_text != first.model_text  # the seed reaches the bagging draws


def test_early_stopping_keeps_the_best_validation_iteration(trained: Any) -> None:
    result, *_ = trained
    fit = result.trained.fit
    history = fit.history
    val = [h["val_loss"] for h in history]
    assert fit.best_iteration == int(np.argmin(val)) + 1
    assert fit.stopped_early == (fit.iterations_run < CONFIG.max_iterations)
    if fit.stopped_early:
        assert fit.iterations_run == fit.best_iteration + CONFIG.early_stopping_rounds
    assert result.trained.ensemble.num_iterations == fit.best_iteration


def test_card_and_artifact(trained: Any) -> None:
    result, root, seen, lines = trained
    assert result.artifact_path == root / "unit-gbt" / "v1"
    assert sorted(p.name for p in result.artifact_path.iterdir()) == [
        "model.txt", "model_card.json",
    ]  # fmt: skip
    assert seen and not seen[0].exists()
    card = result.card
    assert card.kind == "lightgbm" and card.spec_hash == FeatureSpec().hash
    assert card.label["hash"] == LABEL.hash and card.label["horizon"] == 10
    assert card.label["embargo_bars"] == 10
    assert card.train_window is not None and card.test_window is not None
    assert card.library_versions["lightgbm"].startswith("4.")
    assert card.metrics["backtest_oos"] == {"pnl": -3.5}
    training = card.metrics["training"]
    assert isinstance(training, dict) and training["family"] == "lightgbm"
    assert card.metrics["calibration"]["method"] == "temperature scaling"  # type: ignore[index]
    assert card.temperature == result.trained.temperature > 0
    assert lines[0].startswith("label: forward_return over 10 bars")
    assert any(line.startswith("iteration    1/60") for line in lines)
    assert "OUT-OF-SAMPLE" in result.summary_text()
    assert artifact_predictor_config(result.artifact_path)["kind"] == "lightgbm"


def test_the_stored_model_reproduces_the_training_figures(trained: Any) -> None:
    result, *_ = trained
    predictor = build_predictor(artifact_predictor_config(result.artifact_path), FeatureSpec())
    assert isinstance(predictor, LightGBMPredictor)
    test = result.dataset.test
    probabilities = predictor.predict_proba_batch(test.features)
    figures = classification_metrics(probabilities, test.y, ("sell", "hold", "buy"))
    assert figures == result.card.metrics["test"]
    # the validation-chosen threshold lets through the target share of validation bars, counted
    # with the predictor's own floats
    val = result.dataset.validation
    threshold = suggested_min_confidence(result.artifact_path)
    assert threshold is not None
    calls = [
        p.action.value != "hold" and p.confidence >= threshold
        for p in predictor.predict_batch(val.features)
    ]
    decision = result.card.metrics["decision"]
    assert np.mean(calls) == pytest.approx(decision["validation_signal_rate"])  # type: ignore[index]


def test_calibration_lowers_validation_log_loss(trained: Any) -> None:
    result, *_ = trained
    cal = result.trained.metrics["calibration"]
    assert cal["validation_ece_after"] >= 0
    from nautilus_ai.models.lightgbm import softmax_probabilities
    from nautilus_ai.models.lightgbm_trees import TreeEvaluator
    from nautilus_ai.training.metrics import log_loss

    val = result.dataset.validation
    raw = TreeEvaluator(result.trained.ensemble).raw_scores(val.features)
    before = log_loss(softmax_probabilities(raw, 1.0), val.y)
    after = log_loss(softmax_probabilities(raw, result.trained.temperature), val.y)
    assert after <= before


def test_config_is_strict() -> None:
    with pytest.raises(ValueError, match="num_leaves"):
        GBTConfig(num_leaves=65)
    with pytest.raises(ValueError, match=r"Extra inputs are not permitted"):
        GBTConfig(n_estimators=10)  # type: ignore[call-arg]


def test_training_without_lightgbm_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, data: tuple[Any, ...], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    ts, ohlcv, features, fold = data
    with pytest.raises(MissingExtraError, match=r"optional 'gbt' extra: pip install"):
        train_gbt_on_arrays(ts, ohlcv, features, FeatureSpec(), fold=fold, artifacts_root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_out_of_sample_figures_go_with_the_version_stored(
    data: tuple[Any, ...], tmp_path: Path
) -> None:
    """Another run of the same name stored v1 while this run's out-of-sample backtest ran on
    its staged v1: this run was stored as v2 with the figures measured on model race-gbt/1
    (its reports named that model). Now the version is held during the backtest (a parallel
    run takes the next), and a run that took it anyway makes this one evaluate again as v2."""
    from nautilus_ai.artifacts import next_version
    from nautilus_ai.models.lightgbm import read_gbt_card

    ts, ohlcv, features, fold = data
    root = tmp_path / "artifacts"
    evaluated: list[tuple[str, int]] = []

    def oos(staged: Path) -> dict[str, Any]:
        model_id = read_gbt_card(staged).model_id
        evaluated.append((model_id, next_version(root, "race-gbt")))
        if len(evaluated) == 1:  # a run that holds no reservation stores v1 meanwhile
            (root / "race-gbt" / "v1").mkdir(parents=True)
        return {"evaluated": model_id}

    result = train_gbt_on_arrays(
        ts, ohlcv, features, FeatureSpec(), fold=fold, label=LABEL, config=CONFIG,
        artifacts_root=root, name="race-gbt", oos_evaluator=oos,
    )  # fmt: skip
    assert result.card.model_id == "race-gbt/2"
    assert result.card.metrics["backtest_oos"] == {"evaluated": "race-gbt/2"}
    # While v1 (then v2) was evaluated, a parallel run would have been given the next one.
    assert evaluated == [("race-gbt/1", 2), ("race-gbt/2", 3)]
    assert sorted(p.name for p in (root / "race-gbt").iterdir()) == ["v1", "v2"]
    assert next_version(root, "race-gbt") == 3
