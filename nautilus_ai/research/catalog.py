"""Bars from a Nautilus ``ParquetDataCatalog`` as a checked pandas frame.

Wraps :func:`nautilus_ai.data.catalog.read_bars` (the fast columnar reader whose prices equal
``Bar.as_double()``); Nautilus is imported only when this is called.
"""

from __future__ import annotations

import os
from typing import Literal

import pandas as pd

from nautilus_ai.research.frames import (
    BAR_COLUMNS,
    INDEX_NAME,
    ResearchInputError,
    as_bars,
    to_utc_timestamp,
)

__all__ = ["bars"]


def bars(
    catalog: str | os.PathLike[str],
    bar_type: str,
    *,
    start: object = None,
    end: object = None,
    invalid: Literal["raise", "drop"] = "raise",
) -> pd.DataFrame:
    """One bar type from a catalog, ``start <= bar close time < end``.

    Parameters
    ----------
    catalog : path
        The catalog folder (e.g. ``catalogs/demo``).
    bar_type : str
        E.g. ``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"``.
    start, end : str, datetime, Timestamp or int ns, optional
        Half-open window on the bar close time. Like the CLI's dates, a bound without a zone
        is UTC (``"2017-03-01"`` is midnight UTC).
    invalid : {"raise", "drop"}
        See :func:`~nautilus_ai.research.frames.as_bars`.

    Returns
    -------
    pandas.DataFrame
        The bars frame (``open, high, low, close, volume``; UTC ``ts_event`` index) with
        ``attrs["bar_type"]``, ``attrs["instrument_id"]`` and ``attrs["catalog"]``.

    Raises
    ------
    ResearchInputError
        No catalog at that path, no bars of that type, an unreadable bound, ``end <= start``,
        or no bars inside the window.
    """
    from nautilus_trader.model.data import BarType

    from nautilus_ai.data.catalog import read_bars

    if isinstance(catalog, bytes) or not isinstance(catalog, str | os.PathLike):
        raise ResearchInputError(
            f"catalog: expected a folder path (str or os.PathLike), got {type(catalog).__name__}"
        )
    if not os.path.isdir(catalog):
        raise ResearchInputError(f"catalog: no folder at {os.fspath(catalog)}")
    start_ts = None if start is None else to_utc_timestamp(start, "start")
    end_ts = None if end is None else to_utc_timestamp(end, "end")
    try:
        parsed = BarType.from_str(bar_type)
    except (ValueError, TypeError) as exc:
        raise ResearchInputError(f"bar_type {bar_type!r}: {exc}") from None
    if start_ts is not None and end_ts is not None and end_ts <= start_ts:
        raise ResearchInputError(f"end ({end_ts}) must be after start ({start_ts})")
    try:
        arrays = read_bars(
            catalog,
            parsed,
            start_ns=None if start_ts is None else start_ts.value,
            end_ns=None if end_ts is None else end_ts.value - 1,  # read_bars' end is inclusive
        )
    except FileNotFoundError as exc:
        raise ResearchInputError(f"catalog: {exc}") from None
    if len(arrays) == 0:
        raise ResearchInputError(
            f"catalog {os.fspath(catalog)} has no {bar_type} bars in "
            f"[{start_ts or '-inf'}, {end_ts or '+inf'})"
        )
    index = pd.DatetimeIndex(pd.to_datetime(arrays.ts_event, unit="ns", utc=True), name=INDEX_NAME)
    frame = pd.DataFrame(
        {name: getattr(arrays, name) for name in BAR_COLUMNS}, index=index, columns=BAR_COLUMNS
    )
    frame.attrs.update(
        bar_type=str(parsed),
        instrument_id=str(parsed.instrument_id),
        catalog=os.fspath(catalog),
    )
    return as_bars(frame, invalid=invalid)
