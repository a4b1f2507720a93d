"""Calendar features without per-bar ``datetime``: lookup tables and a cached UTC-offset schedule.

Every calendar feature of a bar is a function of two integers taken from its close time
``ts`` (UTC ns): the UTC minute of the day ``(ts // 60e9) % 1440`` and the UTC weekday
``(ts // 86400e9 + 3) % 7`` (1970-01-01 was a Thursday; Monday = 0). The session flags also need
each city's UTC offset, which only changes at DST transitions. :func:`clock_stretch` finds a
stretch ``[lo_ns, hi_ns)`` starting at ``ts`` over which every city's offset is constant
(zoneinfo, scanning day by day, then bisecting to the second; memoised), and
:func:`minute_rows` gives one table row per UTC minute of the day for those offsets. The
incremental engine keeps the current stretch and rebuilds only when a bar falls outside it (a
few times a year); the vectorised path walks the same stretches, so both paths read identical
numbers from identical tables.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from nautilus_ai.features.spec import SESSION_TIMEZONES, FeatureSpec

__all__ = [
    "DOW_COS",
    "DOW_SIN",
    "HOUR_COS",
    "HOUR_SIN",
    "MINUTES_PER_DAY",
    "NS_PER_DAY",
    "NS_PER_MINUTE",
    "NS_PER_SECOND",
    "ClockInterval",
    "clock_interval",
    "clock_stretch",
    "minute_rows",
    "session_hours",
    "utc_offset_seconds",
]

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
NS_PER_DAY = 86_400 * NS_PER_SECOND
MINUTES_PER_DAY = 1440
# Days from a Monday to 1970-01-01 (a Thursday): weekday = (days_since_epoch + 3) % 7.
EPOCH_WEEKDAY = 3

_TWO_PI = 2.0 * math.pi
HOUR_SIN: tuple[float, ...] = tuple(math.sin(_TWO_PI * m / 1440.0) for m in range(MINUTES_PER_DAY))
HOUR_COS: tuple[float, ...] = tuple(math.cos(_TWO_PI * m / 1440.0) for m in range(MINUTES_PER_DAY))
DOW_SIN: tuple[float, ...] = tuple(math.sin(_TWO_PI * d / 7.0) for d in range(7))
DOW_COS: tuple[float, ...] = tuple(math.cos(_TWO_PI * d / 7.0) for d in range(7))

_SECONDS_PER_DAY = 86_400
# How far to look for a DST transition on either side of a timestamp. A zone without one in this
# span is treated as constant over it; the engine simply looks again when it is left.
_SCAN_DAYS = 366

# A table row: (hour_sin, hour_cos, session_<city> for each city in SESSION_TIMEZONES, overlap).
MinuteRow = tuple[float, ...]
ClockInterval = tuple[int, int, tuple[MinuteRow, ...]]


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def utc_offset_seconds(zone_name: str, t_sec: int) -> int:
    """UTC offset of ``zone_name`` at the instant ``t_sec`` (UTC seconds), DST included.

    At a transition instant the new offset applies.
    """
    offset = datetime.fromtimestamp(t_sec, tz=_zone(zone_name)).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset.days * _SECONDS_PER_DAY + offset.seconds


# Per zone, the stretches of constant offset found so far: (lo_sec, hi_sec, offset_sec). A pure
# memo of tzdata facts (bounded), so repeated engines and vectorised calls do not rescan.
_SPANS: dict[str, list[tuple[int, int, int]]] = {}
_MAX_SPANS_PER_ZONE = 256


def _constant_offset_span(zone_name: str, t_sec: int) -> tuple[int, int, int]:
    """``(lo_sec, hi_sec, offset_sec)`` with ``lo <= t_sec < hi``: the zone's UTC offset is
    ``offset_sec`` over all of ``[lo, hi)``.

    Scans forward day by day for the next change (up to :data:`_SCAN_DAYS`), then bisects to the
    second. ``lo`` is only guaranteed to be ``<= t_sec`` (callers move forward in time).
    """
    spans = _SPANS.setdefault(zone_name, [])
    for span in spans:
        if span[0] <= t_sec < span[1]:
            return span
    offset = utc_offset_seconds(zone_name, t_sec)
    hi = t_sec + _SCAN_DAYS * _SECONDS_PER_DAY
    probe = t_sec
    for _ in range(_SCAN_DAYS):
        nxt = probe + _SECONDS_PER_DAY
        if utc_offset_seconds(zone_name, nxt) != offset:
            # Bisect to the first second with the new offset (transitions are whole seconds).
            same, other = probe, nxt
            while other - same > 1:
                mid = (same + other) // 2
                if utc_offset_seconds(zone_name, mid) == offset:
                    same = mid
                else:
                    other = mid
            hi = other
            break
        probe = nxt
    span = (t_sec, hi, offset)
    if len(spans) >= _MAX_SPANS_PER_ZONE:
        spans.clear()
    spans.append(span)
    return span


def _in_window(local_minute: int, start_hour: int, end_hour: int) -> bool:
    start, end = start_hour * 60, end_hour * 60
    if start < end:
        return start <= local_minute < end
    return local_minute >= start or local_minute < end  # wraps past midnight


@lru_cache(maxsize=64)
def _minute_rows(
    offsets_minutes: tuple[int, ...], hours: tuple[tuple[int, int], ...]
) -> tuple[MinuteRow, ...]:
    rows = []
    for m in range(MINUTES_PER_DAY):
        flags = [
            1.0 if _in_window((m + off) % MINUTES_PER_DAY, start, end) else 0.0
            for off, (start, end) in zip(offsets_minutes, hours, strict=True)
        ]
        # Overlap = London AND New York (the two last cities).
        overlap = 1.0 if flags[2] == 1.0 and flags[3] == 1.0 else 0.0
        rows.append((HOUR_SIN[m], HOUR_COS[m], *flags, overlap))
    return tuple(rows)


def session_hours(spec: FeatureSpec) -> tuple[tuple[int, int], ...]:
    """Each city's ``(start_hour, end_hour)`` in :data:`SESSION_TIMEZONES` order."""
    return (
        spec.session_sydney_hours,
        spec.session_tokyo_hours,
        spec.session_london_hours,
        spec.session_new_york_hours,
    )


