"""Dukascopy legacy datafeed file layout: one file per hour (ticks), day, month or year (candles).

``{SYM}/{YYYY}/{MM0}/{DD}/{HH}h_ticks.bi5`` and ``{SIDE}_candles_{min|hour|day}_1.bi5`` at the
day / month / year level. The month is ZERO-based (``01`` is February); days are 1-based; hours
are UTC. The same relative path names the file in the on-disk cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from nautilus_ai.data.dukascopy.scales import dukascopy_symbol

__all__ = [
    "DUKASCOPY_BASE_URL",
    "DukascopyFile",
    "Kind",
    "Side",
    "dukascopy_files",
    "parse_key",
]

DUKASCOPY_BASE_URL = "https://datafeed.dukascopy.com/datafeed"

Kind = Literal["ticks", "m1", "h1", "d1"]
Side = Literal["BID", "ASK"]
_CANDLE_NAME = {"m1": "min", "h1": "hour", "d1": "day"}


def _month_add(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


@dataclass(frozen=True, order=True)
class DukascopyFile:
    """One datafeed file.

    Parameters
    ----------
    symbol : str
        Dukascopy symbol, ``"EURUSD"``.
    kind : {"ticks", "m1", "h1", "d1"}
        Ticks (one file per hour) or candles (minute candles per day, hour per month, day per year).
    start : datetime
        UTC start of the file's period (aligned to it).
    side : {"BID", "ASK"} or None
        Candle side; ``None`` for ticks.
    """

    symbol: str
    kind: Kind
    start: datetime
    side: Side | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("ticks", "m1", "h1", "d1"):
            raise ValueError(f"DukascopyFile.kind must be ticks|m1|h1|d1, got {self.kind!r}")
        if (self.kind == "ticks") != (self.side is None):
            raise ValueError(
                f"DukascopyFile.side must be None for ticks and BID|ASK for candles, "
                f"got kind={self.kind!r} side={self.side!r}"
            )
        if self.side is not None and self.side not in ("BID", "ASK"):
            raise ValueError(f"DukascopyFile.side must be BID or ASK, got {self.side!r}")
        if self.start.tzinfo is None or self.start.utcoffset() != timedelta(0):
            raise ValueError(f"DukascopyFile.start must be UTC-aware, got {self.start!r}")
        aligned = {
            "ticks": self.start.replace(minute=0, second=0, microsecond=0),
            "m1": self.start.replace(hour=0, minute=0, second=0, microsecond=0),
            "h1": self.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
            "d1": self.start.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
        }[self.kind]
        if aligned != self.start:
            raise ValueError(
                f"DukascopyFile.start {self.start} is not aligned to a {self.kind} file"
            )

    @property
    def key(self) -> str:
        """Path relative to the datafeed root (and to the cache root)."""
        s = self.start
        if self.kind == "ticks":
            return (
                f"{self.symbol}/{s.year:04d}/{s.month - 1:02d}/{s.day:02d}/{s.hour:02d}h_ticks.bi5"
            )
        name = f"{self.side}_candles_{_CANDLE_NAME[self.kind]}_1.bi5"
        if self.kind == "m1":
            return f"{self.symbol}/{s.year:04d}/{s.month - 1:02d}/{s.day:02d}/{name}"
        if self.kind == "h1":
            return f"{self.symbol}/{s.year:04d}/{s.month - 1:02d}/{name}"
        return f"{self.symbol}/{s.year:04d}/{name}"

    @property
    def end(self) -> datetime:
        """UTC end of the file's period (exclusive)."""
        if self.kind == "ticks":
            return self.start + timedelta(hours=1)
        if self.kind == "m1":
            return self.start + timedelta(days=1)
        if self.kind == "h1":
            return _month_add(self.start, 1)
        return self.start.replace(year=self.start.year + 1)

    @property
    def start_ns(self) -> int:
        return int(self.start.timestamp()) * 1_000_000_000

    @property
    def period(self) -> str:
        """Human description for messages: ``EURUSD ticks 2019-02-04 08:00 UTC``."""
        fmt = {"ticks": "%Y-%m-%d %H:00", "m1": "%Y-%m-%d", "h1": "%Y-%m", "d1": "%Y"}[self.kind]
        side = f" {self.side}" if self.side else ""
        return f"{self.symbol} {self.kind}{side} {self.start.strftime(fmt)} UTC"

    def url(self, base_url: str = DUKASCOPY_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.key}"


def _floor(moment: datetime, kind: Kind) -> datetime:
    moment = moment.astimezone(UTC)
    if kind == "ticks":
        return moment.replace(minute=0, second=0, microsecond=0)
    if kind == "m1":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "h1":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def dukascopy_files(
    symbol: str,
    start: datetime,
    end: datetime,
    kind: Kind = "ticks",
    sides: tuple[Side, ...] = ("BID", "ASK"),
) -> Iterator[DukascopyFile]:
    """Every file whose period overlaps ``[start, end)`` (UTC-aware datetimes), in time order."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware (UTC)")
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    symbol = dukascopy_symbol(symbol)
    moment = _floor(start, kind)
    while moment < end:
        if kind == "ticks":
            yield DukascopyFile(symbol, kind, moment)
        else:
            for side in sides:
                yield DukascopyFile(symbol, kind, moment, side)
        moment = DukascopyFile(symbol, kind, moment, None if kind == "ticks" else "BID").end


def _side(text: str) -> Side:
    if text == "BID":
        return "BID"
    if text == "ASK":
        return "ASK"
    raise ValueError(f"candle side must be BID or ASK, got {text!r}")


def parse_key(key: str) -> DukascopyFile:
    """The inverse of :attr:`DukascopyFile.key` (for files found in a cache folder)."""
    parts = key.strip("/").split("/")
    name = parts[-1]
    try:
        symbol, year = parts[0], int(parts[1])
        if name.endswith("h_ticks.bi5") and len(parts) == 5:
            start = datetime(year, int(parts[2]) + 1, int(parts[3]), int(name[:2]), tzinfo=UTC)
            return DukascopyFile(symbol, "ticks", start)
        side_text, _, level, *_ = name.split("_")
        side = _side(side_text)
        if level == "min" and len(parts) == 5:
            start = datetime(year, int(parts[2]) + 1, int(parts[3]), tzinfo=UTC)
            return DukascopyFile(symbol, "m1", start, side)
        if level == "hour" and len(parts) == 4:
            return DukascopyFile(
                symbol, "h1", datetime(year, int(parts[2]) + 1, 1, tzinfo=UTC), side
            )
        if level == "day" and len(parts) == 3:
            return DukascopyFile(symbol, "d1", datetime(year, 1, 1, tzinfo=UTC), side)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"not a Dukascopy datafeed path: {key!r} ({exc})") from exc
    raise ValueError(f"not a Dukascopy datafeed path: {key!r}")
