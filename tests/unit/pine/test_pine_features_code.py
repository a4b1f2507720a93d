"""The Pine feature code follows the spec's parameters, not the defaults."""

from __future__ import annotations

import re

import pytest

from nautilus_ai.features import FeatureSpec
from nautilus_ai.pine.features import PRICE_SCALE, feature_variable, pine_features


def _code(spec: FeatureSpec) -> str:
    return "\n".join(pine_features(spec).lines)


def test_every_feature_is_assigned_exactly_once() -> None:
    spec = FeatureSpec()
    code = pine_features(spec)
    assert list(code.variables) == list(spec.names)
    text = "\n".join(code.lines)
    for name in spec.names:
        assert len(re.findall(rf"^float {feature_variable(name)} = ", text, re.M)) == 1, name


def test_price_scale_is_an_exact_power_of_two() -> None:
    assert PRICE_SCALE == 2.0**20
    assert "float NAI_PX = 1048576.0" in _code(FeatureSpec())


def test_custom_spec_parameters_reach_the_pine_code() -> None:
    spec = FeatureSpec(
        return_lags=(2, 7),
        atr_period=10,
        rsi_period=21,
        macd_fast=8,
        macd_slow=21,
        macd_signal=5,
        bb_period=30,
        bb_mult=2.5,
        ema_periods=(10, 100),
        vol_rank_window=50,
        vol_regime_low=0.2,
        vol_regime_high=0.8,
        session_london_hours=(7, 16),
        session_sydney_hours=(22, 7),
    )
    text = _code(spec)
    assert "ta.rma(ta.tr(true) * NAI_PX, 10)" in text
    assert "ta.rsi(close, 21)" in text
    assert "ta.macd(close * NAI_PX, 8, 21, 5)" in text
    assert "ta.bb(close * NAI_PX, 30, 2.5)" in text
    assert "ta.ema(close * NAI_PX, 10)" in text and "ta.ema(close * NAI_PX, 100)" in text
    assert "f_ret_2 = math.log(close / close[2])" in text
    assert "f_ret_7 = math.log(close / close[7])" in text
    assert "ta.percentrank(nai_atr_s, 50)" in text
    first = spec.defined_from["vol_pct_rank"]
    assert first == 9 + 50 and f"bar_index < {first} ? na" in text
    assert "< 0.2 ? -1.0" in text and "> 0.8 ? 1.0" in text
    assert f"f_warm = bar_index >= {spec.warmup_bars - 1}" in text
    # London 07-16 local; Sydney wraps past midnight (22:00 -> 07:00)
    assert "nai_lm_london >= 420 and nai_lm_london < 960" in text
    assert "nai_lm_sydney >= 1320 or nai_lm_sydney < 420" in text
    # nothing of the defaults leaks in
    for default in (
        "ta.rsi(close, 14)",
        ", 12, 26, 9)",
        "ta.bb(close * NAI_PX, 20,",
        "nai_atr_s, 100)",
    ):
        assert default not in text


@pytest.mark.parametrize(
    ("city", "zone"),
    [("sydney", "Australia/Sydney"), ("tokyo", "Asia/Tokyo"), ("london", "Europe/London"),
     ("new_york", "America/New_York")],
)  # fmt: skip
def test_sessions_use_the_city_time_zone_of_the_bar_close(city: str, zone: str) -> None:
    text = _code(FeatureSpec())
    assert (
        f'int nai_lm_{city} = hour(time_close, "{zone}") * 60 + minute(time_close, "{zone}")'
        in text
    )


def test_calendar_uses_the_close_time_in_utc() -> None:
    text = _code(FeatureSpec())
    assert 'hour(time_close, "UTC") * 60 + minute(time_close, "UTC")' in text
    assert '(dayofweek(time_close, "UTC") + 5) % 7' in text
    assert "time)" not in text.replace("time_close", "")  # no bar-open time anywhere


def test_flat_bollinger_tolerance_is_the_spec_value() -> None:
    text = _code(FeatureSpec(bb_flat_tolerance=3e-10))
    assert "nai_bb_w_s <= 3.0e-10 * nai_bb_mid_s" in text
