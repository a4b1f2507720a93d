"""What the model backends need from a feature spec, and how they check one.

Backends type against :class:`FeatureSpecLike` (``nautilus_ai.features.FeatureSpec`` satisfies
it) so that importing a backend does not import the feature engine. Feature vectors are float64
arrays ordered as ``spec.names``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import MarketContext, PredictionError

__all__ = [
    "CardSpec",
    "FeatureSpecLike",
    "SpecMismatchError",
    "check_feature_matrix",
    "check_batch_contexts",
    "check_card_spec",
    "check_feature_vector",
    "check_pinned_spec",
    "check_spec_matches",
    "context_spec_error",
    "feature_indices",
    "first_difference",
    "raise_non_finite",
]


@runtime_checkable
class FeatureSpecLike(Protocol):
    """The part of ``nautilus_ai.features.FeatureSpec`` a backend relies on."""

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names, in vector order."""
        ...

    @property
    def hash(self) -> str:
        """Stable hash of the whole spec (names and parameters)."""
        ...

    def to_dict(self) -> Mapping[str, object]:
        """JSON-ready description (what a model card stores)."""
        ...


class SpecMismatchError(PredictionError):
    """A model was built for a different feature spec than the one it is given.

    ``expected_hash`` / ``expected_spec`` are the spec the model was built for, where known (a
    model card stores both), so a caller can rebuild that spec (:func:`stored_spec`) instead of
    parsing the message.
    """

    def __init__(
        self,
        message: str,
        *,
        expected_hash: str | None = None,
        expected_spec: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.expected_hash = expected_hash
        self.expected_spec = expected_spec


def feature_indices(spec: FeatureSpecLike, required: Sequence[str], *, owner: str) -> list[int]:
    """Positions of ``required`` features in ``spec.names``; error naming the missing ones."""
    positions = {name: i for i, name in enumerate(spec.names)}
    missing = [name for name in required if name not in positions]
    if missing:
        raise SpecMismatchError(
            f"{owner} needs feature(s) {', '.join(map(repr, missing))}, which spec "
            f"{spec.hash} does not have{_tick_hint(missing)} (it has {len(spec.names)}: "
            f"{', '.join(spec.names)})"
        )
    return [positions[name] for name in required]


def _tick_hint(wanted: Sequence[str]) -> str:
    """``": tick feature 'x' ..."`` when a model reads a tick feature a bar vector lacks."""
    from nautilus_ai.features.spec import TICK_FEATURE_NAMES  # only on this error path

    tick = [name for name in wanted if name in TICK_FEATURE_NAMES]
    if not tick:
        return ""
    return (
        f": tick feature {tick[0]!r} is computed on quote ticks only (set the strategy's "
        "tick_mode to decide on ticks)"
    )


def check_pinned_spec(pinned: str | None, spec: FeatureSpecLike, kind: str) -> None:
    """Refuse to build a ``kind`` backend pinned to another spec than the strategy computes."""
    if pinned is not None and pinned != spec.hash:
        raise SpecMismatchError(
            f"{kind} backend is pinned to feature spec {pinned}, the strategy computes {spec.hash}",
            expected_hash=pinned,
        )


def context_spec_error(owner: str, spec_hash: str, context_hash: str) -> PredictionError:
    """The error for a context that names another spec than the model's (raise it).

    Callers test ``context.spec_hash and context.spec_hash != spec_hash`` inline (per bar).
    """
    return PredictionError(f"{owner} was built for spec {spec_hash}, context says {context_hash}")


def check_batch_contexts(
    contexts: Sequence[MarketContext] | None, rows: int, spec_hash: str, *, owner: str
) -> None:
    """Refuse batch contexts whose count is not ``rows`` or that name another spec."""
    if contexts is None:
        return
    if len(contexts) != rows:
        raise PredictionError(f"{owner}: {len(contexts)} contexts for {rows} feature rows")
    for context in contexts:
        if context.spec_hash and context.spec_hash != spec_hash:
            raise context_spec_error(owner, spec_hash, context.spec_hash)


def first_difference(expected: object, actual: object, path: str = "") -> str | None:
    """The first place two JSON-like values differ, as ``"path: expected != actual"``.

    Mappings are compared key by key (sorted), sequences item by item; ``None`` if equal.
    """
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for key in sorted(set(expected) | set(actual), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{sub}: {expected[key]!r} != (missing)"
            if key not in expected:
                return f"{sub}: (missing) != {actual[key]!r}"
            found = first_difference(expected[key], actual[key], sub)
            if found is not None:
                return found
        return None
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found is not None:
                return found
        if len(expected) != len(actual):
            return f"{path}: length {len(expected)} != {len(actual)}"
        return None
    if expected != actual:
        return f"{path or '<root>'}: {expected!r} != {actual!r}"
    return None


class CardSpec(Protocol):
    """What a model card says about the features it was trained on."""

    @property
    def spec_hash(self) -> str: ...

    @property
    def feature_names(self) -> Sequence[str]: ...

    @property
    def feature_spec(self) -> Mapping[str, object] | None: ...


def check_card_spec(card: CardSpec, spec: FeatureSpecLike, *, owner: str) -> None:
    """:func:`check_spec_matches` against a model card's spec hash, names and spec dict."""
    check_spec_matches(
        owner=owner,
        expected_hash=card.spec_hash,
        expected_names=card.feature_names,
        expected_spec=card.feature_spec,
        spec=spec,
    )


def check_spec_matches(
    *,
    owner: str,
    expected_hash: str,
    expected_names: Sequence[str],
    expected_spec: Mapping[str, object] | None,
    spec: FeatureSpecLike,
) -> None:
    """Refuse a spec whose hash differs from the one a model was built for.

    The error names both hashes and the first difference: the first differing feature name if the
    name lists differ, else the first differing field of the spec dicts.
    """
    if spec.hash == expected_hash:
        _check_self_consistent(owner, expected_hash, expected_names, expected_spec, spec)
        return
    detail = None
    for i, (want, got) in enumerate(zip(expected_names, spec.names, strict=False)):
        if want != got:
            detail = f"feature #{i} is {want!r} in the model, {got!r} in the given spec"
            break
    if detail is None and len(expected_names) != len(spec.names):
        n = min(len(expected_names), len(spec.names))
        extra = expected_names[n] if len(expected_names) > n else spec.names[n]
        detail = (
            f"the model has {len(expected_names)} features, the given spec {len(spec.names)} "
            f"(first unmatched: {extra!r})"
        )
        detail += _tick_hint([name for name in expected_names if name not in spec.names])
    if detail is None and expected_spec is not None:
        diff = first_difference(dict(expected_spec), dict(spec.to_dict()))
        if diff is not None:
            detail = f"same feature names; first differing field {diff} (model != given)"
            version = expected_spec.get("version", 1)
            if version != spec.to_dict().get("version"):
                # The default spec moved to a new version: say how to keep the model's.
                detail += f"; set the strategy's feature_spec to the model's (version {version})"
    if detail is None:
        detail = "names and parameters look equal; the hash function or version differs"
    raise SpecMismatchError(
        f"{owner} was built for feature spec {expected_hash}, but was given spec {spec.hash}: "
        f"{detail}",
        expected_hash=expected_hash,
        expected_spec=expected_spec,
    )


def _check_self_consistent(
    owner: str,
    expected_hash: str,
    expected_names: Sequence[str],
    expected_spec: Mapping[str, object] | None,
    spec: FeatureSpecLike,
) -> None:
    """Refuse a stored spec hash that the stored names or spec dict contradict (a card edited
    by hand): the model would run on one definition while its card, and a Pine export of it,
    name another. Fields a stored dict omits are defaults (``FeatureSpec.from_dict``)."""
    detail = None
    if tuple(expected_names) != tuple(spec.names):
        detail = f"feature_names {first_difference(list(expected_names), list(spec.names))}"
    elif expected_spec is not None:
        given = spec.to_dict()
        stored = {key: value for key, value in expected_spec.items() if key in given}
        diff = first_difference(stored, {key: given[key] for key in stored})
        unknown = sorted(set(expected_spec) - set(given))
        if diff is not None:
            detail = f"feature_spec.{diff}"
        elif unknown:
            detail = f"feature_spec has the unknown field {unknown[0]!r}"
    if detail is not None:
        raise SpecMismatchError(
            f"{owner}: its stored spec hash {expected_hash} is not what its stored features say "
            f"({detail}; stored != the definition behind that hash): the card was edited or "
            "corrupted"
        )


def check_feature_vector(
    features: NDArray[np.float64], names: Sequence[str], *, owner: str
) -> list[float]:
    """Validate one feature vector and return it as Python floats (the fast form for scalar code).

    Raises :class:`PredictionError` for a wrong shape or a non-finite value (naming the feature).
    """
    if not isinstance(features, np.ndarray) or features.shape != (len(names),):
        shape = getattr(features, "shape", type(features).__name__)
        raise PredictionError(
            f"{owner} expects a feature vector of shape ({len(names)},), got {shape}"
        )
    values: list[float] = features.tolist()
    total = sum(values)  # one cheap pass: any NaN or inf makes the sum non-finite
    if total - total != 0.0:
        raise_non_finite(values, names, owner=owner, row=None)
    return values


def raise_non_finite(
    values: Sequence[float], names: Sequence[str], *, owner: str, row: int | None
) -> None:
    """Raise :class:`PredictionError` naming the first non-finite feature (if there is one).

    A finite vector whose sum overflowed returns without raising.
    """
    for name, value in zip(names, values, strict=True):
        if not math.isfinite(value):
            where = "" if row is None else f" in row {row}"
            raise PredictionError(
                f"{owner}: feature {name!r}{where} is {value!r}; predictors need finite "
                "features (is the feature engine warm?)"
            )


def check_feature_matrix(
    features: NDArray[np.float64], names: Sequence[str], *, owner: str
) -> NDArray[np.float64]:
    """Validate a ``(n, k)`` batch; return it as a C-contiguous float64 array."""
    if (
        not isinstance(features, np.ndarray)
        or features.ndim != 2
        or features.shape[1] != len(names)
    ):
        shape = getattr(features, "shape", type(features).__name__)
        raise PredictionError(f"{owner} expects features of shape (n, {len(names)}), got {shape}")
    matrix = np.ascontiguousarray(features, dtype=np.float64)
    finite = np.isfinite(matrix)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise PredictionError(
            f"{owner}: feature {names[col]!r} in row {row} is {matrix[row, col]!r}; predictors "
            "need finite features (is the feature engine warm?)"
        )
    return matrix
