"""Nautilus glue: importers that read a source, validate it and write it to a catalog.

Each ``import_*`` function returns an :class:`ImportSummary`: what was read, what validation
found and did, what was written (and replaced), and every modelling assumption applied (derived
ASK bars, filled volumes), so a result built on the catalog can say what it rests on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nautilus_trader.model.instruments import Instrument

from nautilus_ai.data.arrays import BarArrays
from nautilus_ai.data.catalog import WriteResult, write_bars, write_instrument
from nautilus_ai.data.derive import ask_from_bid, fill_unknown_volume
from nautilus_ai.data.histdata import HISTDATA_CLOCK, read_histdata_m1
from nautilus_ai.data.instruments import fx_instrument
from nautilus_ai.data.symbols import FxPairSpec, fx_pair_spec
from nautilus_ai.data.validation import (
    BAR_POLICY,
    ValidationPolicy,
    ValidationReport,
    validate_bars,
)
from nautilus_ai.paths import default_catalog_dir

__all__ = [
    "ImportSummary",
    "describe_sources",
    "import_histdata_m1",
    "split_instrument_id",
    "write_bid_ask_bars",
]

PathsLike = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. ``to_dict()`` is JSON-ready; ``to_text()`` is for people."""

    format: str
    sources: tuple[str, ...]
    catalog_path: str
    instrument_id: str
    rows_read: int
    writes: tuple[WriteResult, ...] = ()
    validations: tuple[ValidationReport, ...] = ()
    assumptions: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    seconds: float = 0.0
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def rows_written(self) -> int:
        return sum(w.rows_written for w in self.writes)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "sources": list(self.sources),
            "catalog_path": self.catalog_path,
            "instrument_id": self.instrument_id,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "writes": [
                {
                    "identifier": w.identifier,
                    "path": w.path,
                    "rows_written": w.rows_written,
                    "rows_replaced": w.rows_replaced,
                    "start_ns": w.start_ns,
                    "end_ns": w.end_ns,
                }
                for w in self.writes
            ],
            "validations": [v.to_dict() for v in self.validations],
            "assumptions": list(self.assumptions),
            "failures": list(self.failures),
            "seconds": round(self.seconds, 3),
            **dict(self.extra),
        }

    def to_text(self) -> str:
        lines = [
            f"imported {self.format}: {len(self.sources)} file(s), {self.rows_read} rows read, "
            f"{self.rows_written} written to {self.catalog_path} in {self.seconds:.2f} s",
        ]
        for w in self.writes:
            lines.append(
                f"  {w.identifier}: {w.rows_written} rows"
                + (
                    f" ({w.rows_replaced} stored rows in the same range replaced)"
                    if w.rows_replaced
                    else ""
                )
            )
        for report in self.validations:
            lines.append(report.to_text())
        for assumption in self.assumptions:
            lines.append(f"  MODELLING ASSUMPTION: {assumption}")
        if self.failures:
            lines.append(f"  {len(self.failures)} failure(s):")
            lines.extend(f"    {f}" for f in self.failures)
        return "\n".join(lines)


def split_instrument_id(instrument_id: str) -> tuple[str, str]:
    """``"EUR/USD.SIM"`` -> ``("EUR/USD", "SIM")``."""
    symbol, dot, venue = instrument_id.rpartition(".")
    if not dot or not symbol or not venue:
        raise ValueError(f"instrument_id must look like 'EUR/USD.SIM', got {instrument_id!r}")
    return symbol, venue


def _instrument(instrument_id: str, table: Mapping[str, FxPairSpec] | None) -> Instrument:
    symbol, venue = split_instrument_id(instrument_id)
    return fx_instrument(symbol, venue, table=table)


def describe_sources(sources: tuple[str, ...]) -> str:
    """A short name for a list of files: the file itself, or ``first .. last (n files)``."""
    if len(sources) == 1:
        return sources[0]
    return f"{sources[0]} .. {Path(sources[-1]).name} ({len(sources)} files)"


def _sources(paths: PathsLike) -> tuple[str, ...]:
    if isinstance(paths, str | os.PathLike):
        return (str(paths),)
    return tuple(str(p) for p in paths)


