"""The model card: everything needed to run, audit and export a stored model, as JSON.

An artifact is a folder ``<root>/<name>/v<version>/`` holding two files:

``model.safetensors``
    The weights (never pickle). For ``kind == "mlp"`` the tensors are ``layers.<i>.weight``
    (shape ``(out, in)``) and ``layers.<i>.bias`` for ``i = 0 .. len(hidden)`` (the last layer
    gives one logit per class), plus the input standardisation vectors named in
    :class:`Standardisation` (``input_mean``, ``input_std``, shape ``(input_dim,)``).
``model_card.json``
    This :class:`ModelCard`.

The MLP computes ``logits = L_n(act(... act(L_0((x - mean) / std))))``; class probabilities are
``softmax(logits / temperature)`` in the order of ``architecture.classes`` (default
``["sell", "hold", "buy"]``). The training code, the Pine exporter and the TorchServe handler all
read this card; ``schema_version`` changes when a field changes meaning.

The card seals itself: ``card_sha256`` is the SHA-256 of its other fields (canonical JSON, see
:func:`card_digest`), so a card edited by hand (another class order, another temperature: every
answer changes, nothing else notices) is refused on load. Cards written before the seal have none
and load with a warning.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PositiveInt,
    ValidationError,
    model_validator,
)

from nautilus_ai.artifacts import ArtifactError, ArtifactExistsError, file_sha256, next_version

__all__ = [
    "CARD_FILE",
    "CLASSES",
    "MODEL_NAME_PATTERN",
    "WEIGHTS_FILE",
    "ArtifactError",
    "MLPArchitecture",
    "ModelCard",
    "Standardisation",
    "TimeWindow",
    "card_digest",
    "check_card_seal",
    "json_card_digest",
    "describe_errors",
    "library_versions",
    "read_model_card",
    "sealed_card",
]

CARD_FILE = "model_card.json"
WEIGHTS_FILE = "model.safetensors"
#: Default class order of the classifier outputs.
CLASSES: tuple[str, str, str] = ("sell", "hold", "buy")

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
#: What a model's name may be (it names the artifact folder ``<name>/v<version>``).
MODEL_NAME_PATTERN = _NAME_PATTERN
#: The field holding a card's own checksum (:func:`card_digest`).
CARD_SHA256_FIELD = "card_sha256"

log = logging.getLogger(__name__)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimeWindow(_Frozen):
    """A half-open UTC time window ``[start, end)`` of the data a step used."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if not self.start < self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self


class MLPArchitecture(_Frozen):
    """Shape of the MLP classifier.

    Parameters
    ----------
    input_dim : int
        Number of features (``len(feature_names)``).
    hidden : tuple of int
        Hidden layer widths, input side first (may be empty: a linear model).
    activation : {"relu", "gelu"}
        Activation after each hidden layer (GELU is the exact, erf-based one).
    classes : tuple of str
        Output order: a permutation of ``("sell", "hold", "buy")``.
    """

    input_dim: PositiveInt
    hidden: tuple[PositiveInt, ...]
    activation: Literal["relu", "gelu"] = "relu"
    classes: tuple[str, str, str] = CLASSES

    @model_validator(mode="after")
    def _classes_are_actions(self) -> MLPArchitecture:
        if sorted(self.classes) != sorted(CLASSES):
            raise ValueError(f"classes must be a permutation of {CLASSES}, was {self.classes}")
        return self


class Standardisation(_Frozen):
    """Where the input standardisation lives, and which data it was fitted on.

    ``mean_tensor`` and ``std_tensor`` name float vectors in ``model.safetensors``; the model
    sees ``(x - mean) / std``. ``fit_window`` is the data window the statistics come from (it must
    not overlap the validation or test windows).
    """

    mean_tensor: str = "input_mean"
    std_tensor: str = "input_std"
    fit_window: TimeWindow | None = None


