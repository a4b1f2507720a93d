"""The delayed backend: any backend, slower on purpose, same answers and model id."""

from __future__ import annotations

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import MarketContext, build_predictor
from nautilus_ai.models.registry import BackendConfigError


def test_delayed_answers_as_its_backend_after_a_seeded_delay() -> None:
    spec = FeatureSpec()
    row = np.zeros(len(spec.names))
    row[spec.index("warm")] = 1.0
    context = MarketContext("EUR/USD.SIM", 1, spec.names, spec.hash)
    plain = build_predictor({"kind": "rule"}, spec)
    slow = build_predictor(
        {"kind": "delayed", "backend": {"kind": "rule"}, "min_ms": 5, "max_ms": 10, "seed": 1},
        spec,
    )
    assert slow.model_id == plain.model_id
    a, b = slow.predict(row, context), plain.predict(row, context)
    assert (a.action, a.confidence, a.reason) == (b.action, b.confidence, b.reason)
    (call,) = slow.calls  # type: ignore[attr-defined]
    assert 0.005 <= call[1] <= 0.010


def test_the_call_log_is_bounded() -> None:
    # It kept one entry per call for the life of the predictor: a live paper run rehearsing a
    # slow model grew by one tuple per bar (or tick) for weeks.
    from nautilus_ai.models.delayed import KEPT_CALLS

    spec = FeatureSpec()
    row = np.zeros(len(spec.names))
    context = MarketContext("EUR/USD.SIM", 1, spec.names, spec.hash)
    fast = build_predictor(
        {"kind": "delayed", "backend": {"kind": "rule"}, "min_ms": 0, "max_ms": 0}, spec
    )
    for _ in range(KEPT_CALLS + 10):
        fast.predict(row, context)
    assert len(fast.calls) == KEPT_CALLS  # type: ignore[attr-defined]
    assert fast.call_count == KEPT_CALLS + 10  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"backend": {"kind": "rule"}, "min_ms": 10, "max_ms": 5}, "max_ms"),
        ({"backend": {"kind": "rule"}, "delay": 1}, "delay"),
        ({"backend": {"kind": "rule", "nope": 1}}, "nope"),
    ],
)
def test_delayed_config_is_strict(config: dict[str, object], field: str) -> None:
    with pytest.raises(BackendConfigError, match=field):
        build_predictor({"kind": "delayed", **config}, FeatureSpec())
