"""Patterns a memory learned while it ran, kept across restarts.

A live memory adds each pattern whose outcome matured (and each pattern a closed trade taught
it) after the rows of its store; a restarted node used to start from the store alone, so
whatever it had learned since the store was built was gone. With a ``learned`` folder the rows
added since the store was loaded are written to ``<folder>/learned.parquet`` (atomically, merged
with what the file holds) and a memory reads them back before its first decision.

No look-ahead: a memory restores only the patterns of bars *before* the first bar it is asked
about (:func:`restore_learned`), and each keeps the time its outcome became known
(``available_ns``), so a query still sees only what was known by then. A backtest of an earlier
window pointed at the same folder therefore restores nothing of a later live session.

>>> learned = read_learned(folder, memory)          # checked now: a bad file fails the start
>>> restore_learned(memory, learned, first_bar_ns)   # at the first decision
>>> save_learned(memory, folder)                     # now and then, and when the node stops
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nautilus_ai.patterns.memory import PatternMemory
from nautilus_ai.patterns.store import (
    PatternSet,
    PatternStoreError,
    format_period,
    read_patterns,
    write_patterns,
)

__all__ = ["LEARNED_FILE", "read_learned", "restore_learned", "save_learned"]

LEARNED_FILE = "learned.parquet"


def read_learned(folder: str | os.PathLike[str], memory: PatternMemory) -> PatternSet | None:
    """The patterns ``folder`` keeps for ``memory`` (``None``: no file yet).

    Raises
    ------
    PatternStoreError
        The file is unreadable, its rows do not match their checksum, or its patterns are of
        another feature spec, pattern spec or bar period than the memory's (the message names
        the file).
    """
    path = Path(folder) / LEARNED_FILE
    if not path.exists():
        return None
    learned = read_patterns(path)
    problem = None
    if learned.spec_hash != memory.feature_spec.hash:
        problem = f"feature spec {learned.spec_hash}, the memory's is {memory.feature_spec.hash}"
    elif learned.pattern_spec != memory.pattern_spec:
        problem = "another pattern spec (shape bars, horizon, barrier) than the memory's"
    elif None not in (learned.bar_ns, memory.bar_ns) and learned.bar_ns != memory.bar_ns:
        problem = (
            f"{format_period(learned.bar_ns or 0)} bars, the memory's are "
            f"{format_period(memory.bar_ns or 0)}"
        )
    if problem is not None:
        raise PatternStoreError(
            f"{path}: learned patterns of {problem}; give this memory its own learned folder"
        )
    return learned


def restore_learned(memory: PatternMemory, learned: PatternSet, before_ns: int) -> int:
    """Add the patterns of ``learned`` whose bar closed before ``before_ns`` (those the store
    already holds are skipped); returns how many joined."""
    keep = np.flatnonzero(learned.ts_event < before_ns)
    if not keep.size:
        return 0
    return memory.add(learned.take(keep))


def save_learned(memory: PatternMemory, folder: str | os.PathLike[str]) -> tuple[Path, int]:
    """Write the rows ``memory`` added since it was loaded, merged with those ``folder`` holds
    (one row per instrument and bar, the file's first), to ``<folder>/learned.parquet``.

    Returns the file and the number of rows it holds now.

    Raises
    ------
    PatternStoreError
        The file there is not one this memory can read back (:func:`read_learned`).
    OSError
        It cannot be written (nothing is replaced then).
    """
    new = memory.patterns(memory.stored)
    held = read_learned(folder, memory)
    if held is not None and len(held) and len(new):
        keys = set(zip(held.instrument_id, held.ts_event.tolist(), strict=True))
        fresh = [
            i
            for i, key in enumerate(zip(new.instrument_id, new.ts_event.tolist(), strict=True))
            if key not in keys
        ]
        new = new.take(np.array(fresh, dtype=np.intp))
    parts = [p for p in (held, new) if p is not None and len(p)]
    if not parts:
        return Path(folder) / LEARNED_FILE, 0
    merged = PatternSet.concat(parts)
    # bars in time order, as a memory adds them (it skips a bar older than one it holds)
    merged = merged.take(np.lexsort((merged.available_ns, merged.ts_event)))
    return write_patterns(merged, folder, name=LEARNED_FILE), len(merged)
