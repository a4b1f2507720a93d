"""Shared names of the Pine integration tests (imported by conftest and the tests)."""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_ai.data import BarArrays
from nautilus_ai.pine import PineExport, PineTSResult

#: Threshold used with the quickly fitted model: its softmax rarely reaches 0.55 (it is a weak
#: model), and a parity check without signals would prove little.
TRAINED_MIN_CONFIDENCE = 0.40


@dataclass(frozen=True)
class MonthRun:
    """The trained MLP's export run once in PineTS over the month."""

    export: PineExport
    result: PineTSResult
    bars: BarArrays
