"""The backend kinds this area registers: built from plain JSON configs by build_predictor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from nautilus_ai.models import (
    Action,
    BackendConfigError,
    CachedPredictor,
    EnsemblePredictor,
    FallbackPredictor,
    OpenAIPredictor,
    PredictionCacheError,
    SpecMismatchError,
    TorchServePredictor,
    TransformersPredictor,
    available_backends,
    build_predictor,
    register_backend,
    validate_backend_config,
)
from nautilus_ai.models.testing import ScriptedPredictor, market_context


@dataclass(frozen=True)
class _Spec:
    names: tuple[str, ...] = ("rsi", "ema_gap")
    hash: str = "spec-a"

    def to_dict(self) -> Mapping[str, object]:
        return {"names": list(self.names)}


class _ScriptedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["scripted"] = "scripted"
    name: str = "scripted/1"
    action: Literal["buy", "sell", "hold"] = "buy"
    fail: bool = False


@pytest.fixture(autouse=True, scope="module")
def _scripted_kind() -> None:
    register_backend(
        "scripted",
        _ScriptedConfig,
        lambda c, spec: ScriptedPredictor(c.name, Action(c.action), fail=c.fail),
        replace=True,
    )


SPEC = _Spec()


def test_all_kinds_are_registered() -> None:
    kinds = set(available_backends())
    assert {"transformers", "torchserve", "openai", "fallback", "ensemble", "cached"} <= kinds


def test_fallback_from_config() -> None:
    chain = build_predictor(
        {
            "kind": "fallback",
            "backends": [
                {"kind": "scripted", "name": "a", "fail": True},
                {"kind": "scripted", "name": "b"},
            ],
            "deadline_ms": 200,
        },
        SPEC,
    )
    assert isinstance(chain, FallbackPredictor)
    assert chain.predict(np.zeros(2), market_context()).model_id == "b"


def test_nested_errors_name_the_member() -> None:
    with pytest.raises(BackendConfigError, match=r"backends\[1\].*unknown backend kind 'nope'"):
        build_predictor(
            {
                "kind": "fallback",
                "backends": [{"kind": "scripted"}, {"kind": "nope"}],
                "deadline_ms": 5,
            },
            SPEC,
        )
    with pytest.raises(BackendConfigError, match=r"members\[0\].*typo"):
        build_predictor({"kind": "ensemble", "members": [{"kind": "scripted", "typo": 1}]}, SPEC)
    with pytest.raises(BackendConfigError, match="weights has 1 values for 2 members"):
        build_predictor(
            {
                "kind": "ensemble",
                "members": [{"kind": "scripted"}, {"kind": "scripted"}],
                "weights": [1],
            },
            SPEC,
        )


def test_ensemble_from_config() -> None:
    ensemble = build_predictor(
        {
            "kind": "ensemble",
            "members": [
                {"kind": "scripted", "name": "a", "action": "sell"},
                {"kind": "scripted", "name": "b", "action": "buy"},
                {"kind": "scripted", "name": "c", "action": "sell"},
            ],
            "weights": [1, 3, 1],
            "deadline_ms": 500,
        },
        SPEC,
    )
    assert isinstance(ensemble, EnsemblePredictor)
    assert ensemble.predict(np.zeros(2), market_context()).action is Action.BUY
    ensemble.close()


def test_cached_from_config(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    cached = build_predictor(
        {"kind": "cached", "backend": {"kind": "scripted"}, "path": str(path)}, SPEC
    )
    assert isinstance(cached, CachedPredictor)
    cached.predict(np.zeros(2), market_context())
    cached.close()
    assert path.exists()
    path.write_bytes(b"garbage")
    with pytest.raises(PredictionCacheError, match=str(path)):
        build_predictor(
            {"kind": "cached", "backend": {"kind": "scripted"}, "path": str(path)}, SPEC
        )


def test_remote_and_transformers_kinds(tiny_text_dir: Path) -> None:
    served = build_predictor(
        {"kind": "torchserve", "model_name": "mlp", "url": "http://127.0.0.1:9"}, SPEC
    )
    assert isinstance(served, TorchServePredictor)
    chat = build_predictor(
        {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}, SPEC
    )
    assert isinstance(chat, OpenAIPredictor)
    local = build_predictor({"kind": "transformers", "model_dir": str(tiny_text_dir)}, SPEC)
    assert isinstance(local, TransformersPredictor)
    with pytest.raises(SpecMismatchError, match="pinned to feature spec other"):
        build_predictor(
            {"kind": "transformers", "model_dir": str(tiny_text_dir), "spec_hash": "other"}, SPEC
        )
    with pytest.raises(BackendConfigError, match="model_name"):
        build_predictor({"kind": "torchserve", "url": "http://127.0.0.1:9"}, SPEC)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # no scheme: every bar failed with "Invalid URL ... No scheme supplied"
        ({"kind": "openai", "model": "m", "base_url": "localhost:8000/v1"}, "base_url"),
        # the endpoint pasted as the base: every bar asked .../chat/completions/chat/completions
        (
            {"kind": "openai", "model": "m", "base_url": "http://h:8000/v1/chat/completions"},
            "base_url.*without /chat/completions",
        ),
        ({"kind": "torchserve", "model_name": "m", "url": "127.0.0.1:8080"}, "url"),
        (
            {"kind": "torchserve", "model_name": "m", "url": "http://h:8080/predictions/m"},
            "url.*without /predictions",
        ),
        (
            {"kind": "torchserve", "model_name": "m", "management_url": "ftp://h:8081"},
            "management_url",
        ),
        # a version with a slash or a space asked another endpoint (or none) on every bar
        ({"kind": "torchserve", "model_name": "m", "model_version": "1.0/../x"}, "model_version"),
        ({"kind": "torchserve", "model_name": "m", "model_version": "1 0"}, "model_version"),
    ],
)
def test_a_server_url_that_cannot_work_is_refused_naming_the_key(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(BackendConfigError, match=message):
        validate_backend_config(config)
