"""The pipeline end to end on synthetic bars: artifact contents, versions, the predictor it
loads into, spec refusal, and the out-of-sample hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from training_bars import features_and_fold, patterned_bars

from nautilus_ai.features import FeatureSpec
from nautilus_ai.labels import LabelSpec
from nautilus_ai.models import SpecMismatchError, TorchPredictor, build_predictor
from nautilus_ai.training import (
    TrainConfig,
    module_logits,
    softmax_with_temperature,
    train_on_arrays,
)
from nautilus_ai.training.pipeline import select_min_confidence

CONFIG = TrainConfig(hidden=(16,), epochs=4, batch_size=256, threads=1, patience=2)
LABEL = LabelSpec(horizon=10, unit="atr", buy_threshold=1.0, sell_threshold=1.0, spread_pips=0.1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ts, ohlcv = patterned_bars(8_000)
    features, fold = features_and_fold(ts, ohlcv)
    root = tmp_path_factory.mktemp("artifacts")
    seen: list[Path] = []

    def oos(staged: Path) -> dict[str, Any]:
        seen.append(staged)
        assert (staged / "model.safetensors").is_file()
        return {"pnl": 12.5, "note": "fake backtest"}

    lines: list[str] = []
    result = train_on_arrays(
        ts, ohlcv, features, FeatureSpec(), fold=fold, label=LABEL, config=CONFIG,
        artifacts_root=root, name="unit-mlp", oos_evaluator=oos, progress=lines.append,
    )  # fmt: skip
    return result, root, seen, lines, (ts, ohlcv, features, fold)


def test_artifact_is_safetensors_and_json_only(trained: Any) -> None:
    result, root, seen, lines, _ = trained
    assert result.artifact_path == root / "unit-mlp" / "v1"
    assert sorted(p.name for p in result.artifact_path.iterdir()) == [
        "model.safetensors", "model_card.json",
    ]  # fmt: skip
    assert seen and not seen[0].exists()  # the staged copy was temporary
    assert lines[0].startswith("label: forward_return over 10 bars") and "  train " in lines[0]
    assert lines[1].startswith("epoch   1/4  train loss")


def test_card_has_everything_a_consumer_needs(trained: Any) -> None:
    result, *_, (_ts, _ohlcv, _features, fold) = trained
    card = result.card
    spec = FeatureSpec()
    assert card.spec_hash == spec.hash and card.feature_names == spec.names
    assert card.feature_spec == spec.to_dict()
    assert card.architecture.classes == ("sell", "hold", "buy")
    assert card.architecture.hidden == (16,)
    assert card.temperature == pytest.approx(result.trained.temperature) and card.temperature > 0
    assert card.standardisation.fit_window is not None
    assert card.standardisation.fit_window.start == fold.train.start
    assert card.standardisation.fit_window.end == fold.train.end
    assert card.train_window.end == fold.train.end  # type: ignore[union-attr]
    assert card.validation_window.start == fold.validation.start  # type: ignore[union-attr]
    assert card.test_window.end == fold.test.end  # type: ignore[union-attr]
    assert card.label["hash"] == LABEL.hash and card.label["horizon"] == 10
    assert card.label["embargo_bars"] == 10 and card.label["classes"] == ["sell", "hold", "buy"]
    for key in ("train", "validation", "test", "calibration", "class_balance", "training",
                "decision", "backtest_oos"):  # fmt: skip
        assert key in card.metrics
    test = card.metrics["test"]
    assert set(test) >= {"accuracy", "macro_f1", "per_class", "brier", "ece", "confusion"}  # type: ignore[arg-type]
    assert card.metrics["backtest_oos"] == {"pnl": 12.5, "note": "fake backtest"}
    assert {"torch", "numpy", "safetensors", "python"} <= set(card.library_versions)
    assert card.weights_sha256 is not None
    # the momentum in the synthetic bars is learnable: better than chance out of sample
    assert test["accuracy"] > 0.4  # type: ignore[index]


def test_the_predictor_reproduces_the_calibrated_probabilities(trained: Any) -> None:
    result, *_ = trained
    predictor = TorchPredictor.from_artifact(result.artifact_path, spec=FeatureSpec(), device="cpu")
    test = result.dataset.test
    expected = softmax_with_temperature(
        module_logits(result.trained.module, test.features), result.trained.temperature
    )
    got = np.array([predictor.predict_proba(row) for row in test.features[:200]])
    np.testing.assert_allclose(got, expected[:200], rtol=1e-9, atol=1e-12)
    batch = predictor.predict_proba_batch(test.features)
    np.testing.assert_allclose(batch, expected, rtol=1e-9, atol=1e-12)


def test_a_different_feature_spec_is_refused(trained: Any) -> None:
    result, *_ = trained
    other = FeatureSpec(rsi_period=10)
    with pytest.raises(SpecMismatchError, match="rsi_period"):
        TorchPredictor.from_artifact(result.artifact_path, spec=other)
    with pytest.raises(SpecMismatchError, match=result.card.spec_hash):
        build_predictor({"kind": "torch", "path": str(result.artifact_path)}, other)


def test_a_new_training_gets_a_new_version_and_never_touches_the_old(trained: Any) -> None:
    result, root, *_, (ts, ohlcv, features, fold) = trained
    before = {p.name: p.read_bytes() for p in result.artifact_path.iterdir()}
    again = train_on_arrays(
        ts, ohlcv, features, FeatureSpec(), fold=fold, label=LABEL,
        config=CONFIG.model_copy(update={"epochs": 1}), artifacts_root=root, name="unit-mlp",
    )  # fmt: skip
    assert again.artifact_path == root / "unit-mlp" / "v2"
    assert {p.name: p.read_bytes() for p in result.artifact_path.iterdir()} == before


def test_threshold_is_chosen_on_validation_for_the_signal_rate() -> None:
    probs = np.array(
        [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]]
    )
    y = np.array([0, 1, 2, 1, 2])
    d = select_min_confidence(probs, y, target_signal_rate=0.4)  # 2 of 5 rows
    assert d["min_confidence"] == 0.6 and d["validation_signal_rate"] == 0.4
    assert d["validation_signal_precision"] == 1.0 and d["selected_on"] == "validation"
    never = select_min_confidence(np.tile([0.1, 0.8, 0.1], (4, 1)), np.ones(4, int), 0.1)
    assert never["min_confidence"] == 1.0 and never["validation_signal_precision"] is None


@pytest.mark.parametrize("empty", ["validation", "test"])
def test_a_validation_or_test_window_without_rows_is_refused_and_nothing_is_stored(
    trained: Any, tmp_path: Path, empty: str
) -> None:
    """A validation window inside the embargo (or a test window past the data) used to store a
    model with no early stopping, calibration or min_confidence (or no out-of-sample figure)."""
    from nautilus_ai.datasets import Fold, Window

    _, _, _, _, (ts, ohlcv, features, fold) = trained
    start = fold.train.end_ns if empty == "validation" else int(ts[-1]) + 10 * 60_000_000_000
    short = Window(start, start + 5 * 60_000_000_000)  # 5 bars < the 10-bar embargo
    windows = {"validation": fold.validation, "test": None, empty: short}
    bad = Fold(train=fold.train, **windows)
    with pytest.raises(ValueError, match=rf"no usable {empty} rows in \[.*widen or move"):
        train_on_arrays(
            ts, ohlcv, features, FeatureSpec(), fold=bad, label=LABEL, config=CONFIG,
            artifacts_root=tmp_path, name="empty",
        )  # fmt: skip
    assert not (tmp_path / "empty").exists()


def test_training_labels_of_one_class_are_refused(trained: Any, tmp_path: Path) -> None:
    """--buy 50 --sell 50 labelled every row 'hold' and still stored a model, exit 0."""
    _, _, _, _, (ts, ohlcv, features, fold) = trained
    wide = LabelSpec(horizon=10, buy_threshold=50.0, sell_threshold=50.0)
    refused = r"every training label is 'hold' \(.* rows in \[.*buy > 50"
    with pytest.raises(ValueError, match=refused):
        train_on_arrays(
            ts, ohlcv, features, FeatureSpec(), fold=fold, label=wide, config=CONFIG,
            artifacts_root=tmp_path, name="one-class",
        )  # fmt: skip
    assert not (tmp_path / "one-class").exists()


def test_validation_labels_of_one_class_are_refused(trained: Any, tmp_path: Path) -> None:
    """A validation window whose labels are all one class (`train --buy 30 --sell 30` on the
    demo: 0.3 % signals in training, none in validation) stored a model, exit 0: early
    stopping, the temperature and the suggested min_confidence were chosen on a split where
    no trade signal exists (the temperature ran to its bound)."""
    from nautilus_ai.datasets import Fold, Window

    _, _, _, _, (ts, ohlcv, features, fold) = trained
    start = fold.train.end_ns
    one_row = Window(start, start + 21 * 60_000_000_000)  # 10 embargoed + 10 ahead: 1 row
    bad = Fold(train=fold.train, validation=one_row)
    with pytest.raises(ValueError, match=r"every validation label is '\w+' \(1 rows in \[.*"):
        train_on_arrays(
            ts, ohlcv, features, FeatureSpec(), fold=bad, label=LABEL, config=CONFIG,
            artifacts_root=tmp_path, name="one-class-validation",
        )  # fmt: skip
    assert not (tmp_path / "one-class-validation").exists()


def test_a_parallel_run_storing_the_same_name_meanwhile_is_not_a_failure(
    trained: Any, tmp_path: Path
) -> None:
    """Two `train --backtest` runs of one name at once: the other stores v1 while this one is
    in its out-of-sample backtest. This run is stored as v2 (it failed at the very end, its
    training and backtest lost, before), with figures measured on v2 (it was stored with v1's
    figures), and the other's v1 is untouched."""
    *_, (ts, ohlcv, features, fold) = trained
    root = tmp_path / "artifacts"
    evaluated: list[str] = []

    def other_run_stores_v1(staged: Path) -> dict[str, Any]:
        from nautilus_ai.models.card import read_model_card

        evaluated.append(read_model_card(staged).model_id)
        if len(evaluated) == 1:
            (root / "race-mlp" / "v1").mkdir(parents=True)
            (root / "race-mlp" / "v1" / "marker").write_text("the other run's model")
        return {"pnl": 1.0, "model": evaluated[-1]}

    result = train_on_arrays(
        ts, ohlcv, features, FeatureSpec(), fold=fold, label=LABEL, config=CONFIG,
        artifacts_root=root, name="race-mlp", oos_evaluator=other_run_stores_v1,
    )  # fmt: skip
    assert result.artifact_path == root / "race-mlp" / "v2"
    assert result.card.version == 2 and result.card.model_id == "race-mlp/2"
    assert result.card.metrics["backtest_oos"] == {"pnl": 1.0, "model": "race-mlp/2"}
    assert evaluated == ["race-mlp/1", "race-mlp/2"]
    assert (root / "race-mlp" / "v1" / "marker").read_text() == "the other run's model"
    assert sorted(p.name for p in (root / "race-mlp").iterdir()) == ["v1", "v2"]
