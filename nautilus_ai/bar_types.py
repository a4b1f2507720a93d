"""Bar type strings read without Nautilus: ``INSTRUMENT-STEP-AGGREGATION-PRICE-SOURCE``.

``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"`` is instrument ``EUR/USD.SIM``, step 1, aggregation
``MINUTE``, price type ``BID``, source ``EXTERNAL``. A composite type
(``...-5-MINUTE-BID-INTERNAL@1-MINUTE-EXTERNAL``) is read by its own (first) part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BarTypeParts", "bar_period_ns", "bar_step_ns", "format_period", "parse_bar_type"]

_PERIOD_NS = {
    "MILLISECOND": 1_000_000,
    "SECOND": 1_000_000_000,
    "MINUTE": 60_000_000_000,
    "HOUR": 3_600_000_000_000,
    "DAY": 86_400_000_000_000,
    "WEEK": 604_800_000_000_000,
}


@dataclass(frozen=True, slots=True)
class BarTypeParts:
    """The five parts of a bar type string (:func:`parse_bar_type`)."""

    instrument_id: str
    step: int
    aggregation: str
    price_type: str
    source: str

    @property
    def period_ns(self) -> int | None:
        """The period of a time bar in ns; ``None`` for tick, volume, value or monthly bars."""
        unit = _PERIOD_NS.get(self.aggregation)
        return None if unit is None else self.step * unit

    @property
    def period(self) -> str:
        """``"1 min"`` for a time bar (:func:`format_period`), else ``"100-TICK"``."""
        ns = self.period_ns
        return format_period(ns) if ns is not None else f"{self.step}-{self.aggregation}"


def parse_bar_type(bar_type: str) -> BarTypeParts | None:
    """The parts of ``bar_type``, or ``None`` when it is not ``INSTRUMENT-STEP-AGG-PRICE-SOURCE``
    with a step >= 1."""
    parts = str(bar_type).split("@", 1)[0].rsplit("-", 4)
    if len(parts) != 5 or not parts[1].isdigit() or int(parts[1]) < 1:
        return None
    return BarTypeParts(parts[0], int(parts[1]), parts[2], parts[3], parts[4])


def bar_period_ns(bar_type: str) -> int | None:
    """The period of a time-bar type in ns (``"EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"`` -> 60e9),
    or ``None`` for bars without a fixed period (tick, volume, value, monthly bars). A composite
    type (``...-INTERNAL@1-MINUTE-EXTERNAL``) has the period of its own (first) part."""
    parts = parse_bar_type(bar_type)
    return None if parts is None else parts.period_ns


def bar_step_ns(ts: ArrayLike) -> int | None:
    """The bar period of a bar series: its most common step between bars (gaps such as
    weekends are rarer than the period); ``None`` with fewer than two bars."""
    steps = np.diff(np.asarray(ts, dtype=np.int64))
    steps = steps[steps > 0]
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def format_period(ns: int) -> str:
    """``60_000_000_000`` -> ``"1 min"`` (whole units), for messages."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if ns % (size * 1_000_000_000) == 0:
            return f"{ns // (size * 1_000_000_000)} {unit}"
    return f"{ns:,} ns"
