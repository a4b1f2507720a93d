"""Pick a predictor backend from a JSON config: switching backend is a config change.

::

    build_predictor({"kind": "rule"}, spec)
    build_predictor({"kind": "rule", "trend_min_atr": 2.5}, spec)
    build_predictor({"kind": "torch", "path": "models/mlp/v3", "device": "auto"}, spec)
    build_predictor({"kind": "torch_random", "seed": 7, "hidden": [64]}, spec)

Each kind has a frozen pydantic model with ``extra="forbid"`` that validates its fields, checked
strictly by :mod:`nautilus_ai.config_check` (no silent coercion, nearest valid key suggested), so
a misspelt field is an error naming it. :data:`BACKEND_SCHEMA` lets a config class declare a
``dict`` field as a backend config (the strategy's ``predictor``, a fallback's ``backends``).

Where kinds come from (nothing registers itself on import; a kind's module is imported the
first time the kind is used):

* the built-in kinds, a table of ``"module:attribute"`` references (:data:`BUILTIN_BACKENDS`);
* the entry-point group ``nautilus_ai.backends`` (:data:`ENTRY_POINT_GROUP`): a third-party
  backend is a ``pip install`` of a distribution that declares, in its ``pyproject.toml``::

      [project.entry-points."nautilus_ai.backends"]
      my_kind = "my_package.my_module:BACKEND"

  where ``BACKEND = Backend("my_kind", MyConfig, build)`` (a :class:`Backend`);
* :meth:`BackendRegistry.register`, for a kind defined in the running program (tests, notebooks).

The registry is an object: pass your own to :func:`build_predictor` (``registry=``) to build
from a different set of kinds; :func:`default_registry` is the one the package uses.

Heavy dependencies (torch) are imported only when a backend that needs them is built.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from nautilus_ai.config_check import ConfigFieldError, Schema, check, nearest
from nautilus_ai.models.base import Predictor
from nautilus_ai.models.rule import RuleConfig
from nautilus_ai.models.spec import FeatureSpecLike

__all__ = [
    "BACKEND_SCHEMA",
    "BUILTIN_BACKENDS",
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendConfigError",
    "BackendRegistry",
    "RuleBackendConfig",
    "TorchBackendConfig",
    "TorchRandomBackendConfig",
    "available_backends",
    "build_predictor",
    "default_registry",
    "register_backend",
    "validate_backend_config",
]

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=BaseModel)
#: ``factory(validated_config, spec, registry) -> Predictor``; ``registry`` is the registry
#: building it, for backends that build nested backends (fallback, ensemble, cached).
BackendFactory = Callable[[Any, FeatureSpecLike, "BackendRegistry"], Predictor]

#: The entry-point group third-party backends declare themselves in.
ENTRY_POINT_GROUP = "nautilus_ai.backends"

#: The built-in kinds: ``kind -> "module:attribute"`` of a :class:`Backend`, imported on first use.
BUILTIN_BACKENDS: Mapping[str, str] = {
    "cached": "nautilus_ai.models.cache:BACKEND",
    "delayed": "nautilus_ai.models.delayed:BACKEND",
    "ensemble": "nautilus_ai.models.ensemble:BACKEND",
    "fallback": "nautilus_ai.models.fallback:BACKEND",
    "lightgbm": "nautilus_ai.models.lightgbm:BACKEND",
    "openai": "nautilus_ai.models.openai_compat:BACKEND",
    "pattern_memory": "nautilus_ai.models.pattern_memory:BACKEND",
    "rule": "nautilus_ai.models.registry:RULE_BACKEND",
    "tick_rule": "nautilus_ai.models.tick_rule:BACKEND",
    "torch": "nautilus_ai.models.registry:TORCH_BACKEND",
    "torch_random": "nautilus_ai.models.registry:TORCH_RANDOM_BACKEND",
    "torchserve": "nautilus_ai.models.torchserve:BACKEND",
    "transformers": "nautilus_ai.models.transformers_backend:BACKEND",
}

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class BackendConfigError(ValueError):
    """A backend config is invalid: unknown kind, unknown or bad field (named in the message)."""


@dataclass(frozen=True, slots=True)
class Backend:
    """One backend kind: its config model and the factory that builds its predictor.

    Parameters
    ----------
    kind : str
        Lower-case name (``[a-z][a-z0-9_]*``), the config's ``"kind"`` value.
    config_model : type[pydantic.BaseModel]
        Validates the config; must have a ``kind`` field and ``extra="forbid"``.
    factory : callable
        ``factory(validated_config, spec, registry) -> Predictor``.
    """

    kind: str
    config_model: type[BaseModel]
    factory: BackendFactory

    def __post_init__(self) -> None:
        kind, config_model = self.kind, self.config_model
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise BackendConfigError(f"backend kind must match {_KIND.pattern}, was {kind!r}")
        if not (isinstance(config_model, type) and issubclass(config_model, BaseModel)):
            raise TypeError(f"config_model for {kind!r} must be a pydantic model class")
        if "kind" not in config_model.model_fields:
            raise TypeError(
                f"config_model {config_model.__name__} for {kind!r} needs a 'kind' field"
            )
        if config_model.model_config.get("extra") != "forbid":
            raise TypeError(
                f"config_model {config_model.__name__} for {kind!r} must set extra='forbid' "
                "(unknown fields must be errors)"
            )
        if not callable(self.factory):
            raise TypeError(f"factory for {kind!r} must be callable")


class BackendRegistry:
    """Kinds -> :class:`Backend`. Thread-safe. ``BackendRegistry()`` is empty;
    :func:`default_registry` has the built-in and installed kinds.

    Parameters
    ----------
    references : mapping of str to str, optional
        ``kind -> "module:attribute"`` of a :class:`Backend`, imported when the kind is first
        used (:data:`BUILTIN_BACKENDS` for the default registry).
    entry_point_group : str or None
        Entry-point group searched for kinds the references do not name (installed
        third-party backends); ``None`` searches none.
    """

    def __init__(
        self,
        references: Mapping[str, str] | None = None,
        entry_point_group: str | None = None,
    ) -> None:
        self._backends: dict[str, Backend] = {}
        self._references: dict[str, str] = dict(references or {})
        self._entry_point_group = entry_point_group
        self._lock = threading.RLock()

    def register(
        self,
        kind: str,
        config_model: type[ConfigT],
        factory: Callable[[ConfigT, FeatureSpecLike], Predictor],
        *,
        replace: bool = False,
    ) -> None:
        """Add a kind defined in the running program (see :class:`Backend` for the arguments;
        here ``factory(validated_config, spec)``).

        ``replace`` allows replacing an existing kind (tests); otherwise re-registering is an
        error.
        """
        if not callable(factory):  # checked here: the wrapper below is always callable
            raise TypeError(f"factory for {kind!r} must be callable")

        def build(config: Any, spec: FeatureSpecLike, registry: BackendRegistry) -> Predictor:
            return factory(config, spec)

        self.add(Backend(kind, config_model, build), replace=replace)

    def add(self, backend: Backend, *, replace: bool = False) -> None:
        """Add a :class:`Backend` (its factory receives this registry)."""
        if not isinstance(backend, Backend):
            raise TypeError(f"expected a Backend, was {type(backend).__name__}")
        with self._lock:
            known = backend.kind in self._backends or backend.kind in self._references
            if known and not replace:
                raise BackendConfigError(f"backend kind {backend.kind!r} is already registered")
            self._references.pop(backend.kind, None)
            self._backends[backend.kind] = backend

    def kinds(self) -> tuple[str, ...]:
        """Every kind this registry can build (nothing is imported to list them), sorted."""
        with self._lock:
            names = set(self._backends) | set(self._references)
        names |= set(self._entry_points())
        return tuple(sorted(names))

    def validate(self, config: Mapping[str, object]) -> BaseModel:
        """Validate a config mapping with its kind's model (without building anything).

        The check is strict (:func:`nautilus_ai.config_check.check`): unknown keys (with the
        nearest valid one), wrong types and out-of-range values are errors naming the key.
        """
        model = self.config_model(config)
        try:
            checked = check(config, model)
        except ConfigFieldError as exc:
            raise BackendConfigError(f"backend {config.get('kind')!r}: {exc}") from None
        return model.model_validate(checked)

    def config_model(self, config: object) -> type[BaseModel]:
        """The config model for ``config``'s ``kind`` (:class:`BackendConfigError` if none)."""
        try:
            return self._model_for(config)
        except ConfigFieldError as exc:
            raise BackendConfigError(exc.problem) from None

    def schema(self) -> Schema:
        """A :class:`~nautilus_ai.config_check.Schema` for backend config dicts of this
        registry (the model is picked by ``kind``)."""
        return Schema(self._model_for)

    def _model_for(self, config: object) -> type[BaseModel]:
        if not isinstance(config, Mapping):
            raise ConfigFieldError(
                (),
                f"backend config must be a mapping with a 'kind', was {type(config).__name__}",
            )
        if "kind" not in config:
            typo = next((k for k in config if nearest(str(k), ["kind"])), None)
            if typo is not None:  # "kinnd": name the misspelt key, not a missing one
                raise ConfigFieldError(
                    (str(typo),), "unknown key", received=config[typo], suggestion="kind"
                )
            raise ConfigFieldError(
                ("kind",),
                f"backend config needs a 'kind' field (one of: {', '.join(self.kinds())})",
            )
        kind = config["kind"]
        try:
            return self.backend(kind).config_model
        except BackendConfigError as exc:
            suggestion = nearest(kind, self.kinds()) if isinstance(kind, str) else None
            raise ConfigFieldError(("kind",), str(exc), suggestion=suggestion) from None

    def build(self, config: Mapping[str, object], spec: FeatureSpecLike) -> Predictor:
        """Validate ``config`` and build its predictor for ``spec``."""
        validated = self.validate(config)
        backend = self.backend(validated.kind)  # type: ignore[attr-defined]
        return backend.factory(validated, spec, self)

    def backend(self, kind: object) -> Backend:
        """The :class:`Backend` of ``kind``, importing its module on first use."""
        if not isinstance(kind, str):
            raise BackendConfigError(f"backend 'kind' must be a string, was {kind!r}")
        with self._lock:
            backend = self._backends.get(kind)
            if backend is not None:
                return backend
            reference = self._references.get(kind)
            origin = "built-in backend"
            if reference is None:
                reference = self._entry_points().get(kind)
                origin = f"entry point {kind!r} of group {self._entry_point_group!r}"
            if reference is None:
                raise BackendConfigError(
                    f"unknown backend kind {kind!r}; available: {', '.join(self.kinds())} "
                    f"(a third-party backend is installed with an entry point in the group "
                    f"{ENTRY_POINT_GROUP!r}, or registered with register_backend)"
                )
            backend = _load(reference, kind, origin)
            self._backends[kind] = backend
            return backend

    def _entry_points(self) -> dict[str, str]:
        if self._entry_point_group is None:
            return {}
        return dict(_installed_entry_points(self._entry_point_group))


