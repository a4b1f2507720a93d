"""ModelCard: schema, validation errors naming the field, JSON round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from nautilus_ai.models.card import (
    CARD_FILE,
    ArtifactError,
    MLPArchitecture,
    ModelCard,
    TimeWindow,
    library_versions,
    read_model_card,
)

NAMES = ("a", "b", "c")


def _fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "name": "mlp-eurusd",
        "version": 3,
        "created_at": "2024-05-01T12:00:00Z",
        "feature_spec": {"version": 1, "features": [{"name": n} for n in NAMES]},
        "spec_hash": "abc123",
        "feature_names": list(NAMES),
        "architecture": {"input_dim": 3, "hidden": [8, 4]},
        "train_window": {"start": "2017-01-01T00:00:00Z", "end": "2017-04-01T00:00:00Z"},
        "metrics": {"validation": {"log_loss": 1.05, "n": 1000}},
    }
    fields.update(overrides)
    return fields


def test_defaults_and_json_round_trip(tmp_path: Path) -> None:
    card = ModelCard.model_validate(_fields())
    assert card.model_id == "mlp-eurusd/3"
    assert card.kind == "mlp"
    assert card.schema_version == 1
    assert card.temperature == 1.0
    assert card.architecture.activation == "relu"
    assert card.architecture.classes == ("sell", "hold", "buy")
    assert card.standardisation.mean_tensor == "input_mean"
    assert card.created_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    (tmp_path / CARD_FILE).write_text(card.to_json())
    again = read_model_card(tmp_path)
    assert again == card
    data = json.loads(card.to_json())
    assert data["architecture"]["hidden"] == [8, 4]
    assert data["train_window"]["start"].startswith("2017-01-01T00:00:00")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "bad name"}, "name"),
        ({"version": 0}, "version"),
        ({"kind": "cnn"}, "kind"),
        ({"created_at": "2024-05-01T12:00:00"}, "created_at"),  # naive: no timezone
        ({"spec_hash": ""}, "spec_hash"),
        ({"feature_names": ["a", "b"]}, "feature_names"),
        ({"feature_names": ["a", "a", "b"]}, "repeats 'a'"),
        ({"architecture": {"input_dim": 3, "hidden": [0]}}, "hidden"),
        ({"architecture": {"input_dim": 3, "hidden": [], "activation": "tanh"}}, "activation"),
        ({"architecture": {"input_dim": 3, "hidden": [], "classes": ["a", "b", "c"]}}, "classes"),
        ({"train_window": {"start": "2017-02-01T00:00Z", "end": "2017-01-01T00:00Z"}}, "start"),
        ({"temperature": 0.0}, "temperature"),
        ({"weights_sha256": "xyz"}, "weights_sha256"),
        ({"schema_version": 2}, "schema_version"),
        ({"labels": {}}, "labels"),  # unknown field (typo of label)
    ],
)
def test_validation_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ModelCard.model_validate(_fields(**overrides))


def test_card_is_frozen() -> None:
    card = ModelCard.model_validate(_fields())
    with pytest.raises(ValidationError):
        card.temperature = 2.0  # type: ignore[misc]


def test_time_window_and_architecture_alone() -> None:
    TimeWindow(start=datetime(2017, 1, 1, tzinfo=UTC), end=datetime(2017, 2, 1, tzinfo=UTC))
    arch = MLPArchitecture(input_dim=28, hidden=(), classes=("buy", "sell", "hold"))
    assert arch.hidden == ()


def test_read_model_card_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=CARD_FILE):
        read_model_card(tmp_path)
    (tmp_path / CARD_FILE).write_text(json.dumps(_fields(version=-1)))
    with pytest.raises(ArtifactError, match=rf"{CARD_FILE}.*version"):
        read_model_card(tmp_path)


def test_library_versions() -> None:
    versions = library_versions({"cuda": "none"})
    assert set(versions) >= {"python", "torch", "numpy", "safetensors", "nautilus-ai", "cuda"}
    assert all(isinstance(v, str) and v for v in versions.values())


def test_a_whole_card_error_does_not_print_the_whole_card(tmp_path: Path) -> None:
    """A card whose feature_names disagree with input_dim failed with its whole JSON (metrics,
    history: ~10 KB) inside the one error line."""
    fields = _fields(feature_names=["a", "b"], metrics={"history": ["x" * 50] * 200})
    (tmp_path / CARD_FILE).write_text(json.dumps(fields))
    with pytest.raises(ArtifactError) as info:
        read_model_card(tmp_path)
    message = str(info.value)
    assert "feature_names has 2 names but architecture.input_dim is 3" in message
    assert len(message) < 400 and message.endswith("...)")


def test_a_card_edited_after_it_was_written_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored card's class order or temperature edited by hand loaded without a word and
    changed every answer (the weights' SHA-256 does not cover the card). The card now seals its
    own fields; an edit is refused naming the file, a card without a seal (written before it)
    still loads, with a warning."""
    import torch

    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.torch_mlp import TorchPredictor, save_artifact

    torch.set_num_threads(1)
    spec = FeatureSpec()
    model = TorchPredictor.random(spec, seed=3, hidden=(4,), device="cpu")
    folder = save_artifact(model.module, model.card, tmp_path)
    path = folder / CARD_FILE
    written = path.read_text()
    stored = json.loads(written)
    assert len(stored["card_sha256"]) == 64
    path.write_text(json.dumps(stored))  # another layout, same values: still loads
    assert read_model_card(folder).card_sha256 == stored["card_sha256"]
    for edit in (
        lambda card: card["architecture"].update(classes=["buy", "hold", "sell"]),
        lambda card: card.update(temperature=0.25),
        lambda card: card["label"].update(horizon=99),
    ):
        edited = json.loads(written)
        edit(edited)
        path.write_text(json.dumps(edited))
        with pytest.raises(ArtifactError, match=rf"{path}: the model card was edited") as info:
            TorchPredictor.from_artifact(folder, spec=spec, device="cpu")
        assert "\n" not in str(info.value)
    unsealed = json.loads(written)
    del unsealed["card_sha256"]
    unsealed["temperature"] = 0.25
    path.write_text(json.dumps(unsealed))
    with caplog.at_level("WARNING", logger="nautilus_ai.models.card"):
        assert (
            TorchPredictor.from_artifact(folder, spec=spec, device="cpu").card.temperature == 0.25
        )
    assert f"{path}: model card has no card_sha256" in caplog.text
