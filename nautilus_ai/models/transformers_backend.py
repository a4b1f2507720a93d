"""A Hugging Face ``transformers`` model behind the predictor protocol.

Loads a local model directory (``local_files_only=True``: never downloads) and asks it the
question in :mod:`nautilus_ai.models.prompting`:

* image-text models (MiniCPM-V 4.6 natively; ``AutoModelForImageTextToText``) see a rendered
  candlestick chart (:mod:`nautilus_ai.charts`) plus the feature text;
* text models (``AutoModelForCausalLM``; MiniCPM 4.1 needs the opt-in ``trust_remote_code``) see
  the feature text and the last bars as a table.

The action and its confidence come from restricted scoring: the log-probability of each of
``buy`` / ``sell`` / ``hold`` as the continuation of ``{"action": "``, softmaxed over the three.
When every choice is a single token this is one forward pass over the prompt (batched); otherwise
each choice is scored as a full continuation. In ``answer_mode="json"`` the model also generates
the whole JSON answer (greedy), validated with pydantic: its ``action`` and ``risk`` are used and
the confidence is the scored probability of that action. In ``answer_mode="score"`` (default,
faster, never malformed) the risk score is the normalised entropy of the action distribution.

MiniCPM-V 4.6's processor cannot be built without torchvision (it owns a video processor), so for
that model type the tokenizer and image processor are loaded separately and the image placeholder
tokens are expanded here, exactly as the processor would.

A LoRA adapter written by ``nautilus-ai finetune`` (:mod:`nautilus_ai.finetune`) is applied on top
of the base model with ``adapter_dir``. The adapter was trained on prompts built by this module
(:meth:`TransformersPredictor.encode_rows`); the prompt settings it was trained with are stored
beside it (:data:`PROMPT_SETTINGS_FILE`) and a config that would show the model anything else is
refused.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nautilus_ai.artifacts import file_sha256
from nautilus_ai.charts import ChartStyle, render_chart
from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError
from nautilus_ai.models.card import ArtifactError, checked_artifact_file, json_card_digest
from nautilus_ai.models.itemwise import ItemResult, ItemwiseBackend, check_batch
from nautilus_ai.models.prompting import (
    ACTION_CHOICES,
    ANSWER_PREFIX,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    action_distribution,
    build_prompt,
    input_fingerprint,
    normalised_entropy,
    parse_answer,
)
from nautilus_ai.models.registry import Backend, BackendRegistry
from nautilus_ai.models.spec import FeatureSpecLike, check_pinned_spec
from nautilus_ai.models.trained_bars import TrainedBars

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = [
    "ADAPTER_WEIGHTS_FILE",
    "FINETUNE_CARD_FILE",
    "PROMPT_SETTINGS_FILE",
    "TransformersConfig",
    "TransformersPredictor",
    "check_weights_loaded",
]

log = logging.getLogger(__name__)

# Model types whose processor we replace by tokenizer + image processor + our own placeholder
# expansion (their processors need torchvision for a video processor we never use).
_MINICPMV_TYPES = frozenset({"minicpmv4_6"})

# Stands for the image in the prompt until the placeholder tokens are known.
_IMAGE_MARKER = "<|nautilus-ai-chart|>"

#: File in a fine-tuned adapter folder holding the prompt settings it was trained with
#: (:meth:`TransformersPredictor.prompt_settings`).
PROMPT_SETTINGS_FILE = "prompt_settings.json"
#: The card of a fine-tuned adapter (:mod:`nautilus_ai.finetune.card`) and its weights: the card's
#: ``adapter_sha256`` and ``base_model.config_sha256`` are checked when the adapter is loaded.
FINETUNE_CARD_FILE = "finetune_card.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"


class TransformersConfig(BaseModel):
    """Settings of a :class:`TransformersPredictor` (frozen; unknown fields are rejected).

    Parameters
    ----------
    model_dir : Path
        A local model directory (``config.json``, weights, tokenizer; an image processor config
        for image-text models). Nothing is downloaded.
    model_id : str
        Name + version recorded in predictions and cache keys. Default: the directory name plus a
        fingerprint of its files' names, sizes and modification times (a changed model never
        reuses cached answers).
    modality : {"auto", "image-text", "text"}
        ``auto``: image-text if the model config has a ``vision_config``.
    trust_remote_code : bool
        Run Python code shipped in the model directory (MiniCPM 4.1, MiniCPM-V <= 4.5). Off by
        default: turn it on only for directories you trust.
    device : str
        ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
    dtype : {"auto", "float32", "bfloat16", "float16"}
        ``auto``: bfloat16 on CUDA, float32 on CPU.
    answer_mode : {"score", "json"}
        ``score``: restricted scoring only. ``json``: also generate and validate the JSON answer.
    max_new_tokens : int
        Generation budget in ``json`` mode.
    chart_bars, prompt_bars : int
        Bars drawn in the chart (image-text) / listed in the prompt text.
    chart_width, chart_height : int
        Chart size in pixels.
    batch_size : int
        Rows per forward pass in ``predict_batch``.
    spec_hash : str or None
        The feature spec the model expects; ``None`` accepts any (names come with the context).
    system_prompt : str
        The instructions sent as the system message.
    chat_template_kwargs : dict
        Extra variables for the tokenizer's chat template (e.g. ``enable_thinking``).
    adapter_dir : Path or None
        A LoRA adapter folder (peft ``adapter_config.json`` + ``adapter_model.safetensors``, as
        written by ``nautilus-ai finetune``) applied on top of ``model_dir``. When it holds
        :data:`PROMPT_SETTINGS_FILE`, this config's prompt settings must equal those (the
        adapter was trained on those prompts); a difference is refused, naming the fields.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["transformers"] = "transformers"
    model_dir: Path
    model_id: str = ""
    modality: Literal["auto", "image-text", "text"] = "auto"
    trust_remote_code: bool = False
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    answer_mode: Literal["score", "json"] = "score"
    max_new_tokens: int = Field(default=48, ge=1, le=1024)
    chart_bars: int = Field(default=64, ge=1, le=1000)
    prompt_bars: int = Field(default=16, ge=0, le=1000)
    chart_width: int = Field(default=448, ge=32, le=4096)
    chart_height: int = Field(default=448, ge=32, le=4096)
    batch_size: int = Field(default=8, ge=1, le=1024)
    spec_hash: str | None = None
    system_prompt: str = SYSTEM_PROMPT
    chat_template_kwargs: dict[str, Any] = Field(default_factory=lambda: {"enable_thinking": False})
    adapter_dir: Path | None = None

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, was {value!r}")


