"""TransformersPredictor on tiny random-weight models built offline (CPU, one thread)."""

from __future__ import annotations

import logging
import math
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError, safe_predict
from nautilus_ai.models.prompting import ACTION_CHOICES, ANSWER_PREFIX
from nautilus_ai.models.testing import market_context, synthetic_bars
from nautilus_ai.models.tiny_models import build_tiny_text_model
from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor

FEATURES = np.array([[0.52, -0.001], [0.31, 0.002], [0.77, 0.0]])


def _contexts(n: int = 3) -> list[MarketContext]:
    return [market_context(synthetic_bars(64, seed=i)) for i in range(n)]


def _manual_scores(
    predictor: TransformersPredictor, features: np.ndarray, context: MarketContext
) -> list[float]:
    """Full-sequence log-probability of each choice, one unpadded forward per choice."""
    request = predictor._build_request(features, context)
    scores = []
    for choice_ids in predictor._choice_ids:
        inputs = predictor._encode([request], [choice_ids])
        with torch.inference_mode():
            log_probs = torch.log_softmax(predictor._model(**inputs).logits.float(), dim=-1)[0]
        length = log_probs.shape[0]
        total = 0.0
        for j, token in enumerate(choice_ids):
            position = length - len(choice_ids) + j
            total += float(log_probs[position - 1, token])
        scores.append(total)
    return scores


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    weights = [math.exp(v - top) for v in values]
    return [w / sum(weights) for w in weights]


