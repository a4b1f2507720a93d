"""TorchServe handler for a nautilus-ai torch model artifact (``model.safetensors`` + card).

Packaged into the ``.mar`` by ``nautilus-ai serve package --kind torch``; TorchServe imports it by
file name and calls ``handle(data, context)`` (``handle(None, context)`` once to initialise). It
needs nautilus-ai installed in the Python that runs TorchServe's workers.
"""

from __future__ import annotations

from typing import Any

from nautilus_ai.serving.handler_core import ServedModel

__all__ = ["handle"]

_served: ServedModel | None = None


def handle(data: list[Any] | None, context: Any) -> list[bytes] | None:
    global _served
    if _served is None:
        _served = ServedModel.load(context.system_properties["model_dir"], "torch")
    if data is None:
        return None
    return _served.handle(data, context)
