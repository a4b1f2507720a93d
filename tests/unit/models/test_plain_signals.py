"""The per-bar fast path: ``predict_signal`` answers as ``predict`` does, or not at all."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from model_rows import V1_NAMES
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import MarketContext, SignalPredictor
from nautilus_ai.models.base import PlainSignals
from nautilus_ai.models.rule import RulePredictor
from nautilus_ai.models.torch_mlp import TorchPredictor

torch.set_num_threads(1)


def _plain(predictor: Any, row: NDArray[np.float64], spec: FeatureSpec) -> tuple[Any, ...]:
    p = predictor.predict(row, MarketContext("EUR/USD.SIM", 0, spec.names, spec.hash))
    return p.action.sign, p.confidence, p.risk_score, p.reason


def test_the_rule_answers_every_real_row_as_predict(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    rule = RulePredictor(spec)
    assert isinstance(rule, SignalPredictor)
    signs = set()
    for row in real_features:
        got = rule.predict_signal(row.tolist())
        assert got == _plain(rule, row, spec)
        assert [type(v) for v in got] == [int, float, float, str]  # type: ignore[union-attr]
        signs.add(got[0])  # type: ignore[index]
    assert signs == {-1, 0, 1}  # the rows reach every answer


@given(
    st.lists(
        st.floats(-10.0, 10.0, allow_nan=False), min_size=len(V1_NAMES), max_size=len(V1_NAMES)
    ),
    st.sampled_from([-1.0, 0.0, 1.0]),
    st.sampled_from([0.0, 1.0]),
)
def test_the_rule_answers_any_finite_row_as_predict(
    values: list[float], regime: float, warm: float
) -> None:
    spec = FeatureSpec()
    rule = RulePredictor(spec)
    values[spec.index("vol_regime")], values[spec.index("warm")] = regime, warm
    values[spec.index("rsi")] = abs(values[spec.index("rsi")]) / 10.0
    assert rule.predict_signal(values) == _plain(rule, np.array(values), spec)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_row_predict_refuses_gets_no_plain_answer(
    spec: FeatureSpec, real_features: NDArray[np.float64], bad: float
) -> None:
    mlp = TorchPredictor.random(spec, seed=7, hidden=(64,))
    for predictor in (RulePredictor(spec), mlp):
        row = real_features[100].tolist()
        assert predictor.predict_signal(row) is not None
        assert predictor.predict_signal(row[:-1]) is None
        row[3] = bad
        assert predictor.predict_signal(row) is None


def test_the_mlp_twin_answers_every_real_row_as_predict(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    mlp = TorchPredictor.random(spec, seed=7, hidden=(64,))
    assert isinstance(mlp, SignalPredictor)
    for row in real_features[:5000]:
        assert mlp.predict_signal(row.tolist()) == _plain(mlp, row, spec)


class _Raises:
    model_id = "raises/1"
    batch_exact = False

    def __init__(self, spec_hash: str) -> None:
        self.spec_hash = spec_hash

    def predict(self, features: Any, context: Any) -> Any:
        raise AssertionError("not called")

    def predict_batch(self, features: Any, contexts: Any = None) -> Any:
        raise AssertionError("not called")

    def predict_signal(self, features: Any) -> Any:
        raise RuntimeError("boom")

    def close(self) -> None:
        pass


def test_plain_signals_binds_per_predictor_and_spec_and_never_raises(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    reader = PlainSignals()
    row = real_features[100].tolist()
    rule = RulePredictor(spec)
    assert reader.read(rule, spec.hash, row) == _plain(rule, real_features[100], spec)
    assert reader.read(rule, "another-spec", row) is None  # predict would refuse the context
    assert reader.read(object(), spec.hash, row) is None  # no fast path: ask predict
    assert reader.read(_Raises(spec.hash), spec.hash, row) is None  # predict says what failed
    assert reader.read(rule, spec.hash, row) is not None  # a swap back binds again


@pytest.mark.parametrize(
    "signal",
    [(5, 0.9, 0.1, "x"), (1, math.nan, 0.1, "x"), (1, 1.5, 0.1, "x"), (-1, 0.9, -0.2, "x"),
     (0, 0.9, math.inf, "x")],
)  # fmt: skip
def test_an_answer_a_prediction_would_refuse_never_reaches_the_core(
    spec: FeatureSpec, real_features: NDArray[np.float64], signal: tuple[Any, ...]
) -> None:
    # A plugin's predict_signal answer went straight to the decision core: a NaN confidence or
    # a sign of 5 was decided on. It now takes the full path, where predict names the fault.
    class Plugin(_Raises):
        def predict_signal(self, features: Any) -> Any:
            return signal

    assert PlainSignals().read(Plugin(spec.hash), spec.hash, real_features[100].tolist()) is None
