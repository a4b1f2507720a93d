"""A stored model's card records the bar type it was trained on; a model of one bar period is
refused on bars of another, through any nesting of backends (nothing compared them: a 1-minute
model ran on hour bars without a word). Another instrument or price type is allowed and said."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixtures.stored_models import HOUR_BID, MINUTE_BID, lightgbm_model, mlp_model

from nautilus_ai.bar_types import bar_period_ns, parse_bar_type
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import build_predictor
from nautilus_ai.models.trained_bars import (
    BarTypeCheck,
    BarTypeMismatchError,
    check_bar_type,
    check_predictor_bars,
    trained_bars_of,
)

Store = Callable[..., Path]
KINDS: dict[str, tuple[Store, dict[str, Any]]] = {
    "lightgbm": (lightgbm_model, {"kind": "lightgbm"}),
    "mlp": (mlp_model, {"kind": "torch", "device": "cpu"}),  # numpy: no torch needed
}


def _config(kind: str, root: Path, bar_type: str | None, name: str = "m") -> dict[str, Any]:
    store, config = KINDS[kind]
    return {**config, "path": str(store(root, name, bar_type))}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_minute_model_is_refused_on_hour_bars_naming_both(kind: str, tmp_path: Path) -> None:
    model = build_predictor(_config(kind, tmp_path, MINUTE_BID), FeatureSpec())
    with pytest.raises(BarTypeMismatchError) as refused:
        check_bar_type(model, HOUR_BID)
    assert str(refused.value).startswith(
        f"model m/1 was trained on {MINUTE_BID} bars (1 min), the strategy's bar type is "
        f"{HOUR_BID} (1 h): a model of another bar period"
    )
    assert check_bar_type(model, MINUTE_BID).warnings == ()


def test_the_same_period_spelt_otherwise_and_another_price_type_pass(tmp_path: Path) -> None:
    model = build_predictor(_config("lightgbm", tmp_path, HOUR_BID), FeatureSpec())
    assert check_bar_type(model, "EUR/USD.SIM-60-MINUTE-BID-EXTERNAL").warnings == ()
    ask = check_bar_type(model, "EUR/USD.SIM-1-HOUR-ASK-EXTERNAL")
    assert ask.warnings == () and len(ask.notes) == 1
    assert "another price type or source (allowed)" in ask.notes[0]


def test_another_instrument_is_allowed_with_a_warning(tmp_path: Path) -> None:
    model = build_predictor(_config("mlp", tmp_path, MINUTE_BID), FeatureSpec())
    found = check_bar_type(model, "GBP/USD.SIM-1-MINUTE-BID-EXTERNAL")
    (warning,) = found.warnings
    assert warning.startswith(
        f"model m/1 was trained on EUR/USD.SIM bars ({MINUTE_BID}) and runs on GBP/USD.SIM"
    )
    with pytest.raises(BarTypeMismatchError, match=r"1 min.*GBP/USD\.SIM-5-MINUTE.*5 min"):
        check_bar_type(model, "GBP/USD.SIM-5-MINUTE-BID-EXTERNAL")


def test_a_card_without_the_record_still_runs_with_a_warning(tmp_path: Path) -> None:
    model = build_predictor(_config("lightgbm", tmp_path, None), FeatureSpec())
    (warning,) = check_bar_type(model, HOUR_BID).warnings
    assert "its card records no bar type" in warning and HOUR_BID in warning


def test_a_random_model_is_neither_checked_nor_warned_about(tmp_path: Path) -> None:
    # torch_random (and a random model saved for a test) learnt no bars: "its card records no
    # bar type (written before cards recorded it)" would be a false warning on every start.
    path = mlp_model(tmp_path, "random", None, untrained=True)
    model = build_predictor({"kind": "torch", "device": "cpu", "path": str(path)}, FeatureSpec())
    assert list(trained_bars_of(model)) == []
    assert check_bar_type(model, HOUR_BID) == BarTypeCheck()


def test_tick_bars_are_compared_by_step_and_aggregation(tmp_path: Path) -> None:
    model = build_predictor(_config("lightgbm", tmp_path, "EUR/USD.SIM-100-TICK-MID-INTERNAL"),
                            FeatureSpec())  # fmt: skip
    assert check_bar_type(model, "EUR/USD.SIM-100-TICK-MID-INTERNAL").warnings == ()
    with pytest.raises(BarTypeMismatchError, match=r"\(100-TICK\).*\(1 min\)"):
        check_bar_type(model, MINUTE_BID)
    with pytest.raises(BarTypeMismatchError, match=r"\(100-TICK\).*\(50-TICK\)"):
        check_bar_type(model, "EUR/USD.SIM-50-TICK-MID-INTERNAL")


def test_every_nested_model_is_checked(tmp_path: Path) -> None:
    minute_gbt = _config("lightgbm", tmp_path, MINUTE_BID, "gbt")
    hour_mlp = _config("mlp", tmp_path, HOUR_BID, "mlp")
    nested = {
        "kind": "fallback", "deadline_ms": 500,
        "backends": [
            {"kind": "ensemble", "members": [
                {"kind": "delayed", "min_ms": 0, "max_ms": 0, "backend": minute_gbt},
                {"kind": "cached", "path": str(tmp_path / "cache.parquet"), "backend": hour_mlp},
            ]},
            {"kind": "rule"},
        ],
    }  # fmt: skip
    model = build_predictor(nested, FeatureSpec())
    assert [t.model_id for t in trained_bars_of(model)] == ["gbt/1", "mlp/1"]
    with pytest.raises(BarTypeMismatchError, match=r"^model mlp/1 was trained on .*1-HOUR"):
        check_bar_type(model, MINUTE_BID)
    with pytest.raises(BarTypeMismatchError, match=r"^model gbt/1 was trained on .*1-MINUTE"):
        check_predictor_bars(model, HOUR_BID)  # closes the refused predictor
    assert check_bar_type(build_predictor({"kind": "rule"}, FeatureSpec()), HOUR_BID).warnings == ()


def test_a_tick_model_is_refused_at_another_decision_cadence(tmp_path: Path) -> None:
    # Its 20-tick label horizon counts decision ticks: trained on every 5th tick, run on every
    # tick, it would answer for a quarter of the time span it learnt.
    path = mlp_model(tmp_path, "ticks", MINUTE_BID, tick_mode={"every_ticks": 5, "every_ms": None})
    model = build_predictor({"kind": "torch", "device": "cpu", "path": str(path)}, FeatureSpec())
    (trained,) = trained_bars_of(model)
    assert trained.tick_cadence == (5, None)
    assert check_bar_type(model, MINUTE_BID, (5, None)).warnings == ()
    with pytest.raises(BarTypeMismatchError) as refused:
        check_bar_type(model, MINUTE_BID, (1, None))
    assert str(refused.value).startswith(
        "model ticks/1 was trained on decisions every 5 quote ticks, the strategy's tick_mode "
        "decides every quote tick: its label horizon counts decision ticks"
    )
    with pytest.raises(BarTypeMismatchError, match="at most one per 250 ms"):
        check_predictor_bars(model, MINUTE_BID, {"every_ticks": 5.0, "every_ms": 250})


def test_bar_type_parts() -> None:
    parts = parse_bar_type("EUR/USD.SIM-5-MINUTE-BID-INTERNAL@1-MINUTE-EXTERNAL")
    assert parts is not None and (parts.instrument_id, parts.step, parts.aggregation) == (
        "EUR/USD.SIM", 5, "MINUTE")  # fmt: skip
    assert parts.period == "5 min" and parts.price_type == "BID" and parts.source == "INTERNAL"
    assert bar_period_ns(HOUR_BID) == 3_600_000_000_000
    assert bar_period_ns("EUR/USD.SIM-1000-VOLUME-MID-INTERNAL") is None
    assert parse_bar_type("EUR/USD.SIM-0-MINUTE-BID-EXTERNAL") is None
    assert parse_bar_type("nonsense") is None
