"""Build a TorchServe ``.mar`` for one of our models with ``torch-model-archiver``.

* ``kind="torch"``: a model artifact folder (``model.safetensors`` + ``model_card.json``), served by
  ``nautilus_torch_handler.py``.
* ``kind="transformers"``: a local Hugging Face model directory (copied into ``hf/``), served by
  ``nautilus_hf_handler.py``; ``options`` are ``TransformersConfig`` fields.

The archive also carries ``model-config.yaml`` (server-side batching, workers, timeouts) and
``nautilus_serving.json`` (what the handler loads). Weights stay safetensors: nothing is pickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import yaml

from nautilus_ai.artifacts import fsync_path
from nautilus_ai.serving.handler_core import MANIFEST_NAME

__all__ = ["ArchiveError", "build_archive", "handler_path"]

Kind = Literal["torch", "transformers"]

_HANDLERS = {"torch": "nautilus_torch_handler.py", "transformers": "nautilus_hf_handler.py"}


class ArchiveError(RuntimeError):
    """The archive could not be built (bad input folder or archiver failure)."""


def handler_path(kind: Kind) -> Path:
    """The handler file packaged for ``kind``."""
    return Path(__file__).with_name(_HANDLERS[kind])


def build_archive(
    source: str | Path,
    *,
    kind: Kind,
    model_name: str,
    export_dir: str | Path,
    version: str = "1.0",
    batch_size: int = 1,
    max_batch_delay_ms: int = 5,
    workers: int = 1,
    response_timeout_s: int = 120,
    options: dict[str, Any] | None = None,
    torch_threads: int | None = 1,
    timeout_s: float = 600.0,
) -> Path:
    """Package ``source`` as ``<export_dir>/<model_name>.mar`` (replacing it).

    The archive is built in a temporary folder inside ``export_dir`` and renamed into place:
    an archiver that fails, times out or is killed leaves the previous ``.mar`` whole.

    Parameters
    ----------
    source : path
        The model artifact folder (``torch``) or Hugging Face model directory (``transformers``).
    kind : {"torch", "transformers"}
        Which handler serves it.
    model_name : str
        The name clients call (``/predictions/<model_name>``).
    export_dir : path
        Where the ``.mar`` goes (the model store).
    version : str
        Model version recorded in the archive.
    batch_size, max_batch_delay_ms : int
        TorchServe server-side batching: up to ``batch_size`` requests, waiting at most
        ``max_batch_delay_ms`` to fill a batch.
    workers : int
        Python workers (min = max).
    response_timeout_s : int
        TorchServe restarts a worker whose answer takes longer.
    options : dict or None
        Loader options written to ``nautilus_serving.json``.
    torch_threads : int or None
        ``torch.set_num_threads`` in each worker (None leaves TorchServe's default).
    timeout_s : float
        Limit for the archiver subprocess.

    Returns
    -------
    Path
        The ``.mar`` file.
    """
    src = Path(source)
    if kind not in _HANDLERS:
        raise ArchiveError(f"kind must be one of {sorted(_HANDLERS)}, was {kind!r}")
    if not model_name or not model_name.replace("_", "").replace("-", "").isalnum():
        raise ArchiveError(f"model_name must be letters, digits, '_' or '-', was {model_name!r}")
    if kind == "torch":
        missing = [n for n in ("model.safetensors", "model_card.json") if not (src / n).is_file()]
        if missing:
            raise ArchiveError(f"{src} is not a torch model artifact: missing {missing}")
    elif not (src / "config.json").is_file():
        raise ArchiveError(f"{src} is not a Hugging Face model directory: no config.json")
    for name, value in (
        ("batch_size", batch_size),
        ("workers", workers),
        ("response_timeout_s", response_timeout_s),
    ):
        if value < 1:
            raise ArchiveError(f"{name} must be >= 1, was {value!r}")
    from nautilus_ai.models.torchserve import MODEL_VERSION_PATTERN

    if not isinstance(version, str) or not re.fullmatch(MODEL_VERSION_PATTERN, version):
        # the archiver took '1/x' or '1 0'; no client config can then name that version
        raise ArchiveError(
            f"version must be letters, digits, '_', '.' or '-' (a TorchServe client's "
            f"model_version), was {version!r}"
        )
    if max_batch_delay_ms < 0:
        raise ArchiveError(f"max_batch_delay_ms must be >= 0, was {max_batch_delay_ms!r}")
    # What the server would fail to load (in every worker, after `serve start` waited) is
    # refused here, naming the file or the option.
    _check_loadable(src, kind, dict(options or {}))
    export = Path(export_dir)
    export.mkdir(parents=True, exist_ok=True)
    archiver = Path(sys.executable).with_name("torch-model-archiver")
    command_name = str(archiver) if archiver.exists() else shutil.which("torch-model-archiver")
    if command_name is None:
        raise ArchiveError("torch-model-archiver not found: pip install 'nautilus-ai[serve]'")

    mar = export / f"{model_name}.mar"
    with (
        tempfile.TemporaryDirectory(prefix="nautilus-mar-") as tmp,
        tempfile.TemporaryDirectory(prefix=f".{model_name}.mar.", dir=export) as built,
    ):
        staging = Path(tmp) / "files"
        staging.mkdir()
        if kind == "torch":
            for item in src.iterdir():
                if item.is_file():
                    shutil.copy2(item, staging / item.name)
        else:
            shutil.copytree(src, staging / "hf")
        (staging / MANIFEST_NAME).write_text(
            json.dumps(
                {"kind": kind, "options": options or {}, "torch_threads": torch_threads},
                indent=2,
                sort_keys=True,
            )
        )
        config_file = Path(tmp) / "model-config.yaml"
        config_file.write_text(
            yaml.safe_dump(
                {
                    "minWorkers": workers,
                    "maxWorkers": workers,
                    "batchSize": batch_size,
                    "maxBatchDelay": max_batch_delay_ms,
                    "responseTimeout": response_timeout_s,
                }
            )
        )
        command = [
            command_name,
            "--model-name",
            model_name,
            "--version",
            version,
            "--handler",
            str(handler_path(kind)),
            "--extra-files",
            str(staging),
            "--config-file",
            str(config_file),
            "--export-path",
            built,
            "--force",
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise ArchiveError(f"torch-model-archiver took longer than {timeout_s:g} s") from None
        if result.returncode != 0:
            raise ArchiveError(
                f"torch-model-archiver failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        staged = Path(built) / mar.name
        if not staged.is_file():
            raise ArchiveError(f"torch-model-archiver reported success but wrote no {mar.name}")
        fsync_path(staged)
        os.replace(staged, mar)  # whole or not at all: a server restarting reads either one
        fsync_path(export)
    return mar


_TORCH_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _check_loadable(src: Path, kind: Kind, options: dict[str, Any]) -> None:
    """Refuse an artifact the handler could not load, or options it would reject or ignore."""
    from nautilus_ai.config_check import ConfigFieldError, check

    if kind == "torch":
        from nautilus_ai.models.card import ArtifactError
        from nautilus_ai.models.mlp import load_mlp_weights

        unknown = sorted(set(options) - {"device"})
        if unknown:
            raise ArchiveError(f"option {unknown[0]!r}: unknown for kind torch (only 'device')")
        device = options.get("device", "cpu")
        if not isinstance(device, str) or not _TORCH_DEVICE.match(device):
            raise ArchiveError(
                f"option 'device': must be auto, cpu, cuda or cuda:N, was {device!r}"
            )
        try:
            load_mlp_weights(src)  # card, weights checksum, tensor names and shapes
        except ArtifactError as exc:
            raise ArchiveError(str(exc)) from None
        except Exception as exc:  # e.g. a truncated safetensors file without a checksum
            problem = f"{type(exc).__name__}: {exc}"
            raise ArchiveError(f"{src}: cannot load the model: {problem}") from None
        return
    from nautilus_ai.models.transformers_backend import TransformersConfig, missing_model_files

    missing = missing_model_files(src)
    if missing:  # every worker would fail to load it, after `serve start` waited its timeout
        raise ArchiveError(f"{src} cannot be served: the folder has {' and '.join(missing)}")
    weights = src / "model.safetensors"
    if weights.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(weights), framework="numpy"):
                pass  # reads the header only
        except Exception as exc:  # a truncated or corrupted file
            raise ArchiveError(
                f"{weights}: not a readable safetensors file (truncated or corrupted?): {exc}"
            ) from None
    if "model_dir" in options:
        raise ArchiveError("option 'model_dir': set by the archive (the copied source folder)")
    try:
        check({**options, "model_dir": str(src)}, TransformersConfig)
    except ConfigFieldError as exc:
        raise ArchiveError(f"option {exc}") from None