class ModelCard(_Frozen):
    """Metadata stored beside a model's weights (``model_card.json``).

    Parameters
    ----------
    schema_version : int
        Card format version (1).
    name : str
        Model name: letters, digits, ``_ . -``; the artifact folder is ``<name>/v<version>``.
    version : int
        Version number, >= 1; ``model_id`` is ``name/version``.
    kind : {"mlp"}
        Model family (decides how ``architecture`` and the weights are read).
    created_at : datetime
        Creation time, timezone-aware (UTC by convention).
    description : str
        Free text.
    feature_spec : dict
        The feature spec's ``to_dict()``.
    spec_hash : str
        The feature spec's hash; a model refuses to run on another.
    feature_names : tuple of str
        The spec's feature names in vector order (``len == architecture.input_dim``).
    architecture : MLPArchitecture
        Layer sizes, activation, class order.
    standardisation : Standardisation
        Tensor names and fit window of the input standardisation.
    label : dict
        Label definition (horizon, thresholds...); filled by the training code.
    train_window, validation_window, test_window : TimeWindow or None
        Data windows used in training, model selection and final evaluation.
    metrics : dict
        Evaluation metrics (free JSON, e.g. per split).
    temperature : float
        Softmax temperature from calibration (> 0; 1 = uncalibrated).
    library_versions : dict
        Versions of python, torch, numpy, safetensors, nautilus-ai... at creation.
    weights_sha256 : str or None
        SHA-256 of ``model.safetensors``; set by ``save_artifact`` and checked on load.
    card_sha256 : str or None
        SHA-256 of the card's other fields (:func:`card_digest`); set on save, checked on load
        (None: a card written before the seal, loaded with a warning).
    """

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=128, pattern=_NAME_PATTERN)
    version: PositiveInt
    kind: Literal["mlp"] = "mlp"
    created_at: AwareDatetime
    description: str = ""
    feature_spec: dict[str, JsonValue]
    spec_hash: str = Field(min_length=1)
    feature_names: tuple[str, ...]
    architecture: MLPArchitecture
    standardisation: Standardisation = Standardisation()
    label: dict[str, JsonValue] = Field(default_factory=dict)
    train_window: TimeWindow | None = None
    validation_window: TimeWindow | None = None
    test_window: TimeWindow | None = None
    metrics: dict[str, JsonValue] = Field(default_factory=dict)
    temperature: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    library_versions: dict[str, str] = Field(default_factory=dict)
    weights_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    card_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        if len(self.feature_names) != self.architecture.input_dim:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} names but architecture.input_dim "
                f"is {self.architecture.input_dim}"
            )
        seen: set[str] = set()
        for name in self.feature_names:
            if name in seen:
                raise ValueError(f"feature_names repeats {name!r}")
            seen.add(name)
        return self

    @property
    def model_id(self) -> str:
        """``name/version``: what predictions and trade tags carry."""
        return f"{self.name}/{self.version}"

    def to_json(self) -> str:
        """Indented JSON (what ``model_card.json`` holds)."""
        return self.model_dump_json(indent=2) + "\n"


def read_model_card(folder: str | Path) -> ModelCard:
    """Read ``<folder>/model_card.json``; errors name the file and the bad field."""
    return read_card(folder, ModelCard, "model card")


CardT = TypeVar("CardT", bound=BaseModel)


def read_card(folder: str | Path, card_type: type[CardT], what: str) -> CardT:
    """Read ``<folder>/model_card.json`` as ``card_type`` (``what`` names it in errors); errors
    name the file and the bad field."""
    path = Path(folder) / CARD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"no {CARD_FILE} in {Path(folder)} (is it a model artifact?)") from None
    except UnicodeDecodeError as exc:
        raise ArtifactError(not_utf8(path, exc)) from None
    try:
        card = card_type.model_validate_json(text)
    except ValidationError as exc:
        raise ArtifactError(f"{path}: invalid {what}: {describe_errors(exc)}") from exc
    check_card_seal(card, path, what)
    return card


def card_digest(card: BaseModel) -> str:
    """SHA-256 of a card's fields but ``card_sha256``, as sorted compact JSON (whitespace, key
    order and number spelling in the file do not change it; any value does)."""
    return json_card_digest(card.model_dump(mode="json"))


