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

Other modules add kinds with :func:`register_backend` (``"torchserve"``, ``"transformers"``,
``"openai"``, ``"fallback"``, ``"ensemble"``...) without editing this file. A kind that is not
registered yet is looked up once by convention: if a module ``nautilus_ai.models.<kind>``
exists, it is imported (it registers itself on import). Backends living elsewhere must be
imported before :func:`build_predictor` is called.

Heavy dependencies (torch) are imported only when a backend that needs them is built.
"""

from __future__ import annotations

import importlib
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
    "DEFAULT_REGISTRY",
    "BackendConfigError",
    "BackendRegistry",
    "RuleBackendConfig",
    "TorchBackendConfig",
    "TorchRandomBackendConfig",
    "available_backends",
    "build_predictor",
    "register_backend",
    "validate_backend_config",
]

ConfigT = TypeVar("ConfigT", bound=BaseModel)
BackendFactory = Callable[[Any, FeatureSpecLike], Predictor]

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class BackendConfigError(ValueError):
    """A backend config is invalid: unknown kind, unknown or bad field (named in the message)."""


@dataclass(frozen=True, slots=True)
class _Backend:
    kind: str
    config_model: type[BaseModel]
    factory: BackendFactory


class BackendRegistry:
    """Kinds -> (config model, factory). Thread-safe; use :data:`DEFAULT_REGISTRY` normally.

    Parameters
    ----------
    autoload_package : str or None
        Package searched by convention for unregistered kinds (``<package>.<kind>``); ``None``
        switches the lookup off.
    """

    def __init__(self, autoload_package: str | None = None) -> None:
        self._backends: dict[str, _Backend] = {}
        self._lock = threading.Lock()
        self._autoload_package = autoload_package

    def register(
        self,
        kind: str,
        config_model: type[ConfigT],
        factory: Callable[[ConfigT, FeatureSpecLike], Predictor],
        *,
        replace: bool = False,
    ) -> None:
        """Add a backend kind.

        Parameters
        ----------
        kind : str
            Lower-case name (``[a-z][a-z0-9_]*``), the config's ``"kind"`` value.
        config_model : type[pydantic.BaseModel]
            Validates the config; must have a ``kind`` field and ``extra="forbid"``.
        factory : callable
            ``factory(validated_config, spec) -> Predictor``.
        replace : bool
            Allow replacing an existing kind (tests); otherwise re-registering is an error.
        """
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
        if not callable(factory):
            raise TypeError(f"factory for {kind!r} must be callable")
        with self._lock:
            if kind in self._backends and not replace:
                raise BackendConfigError(f"backend kind {kind!r} is already registered")
            self._backends[kind] = _Backend(kind, config_model, factory)

    def kinds(self) -> tuple[str, ...]:
        """Registered kinds, sorted."""
        with self._lock:
            return tuple(sorted(self._backends))

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
            return self._lookup(kind).config_model
        except BackendConfigError as exc:
            suggestion = nearest(kind, self.kinds()) if isinstance(kind, str) else None
            raise ConfigFieldError(("kind",), str(exc), suggestion=suggestion) from None

    def build(self, config: Mapping[str, object], spec: FeatureSpecLike) -> Predictor:
        """Validate ``config`` and build its predictor for ``spec``."""
        validated = self.validate(config)
        backend = self._lookup(validated.kind)  # type: ignore[attr-defined]
        return backend.factory(validated, spec)

    def _lookup(self, kind: object) -> _Backend:
        if not isinstance(kind, str):
            raise BackendConfigError(f"backend 'kind' must be a string, was {kind!r}")
        with self._lock:
            backend = self._backends.get(kind)
        if backend is None and self._autoload_package and _KIND.match(kind):
            self._autoload(kind)
            with self._lock:
                backend = self._backends.get(kind)
        if backend is None:
            raise BackendConfigError(
                f"unknown backend kind {kind!r}; available: {', '.join(self.kinds())} (a backend "
                "defined outside this package must be imported before it is used)"
            )
        return backend

    def _autoload(self, kind: str) -> None:
        module = f"{self._autoload_package}.{kind}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but one of its imports is missing
                raise BackendConfigError(
                    f"backend {kind!r}: importing {module} failed: {exc}"
                ) from exc


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


def _build_rule(config: RuleBackendConfig, spec: FeatureSpecLike) -> Predictor:
    from nautilus_ai.models.rule import RulePredictor

    return RulePredictor(spec, RuleConfig.model_validate(config.model_dump(exclude={"kind"})))


def _build_torch(config: TorchBackendConfig, spec: FeatureSpecLike) -> Predictor:
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


def _build_torch_random(config: TorchRandomBackendConfig, spec: FeatureSpecLike) -> Predictor:
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


#: The registry the module-level functions use.
DEFAULT_REGISTRY = BackendRegistry(autoload_package="nautilus_ai.models")
DEFAULT_REGISTRY.register("rule", RuleBackendConfig, _build_rule)
DEFAULT_REGISTRY.register("torch", TorchBackendConfig, _build_torch)
DEFAULT_REGISTRY.register("torch_random", TorchRandomBackendConfig, _build_torch_random)


def register_backend(
    kind: str,
    config_model: type[ConfigT],
    factory: Callable[[ConfigT, FeatureSpecLike], Predictor],
    *,
    replace: bool = False,
) -> None:
    """Add a backend kind to the default registry (see :meth:`BackendRegistry.register`)."""
    DEFAULT_REGISTRY.register(kind, config_model, factory, replace=replace)


def build_predictor(config: Mapping[str, object], spec: FeatureSpecLike) -> Predictor:
    """Build the predictor a JSON config describes, for feature vectors of ``spec``.

    Raises
    ------
    BackendConfigError
        Missing or unknown ``kind``, unknown field, or a bad value (named in the message).
    """
    return DEFAULT_REGISTRY.build(config, spec)


def validate_backend_config(config: Mapping[str, object]) -> BaseModel:
    """Validate a backend config without building it (e.g. when a strategy config is loaded)."""
    return DEFAULT_REGISTRY.validate(config)


#: ``Annotated[dict[str, Any], BACKEND_SCHEMA]`` (pydantic) or
#: ``Annotated[dict[str, Any], schema_meta(BACKEND_SCHEMA)]`` (msgspec): the dict is a backend
#: config of the default registry, checked against its kind's model.
BACKEND_SCHEMA: Schema = DEFAULT_REGISTRY.schema()


def available_backends() -> tuple[str, ...]:
    """The registered backend kinds, sorted."""
    return DEFAULT_REGISTRY.kinds()
