"""Backend registry: JSON config -> predictor; validation naming fields; plug-in kinds."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import (
    BackendConfigError,
    MarketContext,
    Prediction,
    Predictor,
    RulePredictor,
    TorchPredictor,
    available_backends,
    build_predictor,
    register_backend,
    save_artifact,
    validate_backend_config,
)
from nautilus_ai.models.card import ModelCard
from nautilus_ai.models.registry import (
    BackendRegistry,
    RuleBackendConfig,
    TorchBackendConfig,
    TorchRandomBackendConfig,
    default_registry,
)
from nautilus_ai.models.rule import RuleConfig
from nautilus_ai.models.spec import FeatureSpecLike

CTX = MarketContext("EUR/USD.SIM", 0)


class ConstantConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["constant"] = "constant"
    action: Literal["buy", "sell", "hold"] = "hold"


class ConstantPredictor:
    def __init__(self, config: ConstantConfig, spec: FeatureSpecLike) -> None:
        self.config = config
        self._spec_hash = spec.hash

    @property
    def model_id(self) -> str:
        return "constant/1"

    batch_exact = False

    @property
    def spec_hash(self) -> str | None:
        return self._spec_hash

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        from nautilus_ai.models import Action

        return Prediction(Action.parse(self.config.action), 1.0, 0.0, self.model_id)

    def predict_batch(
        self, features: NDArray[np.float64], contexts: object = None
    ) -> list[Prediction]:
        return [self.predict(row, CTX) for row in features]

    def close(self) -> None:
        pass


def test_builtin_kinds() -> None:
    assert {"rule", "torch", "torch_random"} <= set(available_backends())
    assert list(available_backends()) == sorted(available_backends())


def test_rule_from_json(spec: FeatureSpec) -> None:
    predictor = build_predictor(json.loads('{"kind": "rule", "trend_min_atr": 2.5}'), spec)
    assert isinstance(predictor, RulePredictor)
    assert predictor.config == RuleConfig(trend_min_atr=2.5)
    assert predictor.model_id == RulePredictor(spec, RuleConfig(trend_min_atr=2.5)).model_id
    assert isinstance(build_predictor({"kind": "rule"}, spec), RulePredictor)


def test_torch_random_is_deterministic(spec: FeatureSpec) -> None:
    config = {"kind": "torch_random", "seed": 7, "hidden": [16, 8], "device": "cpu"}
    a = build_predictor(config, spec)
    b = build_predictor(config, spec)
    assert isinstance(a, TorchPredictor)
    assert a.model_id == "random-mlp-s7-h16x8-relu/1"
    row = np.linspace(-1, 1, 28)
    assert a.predict(row, CTX).confidence == b.predict(row, CTX).confidence


def test_torch_artifact_from_config(spec: FeatureSpec, tmp_path: Path) -> None:
    source = TorchPredictor.random(spec, seed=3, hidden=(8,))
    card = source.card.model_copy(update={"name": "mlp", "version": 4})
    folder = save_artifact(source.module, ModelCard.model_validate(card.model_dump()), tmp_path)
    predictor = build_predictor({"kind": "torch", "path": str(folder), "device": "auto"}, spec)
    assert isinstance(predictor, TorchPredictor)
    assert predictor.model_id == "mlp/4"
    row = np.linspace(-1, 1, 28)
    assert predictor.predict(row, CTX).confidence == source.predict(row, CTX).confidence


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"kind": "rule", "trend_min_atrr": 2.0}, "trend_min_atrr: unknown key .*'trend_min_atr'"),
        ({"kind": "rule", "trend_min_atr": "steep"}, "trend_min_atr: expected a number"),
        ({"kind": "torch"}, "path: missing required key"),
        ({"kind": "torch", "path": "x", "pth": "y"}, "pth: unknown key"),
        ({"kind": "torch", "path": "x", "device": "gpu"}, "device: String should match"),
        ({"kind": "torch_random"}, "seed: missing required key"),
        ({"kind": "torch_random", "seed": 1, "hidden": [0]}, r"hidden\[0\]: .*greater than 0"),
        ({"kind": "nope"}, "unknown backend kind 'nope'; available: .*rule"),
        ({"kind": "Bad Kind"}, "unknown backend kind"),
        ({"kind": 3}, "must be a string"),
        ({"seed": 1}, "needs a 'kind' field"),
    ],
)
def test_bad_configs_name_the_problem(config: dict[str, object], match: str) -> None:
    with pytest.raises(BackendConfigError, match=match):
        validate_backend_config(config)


def test_not_a_mapping() -> None:
    with pytest.raises(BackendConfigError, match="mapping"):
        validate_backend_config(["rule"])  # type: ignore[arg-type]


def test_validate_returns_typed_models() -> None:
    assert isinstance(validate_backend_config({"kind": "rule"}), RuleBackendConfig)
    torch_config = validate_backend_config({"kind": "torch", "path": "m/v1"})
    assert isinstance(torch_config, TorchBackendConfig)
    assert torch_config.device == "auto"
    random_config = validate_backend_config({"kind": "torch_random", "seed": 2})
    assert isinstance(random_config, TorchRandomBackendConfig)
    assert random_config.hidden == (64,)
    from nautilus_ai.models.torch_mlp import RANDOM_TEMPERATURE

    assert random_config.temperature == RANDOM_TEMPERATURE


def test_register_a_new_kind(spec: FeatureSpec) -> None:
    registry = BackendRegistry()
    registry.register("constant", ConstantConfig, ConstantPredictor)
    predictor = registry.build({"kind": "constant", "action": "buy"}, spec)
    assert isinstance(predictor, Predictor)
    assert predictor.predict(np.zeros(28), CTX).action.value == "buy"
    with pytest.raises(BackendConfigError, match=r"actoin: unknown key.*did you mean 'action'"):
        registry.build({"kind": "constant", "actoin": "buy"}, spec)
    with pytest.raises(BackendConfigError, match="already registered"):
        registry.register("constant", ConstantConfig, ConstantPredictor)
    registry.register("constant", ConstantConfig, ConstantPredictor, replace=True)
    assert registry.kinds() == ("constant",)
    assert "constant" not in available_backends()  # a private registry stays private


class ConstantConfigDefault(ConstantConfig):
    kind: Literal["constant_default_test"] = "constant_default_test"  # type: ignore[assignment]


def test_register_on_the_default_registry(
    spec: FeatureSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Work on a copy of the default registry's table, so no other test sees the new kind.
    monkeypatch.setattr(default_registry(), "_backends", dict(default_registry()._backends))
    register_backend("constant_default_test", ConstantConfigDefault, ConstantPredictor)
    assert "constant_default_test" in available_backends()
    built = build_predictor({"kind": "constant_default_test"}, spec)
    assert built.model_id == "constant/1"


def test_register_rejects_bad_models() -> None:
    registry = BackendRegistry()

    class NoKind(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int = 1

    class Lenient(BaseModel):
        kind: str = "lenient"

    with pytest.raises(TypeError, match="'kind' field"):
        registry.register("nokind", NoKind, ConstantPredictor)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="extra='forbid'"):
        registry.register("lenient", Lenient, ConstantPredictor)  # type: ignore[arg-type]
    with pytest.raises(BackendConfigError, match="kind must match"):
        registry.register("Has Space", ConstantConfig, ConstantPredictor)
    with pytest.raises(TypeError, match="pydantic"):
        registry.register("notmodel", dict, ConstantPredictor)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be callable"):
        registry.register("notcallable", ConstantConfig, 5)  # type: ignore[arg-type]


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway package whose ``echo`` module defines a backend (and registers nothing)."""
    package = tmp_path / "nai_fake_backends"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "echo.py").write_text(
        "from typing import Literal\n"
        "from pydantic import BaseModel, ConfigDict\n"
        "from nautilus_ai.models.registry import Backend\n"
        "class EchoConfig(BaseModel):\n"
        "    model_config = ConfigDict(frozen=True, extra='forbid')\n"
        "    kind: Literal['echo'] = 'echo'\n"
        "def build(config, spec, registry):\n"
        "    return ('echo', spec.hash)\n"
        "BACKEND = Backend('echo', EchoConfig, build)\n"
        "WRONG_KIND = Backend('other', EchoConfig, build)\n"
        "NOT_A_BACKEND = 42\n"
    )
    (package / "broken.py").write_text("import a_module_that_is_not_installed_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "nai_fake_backends"
    for name in [m for m in sys.modules if m.startswith("nai_fake_backends")]:
        del sys.modules[name]


def test_referenced_kinds_are_imported_on_first_use(plugin_package: str, spec: FeatureSpec) -> None:
    registry = BackendRegistry(
        {
            "echo": f"{plugin_package}.echo:BACKEND",
            "broken": f"{plugin_package}.broken:BACKEND",
            "renamed": f"{plugin_package}.echo:WRONG_KIND",
            "number": f"{plugin_package}.echo:NOT_A_BACKEND",
        }
    )
    # Listing the kinds imports nothing: no backend registers itself as an import side effect.
    assert registry.kinds() == ("broken", "echo", "number", "renamed")
    assert f"{plugin_package}.echo" not in sys.modules
    assert registry.build({"kind": "echo"}, spec) == ("echo", spec.hash)  # type: ignore[comparison-overlap]
    assert f"{plugin_package}.echo" in sys.modules
    with pytest.raises(BackendConfigError, match="a_module_that_is_not_installed_anywhere"):
        registry.validate({"kind": "broken"})
    with pytest.raises(BackendConfigError, match="defines kind 'other'"):
        registry.validate({"kind": "renamed"})
    with pytest.raises(
        BackendConfigError, match=r"is int, not a nautilus_ai\.models\.registry\.Backend"
    ):
        registry.validate({"kind": "number"})
    with pytest.raises(BackendConfigError, match="unknown backend kind 'missing'"):
        registry.validate({"kind": "missing"})


def test_an_injected_registry_builds_nested_members_from_itself(spec: FeatureSpec) -> None:
    # The fallback kind builds its members from the registry that builds it, not a global one.
    from nautilus_ai.models.registry import BUILTIN_BACKENDS

    registry = BackendRegistry(BUILTIN_BACKENDS)
    built: list[str] = []

    def counting_rule(config: RuleBackendConfig, spec: FeatureSpecLike) -> Predictor:
        built.append("rule")
        return RulePredictor(spec, RuleConfig())

    registry.register("rule", RuleBackendConfig, counting_rule, replace=True)
    chain = registry.build(
        {"kind": "fallback", "backends": [{"kind": "rule"}], "deadline_ms": 500}, spec
    )
    assert built == ["rule"]
    chain.close()
    default_chain = build_predictor(
        {"kind": "fallback", "backends": [{"kind": "rule"}], "deadline_ms": 500}, spec
    )
    assert built == ["rule"]  # the default registry was not touched by the injected one
    default_chain.close()
