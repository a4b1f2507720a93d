"""TorchServe handler for a local Hugging Face model directory (via ``TransformersPredictor``).

Packaged into the ``.mar`` by ``nautilus-ai serve package --kind transformers``; TorchServe imports
it by file name and calls ``handle(data, context)``. Requests must carry the context (feature
names, recent bars): :class:`~nautilus_ai.models.TorchServePredictor` sends it with
``send_context=True``.
"""

from __future__ import annotations

from typing import Any

from nautilus_ai.serving.handler_core import ServedModel, gpu_id_of

__all__ = ["handle"]

_served: ServedModel | None = None


def handle(data: list[Any] | None, context: Any) -> list[bytes] | None:
    global _served
    if _served is None:
        _served = ServedModel.load(
            context.system_properties["model_dir"], "transformers", gpu_id_of(context)
        )
    if data is None:
        return None
    return _served.handle(data, context)
