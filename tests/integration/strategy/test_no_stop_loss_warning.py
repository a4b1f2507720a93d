"""A strategy whose entries carry no stop loss says so when it starts. Built from Python, a NaN
``stop_loss_atr`` reaches the strategy as null through Nautilus' msgspec encoder (a run file's
``.nan`` is refused by our reader), i.e. as "no stop": it was silent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nautilus_trader.config import ImportableStrategyConfig
from nautilus_trader.trading.config import StrategyFactory

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def build(**config: Any) -> Any:
    return StrategyFactory.create(
        ImportableStrategyConfig(
            strategy_path="nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
            config_path="nautilus_ai.strategies.ai_pattern:AIPatternConfig",
            config={"instrument_id": "EUR/USD.SIM", "bar_type": BAR_TYPE, **config},
        )
    )


def started_warnings(strategy: Any) -> list[str]:
    """What the exits' start-up check writes (a stand-in for the strategy's logger and cache)."""
    exits = strategy._exits
    lines: list[str] = []
    exits._strategy = SimpleNamespace(
        log=SimpleNamespace(warning=lines.append),
        cache=SimpleNamespace(positions_open=lambda **_: []),
        id=strategy.id,
    )
    exits.adopt()
    return lines


def test_a_nan_stop_from_python_arrives_as_no_stop_and_is_said_at_start() -> None:
    strategy = build(stop_loss_atr=float("nan"))
    assert strategy.config.stop_loss_atr is None  # what Nautilus' encoder makes of NaN
    (line,) = started_warnings(strategy)
    assert line.startswith("Entries carry no stop loss: stop_loss_atr is null")


def test_a_stop_or_observe_only_says_nothing() -> None:
    assert started_warnings(build()) == []
    assert started_warnings(build(stop_loss_atr=None, observe_only=True)) == []
