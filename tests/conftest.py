"""Shared fixtures: the real market data folder (never committed; see ../shared/data/README.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nautilus_ai.paths import shared_data_dir

# Tiny torch / transformers models are ~50x slower with 2 threads on a loaded 2-core box.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder. Missing data is a failure, not a skip: CI must have it."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The demo catalog (six months of real EUR/USD M1 bid + ask bars), imported once."""
    from nautilus_ai.backtest.demo import ensure_demo_catalog

    path, _ = ensure_demo_catalog(tmp_path_factory.mktemp("demo_catalog"), data_dir)
    return path


# -- tiny offline Hugging Face models (built once a session; backends and fine-tuning tests) ----


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight MiniCPM-V 4.6 model directory (action words are single tokens)."""
    from nautilus_ai.models.tiny_models import build_tiny_minicpmv

    return build_tiny_minicpmv(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama-architecture text model directory with a chat template."""
    from nautilus_ai.models.tiny_models import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text"), chat_template=True)


# -- AIPatternStrategy in a low-level BacktestEngine on real January 2017 bars ------------------


@pytest.fixture(scope="session")
def january_bars(demo_catalog: Path) -> tuple[Any, list[Any]]:
    """EUR/USD.SIM and the demo catalog's January 2017 bid + ask minute bars (by ts_init)."""
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(str(demo_catalog))
    instrument = catalog.instruments(instrument_ids=["EUR/USD.SIM"])[0]
    bar_types = ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"]
    bars = catalog.bars(bar_types=bar_types, end="2017-02-01")
    bars.sort(key=lambda b: b.ts_init)
    return instrument, bars


@pytest.fixture
def january_backtest(
    january_bars: tuple[Any, list[Any]], demo_catalog: Path
) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """``run(bar_limit=None, **config overrides) -> (strategy, engine)``.

    Runs ``AIPatternStrategy`` (rule predictor, min confidence 0.6, 240-bar holding limit unless
    overridden) on the first ``bar_limit`` of :func:`january_bars` (all when None; a minute is a
    bid and an ask bar) in a netting margin account with our FX fee and fill models. The engines
    are disposed after the test.
    """
    from decimal import Decimal

    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    from nautilus_ai.backtest.execution import FXCommissionFeeModel, FXDepthFillModel
    from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

    instrument, bars = january_bars
    engines: list[Any] = []

    def run(bar_limit: int | None = None, **overrides: Any) -> tuple[Any, Any]:
        config: dict[str, Any] = {
            "instrument_id": "EUR/USD.SIM",
            "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
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