@dataclass(frozen=True, slots=True)
class _Request:
    prompt: str  # the full text, ending with ANSWER_PREFIX
    image: Image.Image | None


class TransformersPredictor(ItemwiseBackend):
    """Predict with a local Hugging Face model (see the module docstring for the method).

    Parameters
    ----------
    config : TransformersConfig
        Where the model is and how to ask it.

    Raises
    ------
    FileNotFoundError
        If ``config.model_dir`` does not exist.
    PredictionError
        If the model cannot be loaded (the message names the directory and the cause).
    """

    def __init__(self, config: TransformersConfig) -> None:
        from nautilus_ai.extras import require_extra

        require_extra("hf", "the transformers backend")
        import torch

        transformers: Any = importlib.import_module("transformers")
        self.config = config
        model_dir = config.model_dir
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"model directory {model_dir} has no config.json")
        self._device = _resolve_device(config.device)
        self._dtype = _resolve_dtype(config.dtype, self._device)
        self._model_id = config.model_id or _default_model_id(model_dir, config.adapter_dir)
        self._spec_hash = config.spec_hash
        common: dict[str, Any] = {
            "local_files_only": True,
            "trust_remote_code": config.trust_remote_code,
        }
        part = "config"
        try:
            model_config = transformers.AutoConfig.from_pretrained(model_dir, **common)
            self._model_type = str(getattr(model_config, "model_type", ""))
            if config.modality == "auto":
                image_text = getattr(model_config, "vision_config", None) is not None
            else:
                image_text = config.modality == "image-text"
            self._image_text = image_text
            part = "tokenizer"
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, **common)
            loader = (
                transformers.AutoModelForImageTextToText
                if image_text
                else transformers.AutoModelForCausalLM
            )
            part = f"{'image-text' if image_text else 'text'} model weights"
            model, loading = loader.from_pretrained(
                model_dir, dtype=self._dtype, output_loading_info=True, **common
            )
            check_weights_loaded(loading, model_config)
        except Exception as exc:  # OSError, ValueError, SafetensorError (truncated file)...
            raise PredictionError(
                f"cannot load transformers model from {model_dir} ({part}): "
                f"{_missing_files(model_dir)}{type(exc).__name__}: {' '.join(str(exc).split())}"
            ) from exc
        self._model: Any = model.to(self._device).eval()
        # The longest sequence the model was built for (an image-text model's text side):
        # a longer prompt is refused, never run past what the model can attend to.
        text_config = getattr(model_config, "text_config", None) or model_config
        context = getattr(text_config, "max_position_embeddings", None)
        self._context_tokens = context if isinstance(context, int) and context > 0 else None
        self._adapter: Any = None
        # What the fine-tuned adapter's card records (None: no adapter, or none recorded).
        self._trained_bars: TrainedBars | None = None
        if config.adapter_dir is not None:
            self._attach_adapter(config.adapter_dir)
        self._image_processor: Any = None
        self._processor: Any = None
        if image_text:
            self._load_image_side(model_dir, common, model_config)
        if self._tokenizer.pad_token_id is None:
            # Left padding needs a pad id; any id works because padded positions are masked.
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._choice_ids = [
            list(self._tokenizer(choice, add_special_tokens=False)["input_ids"])
            for choice in ACTION_CHOICES
        ]
        firsts = [ids[0] for ids in self._choice_ids if ids]
        self._single_token = all(len(ids) == 1 for ids in self._choice_ids) and len(
            set(firsts)
        ) == len(ACTION_CHOICES)
        self._chart_style = ChartStyle(width=config.chart_width, height=config.chart_height)
        # What changes an answer: the weights (the folders' fingerprint, also when model_id is
        # given by hand: a replaced model under the same id never reuses cached answers), the
        # dtype they run in (bf16 and float32 answer differently), the prompt settings.
        self._fingerprint_parts = (
            self._model_id,
            _default_model_id(model_dir, config.adapter_dir),
            str(self._dtype),
            config.model_dump_json(exclude={"model_dir", "device", "dtype", "batch_size"}),
        )
        self._torch = torch
        self.malformed_answers = 0
        self._last_malformed_log = -math.inf

    # -- protocol (predict, predict_batch, model_id, spec_hash: ItemwiseBackend) ----------------

    @property
    def image_text(self) -> bool:
        """Whether the model sees a chart image."""
        return self._image_text

    @property
    def trained_bars(self) -> TrainedBars | None:
        """The bar type the fine-tuned adapter's card records; ``None`` for a base model (or an
        adapter without a card): it learnt nothing of any bar type."""
        return self._trained_bars

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        """One :class:`Prediction` or :class:`PredictionError` per row, in ``batch_size`` chunks.

        A row whose answer is malformed is a (logged) :class:`PredictionError`; ``predict``
        raises it and ``predict_batch`` turns it into a ``hold``.
        """
        self._check_open()
        matrix = check_batch(features, contexts)
        if contexts is None:
            raise PredictionError("TransformersPredictor needs a MarketContext per row")
        results: list[ItemResult] = []
        size = self.config.batch_size
        for start in range(0, matrix.shape[0], size):
            results.extend(
                self._predict_chunk(matrix[start : start + size], contexts[start : start + size])
            )
        return results

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        del self._model
        self._adapter = None
        if self._device.type == "cuda":
            self._torch.cuda.empty_cache()

    # -- adapters and fine-tuning support -------------------------------------------------------

    @property
    def model(self) -> Any:
        """The loaded torch module (LoRA layers injected when ``adapter_dir`` is set)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The loaded tokenizer (its pad token set)."""
        return self._tokenizer

    @property
    def choice_token_ids(self) -> tuple[tuple[int, ...], ...]:
        """Token ids of each of :data:`ACTION_CHOICES` as scored after :data:`ANSWER_PREFIX`."""
        return tuple(tuple(ids) for ids in self._choice_ids)

    def prompt_settings(self) -> dict[str, Any]:
        """Every setting that shapes what the model is shown for a row (JSON values).

        A fine-tuned adapter stores these (:data:`PROMPT_SETTINGS_FILE`); a predictor loading it
        with different ones is refused. The chart settings count only for image-text models.
        """
        config = self.config
        settings: dict[str, Any] = {
            "prompt_version": PROMPT_VERSION,
            "image_text": self._image_text,
            "prompt_bars": config.prompt_bars,
            "system_prompt": config.system_prompt,
            "chat_template_kwargs": dict(config.chat_template_kwargs),
            "spec_hash": config.spec_hash,
        }
        if self._image_text:
            settings["chart_bars"] = config.chart_bars
            settings["chart_width"] = config.chart_width
            settings["chart_height"] = config.chart_height
        return settings

    def encode_rows(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext],
        continuations: Sequence[Sequence[int]],
    ) -> dict[str, Any]:
        """Model inputs for rows: each prompt exactly as ``predict`` builds it (chat template,
        chart, :data:`ANSWER_PREFIX`) followed by that row's ``continuations`` token ids.

        Sequences are left padded, so every continuation ends at the last position. This is what
        fine-tuning trains on; raises :class:`PredictionError` for a row ``predict`` would refuse.
        """
        matrix = check_batch(features, contexts)
        if len(continuations) != matrix.shape[0]:
            raise ValueError(
                f"continuations has {len(continuations)} rows, features {matrix.shape[0]}"
            )
        requests = [self._build_request(matrix[i], context) for i, context in enumerate(contexts)]
        return self._encode(requests, [list(ids) for ids in continuations])

    def _attach_adapter(self, adapter_dir: Path) -> None:
        if not (adapter_dir / "adapter_config.json").is_file():
            raise FileNotFoundError(f"adapter directory {adapter_dir} has no adapter_config.json")
        settings_path = adapter_dir / PROMPT_SETTINGS_FILE
        if settings_path.is_file():
            try:
                trained = json.loads(settings_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise PredictionError(f"cannot read {settings_path}: {exc}") from exc
            current = self.prompt_settings()
            if not isinstance(trained, dict) or trained != current:
                raise PredictionError(
                    f"adapter {adapter_dir} was fine-tuned on other prompts than this config "
                    f"builds: {_settings_difference(trained, current)}"
                )
        self._check_adapter_card(adapter_dir)
        try:
            import peft
        except ImportError as exc:
            raise PredictionError(
                "adapter_dir needs peft: pip install 'nautilus-ai[finetune]'"
            ) from exc
        try:
            with warnings.catch_warnings():
                # peft reads a transformers property deprecated in 5.x; not ours to fix.
                warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
                # its only word on missing adapter weights: checked (and refused) below
                warnings.filterwarnings("ignore", "Found missing adapter keys", UserWarning)
                self._adapter = peft.PeftModel.from_pretrained(
                    self._model, str(adapter_dir), is_trainable=False
                )
            _check_adapter_weights_loaded(peft, self._adapter, adapter_dir)
        except Exception as exc:  # OSError, ValueError, SafetensorError (truncated file)...
            raise PredictionError(
                f"cannot load the adapter {adapter_dir} onto {self.config.model_dir}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        # peft injects the LoRA layers into the base module in place: calling it (forward and
        # generate, with every model-specific input) now runs base + adapter.
        self._adapter.eval()

    def _check_adapter_card(self, adapter_dir: Path) -> None:
        """An adapter with a fine-tune card must be the one the card describes (weights SHA-256)
        and sit on the base it was trained on (``config.json`` SHA-256)."""
        card_path = adapter_dir / FINETUNE_CARD_FILE
        if not card_path.is_file():
            return  # an adapter trained elsewhere: nothing recorded to check against
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PredictionError(f"cannot read {card_path}: {exc}") from exc
        if not isinstance(card, dict):
            raise PredictionError(f"{card_path} is not a fine-tune card (not a JSON object)")
        sealed = card.get("card_sha256")
        if sealed is not None and json_card_digest(card) != sealed:
            raise PredictionError(
                f"{card_path}: the fine-tune card was edited or corrupted after it was written "
                "(its fields do not hash to its card_sha256); restore it"
            )
        try:
            checked_artifact_file(adapter_dir, ADAPTER_WEIGHTS_FILE, card.get("adapter_sha256"))
        except ArtifactError as exc:
            raise PredictionError(str(exc)) from None
        # prompt_settings.json is what the config was checked against (and what
        # finetune_card.json's config is built from): an edited one would pass that check.
        trained = card.get("prompt_settings")
        current = self.prompt_settings()
        if isinstance(trained, dict) and trained != current:
            raise PredictionError(
                f"adapter {adapter_dir} was fine-tuned on other prompts than this config builds "
                f"(its {FINETUNE_CARD_FILE} records them; was {PROMPT_SETTINGS_FILE} edited?): "
                f"{_settings_difference(trained, current)}"
            )
        bar_type = card.get("bar_type")
        self._trained_bars = TrainedBars(
            self._model_id, bar_type if isinstance(bar_type, str) and bar_type else None
        )
        base = card.get("base_model")
        expected = base.get("config_sha256") if isinstance(base, dict) else None
        config_file = self.config.model_dir / "config.json"
        if expected and file_sha256(config_file) != expected:
            raise PredictionError(
                f"{config_file} is not the base the adapter {adapter_dir} was trained on: it was "
                f"trained on a base whose config.json hashes to {str(expected)[:12]}..."
            )

    # -- prompts --------------------------------------------------------------------------------

    def prompt_hash(self, features: NDArray[np.float64], context: MarketContext) -> str:
        """Identifies everything the model is shown for this row (a prediction-cache key part)."""
        bars_used = max(self.config.prompt_bars, self.config.chart_bars if self._image_text else 0)
        return input_fingerprint(features, context, *self._fingerprint_parts, bars_used=bars_used)

    def render_prompt(self, features: NDArray[np.float64], context: MarketContext) -> str:
        """The full text the model sees for one row (the image placeholder shown as ``<chart>``)."""
        return self._build_request(features, context).prompt.replace(_IMAGE_MARKER, "<chart>")

    def _build_request(self, features: NDArray[np.float64], context: MarketContext) -> _Request:
        config = self.config
        self._check_context_spec(context)
        image = None
        if self._image_text:
            if context.recent_bars is None or len(context.recent_bars) == 0:
                raise PredictionError(
                    f"{self._model_id} draws a chart: MarketContext.recent_bars is required"
                )
            try:
                image = render_chart(context.recent_bars[-config.chart_bars :], self._chart_style)
            except ValueError as exc:
                raise PredictionError(f"cannot draw the chart: {exc}") from exc
        text = build_prompt(
            features, context, bars_in_prompt=config.prompt_bars, with_chart=image is not None
        )
        user = f"{_IMAGE_MARKER}\n{text}" if image is not None else text
        messages = [
            {"role": "system", "content": config.system_prompt},
            {"role": "user", "content": user},
        ]
        if getattr(self._tokenizer, "chat_template", None):
            prompt = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False, **config.chat_template_kwargs
            )
        else:
            prompt = f"{config.system_prompt}\n\n{user}\n\nAnswer: "
        return _Request(prompt=str(prompt) + ANSWER_PREFIX, image=image)

    # -- model calls ----------------------------------------------------------------------------

    def _predict_chunk(
        self, matrix: NDArray[np.float64], contexts: Sequence[MarketContext]
    ) -> list[ItemResult]:
        start = time.perf_counter()
        results: list[ItemResult | None] = [None] * len(contexts)
        requests: list[_Request] = []
        rows: list[int] = []
        for row, context in enumerate(contexts):
            try:
                requests.append(self._build_request(matrix[row], context))
                rows.append(row)
            except PredictionError as exc:
                results[row] = exc
        if requests:
            with self._torch.inference_mode():
                distributions, texts = self._score_and_generate(requests)
            latency = (time.perf_counter() - start) / len(requests)
            for row, dist, text in zip(rows, distributions, texts, strict=True):
                results[row] = self._to_prediction(dist, text, latency)
        missing = PredictionError("internal: row not computed")
        return [r if r is not None else missing for r in results]

    def _to_prediction(
        self, dist: dict[Action, float], text: str | None, latency: float
    ) -> ItemResult:
        if text is None:
            action = max(dist, key=lambda a: (dist[a], a is Action.HOLD))
            return Prediction(
                action,
                _clip(dist[action]),
                _clip(normalised_entropy(dist)),
                self._model_id,
                latency,
                reason="restricted scoring",
            )
        try:
            answer = parse_answer(ANSWER_PREFIX + text)
        except PredictionError as exc:
            self._log_malformed(exc)
            return exc
        action = Action(answer.action)
        return Prediction(
            action, _clip(dist[action]), answer.risk, self._model_id, latency, reason="json answer"
        )

    def _log_malformed(self, error: PredictionError) -> None:
        # At most one line a minute: a model that answers junk on every bar must not flood.
        self.malformed_answers += 1
        now = time.monotonic()
        if now - self._last_malformed_log >= 60.0:
            log.warning(
                "%s: malformed answer (%d so far), holding: %s",
                self._model_id,
                self.malformed_answers,
                error,
            )
            self._last_malformed_log = now

    def _score_and_generate(
        self, requests: list[_Request]
    ) -> tuple[list[dict[Action, float]], list[str | None]]:
        torch = self._torch
        inputs = self._encode(requests, [[]] * len(requests))
        generate = self.config.answer_mode == "json"
        texts: list[str | None] = [None] * len(requests)
        if generate:
            output = self._model.generate(
                **inputs,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=False,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=self._tokenizer.pad_token_id,
            )
            new_tokens = output.sequences[:, inputs["input_ids"].shape[1] :]
            texts = list(self._tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
            first_logits = output.logits[0]
        elif self._single_token:
            first_logits = self._model(**inputs).logits[:, -1, :]
        if self._single_token:
            log_probs = torch.log_softmax(first_logits.float(), dim=-1)
            ids = torch.tensor([c[0] for c in self._choice_ids], device=log_probs.device)
            scores = log_probs[:, ids].cpu().numpy()
        else:
            scores = self._score_continuations(requests)
        distributions = [action_distribution(row.tolist()) for row in scores]
        return distributions, texts

    def _score_continuations(self, requests: list[_Request]) -> NDArray[np.float64]:
        """Full log-probability of each multi-token action choice after the prompt."""
        torch = self._torch
        expanded = [r for r in requests for _ in ACTION_CHOICES]
        suffixes = [ids for _ in requests for ids in self._choice_ids]
        inputs = self._encode(expanded, suffixes)
        logits = self._model(**inputs).logits.float()
        log_probs = torch.log_softmax(logits, dim=-1)
        # Left padding: every sequence ends at the last position, so choice token j of a choice
        # of length L sits at position -L + j and is predicted by the logits one step earlier.
        scores = np.empty(len(expanded), dtype=np.float64)
        for i, ids in enumerate(suffixes):
            length = len(ids)
            positions = torch.arange(-length - 1, -1, device=log_probs.device)
            targets = torch.tensor(ids, device=log_probs.device)
            scores[i] = float(log_probs[i, positions, targets].sum())
        return scores.reshape(len(requests), len(ACTION_CHOICES))

    def _encode(self, requests: list[_Request], suffixes: list[list[int]]) -> dict[str, Any]:
        """Token ids (+ pixel inputs), left-padded, with ``suffixes`` appended to each prompt."""
        torch = self._torch
        pixel_inputs: dict[str, Any] = {}
        if self._image_text:
            encoded, pixel_inputs = self._encode_with_images(requests)
        else:
            encoded = self._tokenize([r.prompt for r in requests])
        sequences = [ids + suffix for ids, suffix in zip(encoded, suffixes, strict=True)]
        width = max(len(s) for s in sequences)
        if self._context_tokens is not None and width > self._context_tokens:
            raise PredictionError(
                f"{self._model_id}: a prompt of {width} tokens is longer than the model's "
                f"context of {self._context_tokens} tokens (max_position_embeddings in "
                f"{self.config.model_dir / 'config.json'}): lower prompt_bars (finetune "
                "--prompt-bars), or chart_bars / the chart size for a chart"
            )
        pad = int(self._tokenizer.pad_token_id)
        input_ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, seq in enumerate(sequences):
            input_ids[i, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            attention[i, width - len(seq) :] = 1
        batch: dict[str, Any] = {
            "input_ids": input_ids.to(self._device),
            "attention_mask": attention.to(self._device),
        }
        for key, value in pixel_inputs.items():
            batch[key] = value.to(self._device) if hasattr(value, "to") else value
        return batch

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        # A chat template already wrote the special tokens (BOS etc.) into the text.
        templated = bool(getattr(self._tokenizer, "chat_template", None))
        encoded = self._tokenizer(texts, add_special_tokens=not templated)["input_ids"]
        return [list(ids) for ids in encoded]

    # -- image placeholders ---------------------------------------------------------------------

    def _load_image_side(self, model_dir: Path, common: dict[str, Any], model_config: Any) -> None:
        transformers: Any = importlib.import_module("transformers")

        if self._model_type in _MINICPMV_TYPES:
            try:
                self._image_processor = transformers.AutoImageProcessor.from_pretrained(
                    model_dir, **common
                )
            except (OSError, ValueError, ImportError) as exc:
                raise PredictionError(
                    f"cannot load the image processor from {model_dir}: {exc}"
                ) from exc
            self._image_token_id = int(model_config.image_token_id)
            return
        try:
            self._processor = transformers.AutoProcessor.from_pretrained(model_dir, **common)
        except (OSError, ValueError, ImportError) as exc:
            raise PredictionError(
                f"cannot load a processor for model type {self._model_type!r} from {model_dir} "
                f"({exc}); natively expanded types: {sorted(_MINICPMV_TYPES)}"
            ) from exc

    def _encode_with_images(
        self, requests: list[_Request]
    ) -> tuple[list[list[int]], dict[str, Any]]:
        images = [r.image for r in requests]
        if self._processor is not None:
            return self._encode_with_processor([r.prompt for r in requests], images)
        return self._encode_minicpmv([r.prompt for r in requests], images)

    def _encode_minicpmv(
        self, texts: list[str], images: list[Image.Image | None]
    ) -> tuple[list[list[int]], dict[str, Any]]:
        """What ``MiniCPMV4_6Processor`` does for one image per prompt, without torchvision."""
        processor = self._image_processor
        tokenizer = self._tokenizer
        processed = processor(images, return_tensors="pt")
        token = str(tokenizer.convert_ids_to_tokens(self._image_token_id))
        start_tok = _special(tokenizer, "image_start_token", "<image>")
        end_tok = _special(tokenizer, "image_end_token", "</image>")
        slice_start = _special(tokenizer, "slice_start_token", "<slice>")
        slice_end = _special(tokenizer, "slice_end_token", "</slice>")
        id_start = _special(tokenizer, "image_id_start_token", "<image_id>")
        id_end = _special(tokenizer, "image_id_end_token", "</image_id>")
        divisor = 4 if getattr(processor, "downsample_mode", "16x") == "4x" else 16
        target_sizes = processed["target_sizes"].numpy()
        patches = np.cumsum(processed["num_patches_per_image"])
        grids = processed["grids"]
        use_image_id = bool(getattr(processor, "use_image_id", True))
        expanded: list[str] = []
        for index, text in enumerate(texts):
            first = int(patches[index - 1]) if index else 0
            tokens = target_sizes[first : int(patches[index])].prod(-1) // divisor
            placeholder = start_tok + token * int(tokens[0]) + end_tok
            rows, cols = grids[index]
            if getattr(processor, "slice_mode", False) and rows > 0 and cols > 0:
                per_slice = [int(n) for n in tokens[1:]]
                placeholder += "\n".join(
                    "".join(
                        slice_start + token * n + slice_end
                        for n in per_slice[r * cols : (r + 1) * cols]
                    )
                    for r in range(rows)
                )
            if use_image_id:
                placeholder = f"{id_start}0{id_end}" + placeholder
            expanded.append(text.replace(_IMAGE_MARKER, placeholder))
        pixel_inputs = {
            "pixel_values": processed["pixel_values"],
            "target_sizes": processed["target_sizes"],
        }
        return self._tokenize(expanded), pixel_inputs

    def _encode_with_processor(
        self, texts: list[str], images: list[Image.Image | None]
    ) -> tuple[list[list[int]], dict[str, Any]]:
        processor = self._processor
        token = getattr(processor, "image_token", None)
        if not isinstance(token, str):
            raise PredictionError(
                f"processor of model type {self._model_type!r} has no image_token attribute"
            )
        texts = [text.replace(_IMAGE_MARKER, token) for text in texts]
        templated = bool(getattr(self._tokenizer, "chat_template", None))
        batch = processor(
            images=images,
            text=texts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=not templated,
        )
        ids = batch["input_ids"]
        mask = batch["attention_mask"].bool()
        encoded = [ids[i][mask[i]].tolist() for i in range(ids.shape[0])]
        pixel_inputs = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
        return encoded, pixel_inputs


def _settings_difference(trained: Any, current: dict[str, Any]) -> str:
    if not isinstance(trained, dict):
        return f"stored settings are not a JSON object: {trained!r}"
    missing = "<missing>"
    parts = [
        f"{key}: adapter {trained.get(key, missing)!r}, config {current.get(key, missing)!r}"
        for key in sorted(set(trained) | set(current))
        if trained.get(key, missing) != current.get(key, missing)
    ]
    return "; ".join(parts)


#: What a local model folder needs besides config.json: any one file of each group.
_NEEDED_FILES: dict[str, tuple[str, ...]] = {
    "tokenizer": ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json"),
    "weights": ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"),
}


def missing_model_files(model_dir: str | Path) -> list[str]:
    """What a local model folder lacks, as ``"no tokenizer file (tokenizer.json, ...)"``
    (any one file of a group will do); empty when nothing is missing."""
    folder = Path(model_dir)
    return [
        f"no {what} file ({', '.join(names)})"
        for what, names in _NEEDED_FILES.items()
        if not any((folder / name).is_file() for name in names)
    ]


def check_weights_loaded(loading: Any, model_config: Any) -> None:
    """Refuse a model some of whose weights are not in the folder's weights file.

    transformers initialises such weights at random and only logs a load report: a folder of
    another architecture (a ``config.json`` that does not match the weights, a BERT checkpoint
    read as a causal LM), or a partial checkpoint, loaded and answered with random weights,
    a different answer on every load. ``loading`` is ``from_pretrained``'s loading info.

    Raises
    ------
    ValueError
        Naming how many weights are missing, the first few, and the architecture asked for.
    """
    missing = sorted(str(key) for key in (loading or {}).get("missing_keys", ()) or ())
    if not missing:
        return
    kind = getattr(model_config, "model_type", "") or "?"
    unexpected = len((loading or {}).get("unexpected_keys", ()) or ())
    other = f" and holds {unexpected} weights it does not use" if unexpected else ""
    raise ValueError(
        f"{len(missing)} weights of the {kind!r} model config.json describes are not in the "
        f"weights file{other} (first: {', '.join(missing[:3])}); they would be random: is the "
        "folder's config.json from another architecture, or the checkpoint incomplete?"
    )


def _check_adapter_weights_loaded(peft: Any, adapter: Any, adapter_dir: Path) -> None:
    """Refuse an adapter whose weights file lacks some of the LoRA weights its
    ``adapter_config.json`` adds (another adapter's weights, other target modules): peft keeps
    their initial values and only warns, and a LoRA ``B`` starts at zero, so the adapter did
    nothing and the base model answered under the adapter's model id."""
    weights = adapter_dir / ADAPTER_WEIGHTS_FILE
    if not weights.is_file():
        return  # another format (adapter_model.bin): peft read it; nothing more to compare
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        stored = set(handle.keys())
    expected = set(peft.get_peft_model_state_dict(adapter))
    missing = sorted(expected - stored)
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(expected)} adapter weights its adapter_config.json "
            f"adds are not in {weights.name} (first: {', '.join(missing[:2])}); they would keep "
            "their initial values (the adapter would do nothing): is the weights file from "
            "another adapter?"
        )


def _missing_files(model_dir: Path) -> str:
    """``"the folder has no tokenizer file (...); "`` for the groups absent, else ``""``: a
    library's own error for a missing file does not always say which file it looked for."""
    missing = missing_model_files(model_dir)
    return f"the folder has {' and '.join(missing)}; " if missing else ""


def _default_model_id(model_dir: Path, adapter_dir: Path | None) -> str:
    if adapter_dir is None:
        return f"{model_dir.name}@{_directory_fingerprint(model_dir)}"
    fingerprint = _directory_fingerprint(model_dir) + _directory_fingerprint(adapter_dir)
    return f"{model_dir.name}+{adapter_dir.parent.name}-{adapter_dir.name}@{fingerprint}"


def _special(tokenizer: Any, name: str, default: str) -> str:
    value = getattr(tokenizer, name, None)
    return value if isinstance(value, str) else default


def _clip(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _resolve_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PredictionError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def _resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    import torch

    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _directory_fingerprint(model_dir: Path) -> str:
    """Names, sizes and mtimes of the directory's files: changes when any file is replaced."""
    digest = hashlib.blake2b(digest_size=6)
    entries = []
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            stat = path.stat()
            entries.append([str(path.relative_to(model_dir)), stat.st_size, stat.st_mtime_ns])
    digest.update(json.dumps(entries).encode())
    return digest.hexdigest()


def _build_from_registry(
    config: TransformersConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> TransformersPredictor:
    check_pinned_spec(config.spec_hash, spec, "transformers")
    return TransformersPredictor(config)


#: The ``transformers`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("transformers", TransformersConfig, _build_from_registry)
