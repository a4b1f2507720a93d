"""Before a backtest runs: is the data it names in the catalog, and can the venue make a market?

Nautilus' ``BacktestNode`` (1.221 and 1.231 alike) loads a bar type the catalog lacks as no data
at all, and its bar execution builds a quote only from a BID bar and an ASK bar with the same
``ts_init``. A catalog that holds BID bars only (``nautilus-ai data import histdata-m1`` without
``--ask-spread-pips``: HistData publishes bid prices only) therefore runs to the end with every
entry rejected "no market for EUR/USD.SIM" and 0 trades, exit 0. That is the "1.231 completes
no trades" report: the same catalog gives the same 0 trades on 1.221. :func:`check_run_data`
refuses such a run up front, with one line naming the bar type, the catalog and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq

from nautilus_ai.backtest.config import ConfigError
from nautilus_ai.data.catalog_layout import BAR_FOLDER, parse_parquet_file_name, series_directory

__all__ = [
    "MIN_PAIRED_FRACTION",
    "DataProblem",
    "RunDataError",
    "SeriesNeed",
    "check_run_data",
    "run_data_problems",
    "run_time_ns",
    "series_needs",
]

#: Below this share of the run's BID bars with an ASK bar at the same ts_init, the venue has no
#: market for a part of the run that matters (every entry there is rejected "no market"). Real
#: BID / ASK pairs (HistData with a derived ASK, Dukascopy, LEAN) line up to the bar; a few
#: unpaired bars are left to the run's notes.
MIN_PAIRED_FRACTION = 0.99


class RunDataError(ConfigError):
    """The run names data that is not in its catalog, or that cannot make a market."""


@dataclass(frozen=True)
class DataProblem:
    """One problem with a run's bar data: ``missing`` (no bars for a series, or none in the
    window) or ``pairing`` (one side of a BID / ASK pair, or sides that do not line up)."""

    kind: Literal["missing", "pairing"]
    text: str


@dataclass(frozen=True)
class SeriesNeed:
    """One bar series a run reads: catalog, bar type string and the time window (ns, inclusive)."""

    catalog_path: str
    bar_type: str
    start_ns: int | None
    end_ns: int | None


def _to_ns(value: Any) -> int | None:
    return None if value is None else run_time_ns(value)


def run_time_ns(value: Any) -> int:
    """A run file's ``start_time`` / ``end_time`` (int ns, or ISO text; no zone = UTC) as UTC
    ns. A zone offset (``+02:00``) is converted, as Nautilus converts it; numpy's parser did the
    same but printed "no explicit representation of timezones" warnings on every run."""
    if isinstance(value, int):
        return value
    import pandas as pd

    return int(pd.Timestamp(str(value)).value)


def _is_bar_config(data: Any) -> bool:
    data_cls = data.data_cls
    name = data_cls if isinstance(data_cls, str) else getattr(data_cls, "__name__", "")
    return str(name).rsplit(":", 1)[-1].rsplit(".", 1)[-1] == "Bar"


def _bar_types(data: Any) -> list[str]:
    if data.bar_types:
        return [str(b) for b in data.bar_types]
    if data.instrument_id and data.bar_spec:
        return [f"{data.instrument_id}-{data.bar_spec}-EXTERNAL"]
    return []


def series_needs(run_file: Any) -> list[SeriesNeed]:
    """The bar series a run file's data configs read."""
    needs = []
    for data in run_file.run.data:
        if not _is_bar_config(data):
            continue
        for bar_type in _bar_types(data):
            needs.append(
                SeriesNeed(
                    str(data.catalog_path),
                    bar_type,
                    _to_ns(data.start_time),
                    _to_ns(data.end_time),
                )
            )
    return needs


def _files_in_window(need: SeriesNeed) -> list[Path]:
    folder = series_directory(need.catalog_path, BAR_FOLDER, need.bar_type)
    files = []
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        interval = parse_parquet_file_name(path)
        if interval is None:
            continue
        first, last = interval
        if need.end_ns is not None and first > need.end_ns:
            continue
        if need.start_ns is not None and last < need.start_ns:
            continue
        files.append(path)
    return files


