"""A low-level BacktestEngine run of AIPatternStrategy with feature logging (used in-process by
the tests and as a script by the SIGKILL test: ``python logged_backtest.py CATALOG LOG RUN``)."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.backtest.execution import FXCommissionFeeModel, FXDepthFillModel
from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


def run_logged_backtest(
    catalog_path: str,
    log_catalog: str,
    run_id: str,
    *,
    end: str | None = "2017-02-01",
    feature_source: str = "precomputed",
    flush_rows: int = 20_000,
    **overrides: Any,
) -> AIPatternStrategy:
    """Run January (or up to ``end``) and return the strategy (engine disposed: log closed)."""
    catalog = ParquetDataCatalog(catalog_path)
    instrument = catalog.instruments(instrument_ids=["EUR/USD.SIM"])[0]
    bars = catalog.bars(bar_types=[BID, ASK], end=end)
    bars.sort(key=lambda b: b.ts_init)
    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        Venue("SIM"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
        base_currency=USD, starting_balances=[Money(100_000, USD)],
        default_leverage=Decimal(30), fee_model=FXCommissionFeeModel(),
        fill_model=FXDepthFillModel(), bar_adaptive_high_low_ordering=True,
    )  # fmt: skip
    engine.add_instrument(instrument)
    engine.add_data(bars)
    config: dict[str, Any] = {
        "instrument_id": "EUR/USD.SIM",
        "bar_type": BID,
        "predictor": {"kind": "rule"},
        "catalog_path": catalog_path,
        "feature_source": feature_source,
        "min_confidence": 0.6,
        "max_holding_bars": 240,
        "feature_log": {"catalog_path": log_catalog, "run_id": run_id, "flush_rows": flush_rows},
    }
    config.update(overrides)
    strategy = AIPatternStrategy(AIPatternConfig(**config))
    engine.add_strategy(strategy)
    try:
        engine.run()
    finally:
        engine.dispose()
    return strategy


if __name__ == "__main__":
    catalog_arg, log_arg, run_arg, flush_arg = sys.argv[1:5]
    print("starting", flush=True)
    run_logged_backtest(catalog_arg, log_arg, run_arg, end=None, flush_rows=int(flush_arg))
    print("finished", flush=True)
