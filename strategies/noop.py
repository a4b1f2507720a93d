"""A strategy that subscribes to bars and does nothing: the engine's own cost, for benchmarks."""

from __future__ import annotations

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.trading.strategy import Strategy

__all__ = ["NoOpConfig", "NoOpStrategy"]


class NoOpConfig(StrategyConfig, frozen=True):
    """
    Parameters
    ----------
    bar_type : str
        The bars to subscribe to.
    """

    bar_type: str


class NoOpStrategy(Strategy):
    """Counts bars; sends nothing."""

    def __init__(self, config: NoOpConfig) -> None:
        super().__init__(config)
        self.bars_seen = 0

    def on_start(self) -> None:
        self.subscribe_bars(BarType.from_str(self.config.bar_type))

    def on_bar(self, bar: Bar) -> None:
        self.bars_seen += 1
