"""Catalog -> examples -> LoRA fine-tune -> a NEW adapter folder, in one call (the CLI's path)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from nautilus_ai.datasets import Fold
from nautilus_ai.finetune.catalog_examples import load_finetune_dataset
from nautilus_ai.finetune.examples import AnswerSpec
from nautilus_ai.finetune.lora import FineTuneConfig, FineTuneResult, LoRAFineTuner
from nautilus_ai.labels import LabelSpec
from nautilus_ai.models.card import MODEL_NAME_PATTERN
from nautilus_ai.models.transformers_backend import TransformersConfig
from nautilus_ai.training.data import FeatureSource

__all__ = ["finetune_from_catalog"]


def finetune_from_catalog(
    catalog_path: str | os.PathLike[str],
    *,
    model: TransformersConfig,
    bar_type: str,
    fold: Fold,
    label: LabelSpec | None = None,
    config: FineTuneConfig | None = None,
    source: FeatureSource = "bars",
    run_id: str | None = None,
    allow_open_run: bool = False,
    answer: AnswerSpec | None = None,
    embargo_bars: int | None = None,
    stride: int = 1,
    hold_keep_fraction: float = 1.0,
    artifacts_root: str | os.PathLike[str] = "artifacts",
    name: str = "lora",
    description: str = "",
    progress: Callable[[str], None] | None = None,
) -> tuple[FineTuneResult, Path]:
    """Build the examples of ``fold`` from the catalog, fine-tune ``model`` with LoRA and store
    the adapter in a new ``<artifacts_root>/<name>/v<N>``.

    Each example carries ``max(model.prompt_bars, model.chart_bars)`` recent bars (what the
    strategy must hand the predictor: ``context_bars`` in its config). The training split is
    thinned with ``stride`` / ``hold_keep_fraction`` (seeded with ``config.seed``).

    Returns
    -------
    (FineTuneResult, Path)
        The trained adapter (live: ``result.predictor``) and the folder it was stored in.
    """
    config = config or FineTuneConfig()
    _check_output(artifacts_root, name)  # before hours of training, not after
    _check_model_folder(model)  # before minutes of building examples, not after
    dataset = load_finetune_dataset(
        catalog_path,
        bar_type=bar_type,
        fold=fold,
        context_bars=max(model.prompt_bars, model.chart_bars),
        label=label,
        source=source,
        run_id=run_id,
        allow_open_run=allow_open_run,
        answer=answer,
        embargo_bars=embargo_bars,
        stride=stride,
        hold_keep_fraction=hold_keep_fraction,
        seed=config.seed,
        progress=progress,
    )
    result = LoRAFineTuner(model, config, progress=progress).finetune(dataset)
    folder = result.save(artifacts_root, name, description=description)
    if progress is not None:
        progress(f"adapter written to {folder}")
    return result, folder


def _check_model_folder(model: TransformersConfig) -> None:
    """Refuse a base model folder that cannot load (missing, no config / tokenizer / weights
    file): it was found only after the examples were built, minutes into the run."""
    from nautilus_ai.models.transformers_backend import missing_model_files

    folder = Path(model.model_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"model directory {folder} does not exist (or is not a folder)")
    missing = missing_model_files(folder)
    if not (folder / "config.json").is_file():
        missing.insert(0, "no config.json")
    if missing:
        raise FileNotFoundError(
            f"model directory {folder} cannot be fine-tuned: the folder has {' and '.join(missing)}"
        )


def _check_output(root: str | os.PathLike[str], name: str) -> None:
    """Refuse an adapter name or artifacts root the adapter could not be stored under."""
    if not isinstance(name, str) or not re.fullmatch(MODEL_NAME_PATTERN, name) or len(name) > 128:
        raise ValueError(
            f"adapter name {name!r} is not valid: letters, digits and '_', '.', '-' (it names "
            "the folder <out>/<name>/v<N>)"
        )
    for folder in (Path(root), Path(root) / name):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: the adapter cannot be stored there")