@functools.cache
def _installed_entry_points(group: str) -> tuple[tuple[str, str], ...]:
    # Read once per process: the installed distributions do not change under a running program.
    found: list[tuple[str, str]] = []
    for entry in importlib.metadata.entry_points(group=group):
        if entry.name in BUILTIN_BACKENDS:  # a built-in kind is never replaced by a plugin
            log.warning(
                "ignoring entry point %r = %r of group %r: it would replace the built-in kind",
                entry.name,
                entry.value,
                group,
            )
            continue
        found.append((entry.name, entry.value))
    return tuple(found)


def _load(reference: str, kind: str, origin: str) -> Backend:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
        target = getattr(module, attribute) if attribute else module
    except ImportError as exc:
        raise BackendConfigError(
            f"backend {kind!r} ({origin}): importing {module_name} failed: {exc}"
        ) from exc
    except AttributeError:
        raise BackendConfigError(
            f"backend {kind!r} ({origin}): {module_name} has no {attribute!r}"
        ) from None
    backend = target() if callable(target) and not isinstance(target, Backend) else target
    if not isinstance(backend, Backend):
        raise BackendConfigError(
            f"backend {kind!r} ({origin}): {reference} is {type(backend).__name__}, "
            "not a nautilus_ai.models.registry.Backend"
        )
    if backend.kind != kind:
        raise BackendConfigError(
            f"backend {kind!r} ({origin}): {reference} defines kind {backend.kind!r}"
        )
    return backend


