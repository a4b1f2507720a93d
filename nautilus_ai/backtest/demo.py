"""The demo's data: six months of real EUR/USD 1-minute bars in a catalog, imported once.

HistData M1 files carry bid prices only. Nautilus' bar execution needs bid and ask bars to make
a market, so the demo adds an ask series at a fixed spread (``DEMO_SPREAD_PIPS``): a stated
modelling assumption, not data. The bid bars stay exactly as HistData published them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nautilus_ai.paths import default_catalog_dir, shared_data_dir

__all__ = [
    "DEMO_BAR_TYPE",
    "DEMO_INSTRUMENT_ID",
    "DEMO_SPREAD_PIPS",
    "demo_files",
    "ensure_demo_catalog",
]

DEMO_INSTRUMENT_ID = "EUR/USD.SIM"
DEMO_BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
DEMO_SPREAD_PIPS = 0.3  # typical EUR/USD ECN spread in liquid hours; wider overnight in reality


def demo_files(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The six HistData EUR/USD M1 2017 files, in order."""
    folder = shared_data_dir(data_dir) / "histdata"
    files = sorted(folder.glob("DAT_ASCII_EURUSD_M1_2017*.csv"))
    if not files:
        raise FileNotFoundError(f"no DAT_ASCII_EURUSD_M1_2017*.csv files in {folder}")
    return files


def ensure_demo_catalog(
    catalog: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[Path, Any]:
    """Import the demo bars into ``catalog`` (idempotent) and return ``(path, import summary)``."""
    from nautilus_ai.data import import_histdata_m1

    path = default_catalog_dir(catalog)
    summary = import_histdata_m1(
        demo_files(data_dir),
        path,
        instrument_id=DEMO_INSTRUMENT_ID,
        ask_spread_pips=DEMO_SPREAD_PIPS,
    )
    return path, summary
