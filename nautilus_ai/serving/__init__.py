"""Serving our models with TorchServe: archives, handlers, the wire format, start / stop.

TorchServe 0.12.0 is in limited maintenance upstream (its last release; no further security
fixes): keep it on loopback or behind an authenticated proxy. The client side is
:class:`nautilus_ai.models.TorchServePredictor`.
"""

from nautilus_ai.serving.archive import ArchiveError, build_archive, handler_path
from nautilus_ai.serving.server import (
    TorchServeError,
    TorchServeKeys,
    TorchServeProcess,
    TorchServeSettings,
    free_port,
    read_key_file,
)

__all__ = [
    "ArchiveError",
    "TorchServeError",
    "TorchServeKeys",
    "TorchServeProcess",
    "TorchServeSettings",
    "build_archive",
    "free_port",
    "handler_path",
    "read_key_file",
]
