"""A small torch MLP classifier (sell / hold / buy) behind the predictor protocol.

Two inference paths over the same weights:

* :meth:`TorchPredictor.predict` (one vector per bar) runs a float64 **numpy twin** of the network:
  the weights are copied out of torch once, the input standardisation is folded into the first
  layer and ``1 / temperature`` into the last, and the 3-way softmax is done in Python floats.
  A few microseconds, no torch call, no GIL-heavy dispatch.
* :meth:`TorchPredictor.predict_batch` / :meth:`~TorchPredictor.predict_proba_batch` run the torch
  module in chunks, on CUDA when the device says so (float32, or bfloat16 on request), on CPU in
  float64 by default so that batch answers equal the per-bar ones to ~1e-12.

Outputs: probabilities ``p = softmax(logits / temperature)`` in the card's class order; the action
is the most probable class (the first on a tie); ``confidence = max(p)``; ``risk_score`` is the
normalised entropy ``-sum(p * ln p) / ln(3)`` in [0, 1]: 0 when the model is sure, 1 when all three
classes are equally likely.

Artifacts are written with :func:`save_artifact` and read with :meth:`TorchPredictor.from_artifact`
(safetensors + ``model_card.json``, see :mod:`nautilus_ai.models.card`); never pickle.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import safetensors.torch
import torch
from numpy.typing import NDArray
from torch import nn

from nautilus_ai.artifacts import file_sha256, next_version, publish_folder
from nautilus_ai.models.base import Action
from nautilus_ai.models.card import (
    CARD_FILE,
    WEIGHTS_FILE,
    ArtifactError,
    MLPArchitecture,
    ModelCard,
    checked_weights_file,
    library_versions,
    new_artifact_folder,
    read_model_card,
    sealed_card,
    unreadable_weights,
)
from nautilus_ai.models.device import resolve_device
from nautilus_ai.models.mlp import MLPTwin, TwinPredictor, decide
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_card_spec,
    check_feature_matrix,
)

__all__ = [
    "RANDOM_TEMPERATURE",
    "BatchDtype",
    "MLPClassifier",
    "TorchPredictor",
    "decide",
    "next_version",
    "random_module",
    "save_artifact",
]

BatchDtype = Literal["float64", "float32", "bfloat16"]
_DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
}
#: Default softmax temperature of :meth:`TorchPredictor.random` models (see there).
RANDOM_TEMPERATURE = 0.1
_ACTIONS = {"sell": Action.SELL, "hold": Action.HOLD, "buy": Action.BUY}


class MLPClassifier(nn.Module):
    """``input_dim -> hidden... -> n_classes`` MLP with the input standardisation built in.

    State dict keys (what ``model.safetensors`` holds): ``layers.<i>.weight``,
    ``layers.<i>.bias`` and the buffers ``input_mean``, ``input_std``. ``forward`` returns logits
    (no temperature, no softmax).
    """

    input_mean: torch.Tensor
    input_std: torch.Tensor

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (64,),
        activation: Literal["relu", "gelu"] = "relu",
        n_classes: int = 3,
    ) -> None:
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', was {activation!r}")
        dims = [input_dim, *hidden, n_classes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.activation: Literal["relu", "gelu"] = activation
        self.register_buffer("input_mean", torch.zeros(input_dim))
        self.register_buffer("input_std", torch.ones(input_dim))

    def linear_layers(self) -> list[nn.Linear]:
        """The linear layers, input side first."""
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    @property
    def architecture(self) -> MLPArchitecture:
        """The card's description of this module."""
        linear = self.linear_layers()
        return MLPArchitecture(
            input_dim=linear[0].in_features,
            hidden=tuple(layer.out_features for layer in linear[:-1]),
            activation=self.activation,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = torch.relu if self.activation == "relu" else nn.functional.gelu
        h = (x - self.input_mean) / self.input_std
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < last:
                h = act(h)
        return h

    def set_standardisation(self, mean: NDArray[np.float64], std: NDArray[np.float64]) -> None:
        """Set the input mean / std (finite, std > 0), e.g. fitted on the training window."""
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float64)).to(self.input_mean)
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float64)).to(self.input_std)
        _check_standardisation(mean_t, std_t, len(self.input_mean))
        with torch.no_grad():
            self.input_mean.copy_(mean_t)
            self.input_std.copy_(std_t)


