"""LoRA fine-tuning on tiny random-weight models built offline (CPU, one thread).

One fine-tune per model kind (MiniCPM-V 4.6 with charts, a Llama-style text model) is shared by
the tests of this module: loss falls, only the adapter changes, the stored adapter reloads to the
same logits and plugs into TransformersPredictor.
"""

from __future__ import annotations

import importlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from finetune_helpers import BAR_TYPE, SPEC_HASH, synthetic_dataset

from nautilus_ai.finetune import (
    FINETUNE_CARD_FILE,
    FineTuneConfig,
    FineTuneDataset,
    FineTuneDivergedError,
    FineTuner,
    FineTuneResult,
    LoRAFineTuner,
    LoRASettings,
    file_sha256,
    finetuned_predictor_config,
    read_finetune_card,
)
from nautilus_ai.finetune.lora import _Session
from nautilus_ai.models.base import PredictionError
from nautilus_ai.models.card import ArtifactError
from nautilus_ai.models.transformers_backend import (
    PROMPT_SETTINGS_FILE,
    TransformersConfig,
    TransformersPredictor,
)

SMALL_PROMPTS = {"chart_width": 112, "chart_height": 112, "chart_bars": 32, "prompt_bars": 4}


def _config(**changes: Any) -> FineTuneConfig:
    settings: dict[str, Any] = {
        "steps": 6,
        "micro_batch_size": 2,
        "gradient_accumulation": 2,
        "learning_rate": 5e-3,
        "lr_schedule": "constant",
        "log_every": 1,
        "seed": 3,
        "lora": LoRASettings(rank=4, alpha=8, dropout=0.0),
    }
    settings.update(changes)
    return FineTuneConfig(**settings)


@dataclass
class Trained:
    kind: str
    model_dir: Path
    dataset: FineTuneDataset
    result: FineTuneResult
    folder: Path
    lines: list[str]


