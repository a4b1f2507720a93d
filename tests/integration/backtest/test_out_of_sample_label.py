"""A backtest file labelled ``sample: out-of-sample`` whose bars overlap the model's training or
validation window is refused by the preflight (exit 2, one line naming both windows): its report
would call an in-sample result out-of-sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.replay_catalog import build_replay_catalog

from nautilus_ai.cli import main
from nautilus_ai.models.card import CARD_FILE, ModelCard, sealed_card

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 real EUR/USD 1-minute bars, 2017-01-02 to 2017-01-04 (UTC)."""
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("oos-label"), rows=3000)


def _model(folder: Path) -> Path:
    card = ModelCard.model_validate(
        {
            "name": "mlp-eurusd", "version": 1, "created_at": "2024-05-01T12:00:00Z",
            "feature_spec": {}, "spec_hash": "abc123", "feature_names": ["a", "b", "c"],
            "architecture": {"input_dim": 3, "hidden": [4]},
            "train_window": {"start": "2017-01-02T00:00:00Z", "end": "2017-01-03T12:00:00Z"},
            "validation_window": {"start": "2017-01-03T12:00:00Z",
                                  "end": "2017-01-03T20:00:00Z"},
        }
    )  # fmt: skip
    folder.mkdir(parents=True)
    (folder / CARD_FILE).write_text(sealed_card(card).to_json())
    return folder


def _run_file(
    tmp_path: Path, catalog: Path, model: Path, nested: bool = False, **data: Any
) -> Path:
    raw = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    raw["sample"] = "out-of-sample"
    raw["report_dir"] = str(tmp_path / "reports")
    raw["run"]["data"][0].update(catalog_path=str(catalog), **data)
    strategy = raw["run"]["engine"]["strategies"][0]["config"]
    predictor: dict[str, Any] = {"kind": "torch", "path": str(model), "device": "cpu"}
    if nested:  # the trained model first in a fallback chain
        predictor = {
            "kind": "fallback",
            "deadline_ms": 50,
            "backends": [predictor, {"kind": "rule"}],
        }
    strategy.update(catalog_path=str(catalog), feature_source="incremental", predictor=predictor)
    path = tmp_path / "oos.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("data", "overlapped"),
    [
        ({}, "train window"),  # no window: every bar of the catalog
        ({"start_time": "2017-01-03T14:00:00Z"}, "validation window"),
    ],
)
def test_an_out_of_sample_run_on_the_models_own_bars_is_refused(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    data: dict[str, str], overlapped: str,
) -> None:  # fmt: skip
    """The file said out-of-sample and the run's report said so too, whatever the window."""
    run_file = _run_file(tmp_path, catalog, _model(tmp_path / "mlp"), **data)
    assert main(["backtest", "--check", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run_file}: sample: the run's bars" in err
    assert f"overlap the model's {overlapped}" in err and "label the run in-sample" in err


def test_an_out_of_sample_run_after_the_validation_window_passes_the_check(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_file = _run_file(tmp_path, catalog, _model(tmp_path / "mlp"),
                         start_time="2017-01-03T20:00:00Z")  # fmt: skip
    assert main(["backtest", "--check", str(run_file)]) == 2
    err = capsys.readouterr().err
    # past the preflight, the check builds the model, and this one is a card without weights
    assert "overlap the model" not in err and "config.predictor: cannot be built" in err


def test_the_refusal_names_the_card_file_the_fitted_window_and_the_run_window(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One overlap check (nautilus_ai.models.fitted) serves the preflight and the out-of-sample
    workflows; its line names the card file, not only the model folder."""
    model = _model(tmp_path / "mlp")
    run_file = _run_file(tmp_path, catalog, model, start_time="2017-01-03T14:00:00Z",
                         end_time="2017-01-03T18:00:00Z")  # fmt: skip
    assert main(["backtest", "--check", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert (
        "the run's bars (2017-01-03 14:00 to 2017-01-03 18:00 UTC, run.data[0]) overlap the "
        "model's validation window (2017-01-03 12:00 to 2017-01-03 20:00 UTC, card "
        f"{model / CARD_FILE}): an in-sample result; move start_time to 2017-01-03 20:00" in err
    ), err


def test_a_model_inside_a_fallback_chain_is_checked_too(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the top-level predictor's path was read: the same model first in a fallback chain
    passed the check, and its in-sample result was reported out-of-sample."""
    run_file = _run_file(tmp_path, catalog, _model(tmp_path / "mlp"), nested=True)
    assert main(["backtest", "--check", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "overlap the model's train window" in err, err
