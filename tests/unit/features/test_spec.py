"""FeatureSpec: names, warm-up, hash, JSON round trip, validation naming the field."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from nautilus_ai.features import FeatureSpec

V1_NAMES = (
    "ret_1",
    "ret_5",
    "ret_15",
    "body_ratio",
    "upper_wick_ratio",
    "lower_wick_ratio",
    "range_atr",
    "rsi",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "bb_pct_b",
    "bb_bandwidth",
    "atr_close",
    "ema20_dist_atr",
    "ema50_dist_atr",
    "hour_sin",
    "hour_cos",
    "dow_sin",
    "dow_cos",
    "session_sydney",
    "session_tokyo",
    "session_london",
    "session_new_york",
    "session_overlap",
    "vol_pct_rank",
    "vol_regime",
    "warm",
)

# Pinned: if this changes, the v1 definition changed and stored models must refuse new vectors.
V1_HASH = "d06397a97f41dd53"
# v2 = the same bar features plus the tick block (issue 15); pinned the same way.
V2_HASH = "9654e2e5b246b228"


def test_v1_names_in_order() -> None:
    spec = FeatureSpec()
    assert spec.names == V1_NAMES
    assert [spec.index(name) for name in V1_NAMES] == list(range(len(V1_NAMES)))


def test_index_of_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown feature 'nope'.*ret_1"):
        FeatureSpec().index("nope")


def test_v1_warmup_and_first_defined_indices() -> None:
    spec = FeatureSpec()
    first = spec.defined_from
    assert first["ret_15"] == 15
    assert first["range_atr"] == first["atr_close"] == 13
    assert first["rsi"] == 14
    assert first["macd_line"] == 25
    assert first["macd_signal"] == first["macd_hist"] == 33
    assert first["bb_pct_b"] == 19
    assert first["ema20_dist_atr"] == 19
    assert first["ema50_dist_atr"] == 49
    assert first["vol_pct_rank"] == first["vol_regime"] == 113
    assert spec.warmup_bars == 114


def test_hash_is_pinned_for_v1() -> None:
    # The default moved to v2; v1 keeps its hash, so stored v1 cards and catalogs still match.
    assert FeatureSpec(version=1).hash == V1_HASH
    assert FeatureSpec.from_dict({"version": 1}).hash == V1_HASH
    assert FeatureSpec.from_dict({}).hash == V1_HASH  # dicts written before v2 mean v1
    assert FeatureSpec().hash == V2_HASH
    assert len(V1_HASH) == 16 and int(V1_HASH, 16) >= 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("return_lags", (1, 5, 30)),
        ("atr_period", 21),
        ("rsi_period", 7),
        ("macd_fast", 8),
        ("macd_slow", 30),
        ("macd_signal", 5),
        ("bb_period", 10),
        ("bb_mult", 2.5),
        ("bb_flat_tolerance", 1e-8),
        ("ema_periods", (10, 50)),
        ("vol_rank_window", 50),
        ("vol_regime_low", 0.2),
        ("vol_regime_high", 0.8),
        ("session_sydney_hours", (8, 16)),
        ("session_tokyo_hours", (9, 17)),
        ("session_london_hours", (7, 16)),
        ("session_new_york_hours", (9, 17)),
    ],
)
def test_every_parameter_feeds_the_hash(field: str, value: Any) -> None:
    base = FeatureSpec()
    changed = dataclasses.replace(base, **{field: value})
    assert changed.hash != base.hash


def test_every_field_is_covered_by_the_hash_test() -> None:
    # Guards the parametrisation above: a new field must be added there too.
    names = {f.name for f in dataclasses.fields(FeatureSpec)} - {"version"}
    covered = {
        "return_lags", "atr_period", "rsi_period", "macd_fast", "macd_slow", "macd_signal",
        "bb_period", "bb_mult", "bb_flat_tolerance", "ema_periods", "vol_rank_window",
        "vol_regime_low", "vol_regime_high", "session_sydney_hours", "session_tokyo_hours",
        "session_london_hours", "session_new_york_hours",
    }  # fmt: skip
    assert names == covered


def test_json_round_trip_keeps_equality_and_hash() -> None:
    spec = FeatureSpec(return_lags=(2, 3), ema_periods=(9,), bb_mult=3, vol_rank_window=20)
    data = json.loads(json.dumps(spec.to_dict()))
    again = FeatureSpec.from_dict(data)
    assert again == spec
    assert again.hash == spec.hash
    assert again.names == spec.names
    assert data["bb_mult"] == 3.0 and isinstance(again.bb_mult, float)
    assert data["version"] == 2


def test_int_and_float_spellings_hash_the_same() -> None:
    assert FeatureSpec(bb_mult=2).hash == FeatureSpec(bb_mult=2.0).hash


def test_names_follow_the_parameters() -> None:
    spec = FeatureSpec(return_lags=(1, 60), ema_periods=(9, 21, 200))
    assert spec.names[:2] == ("ret_1", "ret_60")
    assert "ema9_dist_atr" in spec.names and "ema200_dist_atr" in spec.names
    assert spec.warmup_bars == max(spec.defined_from.values()) + 1 == 200


def test_from_dict_rejects_unknown_fields_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown field\(s\) 'colour', 'rsi_len'"):
        FeatureSpec.from_dict({"rsi_len": 3, "colour": "red"})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"version": 3}, "version"),
        ({"atr_period": 0}, "atr_period"),
        ({"atr_period": 14.0}, "atr_period"),
        ({"rsi_period": True}, "rsi_period"),
        ({"macd_fast": 26}, "macd_fast"),
        ({"bb_period": "20"}, "bb_period"),
        ({"bb_mult": 0.0}, "bb_mult"),
        ({"bb_mult": float("nan")}, "bb_mult"),
        ({"bb_flat_tolerance": -1e-9}, "bb_flat_tolerance"),
        ({"return_lags": []}, "return_lags"),
        ({"return_lags": [1, 1]}, "return_lags"),
        ({"return_lags": [0]}, "return_lags"),
        ({"return_lags": 5}, "return_lags"),
        ({"ema_periods": [20, 2.5]}, "ema_periods"),
        ({"vol_rank_window": 0}, "vol_rank_window"),
        ({"vol_regime_low": 0.8}, "vol_regime_low"),
        ({"vol_regime_high": 1.5}, "vol_regime_high"),
        ({"session_london_hours": [8]}, "session_london_hours"),
        ({"session_london_hours": [8, 25]}, "session_london_hours"),
        ({"session_tokyo_hours": [0, 24]}, "session_tokyo_hours"),
        ({"session_sydney_hours": [7, 7]}, "session_sydney_hours"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        FeatureSpec.from_dict(data)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValueError, match="macd_fast"):
        FeatureSpec(macd_fast=30, macd_slow=26)


def test_spec_is_frozen_and_hashable() -> None:
    spec = FeatureSpec.from_dict({"return_lags": [1, 2]})
    assert spec.return_lags == (1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.atr_period = 3  # type: ignore[misc]
    assert len({spec, FeatureSpec.from_dict({"return_lags": [1, 2]})}) == 1


def test_wrapping_session_is_allowed() -> None:
    spec = FeatureSpec(session_sydney_hours=(22, 6))
    assert spec.session_sydney_hours == (22, 6)
