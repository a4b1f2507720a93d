"""``engine.reset()`` then ``engine.run()`` (a parameter sweep on one engine) is a fresh run for
the strategy: the same decisions as the first run, no carried-over health."""

from __future__ import annotations

import numpy as np
from fixtures.synthetic_engine import bars_from_closes, plain_engine

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def test_a_reset_engine_reruns_to_the_same_decisions() -> None:
    engine, _ = plain_engine()
    # A trend: the data ends ~9 % above where it starts (beyond the 5 % outlier bound).
    closes = 1.1 * np.exp(np.cumsum(np.random.default_rng(1).normal(3e-4, 2e-4, 300)))
    bars = bars_from_closes(BAR_TYPE, closes)
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
