"""Columnar containers for market data: plain numpy arrays, validated once at construction.

Every reader in :mod:`nautilus_ai.data` returns one of these, and every writer takes one, so the
parsers stay free of Nautilus objects and the hot paths stay vectorised. Timestamps are UTC
nanoseconds since the Unix epoch (``int64``). For bars, ``ts_event`` is the bar CLOSE time, the
Nautilus convention (a 1-minute bar that starts at 10:00 has ``ts_event`` 10:01).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BarArrays", "FloatArray", "IntArray", "QuoteArrays"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _check_columns(kind: str, columns: dict[str, np.ndarray], ts_name: str) -> None:
    n = len(columns[ts_name])
    for name, column in columns.items():
        if column.ndim != 1:
            raise ValueError(f"{kind}.{name} must be one-dimensional, got shape {column.shape}")
        if len(column) != n:
            raise ValueError(f"{kind}.{name} has {len(column)} rows, {ts_name} has {n}")
        expected = np.int64 if name == ts_name else np.float64
        if column.dtype != expected:
            raise TypeError(f"{kind}.{name} must be {np.dtype(expected)}, got {column.dtype}")


@dataclass(frozen=True, eq=False)
class BarArrays:
    """OHLCV bars as parallel arrays.

    Parameters
    ----------
    ts_event : ndarray of int64
        Bar close time, UTC ns since the epoch.
    open, high, low, close : ndarray of float64
        Prices.
    volume : ndarray of float64
        Traded or quoted volume in base units as the source reports it (0 when unknown).
    """

    ts_event: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        _check_columns(
            "BarArrays",
            {
                "ts_event": self.ts_event,
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            "ts_event",
        )

    def __len__(self) -> int:
        return len(self.ts_event)

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice) -> BarArrays:
        """A new ``BarArrays`` holding the rows selected by ``index`` (mask, indices or slice)."""
        return BarArrays(
            ts_event=self.ts_event[index],
            open=self.open[index],
            high=self.high[index],
            low=self.low[index],
            close=self.close[index],
            volume=self.volume[index],
        )

    @staticmethod
    def concat(parts: list[BarArrays]) -> BarArrays:
        """Concatenate in the given order (no sorting)."""
        if not parts:
            return BarArrays.empty()
        return BarArrays(
            ts_event=np.concatenate([p.ts_event for p in parts]),
            open=np.concatenate([p.open for p in parts]),
            high=np.concatenate([p.high for p in parts]),
            low=np.concatenate([p.low for p in parts]),
            close=np.concatenate([p.close for p in parts]),
            volume=np.concatenate([p.volume for p in parts]),
        )

    @staticmethod
    def empty() -> BarArrays:
        """A zero-length ``BarArrays``."""
        f = np.empty(0, dtype=np.float64)
        return BarArrays(np.empty(0, dtype=np.int64), f, f, f, f, f)


@dataclass(frozen=True, eq=False)
class QuoteArrays:
    """Top-of-book quotes (ticks) as parallel arrays.

    Parameters
    ----------
    ts_event : ndarray of int64
        Quote time, UTC ns since the epoch.
    bid, ask : ndarray of float64
        Prices.
    bid_size, ask_size : ndarray of float64
        Sizes in base units as the source reports them (0 when unknown).
    """

    ts_event: IntArray
    bid: FloatArray
    ask: FloatArray
    bid_size: FloatArray
    ask_size: FloatArray

    def __post_init__(self) -> None:
        _check_columns(
            "QuoteArrays",
            {
                "ts_event": self.ts_event,
                "bid": self.bid,
                "ask": self.ask,
                "bid_size": self.bid_size,
                "ask_size": self.ask_size,
            },
            "ts_event",
        )

    def __len__(self) -> int:
        return len(self.ts_event)

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice) -> QuoteArrays:
        """A new ``QuoteArrays`` holding the rows selected by ``index``."""
        return QuoteArrays(
            ts_event=self.ts_event[index],
            bid=self.bid[index],
            ask=self.ask[index],
            bid_size=self.bid_size[index],
            ask_size=self.ask_size[index],
        )

    @staticmethod
    def concat(parts: list[QuoteArrays]) -> QuoteArrays:
        """Concatenate in the given order (no sorting)."""
        if not parts:
            return QuoteArrays.empty()
        return QuoteArrays(
            ts_event=np.concatenate([p.ts_event for p in parts]),
            bid=np.concatenate([p.bid for p in parts]),
            ask=np.concatenate([p.ask for p in parts]),
            bid_size=np.concatenate([p.bid_size for p in parts]),
            ask_size=np.concatenate([p.ask_size for p in parts]),
        )

    @staticmethod
    def empty() -> QuoteArrays:
        """A zero-length ``QuoteArrays``."""
        f = np.empty(0, dtype=np.float64)
        return QuoteArrays(np.empty(0, dtype=np.int64), f, f, f, f)
