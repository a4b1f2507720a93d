"""``engine.reset()`` then ``engine.run()`` (a parameter sweep on one engine) is a fresh run for
the strategy: the same decisions as the first run, no carried-over health."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def test_a_reset_engine_reruns_to_the_same_decisions() -> None:
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        Venue("SIM"), OmsType.NETTING, AccountType.MARGIN, [Money(100_000, USD)],
        base_currency=USD, default_leverage=Decimal(30),
    )  # fmt: skip
    engine.add_instrument(TestInstrumentProvider.default_fx_ccy("EUR/USD"))
    bar_type = BarType.from_str(BAR_TYPE)
    # A trend: the data ends ~9 % above where it starts (beyond the 5 % outlier bound).
    closes = 1.1 * np.exp(np.cumsum(np.random.default_rng(1).normal(3e-4, 2e-4, 300)))
    bars = []
    for i, c in enumerate(closes):
        ts = 1_600_000_000_000_000_000 + (i + 1) * 60_000_000_000
        o = closes[i - 1] if i else c
        prices = (Price(x, 5) for x in (o, max(o, c) + 1e-4, min(o, c) - 1e-4, c))
        bars.append(Bar(bar_type, *prices, Quantity(1000, 0), ts, ts))
    engine.add_data(bars)
    strategy = AIPatternStrategy(
        AIPatternConfig(instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE, observe_only=True)
    )
    engine.add_strategy(strategy)
    engine.run()
    first, health = list(strategy.decisions), strategy.control_status()["health"]
    engine.reset()
    engine.run()
    # The outlier guard was still anchored on the first run's last close: the rerun held its
    # first 3 bars as outliers (an alert), and decided differently.
    assert list(strategy.decisions) == first
    assert strategy.control_status()["health"] == health
    assert health["bars_rejected_total"] == 0 and health["alerts"] == 0
    engine.dispose()
