"""An out-of-sample comparison refuses a window the model was fitted or tuned on: its backtest
would be in-sample, reported under OUT-OF-SAMPLE."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.cli import main
from nautilus_ai.datasets import Window
from nautilus_ai.models.card import CARD_FILE, ModelCard, sealed_card
from nautilus_ai.workflows.oos import (
    InSampleWindowError,
    check_out_of_sample,
    compare_out_of_sample,
)


def _artifact(folder: Path) -> Path:
    card = ModelCard.model_validate(
        {
            "name": "mlp-eurusd",
            "version": 1,
            "created_at": "2024-05-01T12:00:00Z",
            "feature_spec": {},
            "spec_hash": "abc123",
            "feature_names": ["a", "b", "c"],
            "architecture": {"input_dim": 3, "hidden": [4]},
            "train_window": {"start": "2017-01-02T00:00:00Z", "end": "2017-04-10T00:00:00Z"},
            "validation_window": {
                "start": "2017-04-10T00:00:00Z",
                "end": "2017-05-01T00:00:00Z",
            },
        }
    )
    folder.mkdir(parents=True)
    (folder / CARD_FILE).write_text(sealed_card(card).to_json())
    return folder


@pytest.mark.parametrize(
    ("window", "overlapped"),
    [
        (("2017-03-01", "2017-04-01"), "train window"),
        (("2017-04-20", "2017-06-01"), "validation window"),
        (("2016-12-01", "2017-07-01"), "train window"),
    ],
)
def test_a_window_inside_the_models_data_is_refused(
    tmp_path: Path, window: tuple[str, str], overlapped: str
) -> None:
    """compare_out_of_sample backtested the model on any window and labelled it OUT-OF-SAMPLE,
    its training months included."""
    artifact = _artifact(tmp_path / "mlp")
    with pytest.raises(InSampleWindowError) as error:
        compare_out_of_sample(artifact, tmp_path / "no-catalog", Window.parse(*window),
                              report_dir=tmp_path / "reports")  # fmt: skip
    message = str(error.value)
    assert f"overlaps the model's {overlapped}" in message and "in-sample" in message
    assert not (tmp_path / "reports").exists()


def test_the_refusal_names_the_card_file_and_both_windows(tmp_path: Path) -> None:
    artifact = _artifact(tmp_path / "mlp")
    with pytest.raises(InSampleWindowError) as error:
        check_out_of_sample(artifact, Window.parse("2017-03-01", "2017-04-01"))
    message = str(error.value)
    assert message.startswith("the out-of-sample window [2017-03-01T00:00:00Z, 2017-04-01")
    assert (
        "overlaps the model's train window (2017-01-02 00:00 to 2017-04-10 00:00 UTC, card "
        f"{artifact / CARD_FILE}): a backtest there is in-sample" in message
    ), message


def test_a_window_after_the_validation_window_is_out_of_sample(tmp_path: Path) -> None:
    artifact = _artifact(tmp_path / "mlp")
    check_out_of_sample(artifact, Window.parse("2017-05-01", "2017-07-01"))


def test_patterns_evaluate_refuses_an_in_sample_model_window_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The memory's own --train / --test were checked, the MLP's training window was not."""
    artifact = _artifact(tmp_path / "mlp")
    out = tmp_path / "oos"
    code = main(["patterns", "evaluate", "--catalog", str(tmp_path / "catalog"),
                 "--model", str(artifact), "--train", "2017-01-02", "2017-02-01",
                 "--test", "2017-03-01", "2017-04-01", "--out", str(out)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "overlaps the model's train window" in err and err.count("\n") == 1
    assert not out.exists()
