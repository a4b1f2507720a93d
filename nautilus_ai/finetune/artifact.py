"""Write a fine-tuned adapter into a NEW versioned folder (see :mod:`nautilus_ai.finetune.card`)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nautilus_ai.artifacts import file_sha256, publish_folder, publish_next_version
from nautilus_ai.finetune.card import (
    ADAPTER_CONFIG_FILE,
    ADAPTER_WEIGHTS_FILE,
    FINETUNE_CARD_FILE,
    BaseModelInfo,
    FineTuneCard,
    finetune_library_versions,
)
from nautilus_ai.models.card import ArtifactError, sealed_card
from nautilus_ai.models.transformers_backend import PROMPT_SETTINGS_FILE

if TYPE_CHECKING:
    from nautilus_ai.finetune.lora import FineTuneResult

__all__ = ["build_card", "save_adapter"]

# What a stored adapter folder holds: nothing else (peft's README stub is not kept).
_KEPT = frozenset({ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE})


def build_card(
    result: FineTuneResult, name: str, version: int, *, description: str = ""
) -> FineTuneCard:
    """The card of ``result`` stored as ``<name>/v<version>`` (``adapter_sha256`` unset)."""
    dataset = result.dataset
    predictor = result.predictor
    base = predictor.config
    config = result.config
    model_dir = Path(base.model_dir).resolve()
    return FineTuneCard(
        name=name,
        version=version,
        created_at=datetime.now(UTC),
        description=description,
        base_model=BaseModelInfo(
            path=str(model_dir),
            model_type=str(getattr(predictor.model.config, "model_type", "")),
            config_sha256=file_sha256(model_dir / "config.json"),
            image_text=predictor.image_text,
            trust_remote_code=base.trust_remote_code,
        ),
        prompt_settings=predictor.prompt_settings(),
        context_bars=dataset.context_bars,
        bar_type=dataset.bar_type,
        feature_spec=dataset.feature_spec,
        spec_hash=dataset.spec_hash,
        feature_names=dataset.train.feature_names,
        label=dataset.label_spec,
        label_hash=dataset.label_hash,
        answer=dataset.answer_spec.to_dict(),
        windows=dataset.windows,
        embargo_bars=dataset.embargo_bars,
        class_balance=dataset.class_balance,
        selection=dataset.selection,
        data=dataset.data,
        lora={
            "rank": config.lora.rank,
            "alpha": config.lora.alpha,
            "dropout": config.lora.dropout,
            "target_modules": result.targets.to_dict(),
            "trainable_parameters": result.trainable_parameters,
            "total_parameters": result.total_parameters,
        },
        training={
            **config.model_dump(mode="json", exclude={"lora"}),
            "steps_run": len(result.steps),
            "examples_seen": sum(s.examples for s in result.steps),
            "device": result.device,
            "dtype": result.dtype,
            "seconds": round(result.seconds, 3),
        },
        metrics=result.metrics(),
        library_versions=finetune_library_versions(),
    )


def save_adapter(
    result: FineTuneResult, root: str | os.PathLike[str], name: str, *, description: str = ""
) -> Path:
    """Write ``<root>/<name>/v<N>`` (N = 1 + the highest existing when it is stored) and return
    its path.

    Written under a temporary name, then renamed: a reader never sees half a folder, and an
    existing folder is never overwritten (:class:`~nautilus_ai.models.card.ArtifactError`).
    """
    build_card(result, name, 1, description=description)  # validates the name before writing

    def store(version: int) -> Path:
        card = build_card(result, name, version, description=description)
        return publish_folder(Path(root) / name, f"v{version}", lambda folder: write(folder, card))

    def write(folder: Path, card: FineTuneCard) -> None:
        with warnings.catch_warnings():
            # peft warns when the base config cannot be fetched to check tied embeddings; the
            # base is a local directory and nothing may be downloaded.
            warnings.filterwarnings("ignore", category=UserWarning, module="peft")
            result.peft_model.save_pretrained(str(folder), safe_serialization=True)
        for path in folder.iterdir():
            if path.name not in _KEPT:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        missing = sorted(_KEPT - {p.name for p in folder.iterdir()})
        if missing:
            raise ArtifactError(f"peft did not write {', '.join(missing)}")
        _write_json(folder / PROMPT_SETTINGS_FILE, result.predictor.prompt_settings())
        digest = file_sha256(folder / ADAPTER_WEIGHTS_FILE)
        stored = sealed_card(card.model_copy(update={"adapter_sha256": digest}))  # reads back
        (folder / FINETUNE_CARD_FILE).write_text(stored.to_json(), encoding="utf-8")

    # The next free version when it is stored: a parallel fine-tune of one name may take one.
    return publish_next_version(Path(root), name, store)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
