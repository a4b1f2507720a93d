"""Gradient-boosted trees (LightGBM) behind the predictor protocol: ``{"kind": "lightgbm"}``.

An artifact is a folder ``<root>/<name>/v<version>/`` holding

``model.txt``
    The booster in LightGBM's own text format (``Booster.model_to_string()``; never pickle).
``model_card.json``
    A :class:`GBTModelCard`: feature spec and hash, label spec, windows, metrics, the softmax
    temperature fitted on the validation window, library versions, the SHA-256 of ``model.txt``.

Inference does not need the ``lightgbm`` package: :mod:`nautilus_ai.models.lightgbm_trees`
reads the text model and walks the trees in numpy, picking exactly LightGBM's leaves and summing
their values in LightGBM's order (raw scores equal ``Booster.predict(raw_score=True)`` bit for
bit). Class probabilities are ``softmax(raw / temperature)`` computed with Python floats for
every row, in the batch path too, so :meth:`LightGBMPredictor.predict_batch` returns exactly
what :meth:`~LightGBMPredictor.predict` returns row by row (``batch_exact``): a precomputed
backtest may ask for all bars at once without changing a trade.

Decision: the most probable class (the first on a tie), ``confidence = max(p)``,
``risk_score = -sum(p ln p) / ln 3`` (as the torch MLP).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PositiveInt,
    model_validator,
)

from nautilus_ai.artifacts import file_sha256, publish_folder
from nautilus_ai.models.base import (
    Action,
    MarketContext,
    Prediction,
    PredictionError,
    argmax_and_entropy,
    softmax3,
)
from nautilus_ai.models.card import (
    CARD_FILE,
    CLASSES,
    ArtifactError,
    TimeWindow,
    checked_artifact_file,
    library_versions,
    new_artifact_folder,
    not_utf8,
    read_card,
    sealed_card,
)
from nautilus_ai.models.card_backed import CardBackedPredictor
from nautilus_ai.models.lightgbm_trees import (
    LightGBMModelError,
    TreeEnsemble,
    TreeEvaluator,
    parse_lightgbm_model,
)
from nautilus_ai.models.registry import Backend, BackendRegistry
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_batch_contexts,
    check_card_spec,
    check_feature_matrix,
    context_spec_error,
    raise_non_finite,
)

__all__ = [
    "MODEL_FILE",
    "GBTArchitecture",
    "GBTModelCard",
    "LightGBMBackendConfig",
    "LightGBMPredictor",
    "architecture_of",
    "card_for",
    "read_gbt_card",
    "save_gbt_artifact",
    "softmax_probabilities",
]

MODEL_FILE = "model.txt"
_ACTIONS = {"sell": Action.SELL, "hold": Action.HOLD, "buy": Action.BUY}
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GBTArchitecture(_Frozen):
    """Shape of a stored tree ensemble (checked against ``model.txt`` on load).

    Parameters
    ----------
    input_dim : int
        Features (``len(feature_names)``).
    classes : tuple of str
        Class of raw score ``k`` (tree ``t`` feeds class ``t % 3``): a permutation of
        ``("sell", "hold", "buy")``.
    iterations : int
        Boosting iterations kept (the best one on validation when early stopping ran).
    trees : int
        ``iterations * 3``.
    max_leaves, max_depth : int
        Largest tree, in leaves and in splits from root to leaf.
    objective : {"multiclass"}
        LightGBM's softmax objective.
    """

    input_dim: PositiveInt
    classes: tuple[str, str, str] = CLASSES
    iterations: PositiveInt
    trees: PositiveInt
    max_leaves: PositiveInt
    max_depth: int = Field(ge=0)
    objective: Literal["multiclass"] = "multiclass"

    @model_validator(mode="after")
    def _consistent(self) -> GBTArchitecture:
        if sorted(self.classes) != sorted(CLASSES):
            raise ValueError(f"classes must be a permutation of {CLASSES}, was {self.classes}")
        if self.trees != self.iterations * len(self.classes):
            raise ValueError(f"trees ({self.trees}) != iterations x classes")
        return self


class GBTModelCard(_Frozen):
    """Metadata stored beside ``model.txt`` (``model_card.json``); fields as
    :class:`~nautilus_ai.models.card.ModelCard` where they share a name.

    Parameters
    ----------
    schema_version : int
        Card format version (1).
    name, version
        The artifact folder is ``<name>/v<version>``; ``model_id`` is ``name/version``.
    kind : {"lightgbm"}
        Model family.
    created_at : datetime
        Timezone-aware creation time.
    description : str
    feature_spec : dict
        The feature spec's ``to_dict()``.
    spec_hash : str
        The spec's hash; the model refuses any other spec.
    feature_names : tuple of str
        Feature order (= the booster's feature names).
    architecture : GBTArchitecture
    label : dict
        Label definition (horizon, thresholds, embargo...).
    train_window, validation_window, test_window : TimeWindow or None
    metrics : dict
        Evaluation (per split), calibration, decision threshold, training history.
    temperature : float
        Softmax temperature fitted on the validation window (1 = uncalibrated).
    calibration : {"temperature", "none"}
        How the probabilities were calibrated.
    library_versions : dict
        python, lightgbm, numpy, nautilus-ai... at creation.
    model_sha256 : str or None
        SHA-256 of ``model.txt``; set on save, checked on load.
    card_sha256 : str or None
        SHA-256 of the card's other fields; set on save, checked on load (see
        :func:`~nautilus_ai.models.card.card_digest`).
    """

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=128, pattern=_NAME_PATTERN)
    version: PositiveInt
    kind: Literal["lightgbm"] = "lightgbm"
    created_at: AwareDatetime
    description: str = ""
    feature_spec: dict[str, JsonValue]
    spec_hash: str = Field(min_length=1)
    feature_names: tuple[str, ...]
    architecture: GBTArchitecture
    label: dict[str, JsonValue] = Field(default_factory=dict)
    train_window: TimeWindow | None = None
    validation_window: TimeWindow | None = None
    test_window: TimeWindow | None = None
    metrics: dict[str, JsonValue] = Field(default_factory=dict)
    temperature: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    calibration: Literal["temperature", "none"] = "temperature"
    library_versions: dict[str, str] = Field(default_factory=dict)
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    card_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _consistent(self) -> GBTModelCard:
        if len(self.feature_names) != self.architecture.input_dim:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} names but architecture.input_dim "
                f"is {self.architecture.input_dim}"
            )
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError("feature_names repeats a name")
        return self

    @property
    def model_id(self) -> str:
        return f"{self.name}/{self.version}"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def architecture_of(
    ensemble: TreeEnsemble, classes: tuple[str, str, str] = CLASSES
) -> GBTArchitecture:
    """The card's description of a parsed ensemble."""
    return GBTArchitecture(
        input_dim=len(ensemble.feature_names),
        classes=classes,
        iterations=ensemble.num_iterations,
        trees=ensemble.num_trees,
        max_leaves=ensemble.max_leaves,
        max_depth=int(ensemble.tree_depths().max()),
    )


