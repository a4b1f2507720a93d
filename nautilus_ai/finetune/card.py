"""The fine-tuned adapter artifact: a NEW versioned folder with the adapter and its card.

``<root>/<name>/v<N>/`` (written under a temporary name and renamed into place; an existing
folder is never overwritten) holds:

``adapter_model.safetensors`` + ``adapter_config.json``
    The peft LoRA adapter (safetensors: never pickle).
``prompt_settings.json``
    :data:`~nautilus_ai.models.transformers_backend.PROMPT_SETTINGS_FILE`: the prompt settings
    it was trained with; :class:`~nautilus_ai.models.TransformersPredictor` refuses another.
``finetune_card.json``
    This :class:`FineTuneCard`: base model (path, ``config.json`` hash), feature spec, label
    spec, windows, class balance, LoRA and training settings, losses, library versions.

:func:`finetuned_predictor_config` turns a folder back into the exact
:class:`~nautilus_ai.models.TransformersConfig` to serve it with.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
)

from nautilus_ai.artifacts import file_sha256
from nautilus_ai.models.card import (
    ArtifactError,
    check_card_seal,
    describe_errors,
    library_versions,
    not_utf8,
)
from nautilus_ai.models.transformers_backend import (
    ADAPTER_WEIGHTS_FILE,
    FINETUNE_CARD_FILE,
    PROMPT_SETTINGS_FILE,
    TransformersConfig,
)

__all__ = [
    "ADAPTER_CONFIG_FILE",
    "ADAPTER_WEIGHTS_FILE",
    "FINETUNE_CARD_FILE",
    "BaseModelInfo",
    "FineTuneCard",
    "file_sha256",
    "finetune_library_versions",
    "finetuned_predictor_config",
    "read_finetune_card",
]

ADAPTER_CONFIG_FILE = "adapter_config.json"

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BaseModelInfo(_Frozen):
    """The base model an adapter belongs to.

    Parameters
    ----------
    path : str
        The local model directory it was trained on (absolute).
    model_type : str
        ``config.model_type``.
    config_sha256 : str
        SHA-256 of its ``config.json``: an adapter is only served on the same base.
    image_text : bool
        Whether the model saw a chart.
    trust_remote_code : bool
        Whether loading it ran code from the directory.
    """

    path: str
    model_type: str
    config_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    image_text: bool
    trust_remote_code: bool = False


class FineTuneCard(_Frozen):
    """Metadata stored beside a fine-tuned adapter (``finetune_card.json``).

    Parameters
    ----------
    schema_version : int
        Card format version (1).
    name, version : str, int
        The folder is ``<name>/v<version>``; ``model_id`` is ``name/version``.
    kind : {"lora"}
    created_at : datetime
    base_model : BaseModelInfo
    prompt_settings : dict
        :meth:`~nautilus_ai.models.TransformersPredictor.prompt_settings` during training.
    context_bars : int
        Recent bars the strategy must hand the predictor (``context_bars`` of its config).
    bar_type : str
    feature_spec : dict
        ``FeatureSpec.to_dict()``; ``spec_hash`` its hash, ``feature_names`` its names.
    label : dict
        ``LabelSpec.to_dict()``; ``label_hash`` its hash.
    answer : dict
        The :class:`~nautilus_ai.finetune.AnswerSpec`.
    windows : dict
        Train / validation windows, ``{"start": ISO, "end": ISO}``, half-open, UTC.
    embargo_bars : int
    class_balance : dict
        Examples per action before selection, trained on, validated on.
    selection : dict
        How the training examples were thinned.
    data : dict
        Where the bars came from (catalog, feature source, run id, bar count).
    lora : dict
        Rank, alpha, dropout, target modules (pattern, source, matched count), parameters.
    training : dict
        Steps, epochs, batch sizes, learning rate, seed, device, dtype, seconds.
    metrics : dict
        ``final_loss``, ``loss_history`` and validation loss / accuracy before and after.
    library_versions : dict
    adapter_sha256 : str or None
        SHA-256 of ``adapter_model.safetensors``.
    card_sha256 : str or None
        SHA-256 of the card's other fields (:func:`~nautilus_ai.models.card.card_digest`); set
        on save, checked on load (None: a card written before the seal, loaded with a warning).
    """

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=128, pattern=_NAME_PATTERN)
    version: PositiveInt
    kind: Literal["lora"] = "lora"
    created_at: AwareDatetime
    description: str = ""
    base_model: BaseModelInfo
    prompt_settings: dict[str, JsonValue]
    context_bars: PositiveInt
    bar_type: str
    feature_spec: dict[str, JsonValue]
    spec_hash: str = Field(min_length=1)
    feature_names: tuple[str, ...]
    label: dict[str, JsonValue]
    label_hash: str
    answer: dict[str, JsonValue]
    windows: dict[str, dict[str, str]]
    embargo_bars: NonNegativeInt
    class_balance: dict[str, dict[str, int]]
    selection: dict[str, JsonValue] = Field(default_factory=dict)
    data: dict[str, JsonValue] = Field(default_factory=dict)
    lora: dict[str, JsonValue]
    training: dict[str, JsonValue]
    metrics: dict[str, JsonValue]
    library_versions: dict[str, str] = Field(default_factory=dict)
    adapter_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    card_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @property
    def model_id(self) -> str:
        """``name/version``: what predictions and trade tags carry."""
        return f"{self.name}/{self.version}"

    def to_json(self) -> str:
        """Indented JSON (what ``finetune_card.json`` holds)."""
        return self.model_dump_json(indent=2) + "\n"


def read_finetune_card(folder: str | Path) -> FineTuneCard:
    """Read ``<folder>/finetune_card.json``; errors name the file and the bad field."""
    path = Path(folder) / FINETUNE_CARD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(
            f"no {FINETUNE_CARD_FILE} in {Path(folder)} (is it a fine-tuned adapter folder?)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ArtifactError(not_utf8(path, exc)) from None
    try:
        card = FineTuneCard.model_validate_json(text)
    except ValidationError as exc:
        raise ArtifactError(f"{path}: invalid fine-tune card: {describe_errors(exc)}") from exc
    check_card_seal(card, path, "fine-tune card")
    return card


def finetune_library_versions() -> dict[str, str]:
    """:func:`~nautilus_ai.models.card.library_versions` plus transformers, peft, tokenizers."""
    extra: dict[str, str] = {}
    for dist in ("transformers", "peft", "tokenizers", "pillow"):
        try:
            extra[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            extra[dist] = "not installed"
    return library_versions(extra)


def finetuned_predictor_config(
    adapter_dir: str | Path,
    *,
    model_dir: str | Path | None = None,
    **overrides: Any,
) -> TransformersConfig:
    """The :class:`TransformersConfig` that serves a fine-tuned adapter as it was trained.

    Parameters
    ----------
    adapter_dir : path
        A folder written by :meth:`~nautilus_ai.finetune.FineTuneResult.save`.
    model_dir : path, optional
        Where the base model is now (default: the path in the card). Its ``config.json`` must
        hash as recorded.
    **overrides
        Settings that do not change the prompt: ``device``, ``dtype``, ``batch_size``,
        ``answer_mode``, ``max_new_tokens``, ``model_id``.

    Raises
    ------
    ArtifactError
        Missing / invalid card, a base model whose ``config.json`` differs from the one trained
        on, or an override that would change the prompt.
    """
    folder = Path(adapter_dir)
    card = read_finetune_card(folder)
    allowed = {"device", "dtype", "batch_size", "answer_mode", "max_new_tokens", "model_id"}
    refused = sorted(set(overrides) - allowed)
    if refused:
        raise ArtifactError(
            f"cannot override {', '.join(refused)}: the adapter {folder} was trained with "
            f"fixed prompt settings; allowed overrides: {', '.join(sorted(allowed))}"
        )
    base = Path(model_dir) if model_dir is not None else Path(card.base_model.path)
    config_file = base / "config.json"
    if not config_file.is_file():
        raise ArtifactError(f"base model directory {base} has no config.json")
    found = file_sha256(config_file)
    if found != card.base_model.config_sha256:
        raise ArtifactError(
            f"{config_file} hashes to {found[:12]}..., the adapter {folder} was trained on a base "
            f"whose config.json hashes to {card.base_model.config_sha256[:12]}..."
        )
    stored = _read_prompt_settings(folder / PROMPT_SETTINGS_FILE)
    settings: dict[str, Any] = {
        "model_dir": base,
        "adapter_dir": folder,
        "model_id": card.model_id,
        "modality": "image-text" if stored["image_text"] else "text",
        "trust_remote_code": card.base_model.trust_remote_code,
        "prompt_bars": stored["prompt_bars"],
        "system_prompt": stored["system_prompt"],
        "chat_template_kwargs": stored["chat_template_kwargs"],
        "spec_hash": stored["spec_hash"],
    }
    for key in ("chart_bars", "chart_width", "chart_height"):
        if key in stored:
            settings[key] = stored[key]
    settings.update(overrides)
    return TransformersConfig(**settings)


_PROMPT_KEYS = ("image_text", "prompt_bars", "system_prompt", "chat_template_kwargs", "spec_hash")


def _read_prompt_settings(path: Path) -> dict[str, Any]:
    """``prompt_settings.json`` as a dict with the keys a served config needs; errors name the
    file (and the missing key)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(
            f"no {path.name} in {path.parent} (the adapter's prompt settings)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(stored, dict):
        raise ArtifactError(f"{path}: not a JSON object")
    missing = [key for key in _PROMPT_KEYS if key not in stored]
    if missing:
        raise ArtifactError(f"{path}: missing {', '.join(missing)}")
    return stored