@pytest.mark.parametrize("fixture", ["tiny_vlm_dir", "tiny_vlm_split_dir"])
def test_vlm_chart_path_scores_the_three_choices(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    predictor = TransformersPredictor(
        TransformersConfig(model_dir=model_dir, model_id="tiny-vlm/1")
    )
    assert predictor.image_text
    assert predictor._single_token is (fixture == "tiny_vlm_dir")
    contexts = _contexts()
    batch = predictor.predict_batch(FEATURES, contexts)
    for row, prediction in enumerate(batch):
        assert prediction.model_id == "tiny-vlm/1"
        assert prediction.reason == "restricted scoring"
        expected = _softmax(_manual_scores(predictor, FEATURES[row], contexts[row]))
        best = int(np.argmax(expected))
        assert prediction.action is Action(ACTION_CHOICES[best])
        assert prediction.confidence == pytest.approx(expected[best], abs=1e-5)
        single = predictor.predict(FEATURES[row], contexts[row])  # unpadded == batched
        assert single.action is prediction.action
        assert single.confidence == pytest.approx(prediction.confidence, abs=1e-5)
    predictor.close()


def test_vlm_sees_the_chart(tiny_vlm_dir: Path) -> None:
    predictor = TransformersPredictor(TransformersConfig(model_dir=tiny_vlm_dir, prompt_bars=0))
    bars = synthetic_bars(64)
    other = bars.copy()
    other[:, 1:5] = other[::-1, 1:5]  # same numbers in the prompt text? none: prompt_bars=0
    a = predictor.predict(FEATURES[0], market_context(bars))
    b = predictor.predict(FEATURES[0], market_context(other))
    assert a.confidence != b.confidence  # only the image differs
    assert "<chart>" in predictor.render_prompt(FEATURES[0], market_context(bars))
    with pytest.raises(PredictionError, match="recent_bars is required"):
        predictor.predict(FEATURES[0], market_context(None))


def test_text_path_with_chat_template(tiny_text_dir: Path) -> None:
    predictor = TransformersPredictor(TransformersConfig(model_dir=tiny_text_dir, batch_size=2))
    assert not predictor.image_text
    contexts = _contexts()
    batch = predictor.predict_batch(FEATURES, contexts)  # 2 chunks
    for row, prediction in enumerate(batch):
        expected = _softmax(_manual_scores(predictor, FEATURES[row], contexts[row]))
        assert prediction.confidence == pytest.approx(max(expected), abs=1e-5)
        assert 0.0 <= prediction.risk_score <= 1.0
    prompt = predictor.render_prompt(FEATURES[0], contexts[0])
    assert prompt.startswith("<|im_start|>system") and prompt.endswith(ANSWER_PREFIX)


def test_malformed_json_answer_is_a_logged_hold(
    tiny_vlm_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    predictor = TransformersPredictor(
        TransformersConfig(model_dir=tiny_vlm_dir, answer_mode="json", max_new_tokens=8)
    )
    contexts = _contexts(2)
    with caplog.at_level(logging.WARNING):
        results = predictor.predict_items(FEATURES[:2], contexts)
    assert all(isinstance(r, PredictionError) for r in results)  # random weights: junk
    assert "malformed answer" in caplog.text
    held = predictor.predict_batch(FEATURES[:2], contexts)
    assert all(p.action is Action.HOLD and "predictor error" in p.reason for p in held)
    with pytest.raises(PredictionError):
        predictor.predict(FEATURES[0], contexts[0])
    assert safe_predict(predictor, FEATURES[0], contexts[0]).action is Action.HOLD


def test_valid_json_answer_path(tmp_path: Path) -> None:
    """Teach a tiny text model one answer, then check the whole json path end to end."""
    model_dir = build_tiny_text_model(tmp_path / "taught")
    predictor = TransformersPredictor(
        TransformersConfig(model_dir=model_dir, answer_mode="json", max_new_tokens=16)
    )
    context = market_context(synthetic_bars(20))
    prompt = predictor.render_prompt(FEATURES[0], context)
    _teach(model_dir, prompt, 'sell", "risk": 0.25}<|im_end|>')
    taught = TransformersPredictor(
        TransformersConfig(model_dir=model_dir, answer_mode="json", max_new_tokens=16)
    )
    prediction = taught.predict(FEATURES[0], context)
    assert prediction.action is Action.SELL
    assert prediction.risk_score == 0.25  # from the JSON answer
    assert prediction.reason == "json answer"
    expected = _softmax(_manual_scores(taught, FEATURES[0], context))
    assert prediction.confidence == pytest.approx(expected[1], abs=1e-5)  # from scoring


def _teach(model_dir: Path, prompt: str, answer: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    prompt_ids = tokenizer(prompt)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + answer_ids])
    labels = ids.clone()
    labels[0, : len(prompt_ids)] = -100
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.save_pretrained(model_dir)


def test_remote_code_needs_the_opt_in(tmp_path: Path) -> None:
    model_dir = build_tiny_text_model(tmp_path / "remote", remote_code=True)
    with pytest.raises(PredictionError, match="trust_remote_code"):
        TransformersPredictor(TransformersConfig(model_dir=model_dir))
    predictor = TransformersPredictor(
        TransformersConfig(model_dir=model_dir, trust_remote_code=True)
    )
    assert type(predictor._model).__name__ == "TinyRemoteForCausalLM"
    assert isinstance(predictor.predict(FEATURES[0], _contexts(1)[0]), Prediction)


def test_spec_hash_is_enforced(tiny_text_dir: Path) -> None:
    predictor = TransformersPredictor(
        TransformersConfig(model_dir=tiny_text_dir, spec_hash="spec-b")
    )
    with pytest.raises(PredictionError, match="built for feature spec spec-b"):
        predictor.predict(FEATURES[0], market_context(None))


def test_prompt_hash_and_default_model_id(tiny_text_dir: Path, tmp_path: Path) -> None:
    predictor = TransformersPredictor(TransformersConfig(model_dir=tiny_text_dir, prompt_bars=4))
    bars = synthetic_bars(30)
    key = predictor.prompt_hash(FEATURES[0], market_context(bars))
    assert key == predictor.prompt_hash(FEATURES[0].copy(), market_context(bars.copy()))
    moved = bars.copy()
    moved[-1, 4] += 1e-4
    assert key != predictor.prompt_hash(FEATURES[0], market_context(moved))
    assert predictor.model_id.startswith(tiny_text_dir.name + "@")
    copy = tmp_path / tiny_text_dir.name
    shutil.copytree(tiny_text_dir, copy)
    (copy / "model.safetensors").write_bytes((copy / "model.safetensors").read_bytes())
    other = TransformersPredictor(TransformersConfig(model_dir=copy))
    assert other.model_id != predictor.model_id  # replaced weights: a new id, no stale cache hits


def test_the_prompt_hash_covers_the_weights_and_dtype_under_a_given_model_id(
    tiny_text_dir: Path, tmp_path: Path
) -> None:
    """With ``model_id`` set by hand, replaced weights in the folder, or the same weights run
    in bfloat16 instead of float32 (other answers), kept the cache key: stale answers."""
    bars = synthetic_bars(30)

    def key(folder: Path, dtype: str = "float32") -> str:
        config = TransformersConfig(model_dir=folder, model_id="mine", dtype=dtype)
        return TransformersPredictor(config).prompt_hash(FEATURES[0], market_context(bars))

    base = key(tiny_text_dir)
    assert base == key(tiny_text_dir)
    assert key(tiny_text_dir, "bfloat16") != base
    copy = tmp_path / tiny_text_dir.name
    shutil.copytree(tiny_text_dir, copy)
    weights = copy / "model.safetensors"
    moved = weights.stat().st_mtime + 5  # rewritten weights (the folder's fingerprint)
    os.utime(weights, (moved, moved))
    assert key(copy) != base


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        TransformersPredictor(TransformersConfig(model_dir=tmp_path))
    with pytest.raises(ValueError, match="device"):
        TransformersConfig(model_dir=tmp_path, device="tpu")
    with pytest.raises(ValueError, match="extra_forbidden"):
        TransformersConfig(model_dir=tmp_path, temperature=0.1)  # type: ignore[call-arg]


def test_a_damaged_model_folder_is_a_prediction_error_naming_the_part(
    tiny_text_dir: Path, tmp_path: Path
) -> None:
    # Truncated weights raised SafetensorError ("invalid header length") naming no folder, and a
    # folder without its tokenizer quoted transformers' message without saying what was missing.
    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_text_dir, truncated)
    for weights in truncated.glob("*.safetensors"):
        weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(PredictionError, match=rf"{truncated}.*weights"):
        TransformersPredictor(TransformersConfig(model_dir=truncated))
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_text_dir, no_tokenizer)
    for file in no_tokenizer.glob("tokenizer*"):
        file.unlink()
    with pytest.raises(PredictionError, match=rf"{no_tokenizer}.*tokenizer"):
        TransformersPredictor(TransformersConfig(model_dir=no_tokenizer))


