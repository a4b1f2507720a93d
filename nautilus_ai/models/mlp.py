"""The stored MLP without torch: weights read with ``safetensors.numpy``, inference in numpy.

:func:`load_mlp_weights` reads an artifact (``model.safetensors`` + ``model_card.json``) as float64
arrays with the same checks as the torch loader: the weights file's SHA-256 against the card,
every tensor present with the card architecture's shape, a finite standardisation with
``std > 0``. :class:`MLPTwin` is the network folded for inference (standardisation into the
first layer, ``1 / temperature`` into the last), the float64 path that
:class:`~nautilus_ai.models.torch_mlp.TorchPredictor` also uses for one vector per bar, so both
give bit-identical per-bar answers. :class:`MLPPredictor` is the core's MLP backend: what
``{"kind": "torch", "path": ...}`` builds when torch is not installed (CPU, float64, batches in
numpy). :func:`save_mlp_artifact` writes an artifact from numpy arrays (tests and tools that
have no torch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file, save_file

from nautilus_ai.artifacts import file_sha256, publish_folder
from nautilus_ai.models.base import (
    Action,
    MarketContext,
    Prediction,
    PredictionError,
    Signal,
    argmax_and_entropy,
    softmax3,
)
from nautilus_ai.models.card import (
    CARD_FILE,
    WEIGHTS_FILE,
    ArtifactError,
    ModelCard,
    checked_weights_file,
    library_versions,
    new_artifact_folder,
    read_model_card,
    sealed_card,
    unreadable_weights,
)
from nautilus_ai.models.card_backed import CardBackedPredictor
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_batch_contexts,
    check_card_spec,
    check_feature_matrix,
    context_spec_error,
    raise_non_finite,
)

__all__ = [
    "OUT_OF_RANGE_STDS",
    "MLPPredictor",
    "MLPTwin",
    "MLPWeights",
    "decide",
    "load_mlp_weights",
    "save_mlp_artifact",
]

Float64Array = NDArray[np.float64]
_LN3 = math.log(3.0)

#: A feature further than this many training standard deviations from its training mean (the
#: standardisation stored with the model) is outside anything the network was fitted on: its
#: answer there is an extrapolation, however confident, so the model refuses the row (the
#: strategy holds and its status names the feature). Generous on purpose: a 1-minute return's
#: std is ~2e-4, so a 20% bar is ~1,000 of them; a corrupted feed (1e6 and beyond) is caught,
#: fat tails are not.
OUT_OF_RANGE_STDS = 1_000.0
_OUT_OF_RANGE_SQ = OUT_OF_RANGE_STDS * OUT_OF_RANGE_STDS
_ACTIONS = {"sell": Action.SELL, "hold": Action.HOLD, "buy": Action.BUY}
_SIGNS = {Action.SELL: -1, Action.HOLD: 0, Action.BUY: 1}


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
    try:
        tensors = load_file(str(file))
    except Exception as exc:  # SafetensorError: a truncated or foreign file
        raise unreadable_weights(file, exc) from None
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


class MLPTwin:
    """The network folded for float64 inference: ``(x - m) / s`` into the first layer and
    ``1 / temperature`` into the last, so :meth:`logits` is ``logits(x) / temperature``."""

    __slots__ = ("biases", "centre", "gelu", "scale", "weights", "zeros")

    def __init__(
        self,
        weights: Sequence[Float64Array],
        biases: Sequence[Float64Array],
        mean: Float64Array,
        std: Float64Array,
        *,
        activation: str,
        temperature: float,
    ) -> None:
        folded_w = [np.array(w, dtype=np.float64) for w in weights]
        folded_b = [np.array(b, dtype=np.float64) for b in biases]
        # W (x - m) / s + b  ==  (W / s) x + (b - (W / s) m)
        folded_w[0] = folded_w[0] / np.asarray(std, dtype=np.float64)
        folded_b[0] = folded_b[0] - folded_w[0] @ np.asarray(mean, dtype=np.float64)
        folded_w[-1] = folded_w[-1] / temperature
        folded_b[-1] = folded_b[-1] / temperature
        self.weights = tuple(np.ascontiguousarray(w) for w in folded_w)
        self.biases = tuple(np.ascontiguousarray(b) for b in folded_b)
        # The training standardisation, kept for the out-of-range guard: z = (x - centre) * scale.
        self.centre = np.array(mean, dtype=np.float64)
        self.scale = 1.0 / np.array(std, dtype=np.float64)
        self.gelu = _make_gelu() if activation == "gelu" else None
        # ReLU against a zero array: the same maxima as against the scalar 0.0, without
        # converting the scalar on every call (~0.2 us of a ~3 us vector).
        self.zeros = tuple(np.zeros_like(b) for b in self.biases[:-1])

    def logits(self, x: Float64Array) -> list[float]:
        """Tempered logits of one vector, as Python floats."""
        # ndarray.dot has less per-call overhead than the @ operator on small arrays.
        weights, biases = self.weights, self.biases
        if len(weights) == 2 and self.gelu is None:  # one ReLU layer (the default): unrolled
            h = weights[0].dot(x)
            h += biases[0]
            np.maximum(h, self.zeros[0], out=h)
            out = weights[1].dot(h)
            out += biases[1]
            return out.tolist()  # type: ignore[no-any-return]
        last = len(weights) - 1
        h = x
        for i in range(last):
            h = weights[i].dot(h)
            h += biases[i]
            if self.gelu is None:
                np.maximum(h, self.zeros[i], out=h)
            else:
                h = self.gelu(h)
        out = weights[last].dot(h)
        out += biases[last]
        return out.tolist()  # type: ignore[no-any-return]

    def logits_batch(self, x: Float64Array) -> Float64Array:
        """Tempered logits of an ``(n, k)`` matrix, ``(n, classes)``."""
        h = x
        last = len(self.weights) - 1
        for i in range(last):
            h = h @ self.weights[i].T + self.biases[i]
            h = np.maximum(h, 0.0) if self.gelu is None else self.gelu(h)
        return h @ self.weights[last].T + self.biases[last]  # type: ignore[no-any-return]

    def squared_norm(self, x: Float64Array) -> float:
        """``sum(z**2)`` of the standardised vector: below ``OUT_OF_RANGE_STDS**2`` every
        feature is in range (and finite); NaN / inf when a feature is not finite."""
        z = x - self.centre
        z *= self.scale
        return float(z.dot(z))

    def check_in_range(
        self, x: Float64Array, names: Sequence[str], owner: str, row: int | None = None
    ) -> None:
        """Raise :class:`PredictionError` naming the first feature of ``x`` (finite, one row)
        further than :data:`OUT_OF_RANGE_STDS` training standard deviations from its mean."""
        z = np.abs((x - self.centre) * self.scale)
        far = np.flatnonzero(~(z <= OUT_OF_RANGE_STDS))
        if far.size:
            j = int(far[0])
            where = "" if row is None else f" in row {row}"
            raise PredictionError(
                f"{owner}: feature {names[j]!r}{where} is {float(x[j])!r}, {float(z[j]):.3g} "
                f"training standard deviations from its training mean {float(self.centre[j])!r} "
                f"(limit {OUT_OF_RANGE_STDS:g}): outside anything the model was trained on, its "
                "answer would be a guess; no answer (hold)"
            )

    def check_rows_in_range(self, x: Float64Array, names: Sequence[str], owner: str) -> None:
        """:meth:`check_in_range` for each row of a finite ``(n, k)`` matrix (first bad row)."""
        z = np.abs((x - self.centre) * self.scale)
        bad = np.flatnonzero(~(z <= OUT_OF_RANGE_STDS).all(axis=1))
        if bad.size:
            i = int(bad[0])
            self.check_in_range(x[i], names, owner, row=i)


def _make_gelu() -> Callable[[Float64Array], Float64Array]:
    from scipy.special import erf  # only GELU models need it

    root2 = math.sqrt(2.0)

    def gelu(h: Float64Array) -> Float64Array:
        # exact (erf) GELU, as torch.nn.functional.gelu(approximate="none")
        return 0.5 * h * (1.0 + erf(h / root2))  # type: ignore[no-any-return]

    return gelu


def probabilities(twin: MLPTwin, features: Float64Array) -> tuple[float, float, float]:
    """Softmax of :meth:`MLPTwin.logits` for one vector (three classes), in Python floats."""
    l0, l1, l2 = twin.logits(features)
    return softmax3(l0, l1, l2)


def overflow_error(owner: str, row: int | None = None) -> PredictionError:
    """The network's output is not a number (its sums overflowed) for a finite feature vector."""
    where = "" if row is None else f" in row {row}"
    return PredictionError(
        f"{owner}: the network's output is not a number for the feature vector{where} (its "
        "sums overflowed: a feature far outside any range it was trained on, e.g. from a "
        "corrupted bar); no answer"
    )


