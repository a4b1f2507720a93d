"""SandboxQuoteFeed: subscribe to quotes so the Sandbox execution client has a market.

Nautilus' Sandbox fills orders against the quotes (and order books) published for its venue. A
data client such as Interactive Brokers only streams quotes someone subscribed to, and a
bar-driven strategy subscribes to bars alone, so without this actor every Sandbox order is
rejected for want of a market. (The offline replay client emits quotes on its own.)
"""

from __future__ import annotations

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.identifiers import InstrumentId

__all__ = ["SandboxQuoteFeed", "SandboxQuoteFeedConfig"]


class SandboxQuoteFeedConfig(ActorConfig, frozen=True, kw_only=True):
    """
    Parameters
    ----------
    instrument_ids : list[str]
        Instruments whose quotes the Sandbox needs, e.g. ``["EUR/USD.IDEALPRO"]``.
    """

    instrument_ids: list[str]

    def __post_init__(self) -> None:
        if not self.instrument_ids:
            raise ValueError("instrument_ids must name at least one instrument")
        for text in self.instrument_ids:
            InstrumentId.from_str(text)


class SandboxQuoteFeed(Actor):
    """Subscribes to quote ticks of the configured instruments; does nothing else."""

    def __init__(self, config: SandboxQuoteFeedConfig) -> None:
        super().__init__(config)
        self._instrument_ids = [InstrumentId.from_str(text) for text in config.instrument_ids]

    def on_start(self) -> None:
        for instrument_id in self._instrument_ids:
            self.subscribe_quote_ticks(instrument_id)