def write_bid_ask_bars(
    catalog_path: Path,
    instrument: Instrument,
    bar_spec: str,
    bid: BarArrays,
    ask: BarArrays | None,
    *,
    ask_spread_pips: float | None,
    assumed_volume: float | None,
    pip_size: float,
) -> tuple[list[WriteResult], list[str]]:
    """Write BID (and real or derived ASK) bars; return the writes and assumptions applied."""
    assumptions: list[str] = []
    if assumed_volume is not None:
        bid = fill_unknown_volume(bid, assumed_volume)
        if ask is not None:
            ask = fill_unknown_volume(ask, assumed_volume)
        assumptions.append(
            f"bar volume 0 (not reported by the source) replaced by {assumed_volume:g}; "
            "Nautilus uses volume / 4 as the simulated top-of-book size"
        )
    if ask_spread_pips is not None:
        if ask is not None:
            raise ValueError("ask_spread_pips given, but the source has real ASK bars")
        ask = ask_from_bid(bid, ask_spread_pips, pip_size, instrument.price_precision)
        assumptions.append(
            f"ASK bars are NOT market data: derived as BID + a constant {ask_spread_pips:g} pip "
            f"spread ({bar_spec}-ASK-EXTERNAL), so the backtest engine can build quotes"
        )
    writes = [write_bars(catalog_path, instrument, f"{instrument.id}-{bar_spec}-BID-EXTERNAL", bid)]
    if ask is not None:
        writes.append(
            write_bars(catalog_path, instrument, f"{instrument.id}-{bar_spec}-ASK-EXTERNAL", ask)
        )
    write_instrument(catalog_path, instrument)
    return writes, assumptions


def import_histdata_m1(
    paths: PathsLike,
    catalog_path: str | os.PathLike[str] | None = None,
    *,
    instrument_id: str = "EUR/USD.SIM",
    ask_spread_pips: float | None = None,
    assumed_volume: float | None = None,
    policy: ValidationPolicy = BAR_POLICY,
    clock: str = HISTDATA_CLOCK,
    pair_table: Mapping[str, FxPairSpec] | None = None,
) -> ImportSummary:
    """Import HistData ASCII M1 BID bars into a catalog as ``<id>-1-MINUTE-BID-EXTERNAL``.

    Parameters
    ----------
    paths : path or paths
        ``DAT_ASCII_<SYM>_M1_<YYYYMM>.csv`` files.
    catalog_path : path, optional
        Default :func:`nautilus_ai.paths.default_catalog_dir` (``$NAUTILUS_AI_CATALOG``).
    instrument_id : str
        Nautilus instrument id; the symbol must be in the FX pair table.
    ask_spread_pips : float, optional
        If given, also write ``<id>-1-MINUTE-ASK-EXTERNAL`` bars = BID + this constant spread.
        MODELLING ASSUMPTION (HistData has no ASK): the summary says so. Needed for Nautilus'
        matching engine to fill orders on bars.
    assumed_volume : float, optional
        If given, bars with volume 0 (HistData never reports volume) get this volume.
        MODELLING ASSUMPTION, reported in the summary.
    policy : ValidationPolicy
        Validation actions (default drops duplicate / out-of-order / OHLC-inconsistent bars).
    clock : str
        Clock of the files (New York with DST, as measured).
    pair_table : mapping, optional
        Extra / overriding FX pair specs.

    Returns
    -------
    ImportSummary
        Importing the same files again replaces the same rows: the catalog ends the same.
    """
    started = time.perf_counter()
    catalog = default_catalog_dir(catalog_path)
    instrument = _instrument(instrument_id, pair_table)
    spec = fx_pair_spec(split_instrument_id(instrument_id)[0], pair_table)
    sources = _sources(paths)
    bars = read_histdata_m1(sources, clock=clock)
    kept, report = validate_bars(
        bars, policy, pip_size=spec.pip_size, source=describe_sources(sources)
    )
    writes, assumptions = write_bid_ask_bars(
        catalog,
        instrument,
        "1-MINUTE",
        kept,
        None,
        ask_spread_pips=ask_spread_pips,
        assumed_volume=assumed_volume,
        pip_size=spec.pip_size,
    )
    return ImportSummary(
        format="histdata-m1",
        sources=sources,
        catalog_path=str(catalog),
        instrument_id=str(instrument.id),
        rows_read=len(bars),
        writes=tuple(writes),
        validations=(report,),
        assumptions=tuple(assumptions),
        seconds=time.perf_counter() - started,
    )
