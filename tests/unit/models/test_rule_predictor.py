"""RulePredictor: the rule's definition, scalar == vectorised, errors, signal rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from model_rows import V1_NAMES, NamedSpec
from numpy.typing import NDArray
from pydantic import ValidationError

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import Action, MarketContext, PredictionError, Predictor
from nautilus_ai.models.rule import RULE_REASONS, RuleConfig, RulePredictor
from nautilus_ai.models.spec import SpecMismatchError

CTX = MarketContext("EUR/USD.SIM", 0)


def _row(**values: float) -> NDArray[np.float64]:
    base = dict.fromkeys(V1_NAMES, 0.0)
    base.update(rsi=0.5, vol_pct_rank=0.5, vol_regime=0.0, atr_close=2e-4, warm=1.0)
    base.update(values)
    return np.array([base[n] for n in V1_NAMES], dtype=np.float64)


# An uptrend setup: 3 ATRs above EMA50, 1 above EMA20, MACD histogram 0.5 ATR, RSI 0.6.
LONG = {"ema50_dist_atr": 3.0, "ema20_dist_atr": 1.0, "macd_hist": 1e-4, "rsi": 0.6}
SHORT = {"ema50_dist_atr": -3.0, "ema20_dist_atr": -1.0, "macd_hist": -1e-4, "rsi": 0.4}


def test_is_a_predictor(spec: FeatureSpec) -> None:
    predictor = RulePredictor(spec)
    assert isinstance(predictor, Predictor)
    assert predictor.spec_hash == spec.hash
    assert predictor.model_id.startswith("rule-trend-momentum/")
    predictor.close()
    predictor.close()


def test_long_and_short_setups_with_hand_computed_confidence(spec: FeatureSpec) -> None:
    predictor = RulePredictor(spec)
    buy = predictor.predict(_row(**LONG), CTX)
    assert buy.action is Action.BUY
    assert buy.reason == "buy: uptrend with momentum"
    # trend (3 - 2) / (5 - 2) = 1/3; momentum (0.5 - 0.25) / 0.55; room (0.7 - 0.6) / 0.2 = 0.5
    expected = 0.5 + 0.5 * ((1 / 3 + 0.25 / 0.55 + 0.5) / 3)
    assert buy.confidence == pytest.approx(expected)
    assert buy.risk_score == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    sell = predictor.predict(_row(**SHORT), CTX)
    assert sell.action is Action.SELL
    assert sell.confidence == pytest.approx(expected)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"warm": 0.0}, "hold: features not warm"),
        ({"vol_regime": -1.0}, "hold: low volatility regime"),
        ({"ema50_dist_atr": 1.9}, "hold: no trend"),
        ({"ema20_dist_atr": -0.1}, "hold: no trend"),
        ({"macd_hist": 4e-5}, "hold: no momentum"),
        ({"macd_hist": -1e-4}, "hold: no momentum"),
        ({"atr_close": 0.0}, "hold: no momentum"),
        ({"ema20_dist_atr": 2.6}, "hold: overextended from EMA20"),
        ({"rsi": 0.71}, "hold: overbought"),
    ],
)
def test_each_condition_blocks_a_long(
    spec: FeatureSpec, overrides: dict[str, float], reason: str
) -> None:
    prediction = RulePredictor(spec).predict(_row(**{**LONG, **overrides}), CTX)
    assert prediction.action is Action.HOLD
    assert prediction.confidence == 0.0
    assert prediction.reason == reason


def test_oversold_blocks_a_short_and_low_vol_can_be_allowed(spec: FeatureSpec) -> None:
    predictor = RulePredictor(spec)
    assert predictor.predict(_row(**{**SHORT, "rsi": 0.29}), CTX).reason == "hold: oversold"
    allowed = RulePredictor(spec, RuleConfig(allow_low_volatility=True))
    assert allowed.predict(_row(**{**LONG, "vol_regime": -1.0}), CTX).action is Action.BUY


def test_confidence_rises_with_strength_and_stays_in_unit_interval(spec: FeatureSpec) -> None:
    predictor = RulePredictor(spec)
    weak = predictor.predict(_row(**{**LONG, "ema50_dist_atr": 2.1}), CTX).confidence
    strong = predictor.predict(_row(**{**LONG, "ema50_dist_atr": 9.0}), CTX).confidence
    assert 0.5 <= weak < strong <= 1.0
    full = _row(ema50_dist_atr=50.0, ema20_dist_atr=0.5, macd_hist=1.0, rsi=0.5)
    assert predictor.predict(full, CTX).confidence == 1.0


def _assert_rows_equal(predictor: RulePredictor, features: NDArray[np.float64]) -> None:
    batch = predictor.predict_batch(features)
    assert len(batch) == len(features)
    for row, got in zip(features, batch, strict=True):
        want = predictor.predict(row, CTX)
        assert (got.action, got.confidence, got.risk_score, got.reason, got.model_id) == (
            want.action,
            want.confidence,
            want.risk_score,
            want.reason,
            want.model_id,
        )


def test_batch_equals_scalar_on_real_features(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    predictor = RulePredictor(spec)
    _assert_rows_equal(predictor, real_features[:20_000])
    signs, confidence, risk, codes = predictor.predict_arrays(real_features)
    assert set(np.unique(signs).tolist()) == {-1, 0, 1}
    assert ((confidence > 0) == (signs != 0)).all()
    assert ((risk >= 0) & (risk <= 1)).all()
    assert codes.min() >= 0 and codes.max() < len(RULE_REASONS)


def test_batch_equals_scalar_on_random_features(spec: FeatureSpec) -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    features = rng.normal(size=(n, len(V1_NAMES)))
    cols = {name: i for i, name in enumerate(V1_NAMES)}
    features[:, cols["ema50_dist_atr"]] *= 4
    features[:, cols["macd_hist"]] *= 1e-4
    features[:, cols["atr_close"]] = np.abs(features[:, cols["atr_close"]]) * 2e-4
    features[::50, cols["atr_close"]] = 0.0
    features[:, cols["rsi"]] = rng.uniform(0, 1, n)
    features[:, cols["vol_pct_rank"]] = rng.uniform(0, 1, n)
    features[:, cols["vol_regime"]] = rng.integers(-1, 2, n)
    features[:, cols["warm"]] = rng.uniform(0, 1, n) > 0.05
    for config in (RuleConfig(), RuleConfig(allow_low_volatility=True, confidence_floor=0.2)):
        _assert_rows_equal(RulePredictor(spec, config), features)


def test_signal_rate_on_real_bars_is_a_minority(
    spec: FeatureSpec, real_features: NDArray[np.float64]
) -> None:
    # A rule that says buy on half the bars is useless: the default fires on a few percent of warm
    # 1-minute EUR/USD bars (January 2017: 2.1% buy, 1.7% sell), never both ways.
    signs, _, _, _ = RulePredictor(spec).predict_arrays(real_features)
    buy, sell = float((signs == 1).mean()), float((signs == -1).mean())
    assert 0.005 < buy < 0.08
    assert 0.005 < sell < 0.08
    flips = np.count_nonzero(signs[1:] * signs[:-1] < 0)
    assert flips < 0.001 * len(signs)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_feature_is_named(spec: FeatureSpec, bad: float) -> None:
    predictor = RulePredictor(spec)
    row = _row(**LONG)
    row[V1_NAMES.index("bb_bandwidth")] = bad  # a feature the rule does not even read
    with pytest.raises(PredictionError, match="bb_bandwidth"):
        predictor.predict(row, CTX)
    with pytest.raises(PredictionError, match=r"bb_bandwidth.*row 3"):
        predictor.predict_batch(np.vstack([_row(**LONG)] * 3 + [row]))


def test_wrong_shape_and_wrong_context_spec(spec: FeatureSpec) -> None:
    predictor = RulePredictor(spec)
    with pytest.raises(PredictionError, match=r"shape \(28,\)"):
        predictor.predict(np.zeros(27), CTX)
    with pytest.raises(PredictionError, match=r"shape \(n, 28\)"):
        predictor.predict_batch(np.zeros((4, 27)))
    with pytest.raises(PredictionError, match="context says other"):
        predictor.predict(_row(**LONG), MarketContext("EUR/USD.SIM", 0, spec_hash="other"))
    with pytest.raises(PredictionError, match="2 contexts for 1"):
        predictor.predict_batch(_row(**LONG)[None, :], [CTX, CTX])
    assert predictor.predict_batch(np.zeros((0, 28))) == []


def test_spec_without_the_rule_features_is_refused() -> None:
    spec = NamedSpec(names=tuple(n for n in V1_NAMES if n not in ("rsi", "macd_hist")))
    with pytest.raises(SpecMismatchError, match="'macd_hist', 'rsi'"):
        RulePredictor(spec)


def test_feature_order_is_resolved_from_the_spec() -> None:
    reordered = NamedSpec(names=tuple(reversed(V1_NAMES)))
    predictor = RulePredictor(reordered)
    row = _row(**LONG)[::-1].copy()
    assert predictor.predict(row, CTX).action is Action.BUY


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trend_min_atr", 0.0),
        ("trend_full_atr", 1.0),  # <= trend_min_atr
        ("momentum_full_atr", 0.1),  # <= momentum_min_atr
        ("rsi_overbought", 0.4),
        ("rsi_oversold", 0.6),
        ("confidence_floor", 1.5),
        ("trend_min_atr", math.nan),
        ("tren_min_atr", 1.0),
    ],
)
def test_config_validation_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        RuleConfig.model_validate({field: value})


def test_model_id_depends_on_thresholds(spec: FeatureSpec) -> None:
    a = RulePredictor(spec).model_id
    b = RulePredictor(spec, RuleConfig(trend_min_atr=2.5)).model_id
    assert a != b
    assert a == RulePredictor(spec, RuleConfig()).model_id
