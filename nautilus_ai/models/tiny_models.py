"""Tiny random-weight Hugging Face models, built offline, for tests and benchmarks.

Nothing is downloaded: a byte-level BPE tokenizer is trained on a few lines of text with
``tokenizers``, a tiny config is instantiated with random weights and both are saved with
``save_pretrained`` into a directory that :class:`~nautilus_ai.models.TransformersPredictor`
then loads with ``local_files_only=True``. The answers are random (the weights are); the point is
to run the whole code path (tokenizer, image processor, placeholder expansion, scoring,
generation) in milliseconds on a CPU.

* :func:`build_tiny_minicpmv` - a MiniCPM-V 4.6 (``minicpmv4_6``) image-text model.
* :func:`build_tiny_text_model` - a Llama-architecture causal LM, optionally packaged as
  "remote code" (``auto_map`` + Python files in the directory) to exercise ``trust_remote_code``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["build_tiny_minicpmv", "build_tiny_text_model"]

_SPECIALS = [
    "<unk>",
    "<pad>",
    "<|im_start|>",
    "<|im_end|>",
    "<image>",
    "</image>",
    "<slice>",
    "</slice>",
    "<image_id>",
    "</image_id>",
    "<image_pad>",
    "<video_pad>",
]

_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "Instrument: EURUSD.SIM Features: rsi = 0.5 ema_fast = 1.1 close = 1.10234 volume = 12",
    "Last 16 bars, oldest first (open high low close volume): 1.1 1.2 1.0 1.15 100",
    "You are a cautious FX trading assistant. Reply with one JSON object and nothing else.",
    "The image is a candlestick chart of the recent bars (volume below). Answer: 0123456789",
]
_ANSWERS = ['{"action": "buy", "risk": 0.2}', '{"action": "sell", "risk": 0.5}']
_ANSWERS += ['{"action": "hold", "risk": 0.9}']


def _tokenizer(action_words_as_tokens: bool, chat_template: bool) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    transformers: Any = importlib.import_module("transformers")

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = _CORPUS * 20
    if action_words_as_tokens:
        corpus += _ANSWERS * 50
    trainer = trainers.BpeTrainer(
        vocab_size=384 if action_words_as_tokens else 300,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    fast: Any = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        extra_special_tokens={
            "image_token": "<image_pad>",
            "video_token": "<video_pad>",
            "image_start_token": "<image>",
            "image_end_token": "</image>",
            "slice_start_token": "<slice>",
            "slice_end_token": "</slice>",
            "image_id_start_token": "<image_id>",
            "image_id_end_token": "</image_id>",
        },
    )
    if chat_template:
        fast.chat_template = _CHATML
    return fast


def build_tiny_minicpmv(
    directory: str | Path,
    *,
    seed: int = 0,
    action_words_as_tokens: bool = True,
    image_size: int = 112,
) -> Path:
    """Save a random-weight MiniCPM-V 4.6 model (~150k parameters) with tokenizer and processor.

    Parameters
    ----------
    directory : path
        Created if missing; files are overwritten.
    seed : int
        Torch seed for the random weights.
    action_words_as_tokens : bool
        Whether ``buy`` / ``sell`` / ``hold`` are single tokens (else they split into several and
        the predictor scores full continuations).
    image_size : int
        The image processor's ``scale_resolution`` (a multiple of 56): charts are resized to it.

    Returns
    -------
    Path
        ``directory``.
    """
    import torch

    transformers: Any = importlib.import_module("transformers")
    image_processor_class = importlib.import_module(
        "transformers.models.minicpmv4_6"
    ).MiniCPMV4_6ImageProcessorPil

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(action_words_as_tokens, chat_template=True)
    vocab = len(tokenizer)
    pad_id = tokenizer.pad_token_id
    eos_id = tokenizer.eos_token_id
    config = transformers.MiniCPMV4_6Config(
        text_config={
            "model_type": "qwen3_5_text",
            "vocab_size": vocab,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "linear_key_head_dim": 8,
            "linear_value_head_dim": 8,
            "linear_num_key_heads": 2,
            "linear_num_value_heads": 2,
            "layer_types": ["linear_attention", "full_attention"],
            "pad_token_id": pad_id,
            "eos_token_id": eos_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 14,
        },
        insert_layer_id=0,
        image_size=image_size,
        image_token_id=tokenizer.convert_tokens_to_ids("<image_pad>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<video_pad>"),
    )
    torch.manual_seed(seed)
    model = transformers.AutoModelForImageTextToText.from_config(config)
    model.generation_config.pad_token_id = pad_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    image_processor_class(
        scale_resolution=image_size, patch_size=14, max_slice_nums=1
    ).save_pretrained(path)
    return path


_REMOTE_CONFIG = """from transformers import LlamaConfig


class TinyRemoteConfig(LlamaConfig):
    model_type = "tiny_remote"
"""

_REMOTE_MODELING = """from transformers import LlamaForCausalLM

from .configuration_tiny_remote import TinyRemoteConfig


class TinyRemoteForCausalLM(LlamaForCausalLM):
    config_class = TinyRemoteConfig
"""


def build_tiny_text_model(
    directory: str | Path,
    *,
    seed: int = 0,
    action_words_as_tokens: bool = True,
    remote_code: bool = False,
    chat_template: bool = False,
) -> Path:
    """Save a random-weight Llama-architecture causal LM (~60k parameters) and its tokenizer.

    With ``remote_code=True`` the directory carries its own ``configuration_tiny_remote.py`` and
    ``modeling_tiny_remote.py`` referenced by ``auto_map`` (like MiniCPM 4.1), so loading it needs
    ``trust_remote_code=True``.
    """
    import json

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(action_words_as_tokens, chat_template=chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    if remote_code:
        (path / "configuration_tiny_remote.py").write_text(_REMOTE_CONFIG)
        (path / "modeling_tiny_remote.py").write_text(_REMOTE_MODELING)
        config_path = path / "config.json"
        data = json.loads(config_path.read_text())
        data["model_type"] = "tiny_remote"
        data["architectures"] = ["TinyRemoteForCausalLM"]
        data["auto_map"] = {
            "AutoConfig": "configuration_tiny_remote.TinyRemoteConfig",
            "AutoModelForCausalLM": "modeling_tiny_remote.TinyRemoteForCausalLM",
        }
        config_path.write_text(json.dumps(data, indent=2))
    return path