def _ts_init(files: Iterable[Path], need: SeriesNeed) -> np.ndarray:
    """The bars' ts_init inside the run's window (a file may reach far beyond it)."""
    parts = [pq.read_table(f, columns=["ts_init"]).column(0).to_numpy() for f in files]
    stamps = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    if need.start_ns is not None:
        stamps = stamps[stamps >= need.start_ns]
    if need.end_ns is not None:
        stamps = stamps[stamps <= need.end_ns]
    return stamps


def _counterpart(bar_type: str) -> str | None:
    for side, other in (("-BID-", "-ASK-"), ("-ASK-", "-BID-")):
        if side in bar_type:
            return bar_type.replace(side, other)
    return None


def run_data_problems(run_file: Any) -> list[DataProblem]:
    """One line per problem with the run's bar data (empty when it can run)."""
    needs = series_needs(run_file)
    named = {need.bar_type for need in needs}
    quote_instruments = {
        str(data.instrument_id)
        for data in run_file.run.data
        if not _is_bar_config(data) and data.instrument_id is not None
    }
    problems: list[DataProblem] = []
    stamps: dict[str, np.ndarray] = {}
    for need in needs:
        files = _files_in_window(need)
        if not files:
            window = "" if need.start_ns is None and need.end_ns is None else " in the run's window"
            folder = series_directory(need.catalog_path, BAR_FOLDER, need.bar_type)
            text = f"{need.bar_type}: no bars{window} in catalog {need.catalog_path} ({folder})"
            problems.append(DataProblem("missing", text + _ask_hint(need.bar_type)))
            continue
        stamps[need.bar_type] = _ts_init(files, need)
    for need in needs:
        other = _counterpart(need.bar_type)
        instrument = need.bar_type.split("-", 1)[0]
        if other is None or instrument in quote_instruments:
            continue
        if other not in named:
            text = (
                f"{need.bar_type}: the run loads no {other} bars, and Nautilus' bar execution "
                f"makes a market only from a BID and an ASK bar with the same ts_init, so every "
                f"order would be rejected 'no market'; add {other} to the run's bar_types"
            )
            problems.append(DataProblem("pairing", text + _ask_hint(other)))
        elif "-BID-" in need.bar_type and need.bar_type in stamps and other in stamps:
            bid, ask = stamps[need.bar_type], stamps[other]
            matched = int(np.isin(bid, ask, assume_unique=True).sum())
            paired = matched / bid.size if bid.size else 1.0
            if paired < MIN_PAIRED_FRACTION:
                window = "" if need.start_ns is None and need.end_ns is None else " in the window"
                text = (
                    f"{need.bar_type}: only {100 * paired:.1f}% of its {bid.size:,} bars{window} "
                    f"have an {other} bar with the same ts_init (Nautilus makes a market only "
                    f"from such pairs: an entry on any of the other {bid.size - matched:,} is "
                    "rejected 'no market'): the two series do not line up"
                )
                problems.append(DataProblem("pairing", text))
    return problems


def _ask_hint(bar_type: str) -> str:
    if "-ASK-" not in bar_type:
        return ""
    return (
        "; HistData files hold bid prices only: import them with --ask-spread-pips "
        "(e.g. 0.3) to add an ask series"
    )


def check_run_data(run_file: Any) -> None:
    """Raise :class:`RunDataError` (the first problem, one line) unless the run's BID / ASK bars
    can make a market (see :func:`run_data_problems`). A series missing from the catalog is the
    preflight's to name (``nautilus_ai.backtest.preflight``), and a window without bars the run
    status's; ``doctor --config`` lists those too."""
    problems = [p.text for p in run_data_problems(run_file) if p.kind == "pairing"]
    if problems:
        where = getattr(run_file, "path", "")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RunDataError(f"{where}: {problems[0]}{more}")