def prediction_from_probabilities(
    p0: float, p1: float, p2: float, actions: tuple[Action, ...], model_id: str, start: float
) -> Prediction:
    """argmax (first on ties), confidence ``max p``, risk = normalised entropy.

    Raises
    ------
    PredictionError
        The probabilities are NaN (an overflowed network), never taken as a confident answer.
    """
    k, confidence, risk = argmax_and_entropy(p0, p1, p2)
    if confidence != confidence:
        raise overflow_error(f"model {model_id}")
    return Prediction(
        actions[k],
        confidence,
        risk if risk < 1.0 else 1.0,
        model_id,
        time.perf_counter() - start,
        "mlp argmax",
    )


def decide(
    probabilities: Float64Array,
) -> tuple[NDArray[np.intp], Float64Array, Float64Array]:
    """Class index (first max), confidence (max p) and risk (normalised entropy) per row."""
    index = np.argmax(probabilities, axis=1)
    confidence = np.minimum(np.take_along_axis(probabilities, index[:, None], axis=1)[:, 0], 1.0)
    logs = np.zeros_like(probabilities)
    np.log(probabilities, out=logs, where=probabilities > 0.0)
    risk = np.minimum(-(probabilities * logs).sum(axis=1) / _LN3, 1.0)
    return index, confidence, np.maximum(risk, 0.0)


