"""An offline data client: replays catalog bars into a live ``TradingNode``.

With it the whole live path (node, strategy, Sandbox fills, control plane, logs) runs with no
network, in real time or accelerated. Bars keep their historical ``ts_event`` (so features and
decisions match a backtest of the same bars) and get ``ts_init`` = the node's clock when emitted.

Quotes: Nautilus 1.221's Sandbox execution client subscribes to ``data.*.<VENUE>.*``, which
matches quote topics but not bar topics, so with bars alone every order is rejected ("no
market"). For every timestamp with both a BID and an ASK bar this client first emits a
``QuoteTick`` (bid = BID close, ask = ASK close), then the bars, so the Sandbox always has the
market the strategy just saw. With ``quotes: catalog`` it replays the catalog's recorded quote
ticks instead (e.g. Dukascopy ticks imported with ``--bars 60:MID``), merged with the bars in
time order: a tick-mode strategy then decides live on the real ticks, as in a backtest.

Config (``ReplayDataClientConfig``), e.g. in a live config file::

    data_clients:
      REPLAY:
        kind: replay
        config:
          catalog_path: catalogs/demo
          instrument_id: EUR/USD.SIM
          bar_types: [EUR/USD.SIM-1-MINUTE-BID-EXTERNAL, EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL]
          start: "2017-03-01T00:00:00Z"
          speed: 600          # 10 simulated minutes per second; 0 = as fast as possible
"""

from __future__ import annotations

import asyncio
import json
import math
import traceback
from array import array
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

import pandas as pd
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.config import LiveDataClientConfig
from nautilus_trader.data.messages import SubscribeBars, SubscribeQuoteTicks, UnsubscribeBars
from nautilus_trader.live.data_client import LiveMarketDataClient
from nautilus_trader.live.factories import LiveDataClientFactory
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import ClientId, InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog

__all__ = [
    "REPLAY_FINISHED_TOPIC",
    "ReplayDataClient",
    "ReplayDataClientConfig",
    "ReplayDataClientFactory",
]

REPLAY_FINISHED_TOPIC = "nautilus_ai.replay.finished"
"""Message-bus topic: ``{"client_id", "bars", "quotes", "timestamps", "late_max_ms"}`` as JSON,
once the last bar was emitted (``late_max_ms``: the worst emission after a timestamp's due time,
see ``speed``)."""


