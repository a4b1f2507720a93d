"""Pattern memory: past market windows with their outcomes, searchable without look-ahead.

>>> from nautilus_ai.patterns import PatternMemory, build_from_catalog, similar_windows
>>> memory = PatternMemory(build_from_catalog("catalogs/demo", "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"))
>>> found = similar_windows(memory, "catalogs/demo", "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", k=10)
>>> found.table()           # the 10 past windows most like now, and what happened next
>>> found.plot("now.png")   # the current window over its neighbours + their outcomes

Pure numpy / pyarrow (faiss for the IVF index, from the ``patterns`` extra); no Nautilus import.
The optional chart block (:class:`ChartEmbedder`, a local vision model) needs the ``hf`` extra.
"""

from nautilus_ai.patterns.chart_embedding import ChartEmbedder
from nautilus_ai.patterns.index import (
    IndexConfig,
    IndexMismatchError,
    PatternIndex,
    brute_force,
    read_index,
    squared_distances,
    write_index,
)
from nautilus_ai.patterns.learned import read_learned, restore_learned, save_learned
from nautilus_ai.patterns.memory import Neighbours, PatternMemory, load_memory, save_memory
from nautilus_ai.patterns.outcomes import BarOutcomes, MaturedOutcome, OutcomeTracker, bar_outcomes
from nautilus_ai.patterns.research import SimilarWindows, similar_windows
from nautilus_ai.patterns.spec import PatternLayout, PatternSpec, pattern_layout, pattern_vectors
from nautilus_ai.patterns.store import (
    PatternSet,
    PatternStoreError,
    build_from_bars,
    build_from_catalog,
    build_from_decision_log,
    read_patterns,
    store_checksum,
    store_dir,
    write_patterns,
)

__all__ = [
    "BarOutcomes",
    "ChartEmbedder",
    "IndexConfig",
    "IndexMismatchError",
    "MaturedOutcome",
    "Neighbours",
    "OutcomeTracker",
    "PatternIndex",
    "PatternLayout",
    "PatternMemory",
    "PatternSet",
    "PatternSpec",
    "PatternStoreError",
    "SimilarWindows",
    "bar_outcomes",
    "brute_force",
    "build_from_bars",
    "build_from_catalog",
    "build_from_decision_log",
    "load_memory",
    "pattern_layout",
    "pattern_vectors",
    "read_index",
    "read_learned",
    "read_patterns",
    "restore_learned",
    "save_learned",
    "save_memory",
    "similar_windows",
    "squared_distances",
    "store_checksum",
    "store_dir",
    "write_index",
    "write_patterns",
]
