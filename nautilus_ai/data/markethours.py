"""FX weekly market closure, DST-aware: Friday 17:00 to Sunday 17:00 New York time.

That is 22:00 UTC in northern winter and 21:00 UTC in summer, the convention of every source in
the shared data (HistData weeks run Sunday 17:00 to Friday 16:59 New York time; OANDA's last
Friday tick in May is 20:59:58 UTC). Used by validation to tell a data gap from a closed market.
Holidays (25 December, 1 January) are not modelled: gaps there are reported.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from nautilus_ai.data.arrays import IntArray

__all__ = ["FX_CLOSURE_CLOCK", "closed_ns_between", "weekly_closures"]

FX_CLOSURE_CLOCK = "America/New_York"
_NS = 1_000_000_000


def weekly_closures(start_ns: int, end_ns: int, clock: str = FX_CLOSURE_CLOCK) -> IntArray:
    """Closure windows ``[close, reopen)`` in UTC ns overlapping ``[start_ns, end_ns]``.

    Returns an ``(n, 2)`` int64 array, in time order.
    """
    zone = ZoneInfo(clock)
    start = datetime.fromtimestamp(start_ns / _NS, tz=UTC).astimezone(zone)
    # The Friday on or before the start (weekday 4), minus a week to cover a start mid-closure.
    friday = (start - timedelta(days=(start.weekday() - 4) % 7 + 7)).date()
    windows: list[tuple[int, int]] = []
    while True:
        close = datetime(friday.year, friday.month, friday.day, 17, tzinfo=zone)
        sunday = friday + timedelta(days=2)
        reopen = datetime(sunday.year, sunday.month, sunday.day, 17, tzinfo=zone)
        close_ns = int(close.timestamp()) * _NS
        reopen_ns = int(reopen.timestamp()) * _NS
        if close_ns > end_ns:
            break
        if reopen_ns >= start_ns:
            windows.append((close_ns, reopen_ns))
        friday += timedelta(days=7)
    return np.array(windows, dtype=np.int64).reshape(-1, 2)


def closed_ns_between(t0: IntArray, t1: IntArray, clock: str = FX_CLOSURE_CLOCK) -> IntArray:
    """For each interval ``(t0[i], t1[i])``, the nanoseconds of it that fall in a closure."""
    out = np.zeros(len(t0), dtype=np.int64)
    if len(t0) == 0:
        return out
    windows = weekly_closures(int(t0.min()), int(t1.max()), clock)
    for close, reopen in windows:
        overlap = np.minimum(t1, reopen) - np.maximum(t0, close)
        out += np.maximum(overlap, 0)
    return out
