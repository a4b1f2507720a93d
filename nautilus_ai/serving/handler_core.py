"""What our TorchServe handlers share: load the served predictor once, answer batches per item.

The archive (see :mod:`nautilus_ai.serving.archive`) carries ``nautilus_serving.json``::

    {"kind": "torch" | "transformers", "options": {...}, "torch_threads": 1}

``torch``: the model artifact folder's files (``model.safetensors``, ``model_card.json``) sit in the
model directory. ``transformers``: the Hugging Face model directory sits in ``hf/`` and
``options`` are :class:`~nautilus_ai.models.TransformersConfig` fields.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nautilus_ai.models.base import Predictor
from nautilus_ai.models.torchserve_wire import handle_batch

__all__ = ["MANIFEST_NAME", "ServedModel"]

log = logging.getLogger(__name__)

MANIFEST_NAME = "nautilus_serving.json"


@dataclass(slots=True)
class ServedModel:
    """A loaded predictor plus what the wire protocol needs to check rows against it."""

    predictor: Predictor
    feature_count: int | None
    feature_names: tuple[str, ...]

    @classmethod
    def load(cls, model_dir: str | Path, kind: str, gpu_id: int | None = None) -> ServedModel:
        """Load the predictor of an archive of ``kind`` (``model_dir``: the unpacked .mar)."""
        folder = Path(model_dir)
        manifest_path = folder / MANIFEST_NAME
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"cannot read {manifest_path}: {exc}") from exc
        if manifest.get("kind") != kind:
            raise RuntimeError(
                f"{manifest_path} says kind {manifest.get('kind')!r}, this handler serves {kind!r}"
            )
        options: dict[str, Any] = dict(manifest.get("options") or {})
        threads = manifest.get("torch_threads")
        if threads:
            import torch

            # Small models answer fastest single-threaded; TorchServe's default uses every core.
            torch.set_num_threads(int(threads))
        if kind == "torch":
            return cls._load_torch(folder, options)
        if kind == "transformers":
            return cls._load_transformers(folder, options, gpu_id)
        raise RuntimeError(f"unknown served model kind {kind!r}")

    @classmethod
    def _load_torch(cls, folder: Path, options: dict[str, Any]) -> ServedModel:
        from nautilus_ai.models.card import read_model_card
        from nautilus_ai.models.torch_mlp import TorchPredictor

        card = read_model_card(folder)
        # The server has no FeatureSpec object: the card's own spec stands in for it, so the
        # artifact's checks (hash, names, weights checksum) still run; clients send their spec
        # hash with every request and rows for another spec are refused per row.
        predictor = TorchPredictor.from_artifact(
            folder,
            spec=_CardSpec(card.feature_names, card.spec_hash, dict(card.feature_spec)),
            device=str(options.get("device", "cpu")),
        )
        names = tuple(card.feature_names)
        return cls(predictor, len(names), names)

    @classmethod
    def _load_transformers(
        cls, folder: Path, options: dict[str, Any], gpu_id: int | None
    ) -> ServedModel:
        import torch

        from nautilus_ai.models.transformers_backend import (
            TransformersConfig,
            TransformersPredictor,
        )

        if "device" not in options:
            use_gpu = gpu_id is not None and torch.cuda.is_available()
            options["device"] = f"cuda:{gpu_id}" if use_gpu else "cpu"
        predictor = TransformersPredictor(TransformersConfig(model_dir=folder / "hf", **options))
        return cls(predictor, None, ())

    def handle(self, data: list[Any], context: Any) -> list[bytes]:
        """Answer one TorchServe batch; sets per-request status codes; never raises."""
        bodies, statuses = handle_batch(
            self.predictor, data, self.feature_count, self.feature_names
        )
        for index, status in enumerate(statuses):
            try:
                context.set_response_content_type(index, "application/json")
                if status != 200:
                    context.set_response_status(status, "Bad Request", index)
            except Exception:
                log.debug("could not set response status for request %d", index)
        return bodies


@dataclass(frozen=True, slots=True)
class _CardSpec:
    """A ``FeatureSpecLike`` rebuilt from a model card (names, hash, spec dict)."""

    names: tuple[str, ...]
    hash: str
    spec: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.spec


def gpu_id_of(context: Any) -> int | None:
    """The GPU TorchServe assigned to this worker, or None."""
    try:
        value = context.system_properties.get("gpu_id")
    except AttributeError:
        return None
    return int(value) if value is not None else None