@pytest.fixture(scope="module", params=["vlm", "text"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    kind = str(request.param)
    model_dir: Path = request.getfixturevalue("tiny_vlm_dir" if kind == "vlm" else "tiny_text_dir")
    dataset = synthetic_dataset(8, 4)
    lines: list[str] = []
    tuner = LoRAFineTuner(
        TransformersConfig(model_dir=model_dir, device="cpu", **SMALL_PROMPTS),
        _config(),
        progress=lines.append,
    )
    result = tuner.finetune(dataset)
    folder = result.save(tmp_path_factory.mktemp(f"artifacts-{kind}"), f"tiny-{kind}-lora")
    return Trained(kind, model_dir, dataset, result, folder, lines)


def _fresh_base(trained: Trained) -> Any:
    transformers: Any = importlib.import_module("transformers")
    loader = (
        transformers.AutoModelForImageTextToText
        if trained.kind == "vlm"
        else transformers.AutoModelForCausalLM
    )
    return loader.from_pretrained(trained.model_dir, local_files_only=True).eval()


def _inputs(trained: Trained) -> dict[str, Any]:
    examples = trained.dataset.validation
    assert examples is not None
    contexts = [examples.context(i) for i in range(len(examples))]
    return trained.result.predictor.encode_rows(examples.features, contexts, [[] for _ in contexts])


def test_loss_falls(trained: Trained) -> None:
    losses = [s.loss for s in trained.result.steps]
    assert len(losses) == 6
    assert losses[-1] < losses[0] - 0.1, losses
    before, after = trained.result.validation_before, trained.result.validation_after
    assert before is not None and after is not None
    assert after.loss < before.loss - 0.1
    assert before.examples == after.examples == 4
    assert sum(after.predicted.values()) == 4
    # Progress: one line per step, epoch summaries, validation before / after.
    assert sum(line.startswith("step ") for line in trained.lines) == 6
    assert any(line.startswith("epoch 1 done: mean loss") for line in trained.lines)
    assert any(line.startswith("epoch 3 done") for line in trained.lines)  # 24 examples / 8
    assert any(line.startswith("validation after:") for line in trained.lines)


def test_only_adapter_weights_change(trained: Trained) -> None:
    base = _fresh_base(trained).state_dict()
    tuned = trained.result.peft_model.get_base_model().state_dict()
    lora = {k: v for k, v in tuned.items() if "lora_" in k}
    rest = {k.replace(".base_layer", ""): v for k, v in tuned.items() if "lora_" not in k}
    assert set(rest) == set(base)
    for key, value in base.items():
        assert torch.equal(rest[key], value), f"base weight {key} changed"
    lora_b = [v for k, v in lora.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)  # B starts at zero: trained
    trainable = {n for n, p in trained.result.peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


# peft reads a property transformers 5.x deprecated (FACTS: not ours to fix).
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_saved_adapter_reloads_to_the_same_logits(trained: Trained) -> None:
    import peft

    inputs = _inputs(trained)
    with torch.inference_mode():
        expected = trained.result.predictor.model(**inputs).logits
        reloaded = peft.PeftModel.from_pretrained(_fresh_base(trained), str(trained.folder))
        got = reloaded(**inputs).logits
        base_logits = _fresh_base(trained)(**inputs).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(base_logits, expected, atol=1e-4)  # the adapter does something


def test_adapter_plugs_into_the_predictor(trained: Trained) -> None:
    examples = trained.dataset.validation
    assert examples is not None
    contexts = [examples.context(i) for i in range(len(examples))]
    config = finetuned_predictor_config(trained.folder)
    assert config.adapter_dir == trained.folder
    assert config.spec_hash == SPEC_HASH
    assert config.model_id == f"tiny-{trained.kind}-lora/1"
    served = TransformersPredictor(config)
    predictions = served.predict_batch(examples.features, contexts)
    in_memory = trained.result.predictor.predict_batch(examples.features, contexts)
    assert [p.action for p in predictions] == [p.action for p in in_memory]
    for p, q in zip(predictions, in_memory, strict=True):
        assert p.model_id == f"tiny-{trained.kind}-lora/1"
        assert p.reason == "restricted scoring"
        assert p.confidence == pytest.approx(q.confidence, abs=1e-6)
    plain = TransformersPredictor(config.model_copy(update={"adapter_dir": None}))
    base_predictions = plain.predict_batch(examples.features, contexts)
    assert any(
        abs(p.confidence - b.confidence) > 1e-4
        for p, b in zip(predictions, base_predictions, strict=True)
    )
    json_mode = TransformersPredictor(config.model_copy(update={"answer_mode": "json"}))
    assert len(json_mode.predict_batch(examples.features, contexts)) == len(examples)
    for predictor in (served, plain, json_mode):
        predictor.close()


def test_the_adapter_is_refused_on_bars_of_another_period(trained: Trained) -> None:
    # The fine-tune card records the bar type the adapter learnt on; nothing compared it with
    # the strategy's, so a 1-minute adapter ran on hour bars without a word.
    from nautilus_ai.models.trained_bars import BarTypeMismatchError, check_bar_type

    config = finetuned_predictor_config(trained.folder)
    served = TransformersPredictor(config)
    assert check_bar_type(served, BAR_TYPE).warnings == ()
    with pytest.raises(BarTypeMismatchError, match=f"trained on {BAR_TYPE} bars \\(1 min\\)"):
        check_bar_type(served, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL")
    plain = TransformersPredictor(config.model_copy(update={"adapter_dir": None}))
    assert plain.trained_bars is None  # a base model learnt no bar type
    for predictor in (served, plain):
        predictor.close()


def test_artifact_and_card(trained: Trained) -> None:
    folder = trained.folder
    assert folder.name == "v1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        FINETUNE_CARD_FILE,
        PROMPT_SETTINGS_FILE,
    ]  # safetensors + JSON only: nothing pickled
    card = read_finetune_card(folder)
    assert card.model_id == f"tiny-{trained.kind}-lora/1"
    assert card.base_model.path == str(trained.model_dir.resolve())
    assert card.base_model.config_sha256 == file_sha256(trained.model_dir / "config.json")
    assert card.base_model.image_text is (trained.kind == "vlm")
    assert card.spec_hash == SPEC_HASH and card.feature_names == ("rsi", "ema_gap")
    assert card.label == {"kind": "forward_return", "horizon": 30}
    assert card.windows["train"]["start"] == "2017-01-02T00:00:00Z"
    assert card.context_bars == 32
    assert card.adapter_sha256 == file_sha256(folder / "adapter_model.safetensors")
    assert card.metrics["final_loss"] == pytest.approx(trained.result.final_loss)
    assert len(card.metrics["loss_history"]) == 6  # type: ignore[arg-type]
    for library in ("torch", "transformers", "peft", "nautilus-ai"):
        assert card.library_versions[library] != "not installed"
    lora = card.lora["target_modules"]
    assert isinstance(lora, dict) and lora["source"] == f"preset:{card.base_model.model_type}"
    settings = json.loads((folder / PROMPT_SETTINGS_FILE).read_text())
    assert settings == trained.result.predictor.prompt_settings()
    assert settings["spec_hash"] == SPEC_HASH
    assert ("chart_bars" in settings) is (trained.kind == "vlm")


def test_saving_again_never_overwrites(trained: Trained) -> None:
    before = {p.name: file_sha256(p) for p in trained.folder.iterdir()}
    second = trained.result.save(trained.folder.parent.parent, trained.folder.parent.name)
    assert second.name == "v2" and second.parent == trained.folder.parent
    assert {p.name: file_sha256(p) for p in trained.folder.iterdir()} == before
    assert not [p for p in second.parent.iterdir() if p.name.startswith(".")]  # no temp left
    shutil.rmtree(second)


def test_predictor_refuses_other_prompts(trained: Trained) -> None:
    config = finetuned_predictor_config(trained.folder)
    changed = config.model_copy(update={"prompt_bars": 8, "system_prompt": "Be bold."})
    with pytest.raises(PredictionError, match=r"prompt_bars: adapter 4, config 8.*system_prompt"):
        TransformersPredictor(changed)
    unpinned = config.model_copy(update={"spec_hash": None})
    with pytest.raises(PredictionError, match="spec_hash: adapter 'spec-test', config None"):
        TransformersPredictor(unpinned)


def test_served_config_refuses_another_base_or_prompt_override(
    trained: Trained, tmp_path: Path
) -> None:
    with pytest.raises(ArtifactError, match="cannot override chart_bars"):
        finetuned_predictor_config(trained.folder, chart_bars=8)
    assert finetuned_predictor_config(trained.folder, device="cpu", batch_size=2).batch_size == 2
    moved = tmp_path / "moved"
    shutil.copytree(trained.model_dir, moved)
    assert finetuned_predictor_config(trained.folder, model_dir=moved).model_dir == moved
    config_json = json.loads((moved / "config.json").read_text())
    config_json["tie_word_embeddings"] = not config_json.get("tie_word_embeddings", False)
    (moved / "config.json").write_text(json.dumps(config_json))
    with pytest.raises(ArtifactError, match=r"trained on a base whose config\.json"):
        finetuned_predictor_config(trained.folder, model_dir=moved)
    with pytest.raises(ArtifactError, match=r"no finetune_card\.json"):
        finetuned_predictor_config(tmp_path)


def test_the_loss_is_on_the_answer_tokens_only(tiny_text_dir: Path) -> None:
    """Our masked loss equals transformers' own loss with every prompt label set to -100."""
    predictor = TransformersPredictor(
        TransformersConfig(model_dir=tiny_text_dir, device="cpu", spec_hash=SPEC_HASH)
    )
    session = _Session(predictor, _config(), lambda line: None)
    examples = synthetic_dataset(3, 0).train
    for i in range(len(examples)):
        loss_sum, tokens = session.answer_loss(examples, [i])
        continuation = session.continuation(examples.answer(i))
        assert tokens == len(continuation)
        inputs = predictor.encode_rows(
            examples.features[[i]], [examples.context(i)], [continuation]
        )
        labels = torch.full_like(inputs["input_ids"], -100)
        labels[0, -len(continuation) :] = inputs["input_ids"][0, -len(continuation) :]
        with torch.no_grad():
            reference = predictor.model(**inputs, labels=labels).loss
        torch.testing.assert_close(loss_sum.detach() / tokens, reference, rtol=1e-5, atol=1e-6)
        # The first answer token is the action word exactly as restricted scoring scores it.
        word = examples.answer(i).action
        choice = predictor.choice_token_ids[("buy", "sell", "hold").index(word)]
        assert continuation[: len(choice)] == list(choice)
        assert continuation[-1] == predictor.tokenizer.eos_token_id


def test_gradient_accumulation_matches_one_big_batch(tiny_text_dir: Path) -> None:
    dataset = synthetic_dataset(4, 0)
    base = TransformersConfig(model_dir=tiny_text_dir, device="cpu", **SMALL_PROMPTS)
    results = [
        LoRAFineTuner(base, _config(steps=1, micro_batch_size=m, gradient_accumulation=a),
                      progress=None).finetune(dataset)
        for m, a in ((1, 4), (4, 1), (2, 2))
    ]  # fmt: skip
    losses = [r.steps[0].loss for r in results]
    assert losses == pytest.approx([losses[0]] * 3, abs=1e-5)
    weights = [
        {k: v for k, v in r.peft_model.state_dict().items() if "lora_B" in k} for r in results
    ]
    for other in weights[1:]:
        for key, value in weights[0].items():
            torch.testing.assert_close(other[key], value, rtol=1e-4, atol=1e-6)


def test_same_seed_same_run(tiny_text_dir: Path) -> None:
    dataset = synthetic_dataset(6, 0)
    base = TransformersConfig(model_dir=tiny_text_dir, device="cpu", **SMALL_PROMPTS)
    runs = [
        LoRAFineTuner(base, _config(steps=3, seed=s), progress=None).finetune(dataset)
        for s in (11, 11, 12)
    ]
    histories = [[s.loss for s in r.steps] for r in runs]
    assert histories[0] == histories[1]
    assert histories[0] != histories[2]


def test_remote_code_text_model_with_the_generic_targets(tiny_remote_dir: Path) -> None:
    dataset = synthetic_dataset(4, 2)
    config = TransformersConfig(
        model_dir=tiny_remote_dir, device="cpu", trust_remote_code=True, **SMALL_PROMPTS
    )
    result = LoRAFineTuner(config, _config(steps=3, epochs=None), progress=None).finetune(dataset)
    assert isinstance(LoRAFineTuner(config), FineTuner)
    assert result.targets.source == "generic"
    assert result.steps[-1].loss < result.steps[0].loss
    assert result.validation_after is not None


def test_epochs_set_the_number_of_steps(tiny_text_dir: Path) -> None:
    dataset = synthetic_dataset(5, 0)
    base = TransformersConfig(model_dir=tiny_text_dir, device="cpu", **SMALL_PROMPTS)
    config = _config(steps=None, epochs=2, micro_batch_size=2, gradient_accumulation=1)
    lines: list[str] = []
    result = LoRAFineTuner(base, config, progress=lines.append).finetune(dataset)
    assert len(result.steps) == 5  # ceil(2 * 5 / 2)
    assert sum(s.examples for s in result.steps) == 10
    assert [s.epoch for s in result.steps] == [1, 1, 1, 2, 2]
    assert result.validation_before is None  # no validation split
    assert sum("done: mean loss" in line for line in lines) == 2


def test_gradient_checkpointing_runs(tiny_text_dir: Path) -> None:
    dataset = synthetic_dataset(4, 0)
    base = TransformersConfig(model_dir=tiny_text_dir, device="cpu", **SMALL_PROMPTS)
    plain = LoRAFineTuner(base, _config(steps=2), progress=None).finetune(dataset)
    checkpointed = LoRAFineTuner(
        base, _config(steps=2, gradient_checkpointing=True), progress=None
    ).finetune(dataset)
    assert checkpointed.predictor.model.is_activation_checkpointing
    assert not plain.predictor.model.is_activation_checkpointing
    assert [s.loss for s in checkpointed.steps] == pytest.approx(
        [s.loss for s in plain.steps], abs=1e-5
    )


def test_bad_settings_are_refused(tiny_text_dir: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="steps or epochs, not both"):
        FineTuneConfig(steps=3, epochs=1)
    with pytest.raises(ValidationError, match="rank"):
        LoRASettings(rank=0)
    with pytest.raises(ValidationError, match="micro_batch_size"):
        FineTuneConfig(micro_batch_size=0)
    base = TransformersConfig(model_dir=tiny_text_dir, device="cpu", **SMALL_PROMPTS)
    with pytest.raises(ValueError, match="adapter_dir must be unset"):
        LoRAFineTuner(base.model_copy(update={"adapter_dir": tiny_text_dir}))
    tuner = LoRAFineTuner(base.model_copy(update={"spec_hash": "other"}), _config(steps=1))
    with pytest.raises(ValueError, match="pinned to feature spec other"):
        tuner.finetune(synthetic_dataset(2, 0))
    short = LoRAFineTuner(base.model_copy(update={"prompt_bars": 64}), _config(steps=1))
    with pytest.raises(ValueError, match="carry 32 context bars, the prompt uses 64"):
        short.finetune(synthetic_dataset(2, 0))


def test_a_diverging_run_fails_instead_of_storing_a_broken_adapter(tiny_text_dir: Path) -> None:
    # A loss that became NaN (a learning rate far too high, float16 overflow) trained on: the
    # adapter's weights turned NaN and were stored with exit 0.
    tuner = LoRAFineTuner(
        TransformersConfig(model_dir=tiny_text_dir, device="cpu", **SMALL_PROMPTS),
        _config(steps=4, learning_rate=1e30, max_grad_norm=None),
    )
    with pytest.raises(FineTuneDivergedError, match=r"loss is (nan|inf) at step \d+"):
        tuner.finetune(synthetic_dataset(8, 0))


def test_a_tampered_adapter_or_another_base_is_refused_when_served(
    trained: Trained, tmp_path: Path
) -> None:
    # The card's adapter_sha256 and base config hash were never checked when the predictor
    # loaded adapter_dir: changed adapter weights were served, and an adapter could be plugged
    # onto another base of the same shapes, without a word.
    config = finetuned_predictor_config(trained.folder, device="cpu")
    tampered = tmp_path / "tampered"
    shutil.copytree(trained.folder, tampered)
    weights = tampered / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(PredictionError, match="SHA-256"):
        TransformersPredictor(config.model_copy(update={"adapter_dir": tampered}))
    other_base = tmp_path / "other-base"
    shutil.copytree(trained.model_dir, other_base)
    config_json = json.loads((other_base / "config.json").read_text())
    config_json["tie_word_embeddings"] = not config_json.get("tie_word_embeddings", False)
    (other_base / "config.json").write_text(json.dumps(config_json))
    with pytest.raises(PredictionError, match=r"trained on a base whose config\.json"):
        TransformersPredictor(config.model_copy(update={"model_dir": other_base}))


def test_an_edited_prompt_settings_file_is_refused_when_served(
    trained: Trained, tmp_path: Path
) -> None:
    # prompt_settings.json is what the served config is built from and checked against: edited
    # (prompt_bars 4 -> 8), the adapter was served on prompts it was never trained on, without
    # a word. The card's record of the training prompts now has the last word.
    edited = tmp_path / "edited"
    shutil.copytree(trained.folder, edited)
    path = edited / PROMPT_SETTINGS_FILE
    settings = json.loads(path.read_text())
    settings["prompt_bars"] = 8
    path.write_text(json.dumps(settings))
    config = finetuned_predictor_config(edited, device="cpu")
    with pytest.raises(PredictionError, match=r"was prompt_settings\.json edited\?.*prompt_bars"):
        TransformersPredictor(config)


def test_an_edited_finetune_card_is_refused(trained: Trained, tmp_path: Path) -> None:
    # finetune_card.json edited by hand (its context_bars, the base it must sit on, the prompt
    # settings it records) loaded without a word: the card now seals its own fields, as model
    # cards do; one without a seal (written before it) still loads.
    edited = tmp_path / "edited"
    shutil.copytree(trained.folder, edited)
    path = edited / FINETUNE_CARD_FILE
    written = json.loads(path.read_text())
    assert len(written["card_sha256"]) == 64
    card = dict(written, context_bars=written["context_bars"] + 1)
    path.write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match=r"fine-tune card was edited or corrupted"):
        finetuned_predictor_config(edited)
    config = finetuned_predictor_config(trained.folder, device="cpu")
    with pytest.raises(PredictionError, match=r"fine-tune card was edited or corrupted"):
        TransformersPredictor(config.model_copy(update={"adapter_dir": edited}))
    del card["card_sha256"]
    path.write_text(json.dumps(card))
    assert read_finetune_card(edited).context_bars == written["context_bars"] + 1


def test_a_missing_or_broken_prompt_settings_file_is_named(
    trained: Trained, tmp_path: Path
) -> None:
    # finetuned_predictor_config raised a bare FileNotFoundError, JSONDecodeError or
    # KeyError('image_text') for an adapter folder whose prompt_settings.json was missing,
    # broken or incomplete, naming no file.
    broken = tmp_path / "broken"
    shutil.copytree(trained.folder, broken)
    path = broken / PROMPT_SETTINGS_FILE
    path.unlink()
    with pytest.raises(ArtifactError, match=rf"no {PROMPT_SETTINGS_FILE} in {broken}"):
        finetuned_predictor_config(broken)
    path.write_text("{not json")
    with pytest.raises(ArtifactError, match=rf"{path}: not readable JSON"):
        finetuned_predictor_config(broken)
    path.write_text(json.dumps({"prompt_bars": 4}))
    with pytest.raises(ArtifactError, match=rf"{path}: missing image_text, system_prompt"):
        finetuned_predictor_config(broken)
