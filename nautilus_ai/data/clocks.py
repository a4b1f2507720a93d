"""Source clocks to UTC, vectorised: IANA zones with DST, fixed offsets, or UTC.

Vendors stamp FX data in their own clock: HistData in New York local time with DST, LEAN FXCM in a
fixed UTC-5, OANDA and Dukascopy in UTC. A clock is named by a string: ``"UTC"``, an IANA zone
(``"America/New_York"``) or a fixed offset (``"-05:00"``). Conversion runs in Arrow's compute
kernels over whole columns, never per row in Python.
"""

from __future__ import annotations

import re
import zoneinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nautilus_ai.data.arrays import IntArray

__all__ = ["NonexistentLocalTimeError", "check_clock", "local_to_utc_ns"]

_OFFSET = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")


class NonexistentLocalTimeError(ValueError):
    """A local wall-clock time that the zone skips (the spring-forward hour).

    ``index`` is the position of the first such value in the input array, so a reader can name the
    file line.
    """

    def __init__(self, index: int, local_ns: int, clock: str) -> None:
        self.index = index
        stamp = np.datetime64(local_ns, "ns")
        super().__init__(f"local time {stamp} does not exist in clock {clock!r} (DST gap)")


def check_clock(clock: str) -> str:
    """Validate a clock name and return it; raise ``ValueError`` naming the bad value."""
    if clock == "UTC" or _OFFSET.match(clock):
        return clock
    try:
        zoneinfo.ZoneInfo(clock)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"clock {clock!r} is neither 'UTC', an IANA zone nor an offset like '-05:00'"
        ) from exc
    return clock


def local_to_utc_ns(local_ns: IntArray, clock: str) -> IntArray:
    """Convert wall-clock times in ``clock`` to UTC nanoseconds.

    Parameters
    ----------
    local_ns : ndarray of int64
        Wall-clock times as if they were UTC (naive), ns since the epoch.
    clock : str
        ``"UTC"``, an IANA zone name or a fixed offset ``"+HH:MM"`` / ``"-HH:MM"``.

    Returns
    -------
    ndarray of int64
        UTC ns since the epoch.

    Raises
    ------
    NonexistentLocalTimeError
        If a time falls in a DST gap (it cannot have been observed in that clock).

    Notes
    -----
    A time that occurs twice (the fall-back hour) maps to its first occurrence, the DST side.
    FX markets are closed at that hour on a Sunday morning in New York, so real data never has it.
    """
    check_clock(clock)
    local_ns = np.ascontiguousarray(local_ns, dtype=np.int64)
    if clock == "UTC" or len(local_ns) == 0:
        return local_ns.copy()
    if _OFFSET.match(clock):
        sign = -1 if clock[0] == "-" else 1
        offset_ns = sign * (int(clock[1:3]) * 3600 + int(clock[4:6]) * 60) * 1_000_000_000
        return local_ns - offset_ns
    naive = pa.array(local_ns, type=pa.timestamp("ns"))
    aware = pc.assume_timezone(naive, timezone=clock, ambiguous="earliest", nonexistent="earliest")
    utc = np.asarray(aware.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    # A skipped local time comes back as the gap's start, so a round trip to local time differs.
    back = pc.local_timestamp(aware).cast(pa.int64()).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(back != local_ns)
    if len(bad):
        raise NonexistentLocalTimeError(int(bad[0]), int(local_ns[bad[0]]), clock)
    return utc
