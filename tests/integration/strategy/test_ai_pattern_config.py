"""``AIPatternConfig`` is strict on both paths msgspec offers: decoded (``AIPatternConfig.parse``,
what ``ImportableStrategyConfig`` uses) and constructed directly (where msgspec checks neither
types nor ``Meta`` ranges). A typo inside ``predictor`` fails when the config is built, not in
``on_start``."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest

from nautilus_ai.config_check import ConfigFieldError
from nautilus_ai.strategies.ai_pattern import AIPatternConfig

BASE = {"instrument_id": "EUR/USD.SIM", "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"}

BAD: list[tuple[dict[str, Any], str]] = [
    ({"min_confidence": 1.5}, "min_confidence"),
    ({"min_confidence": 1.0}, "min_confidence"),  # was named as `sizing` (the sizer's bound)
    ({"min_confidence": "0.6"}, "min_confidence"),
    ({"min_confidence": math.inf}, "min_confidence"),
    ({"stop_loss_atr": 0.0}, "stop_loss_atr"),
    ({"max_holding_bars": 0}, "max_holding_bars"),
    ({"context_bars": -1}, "context_bars"),
    ({"observe_only": "yes"}, "observe_only"),
    ({"feature_source": "precompute"}, "feature_source"),
    ({"predictor": {"kind": "rule", "trend_min_atrr": 2.0}}, "predictor.trend_min_atrr"),
    ({"predictor": {"kind": "rulee"}}, "predictor.kind"),
    ({"predictor": {"kind": "rule", "rsi_overbought": 2.0}}, "predictor.rsi_overbought"),
    ({"predictor": {"kind": "torch"}}, "predictor.path"),
    ({"sizing": {"base_fracton": 0.5}}, "sizing.base_fracton"),
    ({"sizing": {"lot_step": -1.0}}, "sizing.lot_step"),
    ({"sizing": {"min_confidence": 0.5}}, "sizing.min_confidence"),
    ({"feature_spec": {"rsi_perod": 14}}, "feature_spec.rsi_perod"),
    ({"decision_latency": {"kind": "fixed", "latency_mss": 5}}, "decision_latency.latency_mss"),
    ({"feature_log": {"catalog_path": "x", "flush_rows": 0}}, "feature_log.flush_rows"),
    ({"bar_type": "EUR/USD.SIM-0-MINUTE-BID-EXTERNAL"}, "bar_type"),  # Nautilus would abort
    ({"oms_type": "NETTNG"}, "oms_type"),  # Nautilus would abort on this one too
]


@pytest.mark.parametrize(("change", "key"), BAD, ids=[k for _, k in BAD])
def test_direct_and_decoded_paths_refuse_the_same_values(change: dict[str, Any], key: str) -> None:
    config = dict(BASE, **change)
    with pytest.raises(ConfigFieldError) as direct:
        AIPatternConfig(**config)
    assert str(direct.value).startswith(f"{key}:"), direct.value
    with pytest.raises(msgspec.ValidationError):
        AIPatternConfig.parse(json.dumps(config).replace("Infinity", "1e999"))


def test_unknown_keys_are_refused_on_both_paths() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `min_confidance`"):
        AIPatternConfig.parse(json.dumps(dict(BASE, min_confidance=0.6)))
    with pytest.raises(TypeError, match="min_confidance"):
        AIPatternConfig(**dict(BASE, min_confidance=0.6))


def test_a_good_config_is_unchanged() -> None:
    config = dict(
        BASE,
        predictor={"kind": "rule", "trend_min_atr": 2.5},
        sizing={"base_fraction": 0.5, "full_fraction": 3.0},
        min_confidence=0.6,
        max_holding_bars=240,
    )
    direct = AIPatternConfig(**config)
    decoded = AIPatternConfig.parse(json.dumps(config))
    assert direct == decoded
    assert decoded.predictor == {"kind": "rule", "trend_min_atr": 2.5}
    assert decoded.sizing == {"base_fraction": 0.5, "full_fraction": 3.0}


def test_an_integral_float_cadence_is_the_int_on_both_paths() -> None:
    """``every_ticks: 2.0`` passed the config's check (an integral float is an int everywhere
    in a config) and then failed the strategy's construction, naming no key."""
    from nautilus_trader.config import ImportableStrategyConfig
    from nautilus_trader.trading.config import StrategyFactory

    from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

    config = dict(BASE, tick_mode={"every_ticks": 2.0})
    direct = AIPatternStrategy(AIPatternConfig(**config))
    built = StrategyFactory.create(
        ImportableStrategyConfig(
            strategy_path="nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
            config_path="nautilus_ai.strategies.ai_pattern:AIPatternConfig",
            config=config,
        )
    )
    for strategy in (direct, built):
        every = strategy.tick_mode.decider.config.every_ticks
        assert every == 2 and type(every) is int


def test_an_empty_tick_mode_is_tick_mode_with_its_defaults() -> None:
    """``tick_mode: {}`` (every tick, the defaults) was checked as tick mode by the config and
    then ignored by the strategy (an empty dict is falsy): it decided on bars."""
    from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

    strategy = AIPatternStrategy(AIPatternConfig(**dict(BASE, tick_mode={})))
    assert strategy.tick_mode is not None
    assert strategy.tick_mode.decider.config.every_ticks == 1


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"decision_deadline_ms": math.nan}, "config.decision_deadline_ms"),
        ({"outlier_atr_multiple": math.inf}, "config.outlier_atr_multiple"),
        ({"max_bar_age_secs": math.nan}, "config.max_bar_age_secs"),
        ({"min_confidnce": 0.6}, "config.min_confidnce"),
        ({"predictor": {"kind": "rule", "trend_min_atr": math.nan}}, "config.predictor"),
    ],
)
def test_strategy_config_refuses_what_nautilus_encoder_would_turn_into_null(
    change: dict[str, Any], key: str
) -> None:
    """A Python-built ``ImportableStrategyConfig`` goes through Nautilus' JSON encoder, which
    writes NaN / infinity as ``null``: an optional setting then reads "not set" (the deadline or
    the outlier guard off, without a word). ``strategy_config`` checks the dict first."""
    from nautilus_ai.strategies import strategy_config

    with pytest.raises(ConfigFieldError) as refused:
        strategy_config(dict(BASE, **change))
    assert str(refused.value).startswith(key), refused.value
    assert "\n" not in str(refused.value)


def test_strategy_config_builds_the_strategy_nautilus_builds() -> None:
    from nautilus_trader.config import ImportableStrategyConfig
    from nautilus_trader.trading.config import StrategyFactory

    from nautilus_ai.strategies import strategy_config

    config = dict(BASE, min_confidence=0.6, decision_deadline_ms=250.0, max_holding_bars=30)
    importable = strategy_config(config)
    assert isinstance(importable, ImportableStrategyConfig)
    assert importable.config == config
    built = StrategyFactory.create(importable)
    assert type(built).__name__ == "AIPatternStrategy"
    assert built.config == AIPatternConfig(**config)


def test_a_strategy_id_from_a_run_file_builds_the_strategy() -> None:
    """A run file with two strategies told apart by `strategy_id` failed to build: decoding made
    it a StrategyId, which Nautilus' Strategy.__init__ cannot take ("Argument 'name' has
    incorrect type"), and `backtest --check` blamed the predictor."""
    from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

    config = AIPatternConfig.parse(
        json.dumps(dict(BASE, strategy_id="AIPatternStrategy-EURUSD", order_id_tag="001"))
    )
    assert AIPatternStrategy(config).id.value == "AIPatternStrategy-EURUSD-001"
