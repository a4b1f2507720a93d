"""A low-level BacktestEngine on real bars, for strategy tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.backtest.execution import (
    FXCommissionFeeModel,
    FXDepthFillModel,
)
from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


@pytest.fixture(scope="session")
def month_data(demo_catalog: Path) -> tuple[Any, list[Bar]]:
    """Instrument and the January 2017 bid + ask bars (sorted by ts_init)."""
    catalog = ParquetDataCatalog(str(demo_catalog))
    instrument = catalog.instruments(instrument_ids=["EUR/USD.SIM"])[0]
    bars = catalog.bars(bar_types=[BID, ASK], end="2017-02-01")
    bars.sort(key=lambda b: b.ts_init)
    return instrument, bars


RunStrategy = Callable[..., tuple[AIPatternStrategy, BacktestEngine]]


@pytest.fixture
def run_strategy(month_data: tuple[Any, list[Bar]], demo_catalog: Path) -> RunStrategy:
    """Run AIPatternStrategy(config overrides) on January 2017; returns (strategy, engine)."""
    instrument, bars = month_data
    engines: list[BacktestEngine] = []

    def run(
        bar_limit: int | None = None, **overrides: Any
    ) -> tuple[AIPatternStrategy, BacktestEngine]:
        config: dict[str, Any] = {
            "instrument_id": "EUR/USD.SIM",
            "bar_type": BID,
            "predictor": {"kind": "rule"},
            "catalog_path": str(demo_catalog),
            "min_confidence": 0.6,
            "max_holding_bars": 240,
        }
        config.update(overrides)
        engine = BacktestEngine(
            BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
        )
        engine.add_venue(
            Venue("SIM"),
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            base_currency=USD,
            starting_balances=[Money(100_000, USD)],
            default_leverage=Decimal(30),
            fee_model=FXCommissionFeeModel(),
            fill_model=FXDepthFillModel(),
            bar_adaptive_high_low_ordering=True,
        )
        engine.add_instrument(instrument)
        engine.add_data(bars[:bar_limit] if bar_limit else bars)
        strategy = AIPatternStrategy(AIPatternConfig(**config))
        engine.add_strategy(strategy)
        engine.run()
        engines.append(engine)
        return strategy, engine

    yield run
    for engine in engines:
        engine.dispose()


__all__ = ["ASK", "BID", "InstrumentId", "RunStrategy"]
