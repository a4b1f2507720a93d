"""Nautilus glue: importers that read a source, validate it and merge it into a catalog.

Each ``import_*`` function returns an :class:`ImportSummary`: what was read, what validation
found and did, what the merge did per series (rows added / changed / unchanged / kept, conflicts,
sources mixed), and every modelling assumption applied (derived ASK bars, filled volumes), so a
result built on the catalog can say what it rests on.

Every importer takes ``on_conflict`` (``"error"``, the default: a stored row that the new data
contradicts stops the import before anything is written; ``"replace"``; ``"keep"``) and
``dry_run`` (plan the same merge, report the same counts, write nothing). All series of one
import are planned before any is written (see :func:`nautilus_ai.data.catalog.write_series`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nautilus_trader.model.instruments import Instrument

from nautilus_ai.data.aggregate import PriceSide, bars_covered, bars_from_quotes
from nautilus_ai.data.arrays import BarArrays, QuoteArrays
from nautilus_ai.data.catalog import (
    SeriesData,
    WriteResult,
    bars_series,
    quotes_series,
    write_series,
)
from nautilus_ai.data.derive import ask_from_bid, fill_unknown_volume
from nautilus_ai.data.dukascopy.decode import CANDLE_SECONDS
from nautilus_ai.data.dukascopy.load import LoadFailure, find_files, load_candles, load_ticks
from nautilus_ai.data.dukascopy.scales import price_scale
from nautilus_ai.data.generic_csv import CsvSpec, read_csv_bars, read_csv_quotes
from nautilus_ai.data.histdata import HISTDATA_CLOCK, read_histdata_m1, read_histdata_ticks
from nautilus_ai.data.instruments import fx_instrument
from nautilus_ai.data.lean import (
    LEAN_BAR_SECONDS,
    LeanResolution,
    lean_layout,
    read_lean_bars,
    read_lean_ticks,
)
from nautilus_ai.data.merge import DEFAULT_CONFLICT_POLICY, ConflictPolicy, check_conflict_policy
from nautilus_ai.data.store import SourceInfo
from nautilus_ai.data.symbols import (
    DEFAULT_FX_PAIRS,
    FxPairSpec,
    fx_pair_spec,
    normalize_fx_symbol,
)
from nautilus_ai.data.validation import (
    BAR_POLICY,
    QUOTE_POLICY,
    ValidationPolicy,
    ValidationReport,
    price_level_problem,
    validate_bars,
    validate_bid_ask_bars,
    validate_quotes,
)
from nautilus_ai.paths import default_catalog_dir

__all__ = [
    "ImportSummary",
    "Progress",
    "bar_spec_for",
    "check_bar_sides",
    "check_batch",
    "check_quote_sides",
    "describe_sources",
    "import_csv",
    "import_dukascopy",
    "import_histdata_m1",
    "import_histdata_ticks",
    "import_lean",
    "split_instrument_id",
]

PathsLike = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
# Stage messages for long imports ("reading 48 files", ...); the CLI prints them to stderr.
Progress = Callable[[str], None]


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
    on_conflict: str = DEFAULT_CONFLICT_POLICY
    dry_run: bool = False

    @property
    def rows_written(self) -> int:
        """New or changed rows that went into the catalog (would, in a dry run)."""
        return sum(w.rows_written for w in self.writes)

    def total(self, name: str) -> int:
        """Sum of one :class:`WriteResult` count (``"added"``, ``"kept"``...) over the series."""
        return sum(int(getattr(w, name)) for w in self.writes)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "sources": list(self.sources),
            "catalog_path": self.catalog_path,
            "instrument_id": self.instrument_id,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "dry_run": self.dry_run,
            "on_conflict": self.on_conflict,
            **{name: self.total(name) for name in ("added", "changed", "unchanged", "kept")},
            "writes": [w.to_dict() for w in self.writes],
            "validations": [v.to_dict() for v in self.validations],
            "assumptions": list(self.assumptions),
            "failures": list(self.failures),
            "seconds": round(self.seconds, 3),
            **dict(self.extra),
        }

    def to_text(self) -> str:
        verb = "DRY RUN (nothing written), would import" if self.dry_run else "imported"
        lines = [
            f"{verb} {self.format}: {len(self.sources)} file(s), {self.rows_read} rows read, "
            f"{self.rows_written} new or changed rows into {self.catalog_path} "
            f"in {self.seconds:.2f} s (--on-conflict {self.on_conflict})",
        ]
        lines.extend(w.to_text() for w in self.writes)
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
    if not dot or not symbol or not venue or any(c.isspace() for c in instrument_id):
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


def _once(sources: tuple[str, ...]) -> tuple[str, ...]:
    """``sources``, refused if one file is named twice (overlapping globs, say): its rows would
    be read twice, the second copy dropped as out of order except rows at its last timestamp,
    which a tick series would then store twice."""
    seen: dict[str, str] = {}
    for source in sources:
        key = os.path.realpath(source)
        if key in seen:
            raise ValueError(f"{source}: the same file is given twice (also as {seen[key]})")
        seen[key] = source
    return sources


def _check_assumption(name: str, value: float | None, *, zero: bool) -> None:
    """A modelling assumption's number, checked before any file is read, naming its flag (the
    later check said 'spread_pips must be ...', naming no flag)."""
    if value is None:
        return
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _refuse_copies(sources: tuple[str, ...]) -> None:
    """Refuse two files of identical content under different names (``x (1).csv`` downloaded
    again): read twice like a file named twice. Only files of equal size are compared; not
    Dukascopy's ``.bi5``, whose time is in the path (two closed hours are both empty)."""
    by_size: dict[int, list[str]] = {}
    for source in sources:
        if source.lower().endswith(".bi5") or not os.path.isfile(source):
            continue  # a folder (Dukascopy) or a missing file (named by its reader)
        with contextlib.suppress(OSError):
            size = os.path.getsize(source)
            if size:
                by_size.setdefault(size, []).append(source)
    for group in by_size.values():
        if len(group) < 2:
            continue
        digests: dict[bytes, str] = {}
        for source in group:
            with open(source, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").digest()
            if digest in digests:
                raise ValueError(
                    f"{source}: the same content as {digests[digest]} (a copy under another "
                    "name?): its rows would be read twice; give one of them"
                )
            digests[digest] = source


def _sources(paths: PathsLike) -> tuple[str, ...]:
    if isinstance(paths, str | os.PathLike):
        return (str(paths),)
    return _once(tuple(str(p) for p in paths))


def bar_spec_for(seconds: int) -> str:
    """Nautilus bar spec step for a bar length: 60 -> ``1-MINUTE``, 3600 -> ``1-HOUR``."""
    if seconds <= 0:
        raise ValueError(f"bar length must be > 0 seconds, got {seconds}")
    for unit, size in (("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60)):
        if seconds % size == 0:
            return f"{seconds // size}-{unit}"
    return f"{seconds}-SECOND"


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


@dataclass(frozen=True)
class _Writing:
    """How an import writes: the conflict policy and whether it is a dry run."""

    on_conflict: ConflictPolicy
    dry_run: bool

    @classmethod
    def of(cls, on_conflict: str, dry_run: bool) -> _Writing:
        return cls(check_conflict_policy(on_conflict), bool(dry_run))


def _names(sources: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(Path(s).name for s in sources)


class _Context:
    """Common import state: catalog, instrument, pair spec, timing and what was done."""

    def __init__(
        self,
        format: str,
        sources: tuple[str, ...],
        catalog_path: str | os.PathLike[str] | None,
        instrument_id: str,
        pair_table: Mapping[str, FxPairSpec] | None,
        progress: Progress | None,
        writing: _Writing,
        source: str | None = None,
    ) -> None:
        self.started = time.perf_counter()
        self.format = format
        # After the files' pair is checked (a copy renamed to another pair is named as such).
        _refuse_copies(sources)
        self.sources = sources
        self.catalog = default_catalog_dir(catalog_path)
        self.instrument = _instrument(instrument_id, pair_table)
        self.spec = fx_pair_spec(split_instrument_id(instrument_id)[0], pair_table)
        # The price-level check knows the default table's pairs; a pair the user adds or
        # redefines (an exotic) is trusted as given.
        pair = normalize_fx_symbol(split_instrument_id(instrument_id)[0])
        self.check_level = pair_table is None or pair not in pair_table
        self.progress = progress
        self.writing = writing
        self.source = SourceInfo(source or format, describe_sources(_names(sources)))
        self.series: list[SeriesData] = []
        self.validations: list[ValidationReport] = []
        self.assumptions: list[str] = []
        self.failures: list[str] = []
        self.rows_read = 0
        self.extra: dict[str, object] = {}

    @property
    def name(self) -> str:
        return describe_sources(self.sources)

    def say(self, message: str) -> None:
        _say(self.progress, message)

    def checked_quotes(
        self, quotes: QuoteArrays, policy: ValidationPolicy, source: str | None = None
    ) -> QuoteArrays:
        """Count ``quotes`` as read, validate them (keeping the report); the quotes to write."""
        self.rows_read += len(quotes)
        kept, report = validate_quotes(
            quotes,
            policy,
            pip_size=self.spec.pip_size,
            source=self.name if source is None else source,
        )
        self.validations.append(report)
        return kept

    def checked_bars(self, bars: BarArrays, policy: ValidationPolicy) -> BarArrays:
        """Count ``bars`` as read, validate them (keeping the report); the bars to write."""
        self.rows_read += len(bars)
        kept, report = validate_bars(bars, policy, pip_size=self.spec.pip_size, source=self.name)
        self.validations.append(report)
        return kept

    def bars(
        self,
        bar_spec: str,
        bid: BarArrays | None,
        ask: BarArrays | None = None,
        *,
        other: Mapping[str, BarArrays] | None = None,
        ask_spread_pips: float | None = None,
        assumed_volume: float | None = None,
    ) -> None:
        """Write BID / ASK (real or derived) / other price-type bars of one bar spec."""
        series: dict[str, BarArrays] = dict(other or {})
        if bid is not None:
            series["BID"] = bid
        if ask is not None:
            series["ASK"] = ask
        if assumed_volume is not None:
            # Sizes are stored rounded to the instrument's size precision: 0.4 at precision 0
            # would be stored as the very 0 this option replaces, under a summary saying 0.4.
            precision = self.instrument.size_precision
            if np.isfinite(assumed_volume) and round(assumed_volume, precision) != assumed_volume:
                raise ValueError(
                    f"assumed_volume {assumed_volume:g} has more decimals than {self.instrument.id}"
                    f"'s sizes ({precision}): it would be stored as "
                    f"{round(assumed_volume, precision):g}"
                )
            series = {k: fill_unknown_volume(v, assumed_volume) for k, v in series.items()}
            self.assumptions.append(
                f"bar volume 0 (not reported by the source) replaced by {assumed_volume:g}; "
                "Nautilus uses volume / 4 as the simulated top-of-book size"
            )
        if "BID" in series and "ASK" in series:
            check_bar_sides(series["BID"], series["ASK"], bar_spec, self.name)
        if ask_spread_pips is not None:
            if "ASK" in series:
                raise ValueError("ask_spread_pips given, but the source has real ASK bars")
            if "BID" not in series:
                raise ValueError("ask_spread_pips needs BID bars to derive ASK bars from")
            try:
                series["ASK"] = ask_from_bid(
                    series["BID"],
                    ask_spread_pips,
                    self.spec.pip_size,
                    self.instrument.price_precision,
                )
            except ValueError as exc:
                raise ValueError(f"--ask-spread-pips (ask_spread_pips): {exc}") from None
            self.assumptions.append(
                f"ASK bars are NOT market data: derived as BID + a constant {ask_spread_pips:g} "
                f"pip spread ({bar_spec}-ASK-EXTERNAL), so the backtest engine can build quotes"
            )
        for price_type in sorted(series):
            arrays = series[price_type]
            self._check_level(arrays.close)
            if len(arrays) == 0:
                self.failures.append(f"no {bar_spec}-{price_type} bars left to write")
                continue
            bar_type = f"{self.instrument.id}-{bar_spec}-{price_type}-EXTERNAL"
            self.series.append(bars_series(self.instrument, bar_type, arrays))

    def _check_level(self, prices: np.ndarray) -> None:
        if self.check_level:
            problem = price_level_problem(prices, self.spec.pip_size, str(self.instrument.id))
            if problem is not None:
                raise ValueError(f"{self.name}: {problem}; nothing was written")

    def quotes(self, quotes: QuoteArrays) -> None:
        self._check_level(quotes.bid)
        check_quote_sides(quotes, self.name)
        if len(quotes) == 0:
            self.failures.append("no quotes left to write")
            return
        self.series.append(quotes_series(self.instrument, quotes))

    def finish(self) -> ImportSummary:
        writes: tuple[WriteResult, ...] = ()
        if self.series:
            rows = sum(s.table.num_rows for s in self.series)
            self.say(
                f"merging {rows} rows of {len(self.series)} series into {self.catalog}"
                + (" (dry run)" if self.writing.dry_run else "")
            )
            writes = write_series(
                self.catalog,
                self.series,
                on_conflict=self.writing.on_conflict,
                source=self.source,
                instrument=self.instrument,
                dry_run=self.writing.dry_run,
                progress=self.progress,
            )
        return ImportSummary(
            format=self.format,
            sources=self.sources,
            catalog_path=str(self.catalog),
            instrument_id=str(self.instrument.id),
            rows_read=self.rows_read,
            writes=writes,
            validations=tuple(self.validations),
            assumptions=tuple(self.assumptions),
            failures=tuple(self.failures),
            seconds=time.perf_counter() - self.started,
            extra=self.extra,
            on_conflict=self.writing.on_conflict,
            dry_run=self.writing.dry_run,
        )


# HistData's own file names carry the pair: DAT_ASCII_EURUSD_M1_201701.csv, DAT_ASCII_EURUSD_T_...
_HISTDATA_NAME = re.compile(r"^DAT_ASCII_([A-Za-z]{6})_(?:M1|T)_", re.IGNORECASE)


def _histdata_instrument_id(sources: tuple[str, ...], instrument_id: str | None, venue: str) -> str:
    """The instrument id for HistData files: ``instrument_id`` if given, else ``<PAIR>.<venue>``
    from HistData's file names (``EUR/USD.<venue>`` for files not named the HistData way).

    Raises ValueError if the file names name several pairs, or another pair than
    ``instrument_id``: such rows would be stored under the wrong instrument.
    """
    symbols = set()
    for source in sources:
        match = _HISTDATA_NAME.match(Path(source).name)
        if match:
            symbols.add(match.group(1).upper())
    return _instrument_id_of_files(
        symbols, instrument_id, venue, several="HistData files of several pairs", default="EURUSD"
    )


def _instrument_id_of_files(
    symbols: set[str],
    instrument_id: str | None,
    venue: str,
    *,
    several: str,
    default: str | None = None,
) -> str:
    """The instrument id for files that name their pair (``symbols``, e.g. ``{"EURUSD"}``):
    ``instrument_id`` if given and of that pair, else ``<PAIR>.<venue>``; ``default`` is the pair
    when the files name none (None: they must name one).

    Raises ValueError (``several`` leads the message) for several pairs, or for an
    ``instrument_id`` of another pair than the files'.
    """
    if len(symbols) > 1 or (not symbols and default is None):
        raise ValueError(f"{several} {sorted(symbols)}: one at a time")
    symbol = next(iter(symbols)) if symbols else None
    if instrument_id is not None:
        if (
            symbol is not None
            and normalize_fx_symbol(split_instrument_id(instrument_id)[0]) != symbol
        ):
            raise ValueError(f"instrument_id {instrument_id!r} does not match the files' {symbol}")
        return instrument_id
    pair = symbol or str(default)
    return f"{pair[:3]}/{pair[3:]}.{venue}"


def import_histdata_m1(
    paths: PathsLike,
    catalog_path: str | os.PathLike[str] | None = None,
    *,
    instrument_id: str | None = None,
    venue: str = "SIM",
    ask_spread_pips: float | None = None,
    assumed_volume: float | None = None,
    policy: ValidationPolicy = BAR_POLICY,
    clock: str = HISTDATA_CLOCK,
    pair_table: Mapping[str, FxPairSpec] | None = None,
    progress: Progress | None = None,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
) -> ImportSummary:
    """Import HistData ASCII M1 BID bars into a catalog as ``<id>-1-MINUTE-BID-EXTERNAL``.

    Parameters
    ----------
    paths : path or paths
        ``DAT_ASCII_<SYM>_M1_<YYYYMM>.csv`` files.
    catalog_path : path, optional
        Default :func:`nautilus_ai.paths.default_catalog_dir` (``$NAUTILUS_AI_CATALOG``).
    instrument_id : str, optional
        Nautilus instrument id; the symbol must be in the FX pair table. Default
        ``<PAIR>.<venue>`` from HistData's file names (``DAT_ASCII_EURUSD_M1_...``), else
        ``EUR/USD.<venue>``; an id of another pair than the file names' is refused.
    venue : str
        Venue of the default instrument id.
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
    progress : callable, optional
        Receives stage messages.
    on_conflict : {"error", "replace", "keep"}
        A stored bar at the same timestamp with a different value: stop the import before
        anything is written (the default), replace it, or keep it. Stored bars at timestamps
        the files do not contain are always kept.
    dry_run : bool
        Report what the import would do; write nothing.

    Returns
    -------
    ImportSummary
        Importing the same files again adds and changes nothing (every row "unchanged").
    """
    _check_assumption("--ask-spread-pips (ask_spread_pips)", ask_spread_pips, zero=True)
    _check_assumption("--assumed-volume (assumed_volume)", assumed_volume, zero=False)
    sources = _sources(paths)
    ctx = _Context(
        "histdata-m1",
        sources,
        catalog_path,
        _histdata_instrument_id(sources, instrument_id, venue),
        pair_table,
        progress,
        _Writing.of(on_conflict, dry_run),
    )
    ctx.say(f"reading {len(ctx.sources)} HistData M1 file(s)")
    kept = ctx.checked_bars(read_histdata_m1(ctx.sources, clock=clock), policy)
    ctx.bars("1-MINUTE", kept, ask_spread_pips=ask_spread_pips, assumed_volume=assumed_volume)
    return ctx.finish()


def import_histdata_ticks(
    paths: PathsLike,
    catalog_path: str | os.PathLike[str] | None = None,
    *,
    instrument_id: str | None = None,
    venue: str = "SIM",
    policy: ValidationPolicy = QUOTE_POLICY,
    clock: str = HISTDATA_CLOCK,
    pair_table: Mapping[str, FxPairSpec] | None = None,
    progress: Progress | None = None,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
) -> ImportSummary:
    """Import HistData ASCII tick files as Nautilus ``QuoteTick`` s (sizes 0: not reported).

    The instrument id defaults as in :func:`import_histdata_m1` (from the file names).
    """
    sources = _sources(paths)
    ctx = _Context(
        "histdata-ticks",
        sources,
        catalog_path,
        _histdata_instrument_id(sources, instrument_id, venue),
        pair_table,
        progress,
        _Writing.of(on_conflict, dry_run),
    )
    ctx.say(f"reading {len(ctx.sources)} HistData tick file(s)")
    ctx.quotes(ctx.checked_quotes(read_histdata_ticks(ctx.sources, clock=clock), policy))
    return ctx.finish()


def _lean_instrument_id(paths: tuple[str, ...], instrument_id: str | None, venue: str) -> str:
    symbols = {normalize_fx_symbol(lean_layout(p).symbol) for p in paths}
    return _instrument_id_of_files(
        symbols, instrument_id, venue, several="LEAN files of several symbols"
    )


def _lean_batch(sources: tuple[str, ...]) -> LeanResolution:
    """The one resolution of a batch of LEAN files, which must also come from one market."""
    resolutions = {lean_layout(p).resolution for p in sources}
    if len(resolutions) != 1:
        raise ValueError(f"LEAN files of several resolutions {sorted(resolutions)}: one at a time")
    # One vendor per import: their clocks differ (OANDA UTC, FXCM UTC-5) and a mixed batch
    # would interleave two vendors' rows into one series under the first one's name.
    markets = {lean_layout(p).market for p in sources}
    if len(markets) != 1:
        raise ValueError(f"LEAN files of several markets {sorted(markets)}: import one at a time")
    return resolutions.pop()


def check_batch(
    format: str, paths: PathsLike, *, instrument_id: str | None = None, venue: str = "SIM"
) -> str:
    """The checks an import makes on its files before reading them, for a reader that does not
    import (``nautilus-ai data validate``); returns the instrument id the import would use.

    ``format`` is ``histdata-m1``, ``histdata-ticks``, ``lean``, ``csv`` or ``dukascopy``.
    Validating a batch that the import refuses (a file given twice or under two names, files
    of several pairs, LEAN files of several markets or resolutions, an ``instrument_id`` of
    another pair) reported rows 'dropped as out of order' or one series of two vendors, exit 0.

    Raises
    ------
    ValueError
        Naming what is wrong with the batch, as the import would.
    """
    sources = _sources(paths)
    if format == "dukascopy":
        found = find_files(sources)
        if not found:
            raise ValueError(f"no .bi5 files in {describe_sources(sources)}")
        _once(tuple(str(root / f.key) for root, f in found))
        return _instrument_id_of_files(
            {f.symbol for _, f in found},
            instrument_id,
            venue,
            several="Dukascopy files of several symbols",
        )
    if format in ("histdata-m1", "histdata-ticks"):
        found_id = _histdata_instrument_id(sources, instrument_id, venue)
    elif format == "lean":
        _lean_batch(sources)
        found_id = _lean_instrument_id(sources, instrument_id, venue)
    elif format == "csv":
        if instrument_id is None:
            raise ValueError("csv needs an instrument_id (the files do not name their pair)")
        _check_pair_of_csv_names(sources, instrument_id, None)
        found_id = instrument_id
    else:
        raise ValueError(f"unknown format {format!r}")
    # After the files' pair check, as in the import (a copy renamed to another pair's name is
    # named as files of several pairs).
    _refuse_copies(sources)
    return found_id


def import_lean(
    paths: PathsLike,
    catalog_path: str | os.PathLike[str] | None = None,
    *,
    instrument_id: str | None = None,
    venue: str = "SIM",
    clock: str | None = None,
    bar_policy: ValidationPolicy = BAR_POLICY,
    quote_policy: ValidationPolicy = QUOTE_POLICY,
    pair_table: Mapping[str, FxPairSpec] | None = None,
    progress: Progress | None = None,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
) -> ImportSummary:
    """Import QuantConnect LEAN forex zips: ticks as quotes; minute/hour/daily bars as BID + ASK.

    Parameters
    ----------
    paths : path or paths
        LEAN zips of one resolution and symbol (e.g. ``.../oanda/hour/eurusd.zip``).
    instrument_id : str, optional
        Default ``<PAIR>.<venue>`` from the file's symbol (``EUR/USD.SIM``); an id of another
        pair than the files' is refused.
    clock : str, optional
        Default from the market folder: OANDA UTC, FXCM UTC-5 fixed.
    bar_policy, quote_policy : ValidationPolicy
        Validation of bars (BID and ASK checked together, crossed closes included) and ticks.
    """
    sources = _sources(paths)
    resolution = _lean_batch(sources)
    ctx = _Context(
        f"lean-{resolution}",
        sources,
        catalog_path,
        _lean_instrument_id(sources, instrument_id, venue),
        pair_table,
        progress,
        _Writing.of(on_conflict, dry_run),
        source=f"lean-{resolution}:{lean_layout(sources[0]).market}",
    )
    ctx.say(f"reading {len(sources)} LEAN {resolution} file(s)")
    if resolution == "tick":
        ctx.quotes(ctx.checked_quotes(read_lean_ticks(sources, clock=clock), quote_policy))
        return ctx.finish()
    bid, ask = read_lean_bars(sources, resolution=resolution, clock=clock)
    ctx.rows_read = len(bid)
    kept_bid, kept_ask, report = validate_bid_ask_bars(
        bid, ask, bar_policy, pip_size=ctx.spec.pip_size, source=ctx.name
    )
    ctx.validations.append(report)
    ctx.bars(bar_spec_for(LEAN_BAR_SECONDS[resolution]), kept_bid, kept_ask)
    return ctx.finish()


def import_dukascopy(
    paths: PathsLike,
    catalog_path: str | os.PathLike[str] | None = None,
    *,
    instrument_id: str | None = None,
    venue: str = "SIM",
    write_ticks: bool = True,
    bars_from_ticks: Sequence[tuple[int, PriceSide]] = (),
    keep_flats: bool = False,
    bar_policy: ValidationPolicy = BAR_POLICY,
    quote_policy: ValidationPolicy = QUOTE_POLICY,
    scale_table: Mapping[str, int] | None = None,
    pair_table: Mapping[str, FxPairSpec] | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
) -> ImportSummary:
    """Import cached Dukascopy ``.bi5`` files (files or folders laid out like the datafeed).

    Tick files become ``QuoteTick`` s (``write_ticks``) and, on request, bars built from the
    ticks (``bars_from_ticks=[(60, "BID"), (60, "ASK"), (60, "MID")]``). Candle files become
    BID / ASK bars of their period; zero-volume flat candles (closed market) are skipped unless
    ``keep_flats``. A corrupt or truncated file is listed in ``summary.failures`` with its period
    and the other files are still imported.
    """
    sources = _sources(paths)
    found = find_files(sources)
    if not found:
        raise ValueError(f"no .bi5 files in {describe_sources(sources)}")
    ctx = _Context(
        "dukascopy",
        _once(tuple(str(root / f.key) for root, f in found)),
        catalog_path,
        _instrument_id_of_files(
            {f.symbol for _, f in found},
            instrument_id,
            venue,
            several="Dukascopy files of several symbols",
        ),
        pair_table,
        progress,
        _Writing.of(on_conflict, dry_run),
    )
    scale = price_scale(next(iter({f.symbol for _, f in found})), scale_table)
    failures: list[LoadFailure] = []
    ticks = [pair for pair in found if pair[1].kind == "ticks"]
    # Asked-for work that these files cannot do would otherwise be skipped without a word.
    if bars_from_ticks and not ticks:
        raise ValueError("bars_from_ticks (--bars) builds bars from tick files: none given")
    if ticks and not write_ticks and not bars_from_ticks:
        raise ValueError(
            f"write_ticks=False (--no-ticks) and no bars_from_ticks (--bars): the {len(ticks)} "
            "tick file(s) would write nothing"
        )
    if ticks:
        ctx.say(f"decoding {len(ticks)} tick file(s)")
        quotes, failed = load_ticks(ticks, scale, workers=workers)
        failures.extend(failed)
        kept = ctx.checked_quotes(quotes, quote_policy, source=f"{len(ticks)} tick files")
        if write_ticks:
            ctx.quotes(kept)
        unread = {f.key for f in failed}
        read = np.array([f.start_ns for _, f in ticks if f.key not in unread], dtype=np.int64)
        for seconds, side in bars_from_ticks:
            bars = bars_from_quotes(
                kept, seconds * 1_000_000_000, side, precision=ctx.instrument.price_precision
            )
            # Only bars whose whole period the tick files cover: a daily bar from half a day's
            # files would be stored with a wrong open / high / low / close.
            whole = bars_covered(bars.ts_event, seconds * 1_000_000_000, read, 3_600_000_000_000)
            if not whole.all():
                start = int(bars.ts_event[np.flatnonzero(~whole)[0]]) - seconds * 1_000_000_000
                first = f"{str(np.datetime64(start, 'ns'))[:19]}Z"
                ctx.failures.append(
                    f"{int((~whole).sum())} {bar_spec_for(seconds)}-{side} bar(s) not built: the "
                    f"tick files cover only part of their period (first from {first}); "
                    "import every hour of it together"
                )
                bars = bars.take(whole)
            ctx.bars(bar_spec_for(seconds), None, other={side: bars})
    policy = bar_policy if keep_flats else bar_policy.with_actions(flat="drop")
    for kind, seconds in CANDLE_SECONDS.items():
        sides: dict[str, BarArrays] = {}
        for candle_side in ("BID", "ASK"):
            group = [p for p in found if p[1].kind == kind and p[1].side == candle_side]
            if not group:
                continue
            ctx.say(f"decoding {len(group)} {candle_side} {kind} candle file(s)")
            candles, failed = load_candles(group, scale, workers=workers)
            failures.extend(failed)
            ctx.rows_read += len(candles)
            sides[candle_side] = candles
        if not sides:
            continue
        if len(sides) == 2 and np.array_equal(sides["BID"].ts_event, sides["ASK"].ts_event):
            bid, ask, report = validate_bid_ask_bars(
                sides["BID"], sides["ASK"], policy, pip_size=ctx.spec.pip_size, source=kind
            )
            ctx.validations.append(report)
            ctx.bars(bar_spec_for(seconds), bid, ask)
            continue
        for side_name, bars in sides.items():
            kept_bars, report = validate_bars(
                bars, policy, pip_size=ctx.spec.pip_size, source=f"{kind} {side_name}"
            )
            ctx.validations.append(report)
            ctx.bars(bar_spec_for(seconds), None, other={side_name: kept_bars})
    ctx.failures.extend(str(f) for f in failures)
    return ctx.finish()


def check_quote_sides(quotes: QuoteArrays, name: str) -> None:
    """Refuse quotes whose two sides cannot be a market: most of them crossed (bid / ask
    columns swapped) or most of them locked (one column read as both sides, the ask a copy of
    the bid). Stored, exit 0, they were a market of negative spreads or of none at all."""
    # Real feeds cross and lock now and then (LEAN FXCM: ~10 % crossed, at most ~14 % of a
    # day's ticks locked): kept and flagged by validation.
    crossed = int(np.count_nonzero(quotes.bid > quotes.ask))
    if crossed * 2 > len(quotes):
        raise ValueError(
            f"{name}: {crossed:,} of {len(quotes):,} quotes have bid > ask: are the "
            "bid and ask columns swapped?; nothing was written"
        )
    locked = int(np.count_nonzero(quotes.bid == quotes.ask))
    if locked * 2 > len(quotes):
        raise ValueError(
            f"{name}: {locked:,} of {len(quotes):,} quotes have bid == ask: are both sides "
            "read from one column (or the ask a copy of the bid)?; nothing was written"
        )


def check_bar_sides(bid: BarArrays, ask: BarArrays, bar_spec: str, name: str) -> None:
    """Refuse ASK bars that are the BID bars again at most of their common times (an ASK file
    that is a copy of the BID file, both sides read from one column): stored, exit 0, as a
    market with no spread ('locked N kept'), every fill at the other side's price."""
    common, b, a = np.intersect1d(bid.ts_event, ask.ts_event, return_indices=True)
    same = int(
        np.count_nonzero(
            (bid.open[b] == ask.open[a])
            & (bid.high[b] == ask.high[a])
            & (bid.low[b] == ask.low[a])
            & (bid.close[b] == ask.close[a])
        )
    )
    # Real feeds lock a whole bar rarely (LEAN FXCM minutes: at most 0.35 % of a day's).
    if same * 2 > len(common):
        raise ValueError(
            f"{name}: {same:,} of {len(common):,} {bar_spec} ASK bars equal the BID bars at "
            "the same time (open, high, low and close): is the ASK file a copy of the BID file "
            "(or both sides read from one column)?; nothing was written"
        )


def import_csv(
    paths: PathsLike,
    spec: CsvSpec,
    catalog_path: str | os.PathLike[str] | None = None,
    *,
    instrument_id: str,
    price_type: str | None = None,
    policy: ValidationPolicy | None = None,
    pair_table: Mapping[str, FxPairSpec] | None = None,
    progress: Progress | None = None,
    on_conflict: ConflictPolicy = DEFAULT_CONFLICT_POLICY,
    dry_run: bool = False,
) -> ImportSummary:
    """Import CSV bars or quotes described by a :class:`CsvSpec`.

    Parameters
    ----------
    spec : CsvSpec
        Column / clock mapping (see ``CSV_PRESETS``).
    instrument_id : str
        Nautilus instrument id (``"USD/JPY.SIM"``).
    price_type : {"BID", "ASK", "MID", "LAST"}, optional
        What the bar prices are (bars only). Default: the side the file names name
        (``..._ASK.csv``, ``...-bid-2012.csv``), else BID; one that contradicts them is
        refused.
    """
    if price_type is not None and price_type not in ("BID", "ASK", "MID", "LAST"):
        raise ValueError(f"price_type must be BID, ASK, MID or LAST, got {price_type!r}")
    sources = _sources(paths)
    _check_pair_of_csv_names(sources, instrument_id, pair_table)
    ctx = _Context(
        "csv",
        sources,
        catalog_path,
        instrument_id,
        pair_table,
        progress,
        _Writing.of(on_conflict, dry_run),
    )
    ctx.say(f"reading {len(ctx.sources)} CSV file(s)")
    if spec.kind == "quotes":
        ctx.quotes(ctx.checked_quotes(read_csv_quotes(ctx.sources, spec), policy or QUOTE_POLICY))
        return ctx.finish()
    side = _price_side_of_files(ctx.sources, price_type)
    kept = ctx.checked_bars(read_csv_bars(ctx.sources, spec), policy or BAR_POLICY)
    assert spec.bar_seconds is not None
    ctx.bars(bar_spec_for(spec.bar_seconds), None, other={side: kept})
    return ctx.finish()


def _check_pair_of_csv_names(
    sources: Sequence[str], instrument_id: str, pair_table: Mapping[str, FxPairSpec] | None
) -> None:
    """Refuse CSV files whose names name another pair than ``instrument_id`` (a word of the
    name, ``FOREX_EURUSD_1H_ASK.csv``, ``usdjpy-m1-bid-2013.csv``, ``EUR_USD.csv``): EUR/USD
    prices imported as GBP/USD.SIM were stored under GBP/USD, exit 0 (the two trade at close
    enough levels that the price-level check passes)."""
    try:
        want = normalize_fx_symbol(split_instrument_id(instrument_id)[0])
    except ValueError:
        return  # not a pair id: the instrument check names it
    pairs = {*DEFAULT_FX_PAIRS, *(pair_table or {})}
    words = "|".join(sorted(f"{p[:3]}[_-]?{p[3:]}" for p in pairs if len(p) == 6))
    pattern = re.compile(rf"(?<![a-z])({words.lower()})(?![a-z])")
    for source in sources:
        name = Path(source).name
        named = {re.sub("[_-]", "", m).upper() for m in pattern.findall(name.lower())}
        if named and want not in named:
            venue = split_instrument_id(instrument_id)[1]
            pairs_named = " and ".join(f"{n[:3]}/{n[3:]}" for n in sorted(named))
            ids = " or ".join(f"{n[:3]}/{n[3:]}.{venue}" for n in sorted(named))
            raise ValueError(
                f"--instrument-id (instrument_id) {instrument_id}, but the file {name} names "
                f"{pairs_named}: give --instrument-id {ids}, or rename the file if its name is "
                "wrong; nothing was written"
            )


# A price side as a word of a file name: FOREX_EURUSD_1H_ASK.csv, gbpusd-m1-bid-2012.csv.
_SIDE_IN_NAME = re.compile(r"(?<![a-z])(bid|ask|mid)(?![a-z])")


def _price_side_of_files(sources: Sequence[str], price_type: str | None) -> str:
    """The bars' price side: ``price_type`` if given, else the side the file names name, else
    BID. Refuses files naming several sides, and a ``price_type`` another side than theirs
    (an ASK file stored as the BID series, silently, unless told)."""
    named: dict[str, str] = {}
    for source in sources:
        sides = set(_SIDE_IN_NAME.findall(Path(source).name.lower()))
        if len(sides) == 1:
            named.setdefault(sides.pop().upper(), Path(source).name)
    if len(named) > 1:
        listed = ", ".join(f"{name} ({side})" for side, name in sorted(named.items()))
        raise ValueError(
            f"the files name several price sides ({listed}): import one side at a time"
        )
    if price_type is None:
        return next(iter(named), "BID")
    for side, name in named.items():
        if side != price_type:
            raise ValueError(
                f"--price-type (price_type) {price_type}, but the file {name} names {side} "
                f"prices: give --price-type {side}, or rename the file if its name is wrong"
            )
    return price_type