def test_a_folder_without_its_tokenizer_is_one_line_naming_the_file(
    tiny_text_dir: Path, tmp_path: Path
) -> None:
    # The tokenizer library's own error is five lines and names no file; `finetune` printed it
    # as it was, the "one line" of the CLI spanning five.
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_text_dir, folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(PredictionError) as info:
        TransformersPredictor(TransformersConfig(model_dir=folder))
    message = str(info.value)
    assert "\n" not in message
    assert "(tokenizer): the folder has no tokenizer file (tokenizer.json, " in message


@pytest.mark.parametrize("model_type", ["gpt2", "bert"])
def test_a_folder_whose_config_is_another_architecture_is_refused_not_run_at_random(
    tiny_text_dir: Path, tmp_path: Path, model_type: str
) -> None:
    # A Llama checkpoint whose config.json says gpt2 (or bert) loaded: transformers found none
    # of the weights the config describes, initialised them at random, logged a load report,
    # and the predictor answered (another answer on every load) with nothing said.
    import json

    folder = tmp_path / model_type
    shutil.copytree(tiny_text_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type=model_type, architectures=[])
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PredictionError) as info:
        TransformersPredictor(TransformersConfig(model_dir=folder, device="cpu"))
    message = str(info.value)
    assert f"{folder} (text model weights): ValueError: " in message and "\n" not in message
    assert f"weights of the {model_type!r} model config.json describes are not in the" in message
    assert "they would be random" in message


def test_an_adapter_whose_weights_file_lacks_its_lora_weights_is_refused(
    tiny_text_dir: Path, tmp_path: Path
) -> None:
    # An adapter folder (trained elsewhere: no fine-tune card) whose weights file holds another
    # adapter's weights (k_proj where its config adds q_proj) loaded with a peft warning only:
    # the missing LoRA B weights stayed at zero, the adapter did nothing, and the base model
    # answered under the adapter's model id.
    peft = pytest.importorskip("peft")
    import transformers
    from safetensors.torch import load_file, save_file

    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_text_dir, local_files_only=True)
    lora = peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    adapter = tmp_path / "adapter"
    with warnings.catch_warnings():  # peft reads a property transformers 5 deprecates
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
        peft.get_peft_model(base, lora).save_pretrained(adapter)
    config = TransformersConfig(model_dir=tiny_text_dir, adapter_dir=adapter, device="cpu")
    TransformersPredictor(config).close()  # its own weights load
    weights = adapter / "adapter_model.safetensors"
    stored = load_file(weights)
    save_file({key.replace("q_proj", "k_proj"): v for key, v in stored.items()}, weights)
    with pytest.raises(PredictionError) as info:
        TransformersPredictor(config)
    message = str(info.value)
    assert f"cannot load the adapter {adapter} onto {tiny_text_dir}: ValueError: 4 of the 8 " in (
        message
    )
    assert "are not in adapter_model.safetensors (first: base_model.model.model.layers.0." in (
        message
    )
    assert "\n" not in message


def test_a_prompt_longer_than_the_models_context_is_refused(tiny_text_dir: Path) -> None:
    # 200 bars in the prompt make ~7,700 tokens for this tiny model's 2,048 positions: it ran
    # (and `finetune --prompt-bars 1000` trained for minutes) past what the model can attend to.
    predictor = TransformersPredictor(TransformersConfig(model_dir=tiny_text_dir, prompt_bars=200))
    context = market_context(synthetic_bars(205))
    with pytest.raises(PredictionError, match=r"a prompt of \d+ tokens is longer than the "
                       r"model's context of 2048 tokens \(max_position_embeddings"):  # fmt: skip
        predictor.predict(FEATURES[0], context)
    held = safe_predict(predictor, FEATURES[0], context)
    assert held.action is Action.HOLD and "longer than the model's context" in held.reason
