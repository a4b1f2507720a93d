"""Decode Dukascopy ``.bi5`` files: LZMA-"alone" container, big-endian fixed-size records.

* Ticks, 20 bytes ``>IIIff``: ms since the hour, ask points, bid points, ask volume, bid volume.
* Candles, 24 bytes ``>IIIIIf``: seconds since the period start, open, CLOSE, LOW, HIGH (in that
  order, not OHLC), volume.

Records are viewed with ``np.frombuffer`` and a big-endian structured dtype: no Python loop per
record. A 0-byte file means "no data" and is never handed to LZMA. Volumes are float32 millions
of base units; they are converted to base units (integers) after rounding to float32's 7
significant digits, so ``293.76`` (stored as 293.760009765625) becomes 293,760,000 and sums of tick
volumes equal the candle volumes exactly.
"""

from __future__ import annotations

import lzma

import numpy as np

from nautilus_ai.data.arrays import BarArrays, FloatArray, QuoteArrays
from nautilus_ai.data.dukascopy.urls import DukascopyFile
from nautilus_ai.data.errors import DataFormatError

__all__ = [
    "CANDLE_DTYPE",
    "CANDLE_SECONDS",
    "TICK_DTYPE",
    "decode_candles",
    "decode_ticks",
    "decompress_bi5",
    "millions_to_units",
]

TICK_DTYPE = np.dtype(
    [("ms", ">u4"), ("ask", ">u4"), ("bid", ">u4"), ("ask_volume", ">f4"), ("bid_volume", ">f4")]
)
CANDLE_DTYPE = np.dtype(
    [
        ("seconds", ">u4"),
        ("open", ">u4"),
        ("close", ">u4"),
        ("low", ">u4"),
        ("high", ">u4"),
        ("volume", ">f4"),
    ]
)
_NS = 1_000_000_000


def decompress_bi5(data: bytes, file: DukascopyFile) -> bytes:
    """The raw records of a ``.bi5`` body; ``b""`` for an empty body (no data).

    Raises
    ------
    DataFormatError
        Corrupt or truncated LZMA stream, naming the file and its period.
    """
    if not data:
        return b""
    try:
        return lzma.decompress(data)
    except (lzma.LZMAError, EOFError) as exc:
        raise DataFormatError(
            file.key, None, f"{file.period}: corrupt or truncated LZMA data ({exc})"
        ) from exc


# 10**k for k = -12..12: the decimal exponent of a volume is found by a table search, which is
# several times faster than np.log10 on every value.
_POWERS = 10.0 ** np.arange(-12, 13)


def millions_to_units(volume: np.ndarray) -> FloatArray:
    """float32 volumes in millions -> whole base units, via float32's 7 significant digits."""
    v = volume.astype(np.float64)
    if v.size and (not np.all(np.isfinite(v)) or v.min() < 0):
        raise ValueError("negative or non-finite volume in a Dukascopy record")
    exponent = np.searchsorted(_POWERS, v, side="right") - 13  # floor(log10(v)) for v > 0
    factor = 10.0 ** (6 - np.clip(exponent, -12, 12))
    # Round to 7 significant digits (what a float32 really holds), then scale to units.
    return np.asarray(np.rint(np.rint(v * factor) / factor * 1e6), dtype=np.float64)


def _records(raw: bytes, dtype: np.dtype, file: DukascopyFile) -> np.ndarray:
    if len(raw) % dtype.itemsize:
        raise DataFormatError(
            file.key,
            None,
            f"{file.period}: {len(raw)} bytes is not a whole number of {dtype.itemsize}-byte "
            "records (truncated file?)",
        )
    return np.frombuffer(raw, dtype=dtype)


def decode_ticks(raw: bytes, file: DukascopyFile, scale: int) -> QuoteArrays:
    """Decompressed tick records of ``file`` -> UTC quotes (prices = points / ``scale``).

    Raises
    ------
    DataFormatError
        Partial records or a timestamp outside the file's hour.
    """
    records = _records(raw, TICK_DTYPE, file)
    ms = records["ms"].astype(np.int64)
    if len(ms) and int(ms.max()) >= 3_600_000:
        raise DataFormatError(
            file.key, None, f"{file.period}: tick time {int(ms.max())} ms is outside the hour"
        )
    try:
        bid_size = millions_to_units(records["bid_volume"])
        ask_size = millions_to_units(records["ask_volume"])
    except ValueError as exc:
        raise DataFormatError(file.key, None, f"{file.period}: {exc}") from exc
    return QuoteArrays(
        ts_event=file.start_ns + ms * 1_000_000,
        bid=records["bid"].astype(np.float64) / scale,
        ask=records["ask"].astype(np.float64) / scale,
        bid_size=bid_size,
        ask_size=ask_size,
    )


#: Bar length of each candle kind, in file-kind order (minute, hour, day).
CANDLE_SECONDS = {"m1": 60, "h1": 3600, "d1": 86400}


def decode_candles(raw: bytes, file: DukascopyFile, scale: int) -> BarArrays:
    """Decompressed candle records of ``file`` -> bars stamped at their CLOSE (UTC).

    Zero-volume flat candles (closed market) are kept here; the importers skip them by default.

    Raises
    ------
    DataFormatError
        Partial records or a time outside the file's period.
    """
    if file.kind == "ticks":
        raise ValueError(f"{file.key} is a tick file, not candles")
    records = _records(raw, CANDLE_DTYPE, file)
    seconds = records["seconds"].astype(np.int64)
    span = int((file.end - file.start).total_seconds())
    if len(seconds) and int(seconds.max()) >= span:
        raise DataFormatError(
            file.key, None, f"{file.period}: candle time {int(seconds.max())} s is outside it"
        )
    try:
        volume = millions_to_units(records["volume"])
    except ValueError as exc:
        raise DataFormatError(file.key, None, f"{file.period}: {exc}") from exc
    return BarArrays(
        ts_event=file.start_ns + (seconds + CANDLE_SECONDS[file.kind]) * _NS,
        open=records["open"].astype(np.float64) / scale,
        high=records["high"].astype(np.float64) / scale,
        low=records["low"].astype(np.float64) / scale,
        close=records["close"].astype(np.float64) / scale,
        volume=volume,
    )