def read_gbt_card(folder: str | Path) -> GBTModelCard:
    """Read ``<folder>/model_card.json`` as a LightGBM card; errors name the file and field."""
    return read_card(folder, GBTModelCard, "LightGBM model card")


def _read_model(folder: Path, card: GBTModelCard) -> TreeEnsemble:
    """``model.txt`` checked against the card (checksum, features, shape)."""
    model = checked_artifact_file(folder, MODEL_FILE, card.model_sha256)
    try:
        ensemble = parse_lightgbm_model(model.read_text(encoding="utf-8"), source=str(model))
    except LightGBMModelError as exc:
        raise ArtifactError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise ArtifactError(not_utf8(model, exc)) from None
    _check_against_card(ensemble, card, str(model))
    return ensemble


def _check_against_card(ensemble: TreeEnsemble, card: GBTModelCard, where: str) -> None:
    if ensemble.feature_names != card.feature_names:
        raise ArtifactError(
            f"{where}: the booster's features {list(ensemble.feature_names)[:5]}... differ from "
            f"the card's {list(card.feature_names)[:5]}..."
        )
    if ensemble.num_class != len(card.architecture.classes):
        raise ArtifactError(f"{where}: {ensemble.num_class} classes, the card says 3")
    found = architecture_of(ensemble, card.architecture.classes)
    if found != card.architecture:
        raise ArtifactError(f"{where}: the booster is {found}, the card says {card.architecture}")