def check_vector(
    features: Float64Array, shape: tuple[int], names: Sequence[str], owner: str
) -> None:
    """Refuse anything but a finite float vector of ``shape`` (the bad feature is named)."""
    if type(features) is not np.ndarray or features.shape != shape:
        got = getattr(features, "shape", type(features).__name__)
        raise PredictionError(f"{owner} expects a feature vector of shape {shape}, got {got}")
    check = float(features.dot(features))  # NaN/inf anywhere make this non-finite
    if check - check != 0.0:
        raise_non_finite(features.tolist(), names, owner=owner, row=None)


class TwinPredictor(CardBackedPredictor):
    """What the MLP predictors share (:class:`MLPPredictor`, and
    :class:`~nautilus_ai.models.torch_mlp.TorchPredictor` with torch): the card, the per-bar path
    through the float64 :class:`MLPTwin` (bit-identical answers in both) and the batch decision
    over the subclass's :meth:`predict_proba_batch`."""

    _card: ModelCard
    _owner: str
    _names: tuple[str, ...]
    _shape: tuple[int]
    _model_id: str
    _actions: tuple[Action, ...]
    _twin: MLPTwin

    @property
    def model_id(self) -> str:
        """``card.name/card.version``."""
        return self._model_id

    #: A batched matrix product may differ from the single-row one in the last bits.
    batch_exact = False

    @property
    def spec_hash(self) -> str:
        """The feature spec hash the model was trained on."""
        return self._card.spec_hash

    @property
    def card(self) -> ModelCard:
        """The model card."""
        return self._card

    def predict_proba(self, features: Float64Array) -> tuple[float, float, float]:
        """Class probabilities for one vector (card class order), via the numpy twin.

        Raises
        ------
        PredictionError
            Wrong shape, a non-finite feature, or a feature more than
            :data:`OUT_OF_RANGE_STDS` training standard deviations from its training mean
            (each named)."""
        check_vector(features, self._shape, self._names, self._owner)
        twin = self._twin
        if not twin.squared_norm(features) <= _OUT_OF_RANGE_SQ:
            twin.check_in_range(features, self._names, self._owner)
        return probabilities(twin, features)

    def predict(self, features: Float64Array, context: MarketContext) -> Prediction:
        """Predict from one feature vector with the numpy twin.

        Raises
        ------
        PredictionError
            Wrong shape, a non-finite feature (named), a feature far outside the training
            range (named, see :data:`OUT_OF_RANGE_STDS`), or a context for another spec.
        """
        start = time.perf_counter()
        if context.spec_hash and context.spec_hash != self._card.spec_hash:
            raise context_spec_error(self._owner, self._card.spec_hash, context.spec_hash)
        p0, p1, p2 = self.predict_proba(features)
        return prediction_from_probabilities(p0, p1, p2, self._actions, self._model_id, start)

    def predict_signal(self, features: Sequence[float]) -> Signal | None:
        """:meth:`predict`'s answer as ``(sign, confidence, risk_score, reason)``, with no
        ``Prediction`` built (:class:`~nautilus_ai.models.base.SignalPredictor`); ``None`` for
        a row ``predict`` refuses (wrong length, a non-finite feature, a feature far outside
        the training range) or might (``predict`` checks it feature by feature)."""
        x = np.array(features, dtype=np.float64)
        if x.shape != self._shape:
            return None
        twin = self._twin
        # NaN or inf anywhere make this NaN / inf: both fail the comparison.
        if not twin.squared_norm(x) <= _OUT_OF_RANGE_SQ:
            return None
        l0, l1, l2 = twin.logits(x)
        k, confidence, risk = argmax_and_entropy(*softmax3(l0, l1, l2))
        risk = risk if risk < 1.0 else 1.0
        if not (0.0 <= confidence <= 1.0 and risk >= 0.0):  # a Prediction would refuse it
            return None
        return _SIGNS[self._actions[k]], confidence, risk, "mlp argmax"

    def predict_proba_batch(self, features: Float64Array) -> Float64Array:
        """``(n, 3)`` float64 class probabilities (card order): the subclass's batch path."""
        raise NotImplementedError

    def predict_batch(
        self,
        features: Float64Array,
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        """One prediction per row from :meth:`predict_proba_batch` (as close to :meth:`predict`
        as that batch path is; see the class). Latency is batch time / n."""
        start = time.perf_counter()
        check_batch_contexts(contexts, len(features), self._card.spec_hash, owner=self._owner)
        x = check_feature_matrix(features, self._names, owner=self._owner)
        self._twin.check_rows_in_range(x, self._names, self._owner)
        index, confidence, risk = decide(self.predict_proba_batch(x))
        overflowed = np.flatnonzero(np.isnan(confidence))
        if overflowed.size:  # a NaN row would be a Prediction error naming nothing
            raise overflow_error(self._owner, row=int(overflowed[0]))
        n = len(index)
        latency = (time.perf_counter() - start) / n if n else 0.0
        actions, model_id = self._actions, self._model_id
        return [
            Prediction(actions[k], c, r, model_id, latency, "mlp argmax")
            for k, c, r in zip(index.tolist(), confidence.tolist(), risk.tolist(), strict=True)
        ]


class MLPPredictor(TwinPredictor):
    """A stored MLP as a predictor, in numpy only (CPU, float64): the core's MLP backend.

    Per-bar answers are bit-identical to
    :meth:`~nautilus_ai.models.torch_mlp.TorchPredictor.predict` (the same :class:`MLPTwin`);
    batches are numpy float64 (equal to the per-bar answers to ~1e-12).
    """

    def __init__(self, weights: MLPWeights, spec: FeatureSpecLike) -> None:
        card = weights.card
        owner = f"model {card.model_id} ({weights.path})"
        check_card_spec(card, spec, owner=owner)
        self._card = card
        self._owner = owner
        self._names = card.feature_names
        self._shape = (len(card.feature_names),)
        self._model_id = card.model_id
        self._actions = tuple(_ACTIONS[c] for c in card.architecture.classes)
        self._twin = MLPTwin(
            weights.weights,
            weights.biases,
            weights.mean,
            weights.std,
            activation=card.architecture.activation,
            temperature=card.temperature,
        )

    @classmethod
    def from_artifact(cls, path: str | Path, *, spec: FeatureSpecLike) -> MLPPredictor:
        """Load an artifact folder (see :func:`load_mlp_weights` for what is checked)."""
        return cls(load_mlp_weights(path), spec)

    @property
    def device(self) -> str:
        """Always ``"cpu"``."""
        return "cpu"

    def predict_proba_batch(self, features: Float64Array) -> Float64Array:
        """``(n, 3)`` float64 class probabilities (card order)."""
        x = check_feature_matrix(features, self._names, owner=self._owner)
        logits = self._twin.logits_batch(x)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def close(self) -> None:
        """Nothing to free (for the protocol)."""


def save_mlp_artifact(
    weights: Sequence[Float64Array],
    biases: Sequence[Float64Array],
    mean: Float64Array,
    std: Float64Array,
    card: ModelCard,
    root: str | Path,
) -> Path:
    """Write a NEW artifact ``<root>/<card.name>/v<card.version>`` from numpy arrays (stored as
    float32, like the torch writer) and return its path. Never overwrites (:class:`ArtifactError`).
    """
    arch = card.architecture
    dims = [arch.input_dim, *arch.hidden, len(arch.classes)]
    shapes = [w.shape for w in weights]
    if shapes != [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]:
        raise ArtifactError(f"card {card.model_id} describes layers {dims}, weights are {shapes}")
    final = new_artifact_folder(root, card.name, card.version)

    def write(folder: Path) -> None:
        std_names = card.standardisation
        tensors: dict[str, NDArray[np.float32]] = {}
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w, dtype=np.float32)
            tensors[f"layers.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
        tensors[std_names.mean_tensor] = np.ascontiguousarray(mean, dtype=np.float32)
        tensors[std_names.std_tensor] = np.ascontiguousarray(std, dtype=np.float32)
        file = folder / WEIGHTS_FILE
        save_file(tensors, str(file), metadata={"model_id": card.model_id, "format": "np"})
        update: dict[str, object] = {"weights_sha256": file_sha256(file)}
        if not card.library_versions:
            update["library_versions"] = library_versions()
        final_card = sealed_card(card.model_copy(update=update))  # reads back, sealed
        (folder / CARD_FILE).write_text(final_card.to_json(), encoding="utf-8")

    return publish_folder(final.parent, final.name, write)