def _check_standardisation(mean: torch.Tensor, std: torch.Tensor, k: int) -> None:
    if tuple(mean.shape) != (k,) or tuple(std.shape) != (k,):
        raise ValueError(
            f"standardisation mean/std must have shape ({k},), were {tuple(mean.shape)} / "
            f"{tuple(std.shape)}"
        )
    if not bool(torch.isfinite(mean).all()):
        raise ValueError("standardisation mean has non-finite values")
    if not bool((torch.isfinite(std) & (std > 0)).all()):
        raise ValueError("standardisation std must be finite and > 0")


def _numpy_twin(module: MLPClassifier, temperature: float) -> MLPTwin:
    """The float64 per-bar path, shared with the core's
    :class:`~nautilus_ai.models.mlp.MLPPredictor` (bit-identical answers with or without torch)."""
    with torch.no_grad():
        layers = module.linear_layers()
        return MLPTwin(
            [layer.weight.detach().cpu().double().numpy() for layer in layers],
            [layer.bias.detach().cpu().double().numpy() for layer in layers],
            module.input_mean.detach().cpu().double().numpy(),
            module.input_std.detach().cpu().double().numpy(),
            activation=module.activation,
            temperature=temperature,
        )


class TorchPredictor(TwinPredictor):
    """An :class:`MLPClassifier` and its :class:`~nautilus_ai.models.card.ModelCard` as a predictor.

    Build it with :meth:`from_artifact` (a stored model) or :meth:`random` (tests, demos). One
    vector per bar goes through the numpy twin (no torch call); :meth:`predict_batch` runs the
    torch module (equal to :meth:`predict` to ~1e-12 in float64 on CPU; to float32 / bfloat16
    precision otherwise).

    Parameters
    ----------
    module : MLPClassifier
        The network; the predictor keeps its own copy (a snapshot taken here).
    card : ModelCard
        Its card; ``card.architecture`` must describe ``module``.
    spec : FeatureSpecLike
        The feature spec the caller will use; refused unless its hash is ``card.spec_hash``.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` for the batch path (see
        :func:`~nautilus_ai.models.device.resolve_device`).
    batch_dtype : {"float64", "float32", "bfloat16"} or None
        Precision of the batch path; ``None`` = float64 on CPU, float32 on CUDA.
    batch_size : int
        Rows per chunk in the batch path.
    """

    def __init__(
        self,
        module: MLPClassifier,
        card: ModelCard,
        spec: FeatureSpecLike,
        *,
        device: str = "auto",
        batch_dtype: BatchDtype | None = None,
        batch_size: int = 65_536,
    ) -> None:
        owner = f"model {card.model_id}"
        if not _same_shape(module.architecture, card.architecture):
            raise ArtifactError(
                f"{owner}: module is {module.architecture}, card says {card.architecture}"
            )
        check_card_spec(card, spec, owner=owner)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, was {batch_size}")
        self._card = card
        self._owner = owner
        self._names = card.feature_names
        self._shape = (len(card.feature_names),)
        self._model_id = card.model_id
        self._actions = tuple(_ACTIONS[c] for c in card.architecture.classes)
        self._temperature = card.temperature
        self._device = resolve_device(device)
        on_cuda = self._device.startswith("cuda")
        dtype_name = batch_dtype or ("float32" if on_cuda else "float64")
        if dtype_name not in _DTYPES:
            raise ValueError(f"batch_dtype must be one of {sorted(_DTYPES)}, was {batch_dtype!r}")
        if dtype_name == "bfloat16" and not on_cuda:
            raise ValueError("batch_dtype 'bfloat16' is for CUDA; on CPU use float64 or float32")
        self._batch_dtype = _DTYPES[dtype_name]
        self._batch_size = batch_size
        # A snapshot: later changes to the caller's module (more training) do not leak in, and
        # the caller's module keeps its train/eval mode.
        module = copy.deepcopy(module).eval()
        self._module = module
        self._twin = _numpy_twin(module, card.temperature)
        # The batch copy lives on the device in the batch dtype; the original stays as given.
        batch_module = copy.deepcopy(module)
        self._batch_module = batch_module.to(device=self._device, dtype=self._batch_dtype).eval()
        self._closed = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_artifact(
        cls,
        path: str | Path,
        *,
        spec: FeatureSpecLike,
        device: str = "auto",
        batch_dtype: BatchDtype | None = None,
    ) -> TorchPredictor:
        """Load an artifact folder (``model.safetensors`` + ``model_card.json``).

        Raises
        ------
        ArtifactError
            Missing or malformed files, a weights checksum mismatch, or weights that do not
            match the card's architecture.
        SpecMismatchError
            ``spec`` is not the spec the model was trained on (names both hashes and the first
            differing feature or parameter).
        """
        folder = Path(path)
        card = read_model_card(folder)
        check_card_spec(card, spec, owner=f"model {card.model_id} ({folder})")
        weights = checked_weights_file(folder, card)
        try:
            tensors = safetensors.torch.load_file(str(weights), device="cpu")
        except Exception as exc:  # SafetensorError: a truncated or foreign file
            raise unreadable_weights(weights, exc) from None
        arch = card.architecture
        module = _uninitialised_module(arch.input_dim, arch.hidden, arch.activation)
        std_names = card.standardisation
        renamed = dict(tensors)
        for key, stored in (
            ("input_mean", std_names.mean_tensor),
            ("input_std", std_names.std_tensor),
        ):
            if stored != key and stored in renamed:
                renamed[key] = renamed.pop(stored)
        expected = module.state_dict()
        missing = sorted(set(expected) - set(renamed))
        unexpected = sorted(set(renamed) - set(expected))
        if missing or unexpected:
            raise ArtifactError(
                f"{weights}: tensors do not match the card's architecture {arch}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        for key in expected:  # the module's order: layer by layer, weight before bias
            tensor = renamed[key]
            if tuple(tensor.shape) != tuple(expected[key].shape):
                raise ArtifactError(
                    f"{weights}: tensor {key!r} has shape {tuple(tensor.shape)}, the card's "
                    f"architecture needs {tuple(expected[key].shape)}"
                )
        _check_standardisation(renamed["input_mean"], renamed["input_std"], arch.input_dim)
        module.load_state_dict(renamed, strict=True)
        return cls(module, card, spec, device=device, batch_dtype=batch_dtype)

    @classmethod
    def random(
        cls,
        spec: FeatureSpecLike,
        *,
        seed: int,
        hidden: Sequence[int] = (64,),
        activation: Literal["relu", "gelu"] = "relu",
        temperature: float = RANDOM_TEMPERATURE,
        device: str = "auto",
        batch_dtype: BatchDtype | None = None,
    ) -> TorchPredictor:
        """A freshly initialised model (same seed -> same weights -> same predictions).

        Weights are drawn like ``nn.Linear``'s default (uniform in +-1/sqrt(fan_in)) from a
        private generator, so the global torch RNG is neither used nor changed. The
        standardisation is the identity. For tests and demos only: it has no edge.

        ``temperature`` defaults to :data:`RANDOM_TEMPERATURE` (0.1): an untrained network's
        logits are nearly equal, so at temperature 1 every confidence is close to 1/3 and nothing
        would ever pass a sizer threshold; 0.1 spreads them out so the whole pipeline trades.
        """
        module = random_module(len(spec.names), seed=seed, hidden=hidden, activation=activation)
        tag = "x".join(str(h) for h in hidden) or "linear"
        card = ModelCard(
            name=f"random-mlp-s{seed}-h{tag}-{activation}",
            version=1,
            created_at=datetime.now(UTC),
            description="randomly initialised, untrained (tests and demos only; no edge)",
            feature_spec=dict(spec.to_dict()),  # type: ignore[arg-type]
            spec_hash=spec.hash,
            feature_names=tuple(spec.names),
            architecture=module.architecture,
            label={"kind": "none", "note": "untrained"},
            temperature=temperature,
            library_versions=library_versions(),
        )
        return cls(module, card, spec, device=device, batch_dtype=batch_dtype)

    # ------------------------------------------------------------------ protocol

    @property
    def module(self) -> MLPClassifier:
        """The predictor's copy of the torch module (as stored: float32 weights, on CPU)."""
        return self._module

    @property
    def device(self) -> str:
        """Where the batch path runs (``"cpu"`` or ``"cuda:N"``)."""
        return self._device

    def predict_proba_batch(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(n, 3)`` float64 class probabilities (card order) with the torch module."""
        x = check_feature_matrix(features, self._names, owner=self._owner)
        out = np.empty((x.shape[0], 3), dtype=np.float64)
        with torch.inference_mode():
            for lo in range(0, x.shape[0], self._batch_size):
                chunk = torch.from_numpy(x[lo : lo + self._batch_size])
                chunk = chunk.to(device=self._device, dtype=self._batch_dtype, non_blocking=True)
                logits = self._batch_module(chunk).to(torch.float64) / self._temperature
                out[lo : lo + len(chunk)] = torch.softmax(logits, dim=1).cpu().numpy()
        return out

    def close(self) -> None:
        """Drop the device copy of the network (frees GPU memory). Idempotent."""
        if not self._closed:
            self._closed = True
            self._batch_module = self._batch_module.to("cpu")
            if self._device.startswith("cuda"):
                torch.cuda.empty_cache()


def random_module(
    input_dim: int,
    *,
    seed: int,
    hidden: Sequence[int] = (64,),
    activation: Literal["relu", "gelu"] = "relu",
) -> MLPClassifier:
    """An :class:`MLPClassifier` initialised from ``seed`` with a private generator."""
    generator = torch.Generator().manual_seed(seed)
    module = _uninitialised_module(input_dim, hidden, activation)
    with torch.no_grad():
        for layer in module.linear_layers():
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return module


def _uninitialised_module(
    input_dim: int, hidden: Sequence[int], activation: Literal["relu", "gelu"]
) -> MLPClassifier:
    """An MLPClassifier whose weights are about to be overwritten; the global RNG is untouched
    (``nn.Linear`` draws its default initialisation from it)."""
    with torch.random.fork_rng(devices=[]):
        return MLPClassifier(input_dim, hidden, activation)


def save_artifact(module: MLPClassifier, card: ModelCard, root: str | Path) -> Path:
    """Write a NEW artifact folder ``<root>/<card.name>/v<card.version>`` and return its path.

    The folder is written under a temporary name and renamed into place, so a reader never sees
    half an artifact; an existing folder is never overwritten (:class:`ArtifactError`). The card
    written gets ``weights_sha256`` (and ``library_versions`` when empty) filled in.
    """
    if not _same_shape(module.architecture, card.architecture):
        raise ArtifactError(
            f"card {card.model_id} describes {card.architecture}, the module is "
            f"{module.architecture}"
        )
    final = new_artifact_folder(root, card.name, card.version)

    def write(folder: Path) -> None:
        std = card.standardisation
        tensors: dict[str, torch.Tensor] = {}
        for key, tensor in module.state_dict().items():
            stored = {"input_mean": std.mean_tensor, "input_std": std.std_tensor}.get(key, key)
            tensors[stored] = tensor.detach().to("cpu").contiguous().clone()
        weights = folder / WEIGHTS_FILE
        safetensors.torch.save_file(
            tensors, str(weights), metadata={"model_id": card.model_id, "format": "pt"}
        )
        update: dict[str, object] = {"weights_sha256": file_sha256(weights)}
        if not card.library_versions:
            update["library_versions"] = library_versions()
        final_card = sealed_card(card.model_copy(update=update))  # reads back, sealed
        (folder / CARD_FILE).write_text(final_card.to_json(), encoding="utf-8")

    return publish_folder(final.parent, final.name, write)


def _same_shape(a: MLPArchitecture, b: MLPArchitecture) -> bool:
    """Same layers and activation (the class order is the card's business)."""
    return (a.input_dim, a.hidden, a.activation) == (b.input_dim, b.hidden, b.activation)