def json_card_digest(data: Mapping[str, object]) -> str:
    """:func:`card_digest` of a card read as plain JSON (``json.loads`` of its file): the same
    digest, for readers that do not import the card's model."""
    fields = {key: value for key, value in data.items() if key != CARD_SHA256_FIELD}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sealed_card(card: CardT) -> CardT:
    """``card`` with ``card_sha256`` set to the digest of the card as it reads back from its JSON
    (what a loader will recompute)."""
    stored = type(card).model_validate_json(card.model_dump_json())
    return card.model_copy(update={CARD_SHA256_FIELD: card_digest(stored)})


def check_card_seal(card: BaseModel, path: Path, what: str) -> None:
    """Refuse a card whose fields no longer match its ``card_sha256``; warn for one without.

    Raises
    ------
    ArtifactError
        The card was edited (or corrupted) after it was written.
    """
    stored = getattr(card, CARD_SHA256_FIELD, None)
    if stored is None:
        log.warning(
            "%s: %s has no card_sha256 (written before cards were sealed, or the seal was "
            "removed): an edit to its fields cannot be detected",
            path,
            what,
        )
        return
    actual = card_digest(card)
    if actual != stored:
        raise ArtifactError(
            f"{path}: the {what} was edited or corrupted after it was written (its fields hash to "
            f"{actual}, its card_sha256 is {stored}); restore the card, or store a new model "
            "version (to load an edited card anyway, delete its card_sha256)"
        )


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The message for a file that should be UTF-8 text and is not."""
    return f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); corrupted?"


def unreadable_weights(file: Path, exc: Exception) -> ArtifactError:
    """The error for a weights file safetensors cannot read (truncated, not safetensors)."""
    return ArtifactError(f"{file}: not a readable safetensors file ({exc}); corrupted?")


def checked_weights_file(folder: str | Path, card: ModelCard) -> Path:
    """The artifact's weights file, after checking it exists and matches the card's SHA-256.

    Raises
    ------
    ArtifactError
        The file is missing, or its bytes changed since the card was written.
    """
    return checked_artifact_file(folder, WEIGHTS_FILE, card.weights_sha256)


def checked_artifact_file(folder: str | Path, file_name: str, sha256: str | None) -> Path:
    """``<folder>/<file_name>``, after checking it exists and (when the card stores one)
    matches the card's SHA-256.

    Raises
    ------
    ArtifactError
        The file is missing, or its bytes changed since the card was written.
    """
    file = Path(folder) / file_name
    if not file.is_file():
        raise ArtifactError(f"no {file_name} in {Path(folder)}")
    if sha256 is not None:
        digest = file_sha256(file)
        if digest != sha256:
            raise ArtifactError(
                f"{file}: SHA-256 {digest} does not match the card's {sha256} "
                "(file changed or corrupted)"
            )
    return file


def new_artifact_folder(root: str | Path, name: str, version: int) -> Path:
    """``<root>/<name>/v<version>``, refused if it exists: artifacts are never overwritten.

    Raises
    ------
    ArtifactError
        The folder exists (the message names the next free version).
    """
    final = Path(root) / name / f"v{version}"
    if final.exists():
        raise ArtifactExistsError(
            f"{final} already exists: artifacts are never overwritten; use version "
            f"{next_version(root, name)}"
        )
    return final


def describe_errors(exc: ValidationError) -> str:
    """One line per pydantic error: ``field 'a.b': message (got value)``, joined by ``; ``."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "<root>"
        got = repr(error.get("input"))
        if len(got) > _MAX_INPUT_CHARS:  # a whole-card check would print the whole card
            got = got[: _MAX_INPUT_CHARS - 3] + "..."
        parts.append(f"field {field!r}: {error['msg']} (got {got})")
    return "; ".join(parts)


_MAX_INPUT_CHARS = 120


def library_versions(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Versions of the libraries a model depends on (read from package metadata, no imports)."""
    versions = {"python": platform.python_version()}
    for dist in ("nautilus-ai", "torch", "numpy", "safetensors", "pydantic"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    if extra:
        versions.update(extra)
    return versions
