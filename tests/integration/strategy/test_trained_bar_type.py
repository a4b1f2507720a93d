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
