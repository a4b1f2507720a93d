"""FX session flags across the real 2017 DST switches, and against zoneinfo bar by bar."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from features_strategies import NS, Bars, run_engine

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.features.clock import clock_stretch, utc_offset_seconds
from nautilus_ai.features.spec import SESSION_TIMEZONES


def _flags(spec: FeatureSpec, *moments: datetime) -> dict[str, list[float]]:
    """Session flags of bars *closing* at each moment, from both paths (asserted equal)."""
    ts = np.array([int(m.timestamp()) * NS for m in moments], dtype=np.int64)
    n = len(ts)
    one = np.full(n, 1.1)
    bars = Bars(ts, one, one, one, one, np.zeros(n))
    x = compute_features(spec, *bars.arrays())
    np.testing.assert_array_equal(x, run_engine(spec, bars))
    names = [f"session_{city}" for city in SESSION_TIMEZONES] + ["session_overlap"]
    return {name: x[:, spec.index(name)].tolist() for name in names}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_new_york_across_us_switch_2017_03_12() -> None:
    f = _flags(
        FeatureSpec(),
        # Friday 10 March, EST (UTC-5): 08:00-17:00 local = 13:00-22:00 UTC
        utc(2017, 3, 10, 12, 59), utc(2017, 3, 10, 13, 0), utc(2017, 3, 10, 21, 59),
        utc(2017, 3, 10, 22, 0),
        # Monday 13 March, EDT (UTC-4): 12:00-21:00 UTC
        utc(2017, 3, 13, 11, 59), utc(2017, 3, 13, 12, 0), utc(2017, 3, 13, 20, 59),
        utc(2017, 3, 13, 21, 0),
    )  # fmt: skip
    assert f["session_new_york"] == [0, 1, 1, 0, 0, 1, 1, 0]
    # London is still on GMT: 08:00-17:00 UTC; the overlap is 13:00-17:00 then 12:00-17:00.
    assert f["session_london"] == [1, 1, 0, 0, 1, 1, 0, 0]
    assert f["session_overlap"] == [0, 1, 0, 0, 0, 1, 0, 0]


def test_london_across_eu_switch_2017_03_26() -> None:
    f = _flags(
        FeatureSpec(),
        # Friday 24 March, GMT: 08:00-17:00 UTC
        utc(2017, 3, 24, 7, 59), utc(2017, 3, 24, 8, 0), utc(2017, 3, 24, 16, 59),
        utc(2017, 3, 24, 17, 0),
        # Monday 27 March, BST (UTC+1): 07:00-16:00 UTC
        utc(2017, 3, 27, 6, 59), utc(2017, 3, 27, 7, 0), utc(2017, 3, 27, 15, 59),
        utc(2017, 3, 27, 16, 0),
    )  # fmt: skip
    assert f["session_london"] == [0, 1, 1, 0, 0, 1, 1, 0]
    # Overlap with New York (EDT, 12:00-21:00 UTC) is 12:00-16:00 UTC after the switch.
    overlap = _flags(
        FeatureSpec(), utc(2017, 3, 27, 11, 59), utc(2017, 3, 27, 12, 0), utc(2017, 3, 27, 15, 59),
        utc(2017, 3, 27, 16, 0),
    )["session_overlap"]  # fmt: skip
    assert overlap == [0, 1, 1, 0]


def test_sydney_across_switch_2017_04_02() -> None:
    f = _flags(
        FeatureSpec(),
        # Friday 31 March, AEDT (UTC+11): 07:00-16:00 local = 20:00 (Thu) - 05:00 UTC
        utc(2017, 3, 30, 19, 59), utc(2017, 3, 30, 20, 0), utc(2017, 3, 31, 4, 59),
        utc(2017, 3, 31, 5, 0),
        # Monday 3 April, AEST (UTC+10): 21:00 (Sun) - 06:00 UTC
        utc(2017, 4, 2, 20, 59), utc(2017, 4, 2, 21, 0), utc(2017, 4, 3, 5, 59),
        utc(2017, 4, 3, 6, 0),
    )  # fmt: skip
    assert f["session_sydney"] == [0, 1, 1, 0, 0, 1, 1, 0]
    # Tokyo has no DST: 09:00-18:00 JST = 00:00-09:00 UTC all year.
    assert _flags(
        FeatureSpec(), utc(2017, 4, 2, 23, 59), utc(2017, 4, 3, 0, 0), utc(2017, 4, 3, 8, 59),
        utc(2017, 4, 3, 9, 0),
    )["session_tokyo"] == [0, 1, 1, 0]  # fmt: skip


def test_the_transition_instant_uses_the_new_offset() -> None:
    # 2017-03-12 07:00:00 UTC is 03:00 EDT (02:00 EST never happens); 06:59 is 01:59 EST.
    spec = FeatureSpec(session_new_york_hours=(3, 4), session_london_hours=(2, 3))
    f = _flags(
        spec,
        utc(2017, 3, 12, 6, 59), utc(2017, 3, 12, 7, 0),
        # 2017-03-26 01:00 UTC is 02:00 BST; 00:59 is 00:59 GMT.
        utc(2017, 3, 26, 0, 59), utc(2017, 3, 26, 1, 0),
    )  # fmt: skip
    assert f["session_new_york"] == [0, 1, 0, 0]
    assert f["session_london"] == [0, 0, 0, 1]


def test_session_close_time_convention_end_exclusive() -> None:
    # The 1-minute bar 07:59-08:00 London closes at 08:00 and is in the session; the bar
    # 16:59-17:00 closes at 17:00 and is not.
    f = _flags(FeatureSpec(), utc(2017, 1, 9, 8, 0), utc(2017, 1, 9, 17, 0))
    assert f["session_london"] == [1, 0]


def test_wrapping_session() -> None:
    spec = FeatureSpec(session_tokyo_hours=(22, 3))  # 22:00-03:00 JST = 13:00-18:00 UTC
    f = _flags(spec, utc(2017, 1, 9, 12, 59), utc(2017, 1, 9, 13, 0), utc(2017, 1, 9, 17, 59),
               utc(2017, 1, 9, 18, 0))  # fmt: skip
    assert f["session_tokyo"] == [0, 1, 1, 0]


def _reference_flags(spec: FeatureSpec, ts: np.ndarray) -> dict[str, np.ndarray]:
    hours = {
        "sydney": spec.session_sydney_hours,
        "tokyo": spec.session_tokyo_hours,
        "london": spec.session_london_hours,
        "new_york": spec.session_new_york_hours,
    }
    out = {}
    for city, zone in SESSION_TIMEZONES.items():
        tz = ZoneInfo(zone)
        start, end = hours[city]
        flags = []
        for t in ts.tolist():
            local = datetime.fromtimestamp(t // NS, tz)
            minute = local.hour * 60 + local.minute
            flags.append(1.0 if start * 60 <= minute < end * 60 else 0.0)
        out[city] = np.array(flags)
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_against_zoneinfo_per_bar_2000_to_2035(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Random close times over 35 years, plus every minute around each 2017 switch.
    random_ts = rng.integers(946_684_800, 2_051_222_400, 6000) * NS
    around = [
        int(utc(*d).timestamp()) + 60 * k
        for d in ((2017, 3, 12, 7), (2017, 3, 26, 1), (2017, 4, 1, 16), (2017, 10, 1, 16))
        for k in range(-90, 91)
    ]
    ts = np.unique(np.concatenate([random_ts, np.array(around, dtype=np.int64) * NS]))
    spec = FeatureSpec()
    flags = _flags(spec, *(datetime.fromtimestamp(t // NS, UTC) for t in ts.tolist()))
    reference = _reference_flags(spec, ts)
    for city in SESSION_TIMEZONES:
        np.testing.assert_array_equal(flags[f"session_{city}"], reference[city], err_msg=city)


def test_clock_stretches_change_exactly_at_the_us_switch() -> None:
    spec = FeatureSpec()
    t = int(utc(2017, 1, 9).timestamp()) * NS
    lo, hi, offsets = clock_stretch(spec, t)
    assert lo <= t < hi
    assert offsets == (660, 540, 0, -300)  # Sydney AEDT, Tokyo, London GMT, New York EST
    # Walk the stretches (a stretch may also end where a zone's scan horizon ended).
    while True:
        for zone, offset in zip(SESSION_TIMEZONES.values(), offsets, strict=True):
            assert utc_offset_seconds(zone, hi // NS - 1) == offset * 60
        _, next_hi, next_offsets = clock_stretch(spec, hi)
        if next_offsets != offsets:
            break
        hi = next_hi
    # The first change after 9 January 2017 is the US switch, 2017-03-12 07:00 UTC.
    assert hi == int(utc(2017, 3, 12, 7).timestamp()) * NS
    assert next_offsets == (660, 540, 0, -240)
