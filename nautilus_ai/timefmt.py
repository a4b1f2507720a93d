"""UTC timestamps (integer nanoseconds since the epoch) as text, for messages and reports.

Three precisions, one function each, so a message names a time the same way wherever it comes
from: minutes for windows a user types (``2024-01-02 09:30``), seconds for reports and
schedules (``2024-01-02T09:30:00Z``), milliseconds for data checks that point at one row
(``2024-01-02T09:30:00.250Z``). Each floors to its precision; none rounds up into the next unit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_NS", "utc_millis", "utc_minute", "utc_seconds"]

#: The latest UTC ns time a signed 64-bit nanosecond clock holds (numpy, Arrow, Nautilus):
#: 2262-04-11T23:47:16Z. ``-MAX_NS`` is the earliest (1677-09-21).
MAX_NS = 2**63 - 1


def utc_minute(ns: int) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC, floored to the minute)."""
    return str(np.datetime64(int(ns), "ns").astype("datetime64[m]")).replace("T", " ")


def utc_seconds(ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, floored to the second)."""
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")) + "Z"


def utc_millis(ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffZ`` (UTC, floored to the millisecond)."""
    return str(np.datetime64(int(ns), "ns").astype("datetime64[ms]")) + "Z"
