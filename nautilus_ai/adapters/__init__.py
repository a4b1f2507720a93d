"""Nautilus adapters (glue modules: these import ``nautilus_trader``).

* :mod:`nautilus_ai.adapters.replay`: an offline data client that replays catalog bars (and
  quotes made from BID / ASK bars) into a live ``TradingNode``.
* :mod:`nautilus_ai.adapters.venues`: the data / execution client kinds a live config may name
  (replay, sandbox, Interactive Brokers), with the environment each one needs.
* :mod:`nautilus_ai.adapters.event_delay`: an actor that measures how late a live node handles
  its market data events (a blocked event loop shows there).
* :mod:`nautilus_ai.adapters.protective_orders`: the reduce-only stop-loss / take-profit pair a
  strategy places for its open position.
"""

from nautilus_ai.adapters.event_delay import EventDelayProbe, EventDelayProbeConfig
from nautilus_ai.adapters.replay import (
    REPLAY_FINISHED_TOPIC,
    ReplayDataClient,
    ReplayDataClientConfig,
    ReplayDataClientFactory,
)

__all__ = [
    "EventDelayProbe",
    "EventDelayProbeConfig",
    "REPLAY_FINISHED_TOPIC",
    "ReplayDataClient",
    "ReplayDataClientConfig",
    "ReplayDataClientFactory",
]
