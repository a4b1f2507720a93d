"""LoRA target modules per architecture, on the tiny models' real module trees."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from nautilus_ai.finetune import TARGET_PRESETS, TargetModulesError, resolve_target_modules


def _load(model_dir: Path, image_text: bool, trust_remote_code: bool = False) -> Any:
    transformers: Any = importlib.import_module("transformers")
    loader = (
        transformers.AutoModelForImageTextToText
        if image_text
        else transformers.AutoModelForCausalLM
    )
    return loader.from_pretrained(
        model_dir, local_files_only=True, trust_remote_code=trust_remote_code
    )


def test_minicpmv_preset_targets_the_text_decoder_only(tiny_vlm_dir: Path) -> None:
    model = _load(tiny_vlm_dir, image_text=True)
    targets = resolve_target_modules(model, model.config.model_type)
    assert targets.source == "preset:minicpmv4_6"
    assert all(name.startswith("model.language_model.layers.") for name in targets.names)
    # Layer 0 is linear attention (no q/k/v), layer 1 full attention: both get adapters.
    assert {
        "model.language_model.layers.0.linear_attn.in_proj_qkv",
        "model.language_model.layers.0.linear_attn.in_proj_z",
        "model.language_model.layers.0.linear_attn.out_proj",
        "model.language_model.layers.1.self_attn.q_proj",
        "model.language_model.layers.1.self_attn.o_proj",
        "model.language_model.layers.0.mlp.down_proj",
    } <= set(targets.names)
    assert targets.counts()["q_proj"] == 1  # the vision tower's q_proj are not targets
    assert not any("vision" in n or "merger" in n or "lm_head" in n for n in targets.names)
    assert targets.to_dict()["matched"] == len(targets.names) == 13
    # A plain name list would have caught the vision tower's projections too.
    vision_q = [n for n, _ in model.named_modules() if n.endswith("q_proj") and "vision" in n]
    assert vision_q


def test_llama_preset_and_generic_fallback_agree(
    tiny_text_dir: Path, tiny_remote_dir: Path
) -> None:
    llama = _load(tiny_text_dir, image_text=False)
    preset = resolve_target_modules(llama, "llama")
    assert preset.source == "preset:llama"
    assert preset.counts() == {
        "down_proj": 2, "gate_proj": 2, "k_proj": 2, "o_proj": 2, "q_proj": 2, "up_proj": 2,
        "v_proj": 2,
    }  # fmt: skip
    remote = _load(tiny_remote_dir, image_text=False, trust_remote_code=True)
    assert remote.config.model_type not in TARGET_PRESETS
    generic = resolve_target_modules(remote, remote.config.model_type)
    assert generic.source == "generic"
    assert generic.names == preset.names


def test_generic_fallback_skips_the_vision_tower(tiny_vlm_dir: Path) -> None:
    model = _load(tiny_vlm_dir, image_text=True)
    generic = resolve_target_modules(model, "some_future_vlm")
    preset = resolve_target_modules(model, "minicpmv4_6")
    assert generic.source == "generic"
    assert generic.names == preset.names


def test_override_and_its_errors(tiny_text_dir: Path) -> None:
    model = _load(tiny_text_dir, image_text=False)
    only_v = resolve_target_modules(model, "llama", r"model\.layers\.\d+\.self_attn\.v_proj")
    assert only_v.source == "override"
    assert only_v.names == ("model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.v_proj")
    with pytest.raises(TargetModulesError, match=r"match no module.*q_proj x2"):
        resolve_target_modules(model, "llama", r"in_proj_qkv")
    with pytest.raises(TargetModulesError, match=r"'model.layers.0.mlp', a LlamaMLP"):
        resolve_target_modules(model, "llama", r"model\.layers\.0\.mlp")
    with pytest.raises(TargetModulesError, match="invalid regular expression"):
        resolve_target_modules(model, "llama", r"(")
