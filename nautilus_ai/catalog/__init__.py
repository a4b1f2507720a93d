"""The decision log in a Nautilus catalog: every decision's features, prediction and sizing
(``FeatureSnapshot``), and every closed position joined to the decision that opened it
(``DecisionOutcome``).

>>> from nautilus_ai.catalog import FeatureLogConfig, FeatureLogger, read_snapshots
>>> # the strategy: AIPatternConfig(..., feature_log={"catalog_path": "catalogs/demo"})
>>> # research:     snaps = read_snapshots("catalogs/demo", run_id)  -> snaps.features (n, k)

The logger, writer and readers are plain pyarrow / numpy; the Nautilus custom data classes
(:class:`FeatureSnapshot`, :class:`DecisionOutcome`) are imported on first use so
``import nautilus_ai.catalog`` does not import Nautilus.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nautilus_ai.catalog.logger import (
    ClosedPosition,
    FeatureLogConfig,
    FeatureLogger,
    LoggerStats,
    default_run_id,
)
from nautilus_ai.catalog.reader import (
    CatalogReadError,
    OpenRunError,
    Snapshots,
    decisions_with_outcomes,
    list_runs,
    logged_feature_spec,
    read_bars,
    read_outcomes,
    read_snapshots,
)
from nautilus_ai.catalog.schema import (
    OUTCOME_SCHEMA,
    SNAPSHOT_SCHEMA,
    ns_to_file_timestamp,
    parquet_file_name,
)
from nautilus_ai.catalog.writer import PartWriter, PartWriterError

if TYPE_CHECKING:
    from nautilus_ai.catalog.snapshot import DecisionOutcome, FeatureSnapshot

__all__ = [
    "CatalogReadError",
    "ClosedPosition",
    "DecisionOutcome",
    "FeatureLogConfig",
    "FeatureLogger",
    "FeatureSnapshot",
    "LoggerStats",
    "OUTCOME_SCHEMA",
    "OpenRunError",
    "PartWriter",
    "PartWriterError",
    "SNAPSHOT_SCHEMA",
    "Snapshots",
    "decisions_with_outcomes",
    "default_run_id",
    "list_runs",
    "logged_feature_spec",
    "ns_to_file_timestamp",
    "parquet_file_name",
    "read_bars",
    "read_outcomes",
    "read_snapshots",
]

_LAZY = {
    "DecisionOutcome": "nautilus_ai.catalog.snapshot",
    "FeatureSnapshot": "nautilus_ai.catalog.snapshot",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
