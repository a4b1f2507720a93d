"""A model switched during a tick-mode backtest decides from the switch on, on the precomputed
tick path as on the incremental one (the precomputed answers were the old model's)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
MINUTE = 60_000_000_000


def synthetic(n: int = 200) -> tuple[Any, list[Bar], list[QuoteTick]]:
    instrument = TestInstrumentProvider.default_fx_ccy("EUR/USD")
    bar_type = BarType.from_str(BAR_TYPE)
    rng = np.random.default_rng(1)
    closes = 1.1 + np.cumsum(rng.normal(0, 2e-4, n))
    size = Quantity(1e6, 0)
    bars, quotes = [], []
    for i, c in enumerate(closes):
        ts = 1_600_000_000_000_000_000 + (i + 1) * MINUTE
        o = closes[i - 1] if i else c
        prices = (Price(x, 5) for x in (o, max(o, c) + 1e-4, min(o, c) - 1e-4, c))
        bars.append(Bar(bar_type, *prices, Quantity(1000, 0), ts, ts))
        for k in (1, 2, 3):
            mid, t = c + rng.normal(0, 5e-5), ts + k * 15_000_000_000
            bid, ask = Price(mid - 5e-5, 5), Price(mid + 5e-5, 5)
            quotes.append(QuoteTick(instrument.id, bid, ask, size, size, t, t))
    return instrument, bars, quotes


def run(catalog: Path, source: str, switch_at: int) -> AIPatternStrategy:
    instrument, bars, quotes = synthetic()
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        Venue("SIM"), OmsType.NETTING, AccountType.MARGIN, [Money(100_000, USD)],
        base_currency=USD, default_leverage=Decimal(30),
    )  # fmt: skip
    engine.add_instrument(instrument)
    engine.add_data(bars)
    engine.add_data(quotes)
    config = AIPatternConfig(
        instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE, predictor={"kind": "tick_rule"},
        tick_mode={"every_ticks": 1}, observe_only=True, feature_source=source,
        catalog_path=str(catalog),
    )  # fmt: skip
    strategy = AIPatternStrategy(config)
    seen: list[int] = []

    def sink(ts: int, *_: Any) -> None:  # the control plane's switch, at a known tick
        seen.append(ts)
        if len(seen) == switch_at:
            strategy.switch_model({"kind": "tick_rule", "entry_atr": 0.01})

    strategy.add_decision_sink(sink)
    engine.add_strategy(strategy)
    engine.run()
    engine.dispose()
    return strategy


def test_a_switched_model_decides_on_the_precomputed_tick_path(tmp_path: Path) -> None:
    instrument, bars, quotes = synthetic()
    catalog = ParquetDataCatalog(str(tmp_path / "catalog"))
    catalog.write_data([instrument])
    catalog.write_data(bars)
    catalog.write_data(quotes)
    incremental = run(tmp_path / "catalog", "incremental", 200)
    precomputed = run(tmp_path / "catalog", "precomputed", 200)
    models = [r.model_id for r in incremental.tick_decisions]
    assert len(set(models)) == 2 and models[-1] != models[0]  # the switch took effect
    assert list(precomputed.tick_decisions) == list(incremental.tick_decisions)
    assert precomputed.tick_mode.precomputed_fallbacks == 1
