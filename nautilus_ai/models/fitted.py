"""The windows a stored model was fitted and tuned on, and a run window's overlap with them.

A model card records its ``train_window`` and ``validation_window`` (``{"start", "end"}``,
end exclusive). A backtest or evaluation labelled out-of-sample on bars inside either is an
in-sample result. :func:`fitted_overlap` is the one check: the backtest preflight (a run file
labelled ``sample: out-of-sample``) and the out-of-sample workflows
(:func:`~nautilus_ai.workflows.oos.check_out_of_sample`) both call it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nautilus_ai.datasets import to_ns
from nautilus_ai.models.card import CARD_FILE
from nautilus_ai.timefmt import utc_minute

__all__ = ["FittedOverlap", "fitted_overlap"]

_WINDOWS = ("train_window", "validation_window")


@dataclass(frozen=True)
class FittedOverlap:
    """A run window that overlaps a model's ``window`` (``"train window"`` / ``"validation
    window"``, ``[start_ns, end_ns)``) as its card ``card_file`` records it."""

    card_file: Path
    window: str
    start_ns: int
    end_ns: int

    def describe(self) -> str:
        """``the model's train window (A to B UTC, card <file>)``."""
        return (
            f"the model's {self.window} ({utc_minute(self.start_ns)} to "
            f"{utc_minute(self.end_ns)} UTC, card {self.card_file})"
        )


def fitted_overlap(
    artifact_path: str | os.PathLike[str], start_ns: int, end_ns: int
) -> FittedOverlap | None:
    """The first of the card's training / validation windows that the run window
    ``[start_ns, end_ns)`` overlaps, or ``None`` (no overlap, or no readable card: the model's
    own loader names that problem)."""
    card_file = Path(artifact_path) / CARD_FILE
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(card, Mapping):
        return None
    for name in _WINDOWS:
        used = card.get(name)
        if not isinstance(used, Mapping):
            continue
        try:
            used_start, used_end = to_ns(used["start"]), to_ns(used["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if start_ns < used_end and used_start < end_ns:
            return FittedOverlap(card_file, name.replace("_", " "), used_start, used_end)
    return None
