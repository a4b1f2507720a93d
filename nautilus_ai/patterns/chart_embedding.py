"""The optional third block of a pattern: an embedding of the rendered chart from a local vision
model.

>>> embedder = ChartEmbedder("models/vit-small")          # a local folder, nothing downloaded
>>> spec = PatternSpec().with_chart(embedder)             # its id joins the pattern spec's hash
>>> patterns = build_from_bars(ts, ohlcv, instrument_id="EUR/USD.SIM", pattern_spec=spec,
...                            chart_embedder=embedder)

A chart is the candlestick picture of the last ``chart_bars`` bars (:mod:`nautilus_ai.charts`,
deterministic pixels), drawn at the model's input size; the model is any local Hugging Face vision
model that ``AutoModel`` loads (ViT, CLIP / SigLIP vision towers, DINOv2, ...). Its embedding is
``get_image_features`` where the model has it, else ``pooler_output``, else the mean of the last
hidden state. Each chart is embedded alone (a batch of one), on ``threads`` torch threads: the
embedding of a window is then the same bits in a store build, in a backtest and live, and
depends on that window's bars only (no look-ahead).

:attr:`ChartEmbedder.model_id` is a hash of the model folder's files (weights, config,
preprocessor config), the chart style and this module's pre-processing version: a store built
with one model is never queried with another (:class:`~nautilus_ai.patterns.PatternSpec` carries
the id, and the predictor refuses a mismatch).

Needs the ``hf`` extra (torch + transformers), imported on first use only.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.charts import ChartStyle, chart_array

__all__ = ["ChartEmbedder"]

# Bump when the pre-processing below changes: it is part of every model id.
_PREPROCESSING = 1
# Files of a model folder that fix its output (weights, architecture, normalisation).
_HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".model", ".txt")


class ChartEmbedder:
    """A local vision model that turns a window of bars into a vector.

    Parameters
    ----------
    model_dir : path
        A folder ``AutoModel.from_pretrained`` loads with ``local_files_only=True``.
    threads : int
        torch threads while embedding (1: deterministic and fastest for one small image on a
        shared machine).

    Raises
    ------
    ValueError
        ``model_dir`` is not a folder of model files (the message names it).
    """

    def __init__(self, model_dir: str | os.PathLike[str], *, threads: int = 1) -> None:
        folder = Path(model_dir)
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise ValueError(f"{folder}: not a local model folder (no config.json)")
        from nautilus_ai.extras import require_extra

        require_extra("hf", "chart embeddings for the pattern memory")
        self.model_dir = folder
        self.threads = int(threads)
        transformers: Any = importlib.import_module("transformers")
        with _torch_threads(self.threads):
            self._model = transformers.AutoModel.from_pretrained(
                folder, local_files_only=True
            ).eval()
        config = self._model.config
        vision = getattr(config, "vision_config", None) or config
        size = getattr(vision, "image_size", 224)
        self.image_size = int(size if isinstance(size, int) else size[0])
        self.channels = int(getattr(vision, "num_channels", 3))
        mean, std = _normalisation(folder)
        self._mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        self.style = ChartStyle(width=self.image_size, height=self.image_size, margin=1)
        self.dims = int(self.embed(_sample_bars()).shape[1])
        self.model_id = self._hash()

    def _hash(self) -> str:
        digest = hashlib.sha256()
        for file in sorted(self.model_dir.rglob("*")):
            if file.is_file() and file.name.endswith(_HASHED_SUFFIXES):
                digest.update(str(file.relative_to(self.model_dir)).encode() + b"\0")
                digest.update(file.read_bytes())
        extra = {"style": repr(self.style), "preprocessing": _PREPROCESSING, "dims": self.dims}
        digest.update(json.dumps(extra, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def embed(self, windows: NDArray[np.float64]) -> NDArray[np.float32]:
        """Embeddings of ``windows`` (``(n, bars, 6)``: ts_event_ns, open, high, low, close,
        volume, oldest first; or one ``(bars, 6)`` window), as float32 ``(n, dims)``."""
        import torch

        array = np.asarray(windows, dtype=np.float64)
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3 or array.shape[2] != 6:
            raise ValueError(f"windows must be (n, bars, 6), got {array.shape}")
        out: list[NDArray[np.float32]] = []
        with _torch_threads(self.threads), torch.inference_mode():
            for window in array:
                pixels = chart_array(window, self.style).astype(np.float32) / 255.0
                image = (pixels.transpose(2, 0, 1)[: self.channels] - self._mean) / self._std
                tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
                out.append(self._features(tensor).reshape(-1).astype(np.float32))
        if not out:
            return np.empty((0, getattr(self, "dims", 0)), dtype=np.float32)
        return np.stack(out)

    def _features(self, pixel_values: Any) -> NDArray[np.float32]:
        model = self._model
        if hasattr(model, "get_image_features"):
            features = model.get_image_features(pixel_values=pixel_values)
            if not hasattr(features, "detach"):  # an output object in newer releases
                features = features.pooler_output
        else:
            output = model(pixel_values=pixel_values)
            pooled = getattr(output, "pooler_output", None)
            features = pooled if pooled is not None else output.last_hidden_state.mean(dim=1)
        result: NDArray[np.float32] = features.detach().float().numpy()
        return result


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _normalisation(folder: Path) -> tuple[list[float], list[float]]:
    """``image_mean`` / ``image_std`` of the folder's preprocessor config (0.5 / 0.5 without)."""
    file = folder / "preprocessor_config.json"
    if file.is_file():
        try:
            config = json.loads(file.read_text())
        except ValueError:
            raise ValueError(f"{file}: not valid JSON") from None
        mean, std = config.get("image_mean"), config.get("image_std")
        if isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std):
            return [float(v) for v in mean], [float(v) for v in std]
    return [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


def _sample_bars() -> NDArray[np.float64]:
    """A fixed 8-bar window (to learn the embedding's width)."""
    close = 1.0 + 0.001 * np.sin(np.arange(8.0))
    return np.column_stack(
        [np.arange(8.0) * 60e9, close, close + 0.0005, close - 0.0005, close, np.full(8, 10.0)]
    )
