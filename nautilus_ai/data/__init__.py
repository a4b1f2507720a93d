"""Market data: readers, decoders and validation (pure numpy / pyarrow), plus catalog glue.

The readers (``read_*``), the Dukascopy decoder / downloader (``nautilus_ai.data.dukascopy``),
clocks and validation never import Nautilus. The names that need Nautilus (``fx_instrument``,
``write_*``, ``import_*``, ``catalog_info``) come from the glue modules ``instruments``,
``catalog`` and ``ingest`` and are imported on first use, so ``import nautilus_ai.data`` stays
light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nautilus_ai.data.aggregate import bars_from_prices, bars_from_quotes
from nautilus_ai.data.arrays import BarArrays, QuoteArrays
from nautilus_ai.data.clocks import local_to_utc_ns
from nautilus_ai.data.derive import ask_from_bid, fill_unknown_volume
from nautilus_ai.data.errors import DataFormatError
from nautilus_ai.data.generic_csv import CSV_PRESETS, CsvSpec, read_csv_bars, read_csv_quotes
from nautilus_ai.data.histdata import histdata_m1_files, read_histdata_m1, read_histdata_ticks
from nautilus_ai.data.lean import read_lean_bars, read_lean_ticks
from nautilus_ai.data.markethours import weekly_closures
from nautilus_ai.data.merge import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY
from nautilus_ai.data.symbols import DEFAULT_FX_PAIRS, FxPairSpec, fx_pair_spec
from nautilus_ai.data.validation import (
    BAR_POLICY,
    QUOTE_POLICY,
    ValidationPolicy,
    ValidationReport,
    validate_bars,
    validate_bid_ask_bars,
    validate_quotes,
)

if TYPE_CHECKING:
    from nautilus_ai.data.catalog import (
        CatalogInfo,
        WriteConflictError,
        WriteResult,
        catalog_info,
        read_bars,
        write_bars,
        write_instrument,
        write_quotes,
    )
    from nautilus_ai.data.ingest import (
        ImportSummary,
        import_csv,
        import_dukascopy,
        import_histdata_m1,
        import_histdata_ticks,
        import_lean,
    )
    from nautilus_ai.data.instruments import fx_instrument

# Plain sorted() order, as tests/test_public_api.py checks.
__all__ = [
    "BAR_POLICY",
    "BarArrays",
    "CONFLICT_POLICIES",
    "CSV_PRESETS",
    "CatalogInfo",
    "CsvSpec",
    "DEFAULT_CONFLICT_POLICY",
    "DEFAULT_FX_PAIRS",
    "DataFormatError",
    "FxPairSpec",
    "ImportSummary",
    "QUOTE_POLICY",
    "QuoteArrays",
    "ValidationPolicy",
    "ValidationReport",
    "WriteConflictError",
    "WriteResult",
    "ask_from_bid",
    "bars_from_prices",
    "bars_from_quotes",
    "catalog_info",
    "fill_unknown_volume",
    "fx_instrument",
    "fx_pair_spec",
    "histdata_m1_files",
    "import_csv",
    "import_dukascopy",
    "import_histdata_m1",
    "import_histdata_ticks",
    "import_lean",
    "local_to_utc_ns",
    "read_bars",
    "read_csv_bars",
    "read_csv_quotes",
    "read_histdata_m1",
    "read_histdata_ticks",
    "read_lean_bars",
    "read_lean_ticks",
    "validate_bars",
    "validate_bid_ask_bars",
    "validate_quotes",
    "weekly_closures",
    "write_bars",
    "write_instrument",
    "write_quotes",
]

# Glue names -> module; imported lazily because they pull in nautilus_trader (~1 s).
_LAZY = {
    "CatalogInfo": "catalog",
    "WriteConflictError": "catalog",
    "WriteResult": "catalog",
    "catalog_info": "catalog",
    "read_bars": "catalog",
    "write_bars": "catalog",
    "write_instrument": "catalog",
    "write_quotes": "catalog",
    "ImportSummary": "ingest",
    "import_csv": "ingest",
    "import_dukascopy": "ingest",
    "import_histdata_m1": "ingest",
    "import_histdata_ticks": "ingest",
    "import_lean": "ingest",
    "fx_instrument": "instruments",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nautilus_ai.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nautilus_ai.data.{module}"), name)
    globals()[name] = value
    return value
