"""A fine-tune refuses an output it could not write BEFORE it trains (hours may be lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.datasets import Fold, Window
from nautilus_ai.finetune.pipeline import finetune_from_catalog
from nautilus_ai.models.transformers_backend import TransformersConfig


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **kwargs: object) -> None:
    def never(*args: object, **kw: object) -> None:
        raise AssertionError("the examples were built: the output should have been refused first")

    monkeypatch.setattr("nautilus_ai.finetune.pipeline.load_finetune_dataset", never)
    finetune_from_catalog(
        tmp_path / "catalog",
        model=TransformersConfig(model_dir=tmp_path / "model"),
        bar_type="EUR/USD.SIM-1-MINUTE-LAST-EXTERNAL",
        fold=Fold(train=Window.parse("2017-01-02", "2017-01-03")),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_bad_adapter_name_is_refused_before_training(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The name was checked when the card was written, after the whole training run.
    with pytest.raises(ValueError, match="name 'bad name'"):
        _run(monkeypatch, tmp_path, name="bad name", artifacts_root=tmp_path / "artifacts")


def test_an_artifacts_root_that_is_a_file_is_refused_before_training(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "artifacts"
    root.write_text("not a folder")
    with pytest.raises(ValueError, match="not a folder"):
        _run(monkeypatch, tmp_path, name="lora", artifacts_root=root)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ((), r"model directory .*model does not exist"),
        (("config.json", "tokenizer.json"), r"the folder has no weights file \(model.safetensors"),
        (("model.safetensors",), r"the folder has no config.json and no tokenizer file"),
    ],
)
def test_a_model_folder_that_cannot_load_is_refused_before_the_examples_are_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: tuple[str, ...], message: str
) -> None:
    # The folder was loaded after the examples were built: minutes into the run, then a
    # transformers error about a file it did not name.
    if files:
        (tmp_path / "model").mkdir()
    for name in files:
        (tmp_path / "model" / name).write_text("{}")
    with pytest.raises(FileNotFoundError, match=message):
        _run(monkeypatch, tmp_path, artifacts_root=tmp_path / "artifacts")