class ReplayDataClientConfig(LiveDataClientConfig, frozen=True, kw_only=True):
    """Configuration for :class:`ReplayDataClient`.

    Parameters
    ----------
    catalog_path : str
        The ``ParquetDataCatalog`` holding the instrument and its bars.
    instrument_id : str
        e.g. ``"EUR/USD.SIM"``; its venue must be the Sandbox's venue.
    bar_types : list[str]
        Bar types to replay (EXTERNAL aggregation). A BID and an ASK type of the same step give
        quote ticks.
    start, end : str, optional
        ISO-8601 bounds on ``ts_event`` (inclusive).
    limit : int, optional
        Replay at most this many timestamps.
    speed : float, default 0
        Simulated seconds per wall second (1 = real time, 600 = ten minutes a second);
        0 replays as fast as the node takes it (one loop turn per timestamp). With a speed each
        timestamp is due at a planned wall time (the feed does not wait for a blocked loop); how
        late each went out is kept in ``lateness_ns`` and its worst reported when finished.
    max_gap_secs : float, default 1
        Longest wall-clock pause between two timestamps (weekends, data gaps).
    start_delay_secs : float, default 0.5
        Wall seconds between the first bar subscription and the first bar (lets every
        strategy subscribe first).
    emit_quotes : bool, default True
        Emit quote ticks (the Sandbox needs them to fill).
    quotes : "bars" or "catalog", default "bars"
        Where the quotes come from: made from BID / ASK bar pairs, or the catalog's recorded
        quote ticks of the instrument (every one, between ``start`` and ``end``; ``limit``
        then counts ticks and bars together, by timestamp).
    quote_size : float, default 1_000_000
        Size on each side of the quotes made from bars.
    """

    catalog_path: str
    instrument_id: str
    bar_types: list[str]
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    speed: float = 0.0
    max_gap_secs: float = 1.0
    start_delay_secs: float = 0.5
    emit_quotes: bool = True
    quotes: str = "bars"
    quote_size: float = 1_000_000.0

    def __post_init__(self) -> None:
        instrument_id = InstrumentId.from_str(self.instrument_id)
        if not self.bar_types:
            raise ValueError("bar_types must name at least one bar type")
        for text in self.bar_types:
            bar_type = BarType.from_str(text)
            if bar_type.instrument_id != instrument_id:
                raise ValueError(f"bar_types: {text!r} is not for {self.instrument_id!r}")
            if not bar_type.is_externally_aggregated():
                raise ValueError(f"bar_types: {text!r} must be EXTERNAL")
        start = None if self.start is None else _parse_time(self.start, "start")
        end = None if self.end is None else _parse_time(self.end, "end")
        if start is not None and end is not None and end <= start:
            raise ValueError(f"end {self.end!r} must be after start {self.start!r}")
        # finite and >= 0 (a NaN passes "< 0"; YAML refuses it, a config built in Python did not)
        for name in ("speed", "max_gap_secs", "start_delay_secs"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, was {value!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, was {self.limit!r}")
        if self.quotes not in ("bars", "catalog"):
            raise ValueError(f"quotes must be 'bars' or 'catalog', was {self.quotes!r}")
        if not (math.isfinite(self.quote_size) and self.quote_size > 0):
            raise ValueError(f"quote_size must be > 0, was {self.quote_size!r}")


class ReplayDataClient(LiveMarketDataClient):
    """Emits catalog bars (and quotes made from them) as if they arrived live.

    The instrument is put in the cache when the client is built, so the Sandbox execution client
    finds it when it connects. Replay starts at the first bar subscription.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client_id: ClientId,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
        config: ReplayDataClientConfig,
    ) -> None:
        instrument_id = InstrumentId.from_str(config.instrument_id)
        super().__init__(
            loop=loop,
            client_id=client_id,
            venue=instrument_id.venue,
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=InstrumentProvider(),
            config=config,
        )
        self._replay_config = config
        self._catalog = ParquetDataCatalog(config.catalog_path)
        self._instrument = _load_instrument(self._catalog, instrument_id)
        self._instrument_provider.add(self._instrument)
        if cache.instrument(instrument_id) is None:
            cache.add_instrument(self._instrument)
        self._bar_types = [BarType.from_str(t) for t in config.bar_types]
        self._subscribed: set[BarType] = set()
        self._task: asyncio.Task[None] | None = None
        self.emitted_bars = 0
        self.emitted_quotes = 0
        #: Per emitted timestamp: how long after its due time it went out (0 at speed 0).
        self.lateness_ns: array[int] = array("q")
        self.finished = False

    @property
    def instrument(self) -> Instrument:
        return self._instrument

    async def _connect(self) -> None:
        self._handle_data(self._instrument)

    async def _disconnect(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _subscribe_bars(self, command: SubscribeBars) -> None:
        if command.bar_type not in self._bar_types:
            self._log.error(
                f"{command.bar_type} is not replayed by this client (it has "
                f"{', '.join(str(b) for b in self._bar_types)})"
            )
            return
        self._subscribed.add(command.bar_type)
        if self._task is None:
            self._task = self.create_task(self._replay(), log_msg="replay")

    async def _unsubscribe_bars(self, command: UnsubscribeBars) -> None:
        self._subscribed.discard(command.bar_type)

    async def _subscribe_quote_ticks(self, command: SubscribeQuoteTicks) -> None:
        pass  # quotes are emitted for the Sandbox anyway when emit_quotes is on

    async def _subscribe_instrument(self, command: object) -> None:
        pass

    async def _replay(self) -> None:
        try:
            await self._run_replay()
        except Exception as exc:  # said on the bus: a node waiting for the end must not hang
            error = _one_line(exc)
            self._log.error(f"Replay failed after {self.emitted_bars:,} bars: {error}")
            self._msgbus.publish(
                REPLAY_FINISHED_TOPIC,
                json.dumps({"client_id": self.id.value, "bars": self.emitted_bars, "error": error}),
            )

    async def _run_replay(self) -> None:
        config = self._replay_config
        loaded = await asyncio.to_thread(self._load_events_in_thread)
        if isinstance(loaded, str):
            raise ReplayLoadError(loaded)
        events = loaded
        self._log.info(
            f"Replaying {len(events):,} bars and quotes of {', '.join(map(str, self._bar_types))} "
            f"at speed {config.speed or 'max'}"
        )
        await asyncio.sleep(config.start_delay_secs)
        groups = groupby(events, key=lambda event: event.ts_event)
        previous_ts: int | None = None
        count = 0
        # With a speed, each timestamp is due at a planned wall time (anchored at the first, so a
        # busy loop does not slow the feed down, as a venue would not wait): it is emitted then,
        # or at once when behind; how far behind is recorded (``lateness_ns``). ts_init stays
        # the emission time (stamping the due time left the Sandbox run of
        # tests/integration/live/test_live_nautilus_redis.py without a position).
        planned_ns = self._clock.timestamp_ns()
        for ts_event, group in groups:
            if config.limit is not None and count >= config.limit:
                break
            count += 1
            if config.speed > 0 and previous_ts is not None:
                gap_s = min((ts_event - previous_ts) / 1e9 / config.speed, config.max_gap_secs)
                planned_ns += round(gap_s * 1e9)
                wait_s = (planned_ns - self._clock.timestamp_ns()) / 1e9
                await asyncio.sleep(max(wait_s, 0.0))
            else:
                await asyncio.sleep(0)  # one loop turn: strategies and control run in between
                planned_ns = self._clock.timestamp_ns()
            previous_ts = ts_event
            self.lateness_ns.append(max(0, self._clock.timestamp_ns() - planned_ns))
            self._emit(ts_event, list(group))
        self.finished = True
        self._log.info(
            f"Replay finished: {self.emitted_bars:,} bars, {self.emitted_quotes:,} quotes"
        )
        self._msgbus.publish(
            REPLAY_FINISHED_TOPIC,
            json.dumps(
                {
                    "client_id": self.id.value,
                    "bars": self.emitted_bars,
                    "quotes": self.emitted_quotes,
                    "timestamps": count,
                    "late_max_ms": max(self.lateness_ns, default=0) / 1e6,
                }
            ),
        )

    def _emit(self, ts_event: int, events: Sequence[Bar | QuoteTick]) -> None:
        now = self._clock.timestamp_ns()
        config = self._replay_config
        bars = [e for e in events if isinstance(e, Bar)]
        if config.emit_quotes and config.quotes == "catalog":
            for q in events:
                if isinstance(q, QuoteTick):
                    self._handle_data(QuoteTick(
                        q.instrument_id, q.bid_price, q.ask_price, q.bid_size, q.ask_size,
                        ts_event, now,
                    ))  # fmt: skip
                    self.emitted_quotes += 1
        elif config.emit_quotes:
            quote = self._quote(ts_event, bars, now)
            if quote is not None:
                self._handle_data(quote)
                self.emitted_quotes += 1
        for bar in bars:
            if bar.bar_type not in self._subscribed:
                continue
            self._handle_data(
                Bar(bar.bar_type, bar.open, bar.high, bar.low, bar.close, bar.volume, ts_event, now)
            )
            self.emitted_bars += 1

    def _quote(self, ts_event: int, bars: Sequence[Bar], now: int) -> QuoteTick | None:
        bid = ask = None
        for bar in bars:
            price_type = bar.bar_type.spec.price_type
            if price_type == PriceType.BID:
                bid = bar.close
            elif price_type == PriceType.ASK:
                ask = bar.close
        if bid is None or ask is None:
            return None
        size = self._instrument.make_qty(self._replay_config.quote_size)
        return QuoteTick(self._instrument.id, bid, ask, size, size, ts_event, now)

    def _load_events_in_thread(self) -> list[Bar | QuoteTick] | str:
        """:meth:`_load_events` for a worker thread: a failure comes back as its one-line text.

        The exception must not leave the thread: its traceback holds the catalog's query
        session, which Nautilus 1.231 builds as a Rust object bound to the thread that made it;
        released on the event loop's thread it raises "unsendable, but is being dropped on
        another thread" (a second error, printed as unraisable). The frames are cleared here, so
        the session is dropped where it was made.
        """
        try:
            return self._load_events()
        except Exception as exc:
            error = _one_line(exc)
            _clear_frames(exc)
            return error

    def _load_events(self) -> list[Bar | QuoteTick]:
        """The bars (and, with ``quotes: catalog``, the recorded quotes) in time order: at one
        timestamp the catalog's order, quotes before bars."""
        config = self._replay_config
        start = _parse_time(config.start, "start") if config.start else None
        end = _parse_time(config.end, "end") if config.end else None
        bars: list[Bar] = self._catalog.bars(
            bar_types=[str(b) for b in self._bar_types], start=start, end=end
        )
        if not bars:
            raise ValueError(
                f"catalog {config.catalog_path} has no bars for {config.bar_types} between "
                f"{config.start or 'start'} and {config.end or 'end'}"
            )
        events: list[Bar | QuoteTick] = []
        if config.emit_quotes and config.quotes == "catalog":
            events.extend(
                self._catalog.quote_ticks(
                    instrument_ids=[config.instrument_id], start=start, end=end
                )
            )
            if not events:
                raise ValueError(
                    f"catalog {config.catalog_path} has no quote ticks for "
                    f"{config.instrument_id} between {config.start or 'start'} and "
                    f"{config.end or 'end'} (quotes: catalog)"
                )
        events.extend(bars)
        events.sort(key=lambda event: event.ts_event)  # stable: quotes first at one time
        return events


class ReplayDataClientFactory(LiveDataClientFactory):
    """Builds :class:`ReplayDataClient` for ``TradingNodeBuilder``."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: ReplayDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> ReplayDataClient:
        return ReplayDataClient(loop, ClientId(name), msgbus, cache, clock, config)


class ReplayLoadError(RuntimeError):
    """The catalog's bars or quotes could not be read for the replay (the message is the
    original error's type and text)."""


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ReplayLoadError):
        return str(exc)
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _clear_frames(exc: BaseException) -> None:
    """Release the locals of every frame in ``exc``'s traceback and in its causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]


def _load_instrument(catalog: ParquetDataCatalog, instrument_id: InstrumentId) -> Instrument:
    found = catalog.instruments(instrument_ids=[str(instrument_id)])
    if not found:
        raise ValueError(f"catalog {catalog.path} has no instrument {instrument_id}")
    instrument: Instrument = found[0]
    return instrument


def _parse_time(value: str, name: str) -> pd.Timestamp:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} has no time zone: {value!r} (append Z for UTC)")
    stamp = pd.Timestamp(moment)
    try:  # a year 2300 "no end": an OverflowError traceback out of the checks, before
        stamp.value  # noqa: B018 (nanoseconds since 1970, what the catalog is asked with)
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise ValueError(
            f"{name} {value!r} is outside the times a nanosecond timestamp holds "
            "(1677-09-21 to 2262-04-11); leave it out for no bound"
        ) from None
    return stamp
