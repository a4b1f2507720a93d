"""``EventDelayProbe``: how late a live node handles its market data (is the loop ever blocked?).

An actor that subscribes to bars (and quotes) and records, for every event, the node's clock
minus the event's ``ts_init`` when its handler runs: the time the event waited for the event
loop. Nautilus handles events one at a time on one loop, so a strategy that blocks the loop (a
model called inline) shows up as a large delay on the events that come while it is busy. (A
data client on the same loop, like the replay client, is held up too: with a ``speed`` it
records how late it emitted each timestamp, ``lateness_ns``; the delay from due time to handling
is at most the sum of the two.) Add it to a live config's ``node.actors``::

    - actor_path: nautilus_ai.adapters.event_delay:EventDelayProbe
      config_path: nautilus_ai.adapters.event_delay:EventDelayProbeConfig
      config: {instrument_id: EUR/USD.SIM, bar_types: [EUR/USD.SIM-1-MINUTE-BID-EXTERNAL]}

:meth:`EventDelayProbe.summary` gives the count, the worst, p99 and median delay, and the
event rate.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import InstrumentId

__all__ = ["EventDelayProbe", "EventDelayProbeConfig"]


class EventDelayProbeConfig(ActorConfig, frozen=True, kw_only=True):
    """Configuration for :class:`EventDelayProbe`.

    Parameters
    ----------
    instrument_id : str
        Whose quotes to watch.
    bar_types : list[str]
        Bars to watch.
    quotes : bool, default True
        Also watch the instrument's quote ticks.
    """

    instrument_id: str
    bar_types: list[str]
    quotes: bool = True


class EventDelayProbe(Actor):
    """Records ``clock - ts_init`` of every watched event (see the module docstring)."""

    def __init__(self, config: EventDelayProbeConfig) -> None:
        super().__init__(config)
        self._instrument_id = InstrumentId.from_str(config.instrument_id)
        self._bar_types = [BarType.from_str(text) for text in config.bar_types]
        self._watch_quotes = config.quotes
        self.delays_ns: array[int] = array("q")
        self.ts_init_ns: array[int] = array("q")

    def on_start(self) -> None:
        for bar_type in self._bar_types:
            self.subscribe_bars(bar_type)
        if self._watch_quotes:
            self.subscribe_quote_ticks(self._instrument_id)

    def _record(self, ts_init: int) -> None:
        self.delays_ns.append(self.clock.timestamp_ns() - ts_init)
        self.ts_init_ns.append(ts_init)

    def on_bar(self, bar: Bar) -> None:
        self._record(bar.ts_init)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self._record(tick.ts_init)

    def summary(self) -> dict[str, Any]:
        """``events``, ``max_ms``, ``p99_ms``, ``p50_ms`` and ``events_per_s`` (over the span of
        their ``ts_init``); zeros when nothing came."""
        delays = np.frombuffer(self.delays_ns, dtype=np.int64) / 1e6
        if delays.size == 0:
            return {"events": 0, "max_ms": 0.0, "p99_ms": 0.0, "p50_ms": 0.0, "events_per_s": 0.0}
        stamps = np.frombuffer(self.ts_init_ns, dtype=np.int64)
        span_s = (int(stamps.max()) - int(stamps.min())) / 1e9
        return {
            "events": int(delays.size),
            "max_ms": float(delays.max()),
            "p99_ms": float(np.percentile(delays, 99)),
            "p50_ms": float(np.median(delays)),
            "events_per_s": float(delays.size / span_s) if span_s > 0 else 0.0,
        }