# ---------------------------------------------------------------------- built-in backends


class RuleBackendConfig(RuleConfig):
    """``{"kind": "rule", ...}``: a :class:`~nautilus_ai.models.rule.RulePredictor`; the other
    fields are :class:`~nautilus_ai.models.rule.RuleConfig`'s thresholds."""

    kind: Literal["rule"] = "rule"


class TorchBackendConfig(BaseModel):
    """``{"kind": "torch", "path": ..., "device": "auto"}``: a stored MLP artifact folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["torch"] = "torch"
    path: str = Field(min_length=1)
    device: str = Field(default="auto", pattern=_DEVICE_PATTERN)
    batch_dtype: Literal["float64", "float32", "bfloat16"] | None = None


class TorchRandomBackendConfig(BaseModel):
    """``{"kind": "torch_random", "seed": 7, "hidden": [64]}``: an untrained seeded MLP
    (``temperature`` as in :meth:`~nautilus_ai.models.torch_mlp.TorchPredictor.random`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["torch_random"] = "torch_random"
    seed: int = Field(ge=0)
    hidden: tuple[PositiveInt, ...] = (64,)
    activation: Literal["relu", "gelu"] = "relu"
    # = torch_mlp.RANDOM_TEMPERATURE (not imported: this module must not import torch)
    temperature: float = Field(default=0.1, gt=0.0, allow_inf_nan=False)
    device: str = Field(default="auto", pattern=_DEVICE_PATTERN)


def _build_rule(
    config: RuleBackendConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> Predictor:
    from nautilus_ai.models.rule import RulePredictor

    return RulePredictor(spec, RuleConfig.model_validate(config.model_dump(exclude={"kind"})))


def _build_torch(
    config: TorchBackendConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> Predictor:
    from nautilus_ai.extras import extra_installed, require_extra

    numpy_will_do = config.batch_dtype in (None, "float64") and (
        config.device == "cpu" or (config.device == "auto" and not extra_installed("torch"))
    )
    if numpy_will_do:
        # The artifact read and run with numpy: the per-bar answers are the torch predictor's,
        # bit for bit, batches equal to ~1e-12, and torch (seconds to import) is not loaded.
        # Only CUDA and the reduced-precision batch paths need torch.
        from nautilus_ai.models.mlp import MLPPredictor

        return MLPPredictor.from_artifact(config.path, spec=spec)
    require_extra(
        "torch", f"the torch backend on device {config.device!r} ({config.batch_dtype} batches)"
    )
    from nautilus_ai.models.torch_mlp import TorchPredictor

    return TorchPredictor.from_artifact(
        config.path, spec=spec, device=config.device, batch_dtype=config.batch_dtype
    )


def _build_torch_random(
    config: TorchRandomBackendConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> Predictor:
    from nautilus_ai.extras import require_extra

    require_extra("torch", "the torch_random backend")
    from nautilus_ai.models.torch_mlp import TorchPredictor

    return TorchPredictor.random(
        spec,
        seed=config.seed,
        hidden=config.hidden,
        activation=config.activation,
        temperature=config.temperature,
        device=config.device,
    )


RULE_BACKEND = Backend("rule", RuleBackendConfig, _build_rule)
TORCH_BACKEND = Backend("torch", TorchBackendConfig, _build_torch)
TORCH_RANDOM_BACKEND = Backend("torch_random", TorchRandomBackendConfig, _build_torch_random)


@functools.cache
def default_registry() -> BackendRegistry:
    """The registry the package uses: the built-in kinds and every installed entry point."""
    return BackendRegistry(BUILTIN_BACKENDS, ENTRY_POINT_GROUP)


def register_backend(
    kind: str,
    config_model: type[ConfigT],
    factory: Callable[[ConfigT, FeatureSpecLike], Predictor],
    *,
    replace: bool = False,
) -> None:
    """Add a kind to the default registry (see :meth:`BackendRegistry.register`)."""
    default_registry().register(kind, config_model, factory, replace=replace)


def build_predictor(
    config: Mapping[str, object],
    spec: FeatureSpecLike,
    *,
    registry: BackendRegistry | None = None,
) -> Predictor:
    """Build the predictor a JSON config describes, for feature vectors of ``spec``.

    Parameters
    ----------
    registry : BackendRegistry, optional
        Where kinds are looked up (:func:`default_registry` if not given).

    Raises
    ------
    BackendConfigError
        Missing or unknown ``kind``, unknown field, or a bad value (named in the message).
    """
    return (registry or default_registry()).build(config, spec)


def validate_backend_config(
    config: Mapping[str, object], *, registry: BackendRegistry | None = None
) -> BaseModel:
    """Validate a backend config without building it (e.g. when a strategy config is loaded)."""
    return (registry or default_registry()).validate(config)


def _default_model_for(config: object) -> type[BaseModel]:
    return default_registry()._model_for(config)


#: ``Annotated[dict[str, Any], BACKEND_SCHEMA]`` (pydantic) or
#: ``Annotated[dict[str, Any], schema_meta(BACKEND_SCHEMA)]`` (msgspec): the dict is a backend
#: config of the default registry, checked against its kind's model.
BACKEND_SCHEMA: Schema = Schema(_default_model_for)


def available_backends() -> tuple[str, ...]:
    """The kinds the default registry can build, sorted (nothing is imported to list them)."""
    return default_registry().kinds()
