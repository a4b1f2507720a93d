"""Remote backend settings built in Python (not from a config file, whose check refuses
non-finite numbers) took ``read_timeout_s=inf``: every call then failed on an OverflowError and
held, with the config accepted. Each timeout, backoff and deadline must be a finite number."""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel, ValidationError

from nautilus_ai.models.ensemble import EnsembleConfig
from nautilus_ai.models.fallback import FallbackConfig
from nautilus_ai.models.openai_compat import OpenAIConfig
from nautilus_ai.models.torchserve import TorchServeConfig

_SERVERS: list[tuple[type[BaseModel], dict[str, object]]] = [
    (OpenAIConfig, {"model": "m", "base_url": "http://127.0.0.1:8000/v1"}),
    (TorchServeConfig, {"model_name": "m", "url": "http://127.0.0.1:8080"}),
]
_RULES = [{"kind": "rule"}, {"kind": "rule"}]


@pytest.mark.parametrize("value", [math.inf, math.nan])
@pytest.mark.parametrize(
    "field", ["connect_timeout_s", "read_timeout_s", "backoff_s", "reset_timeout_s"]
)
@pytest.mark.parametrize(("model", "base"), _SERVERS)
def test_server_timeouts_must_be_finite(
    model: type[BaseModel], base: dict[str, object], field: str, value: float
) -> None:
    with pytest.raises(ValidationError, match=field):
        model(**base, **{field: value})
    model(**base, **{field: 0.5})  # a finite one is taken


@pytest.mark.parametrize(
    ("model", "base"),
    [(FallbackConfig, {"backends": _RULES}), (EnsembleConfig, {"members": _RULES})],
)
def test_chain_deadlines_must_be_finite(model: type[BaseModel], base: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="deadline_ms"):
        model(**base, deadline_ms=math.inf)
    model(**base, deadline_ms=250.0)


def test_chains_built_in_python_refuse_infinite_weights_and_deadlines() -> None:
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.ensemble import EnsemblePredictor
    from nautilus_ai.models.fallback import FallbackPredictor
    from nautilus_ai.models.rule import RulePredictor

    members = [RulePredictor(FeatureSpec()), RulePredictor(FeatureSpec())]
    with pytest.raises(ValueError, match="weights must all be finite"):
        EnsemblePredictor(members, [math.inf, 1.0])  # every vote NaN, read as confidence 0
    with pytest.raises(ValueError, match="deadline_s must be a finite number"):
        EnsemblePredictor(members, deadline_s=math.inf)
    with pytest.raises(ValueError, match="deadline_s must be a finite number"):
        FallbackPredictor(members, deadline_s=math.inf)
    with pytest.raises(ValidationError, match="weights must all be finite"):
        EnsembleConfig(members=_RULES, weights=(math.inf, 1.0))
