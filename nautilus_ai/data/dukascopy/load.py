"""Read cached Dukascopy files (any folder laid out like the datafeed) into columnar arrays.

A corrupt or truncated file becomes a :class:`LoadFailure` naming the file and its period; the
other files are still read. LZMA decompression releases the GIL, so files decode in parallel
threads; record decoding is one ``np.frombuffer`` per file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nautilus_ai.data.arrays import BarArrays, QuoteArrays
from nautilus_ai.data.dukascopy.decode import decode_candles, decode_ticks, decompress_bi5
from nautilus_ai.data.dukascopy.urls import DukascopyFile, parse_key
from nautilus_ai.data.errors import DataFormatError

__all__ = ["LoadFailure", "file_from_path", "find_files", "load_candles", "load_ticks"]

_Part = TypeVar("_Part", QuoteArrays, BarArrays)


@dataclass(frozen=True)
class LoadFailure:
    """A file that could not be read: its key, period and why."""

    key: str
    period: str
    error: str

    def __str__(self) -> str:
        return f"{self.key} ({self.period}): {self.error}"


def file_from_path(path: str | os.PathLike[str]) -> tuple[Path, DukascopyFile]:
    """``(cache_root, file)`` for a path ending in a datafeed key (``.../EURUSD/2019/...bi5``)."""
    parts = Path(path).resolve().parts
    for length in (5, 4, 3):
        if len(parts) <= length:
            continue
        try:
            file = parse_key("/".join(parts[-length:]))
        except ValueError:
            continue
        return Path(*parts[:-length]), file
    raise ValueError(f"{path}: not a Dukascopy datafeed file path (SYMBOL/YYYY/MM0/...bi5)")


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, DukascopyFile]]:
    """Expand files and folders into ``(cache_root, file)`` pairs, in time order."""
    found: list[tuple[Path, DukascopyFile]] = []
    for path in map(Path, paths):
        candidates = sorted(path.rglob("*.bi5")) if path.is_dir() else [path]
        found.extend(file_from_path(p) for p in candidates)
    found.sort(key=lambda pair: (pair[1].start, pair[1].kind, pair[1].side or ""))
    return found


def _read_one(root: Path, file: DukascopyFile) -> bytes | LoadFailure:
    path = root / file.key
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return LoadFailure(file.key, file.period, f"not in the cache at {path}")
    try:
        return decompress_bi5(body, file)
    except DataFormatError as exc:
        return LoadFailure(file.key, file.period, exc.reason)


def _decompress_all(
    pairs: Sequence[tuple[Path, DukascopyFile]], workers: int
) -> list[bytes | LoadFailure]:
    if workers <= 1 or len(pairs) < 2:
        return [_read_one(root, f) for root, f in pairs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda pair: _read_one(*pair), pairs))


def _decode_all(
    pairs: Sequence[tuple[Path, DukascopyFile]],
    workers: int,
    decode: Callable[[bytes, DukascopyFile], _Part],
) -> tuple[list[_Part], tuple[LoadFailure, ...]]:
    """Decompress and ``decode`` every file; a bad one becomes a failure, the rest still count."""
    parts: list[_Part] = []
    failures: list[LoadFailure] = []
    for (_, file), raw in zip(pairs, _decompress_all(pairs, workers), strict=True):
        if isinstance(raw, LoadFailure):
            failures.append(raw)
            continue
        try:
            parts.append(decode(raw, file))
        except DataFormatError as exc:
            failures.append(LoadFailure(file.key, file.period, exc.reason))
    return parts, tuple(failures)


def load_ticks(
    pairs: Sequence[tuple[Path, DukascopyFile]], scale: int, *, workers: int = 2
) -> tuple[QuoteArrays, tuple[LoadFailure, ...]]:
    """Decode tick files; returns the quotes (time order) and the files that failed."""
    for _, file in pairs:
        if file.kind != "ticks":
            raise ValueError(f"{file.key} is not a tick file")
    parts, failures = _decode_all(pairs, workers, lambda raw, file: decode_ticks(raw, file, scale))
    return QuoteArrays.concat(parts), failures


def load_candles(
    pairs: Sequence[tuple[Path, DukascopyFile]], scale: int, *, workers: int = 2
) -> tuple[BarArrays, tuple[LoadFailure, ...]]:
    """Decode candle files of ONE kind and side; returns the bars and the files that failed."""
    kinds = {(f.kind, f.side) for _, f in pairs}
    if len(kinds) > 1:
        raise ValueError(f"load_candles takes one kind and side at a time, got {sorted(kinds)}")
    parts, failures = _decode_all(
        pairs, workers, lambda raw, file: decode_candles(raw, file, scale)
    )
    return BarArrays.concat(parts), failures