class LightGBMPredictor(CardBackedPredictor):
    """A stored LightGBM booster and its card as a predictor (no ``lightgbm`` import).

    Parameters
    ----------
    ensemble : TreeEnsemble
        The parsed booster.
    card : GBTModelCard
        Its card (must describe ``ensemble``).
    spec : FeatureSpecLike
        The caller's feature spec; refused unless its hash is ``card.spec_hash``, naming the first
        difference.
    """

    _card: GBTModelCard
    _model_id: str

    #: ``predict_batch`` returns exactly what ``predict`` returns row by row (same leaves, same
    #: summation order, same scalar softmax): precomputed backtests may batch.
    batch_exact = True

    def __init__(self, ensemble: TreeEnsemble, card: GBTModelCard, spec: FeatureSpecLike) -> None:
        owner = f"model {card.model_id}"
        _check_against_card(ensemble, card, owner)
        check_card_spec(card, spec, owner=owner)
        self._card = card
        self._owner = owner
        self._names = card.feature_names
        self._shape = (len(card.feature_names),)
        self._model_id = card.model_id
        self._actions = tuple(_ACTIONS[c] for c in card.architecture.classes)
        self._temperature = card.temperature
        self._ensemble = ensemble
        self._evaluator = TreeEvaluator(ensemble)

    @classmethod
    def from_artifact(cls, path: str | Path, *, spec: FeatureSpecLike) -> LightGBMPredictor:
        """Load ``model.txt`` + ``model_card.json``.

        Raises
        ------
        ArtifactError
            Missing or malformed files, a checksum mismatch, or a booster that is not the one
            the card describes.
        SpecMismatchError
            ``spec`` is not the spec the model was trained on.
        """
        folder = Path(path)
        card = read_gbt_card(folder)
        check_card_spec(card, spec, owner=f"model {card.model_id} ({folder})")
        return cls(_read_model(folder, card), card, spec)

    # ------------------------------------------------------------------ protocol

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spec_hash(self) -> str:
        return self._card.spec_hash

    @property
    def card(self) -> GBTModelCard:
        return self._card

    @property
    def ensemble(self) -> TreeEnsemble:
        return self._ensemble

    def raw_scores(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(n, 3)`` raw scores (logits before the temperature) of a checked batch."""
        x = check_feature_matrix(features, self._names, owner=self._owner)
        return self._evaluator.raw_scores(x)

    def predict_proba(self, features: NDArray[np.float64]) -> tuple[float, float, float]:
        """Class probabilities for one vector (card class order)."""
        if type(features) is not np.ndarray or features.shape != self._shape:
            shape = getattr(features, "shape", type(features).__name__)
            raise PredictionError(
                f"{self._owner} expects a feature vector of shape {self._shape}, got {shape}"
            )
        x = features if features.dtype == np.float64 else features.astype(np.float64)
        check = float(x.dot(x))  # NaN / inf anywhere make this non-finite
        if check - check != 0.0:
            raise_non_finite(x.tolist(), self._names, owner=self._owner, row=None)
        r0, r1, r2 = self._evaluator.raw_scores_one(x).tolist()
        return _softmax(r0, r1, r2, self._temperature)

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """Predict from one feature vector.

        Raises
        ------
        PredictionError
            Wrong shape, a non-finite feature (named), or a context for another spec.
        """
        start = time.perf_counter()
        if context.spec_hash and context.spec_hash != self._card.spec_hash:
            raise context_spec_error(self._owner, self._card.spec_hash, context.spec_hash)
        p0, p1, p2 = self.predict_proba(features)
        k, confidence, risk = _decide(p0, p1, p2)
        return Prediction(
            self._actions[k],
            confidence,
            risk,
            self._model_id,
            time.perf_counter() - start,
            "lightgbm argmax",
        )

    def predict_proba_batch(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(n, 3)`` class probabilities, equal bit for bit to :meth:`predict_proba` per row."""
        return softmax_probabilities(self.raw_scores(features), self._temperature)

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        """One prediction per row, equal to :meth:`predict` (latency: batch time / n)."""
        start = time.perf_counter()
        check_batch_contexts(contexts, len(features), self._card.spec_hash, owner=self._owner)
        raw = self.raw_scores(features)
        t = self._temperature
        decided = [_decide(*_softmax(a, b, c, t)) for a, b, c in raw.tolist()]
        n = len(decided)
        latency = (time.perf_counter() - start) / n if n else 0.0
        actions, model_id = self._actions, self._model_id
        return [
            Prediction(actions[k], conf, risk, model_id, latency, "lightgbm argmax")
            for k, conf, risk in decided
        ]

    def close(self) -> None:
        """Nothing to release (numpy arrays only). Idempotent."""


def _softmax(r0: float, r1: float, r2: float, temperature: float) -> tuple[float, float, float]:
    """``softmax(raw / temperature)`` in the operation order of the Pine export."""
    return softmax3(r0 / temperature, r1 / temperature, r2 / temperature)


def softmax_probabilities(raw: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    """``(n, 3)`` probabilities of raw scores, row by row with the predictor's scalar softmax
    (so a threshold chosen on them compares with exactly the floats the predictor produces)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    rows = np.asarray(raw, dtype=np.float64)
    out = np.array([_softmax(a, b, c, temperature) for a, b, c in rows.tolist()])
    return out.reshape(rows.shape[0], 3)


def _decide(p0: float, p1: float, p2: float) -> tuple[int, float, float]:
    """Class index (first max), confidence and normalised entropy, clipped to [0, 1]."""
    k, confidence, risk = argmax_and_entropy(p0, p1, p2)
    return k, confidence, min(max(risk, 0.0), 1.0)


def save_gbt_artifact(model_text: str, card: GBTModelCard, root: str | Path) -> Path:
    """Write a NEW artifact folder ``<root>/<card.name>/v<card.version>`` and return its path.

    The text is parsed and checked against the card first; the folder is published atomically
    and never overwrites an existing one (:class:`ArtifactError`). The stored card gets
    ``model_sha256`` (and ``library_versions`` when empty).
    """
    try:
        ensemble = parse_lightgbm_model(model_text, source=f"model {card.model_id}")
    except LightGBMModelError as exc:
        raise ArtifactError(str(exc)) from exc
    _check_against_card(ensemble, card, f"card {card.model_id}")
    final = new_artifact_folder(root, card.name, card.version)

    def write(folder: Path) -> None:
        model = folder / MODEL_FILE
        model.write_text(model_text, encoding="utf-8")
        update: dict[str, object] = {"model_sha256": file_sha256(model)}
        if not card.library_versions:
            update["library_versions"] = library_versions()
        final_card = sealed_card(card.model_copy(update=update))  # reads back, sealed
        (folder / CARD_FILE).write_text(final_card.to_json(), encoding="utf-8")

    return publish_folder(final.parent, final.name, write)


def card_for(
    ensemble: TreeEnsemble,
    spec: FeatureSpecLike,
    *,
    name: str,
    version: int = 1,
    temperature: float = 1.0,
    created_at: datetime | None = None,
    **fields: object,
) -> GBTModelCard:
    """A card describing ``ensemble`` for ``spec`` (tests, benchmarks and the trainer)."""
    return GBTModelCard.model_validate(
        {
            "name": name,
            "version": version,
            "created_at": created_at or datetime.now(UTC),
            "feature_spec": dict(spec.to_dict()),
            "spec_hash": spec.hash,
            "feature_names": tuple(spec.names),
            "architecture": architecture_of(ensemble),
            "temperature": temperature,
            **fields,
        }
    )


# ---------------------------------------------------------------------- registry


class LightGBMBackendConfig(BaseModel):
    """``{"kind": "lightgbm", "path": "artifacts/gbt/v1"}``: a stored LightGBM artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["lightgbm"] = "lightgbm"
    path: str = Field(min_length=1)


def _build_lightgbm(
    config: LightGBMBackendConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> LightGBMPredictor:
    return LightGBMPredictor.from_artifact(config.path, spec=spec)


#: The ``lightgbm`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("lightgbm", LightGBMBackendConfig, _build_lightgbm)
