"""Read an MLP artifact's numbers (safetensors + model card) without importing torch.

The exporter only needs the tensors as float64 arrays; reading them with ``safetensors.numpy``
keeps ``nautilus-ai export-pine`` well under a second (importing torch alone takes seconds).
The checks mirror :meth:`nautilus_ai.models.TorchPredictor.from_artifact`: the weights file's
SHA-256 against the card, every tensor present with the card architecture's shape, a finite
standardisation with ``std > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file

from nautilus_ai.artifacts import file_sha256
from nautilus_ai.models.card import (
    ArtifactError,
    ModelCard,
    checked_weights_file,
    read_model_card,
)

__all__ = ["MLPWeights", "load_mlp_weights"]

Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class MLPWeights:
    """An MLP artifact as float64 arrays (float32 weights widen exactly).

    Parameters
    ----------
    path : Path
        The artifact folder.
    card : ModelCard
        Its model card.
    weights : tuple of ndarray
        ``(out, in)`` matrix per linear layer, input side first.
    biases : tuple of ndarray
        ``(out,)`` vector per linear layer.
    mean, std : ndarray
        Input standardisation: the network sees ``(x - mean) / std``.
    weights_sha256 : str
        SHA-256 of ``model.safetensors``.
    """

    path: Path
    card: ModelCard
    weights: tuple[Float64Array, ...]
    biases: tuple[Float64Array, ...]
    mean: Float64Array
    std: Float64Array
    weights_sha256: str

    @property
    def parameter_count(self) -> int:
        """Weights + biases (the standardisation is not counted)."""
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases, strict=True))

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(input_dim, *hidden, n_classes)``."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))


def load_mlp_weights(path: str | Path) -> MLPWeights:
    """Load ``<path>/model.safetensors`` as described by ``<path>/model_card.json``.

    Raises
    ------
    ArtifactError
        Missing files, a SHA-256 that does not match the card, missing / unexpected tensors, a
        wrong shape (named), or a non-finite / non-positive standardisation.
    """
    folder = Path(path)
    card = read_model_card(folder)
    file = checked_weights_file(folder, card)
    tensors = load_file(str(file))
    arch = card.architecture
    dims = [arch.input_dim, *arch.hidden, len(arch.classes)]
    std_names = card.standardisation
    expected: dict[str, tuple[int, ...]] = {
        std_names.mean_tensor: (arch.input_dim,),
        std_names.std_tensor: (arch.input_dim,),
    }
    for i in range(len(dims) - 1):
        expected[f"layers.{i}.weight"] = (dims[i + 1], dims[i])
        expected[f"layers.{i}.bias"] = (dims[i + 1],)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ArtifactError(
            f"{file}: tensors do not match the card's architecture {dims}: missing {missing}, "
            f"unexpected {unexpected}"
        )
    arrays: dict[str, Float64Array] = {}
    for name, shape in expected.items():
        value = np.asarray(tensors[name], dtype=np.float64)
        if value.shape != shape:
            raise ArtifactError(
                f"{file}: tensor {name!r} has shape {value.shape}, the card needs {shape}"
            )
        if not np.isfinite(value).all():
            raise ArtifactError(f"{file}: tensor {name!r} has non-finite values")
        arrays[name] = value
    mean, std = arrays[std_names.mean_tensor], arrays[std_names.std_tensor]
    if not (std > 0.0).all():
        bad = int(np.argmin(std > 0.0))
        raise ArtifactError(
            f"{file}: {std_names.std_tensor}[{bad}] ({card.feature_names[bad]}) is {std[bad]!r}; "
            "every std must be > 0"
        )
    layers = len(dims) - 1
    return MLPWeights(
        path=folder,
        card=card,
        weights=tuple(arrays[f"layers.{i}.weight"] for i in range(layers)),
        biases=tuple(arrays[f"layers.{i}.bias"] for i in range(layers)),
        mean=mean,
        std=std,
        weights_sha256=card.weights_sha256 or file_sha256(file),
    )
