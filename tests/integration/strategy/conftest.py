"""A low-level BacktestEngine on real bars, for strategy tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.identifiers import InstrumentId

from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


RunStrategy = Callable[..., tuple[AIPatternStrategy, BacktestEngine]]


@pytest.fixture
def run_strategy(january_backtest: RunStrategy) -> RunStrategy:
    """Run AIPatternStrategy(config overrides) on January 2017; returns (strategy, engine).

    The engine set-up is ``january_backtest`` in ``tests/conftest.py`` (shared with the backend
    tests).
    """
    return january_backtest


__all__ = ["ASK", "BID", "InstrumentId", "RunStrategy"]
