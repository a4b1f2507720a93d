"""A model trained on hour bars, run by a strategy on minute bars, traded on every minute bar
without a word (its card said hour bars; nothing compared). The strategy now refuses it at start
with one line naming both bar types, and a model switch to it is refused; a model of the
strategy's period runs, one of another instrument runs with a warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.stored_models import HOUR_BID, MINUTE_BID, lightgbm_model, mlp_model

from nautilus_ai.models.trained_bars import BarTypeMismatchError

RunStrategy = Any  # the run_strategy fixture (see conftest.py)


def test_a_model_of_another_bar_period_is_refused_at_start(
    run_strategy: RunStrategy, tmp_path: Path
) -> None:
    hour = {"kind": "lightgbm", "path": str(lightgbm_model(tmp_path, "gbt-hour", HOUR_BID))}
    strategy, _ = run_strategy(bar_limit=400, predictor=hour)
    assert strategy.state.name == "STOPPED"
    assert strategy.core.bars == 0 and strategy.model_id == "none"


def test_a_model_of_the_strategys_period_runs_and_a_switch_to_another_is_refused(
    run_strategy: RunStrategy, tmp_path: Path
) -> None:
    minute = {"kind": "torch", "device": "cpu",
              "path": str(mlp_model(tmp_path, "mlp-minute", MINUTE_BID))}  # fmt: skip
    strategy, _ = run_strategy(bar_limit=400, predictor=minute)
    assert strategy.core.bars == 200 and strategy.model_id == "mlp-minute/1"
    hour = {"kind": "torch", "device": "cpu",
            "path": str(mlp_model(tmp_path, "mlp-hour", HOUR_BID))}  # fmt: skip
    with pytest.raises(BarTypeMismatchError, match=f"trained on {HOUR_BID} bars"):
        strategy.switch_model(hour)
    with pytest.raises(BarTypeMismatchError, match=f"strategy's bar type is {MINUTE_BID}"):
        strategy.prepare_model(hour)
    assert strategy.model_id == "mlp-minute/1"


def test_a_model_of_another_instrument_runs(run_strategy: RunStrategy, tmp_path: Path) -> None:
    gbp = {"kind": "lightgbm", "path": str(lightgbm_model(
        tmp_path, "gbt-gbp", "GBP/USD.SIM-1-MINUTE-MID-EXTERNAL"))}  # fmt: skip
    strategy, _ = run_strategy(bar_limit=400, predictor=gbp)
    assert strategy.core.bars == 200 and strategy.model_id == "gbt-gbp/1"


def test_the_start_checks_compare_a_tick_models_cadence(tmp_path: Path) -> None:
    """What on_start and both --check preflights build: a tick model trained on every 5th quote
    tick is refused for a strategy deciding on every tick, and accepted at its own cadence."""
    from types import SimpleNamespace

    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.features.ticks import TickVectorSpec
    from nautilus_ai.strategies.ai_pattern_control import build_as_on_start

    vector = TickVectorSpec(FeatureSpec())
    path = mlp_model(tmp_path, "ticks", MINUTE_BID, vector, tick_mode={"every_ticks": 5})
    strategy = SimpleNamespace(predictor_spec=vector)
    config = {"bar_type": MINUTE_BID, "predictor": {"kind": "torch", "device": "cpu",
                                                    "path": str(path)}}  # fmt: skip
    built = build_as_on_start(strategy, {**config, "tick_mode": {"every_ticks": 5}})
    assert built is not None and built.model_id == "ticks/1"
    with pytest.raises(BarTypeMismatchError, match=r"every 5 quote ticks.*decides every quote"):
        build_as_on_start(strategy, {**config, "tick_mode": {"every_ticks": 1}})