def clock_stretch(spec: FeatureSpec, ts_ns: int) -> tuple[int, int, tuple[int, ...]]:
    """``(lo_ns, hi_ns, offsets_minutes)``: every city's UTC offset (minutes, in
    :data:`SESSION_TIMEZONES` order) is constant for bars closing in ``[lo_ns, hi_ns)``."""
    t_sec = ts_ns // NS_PER_SECOND
    lo, hi = -(2**63), 2**63
    offsets = []
    for zone_name in SESSION_TIMEZONES.values():
        z_lo, z_hi, offset = _constant_offset_span(zone_name, t_sec)
        if offset % 60:
            raise ValueError(
                f"{zone_name} has a UTC offset of {offset} s at {ts_ns} ns (not whole minutes); "
                "session features support whole-minute offsets only"
            )
        lo, hi = max(lo, z_lo), min(hi, z_hi)
        offsets.append(offset // 60)
    return lo * NS_PER_SECOND, hi * NS_PER_SECOND, tuple(offsets)


def minute_rows(spec: FeatureSpec, offsets_minutes: tuple[int, ...]) -> tuple[MinuteRow, ...]:
    """Calendar rows per UTC minute of the day, for the given city offsets (cached)."""
    return _minute_rows(offsets_minutes, session_hours(spec))


def clock_interval(spec: FeatureSpec, ts_ns: int) -> ClockInterval:
    """``(lo_ns, hi_ns, rows)``: for every ``t`` in ``[lo_ns, hi_ns)`` the calendar row of a bar
    closing at ``t`` is ``rows[(t // NS_PER_MINUTE) % 1440]``.

    ``ts_ns`` must lie in ``lo_ns <= ts_ns < hi_ns`` (it does: the span is built around it).
    """
    lo_ns, hi_ns, offsets = clock_stretch(spec, ts_ns)
    return lo_ns, hi_ns, minute_rows(spec, offsets)
