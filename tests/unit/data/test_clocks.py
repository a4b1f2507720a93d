"""Clock conversion: UTC, fixed offsets, New York with DST (gaps, folds), and symbols table."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fixtures.data_files import iso_ns
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.data import DEFAULT_FX_PAIRS, FxPairSpec, fx_pair_spec, local_to_utc_ns
from nautilus_ai.data.clocks import NonexistentLocalTimeError, check_clock


def test_new_york_offsets_either_side_of_the_2017_switches() -> None:
    local = np.array(
        [
            iso_ns(t)
            for t in (
                "2017-03-12T01:59",
                "2017-03-12T03:00",
                "2017-11-05T00:59",
                "2017-11-05T02:00",
            )
        ]
    )
    utc = local_to_utc_ns(local, "America/New_York")
    assert [(u - x) // 3_600_000_000_000 for u, x in zip(utc, local, strict=True)] == [5, 4, 4, 5]


def test_ambiguous_local_time_maps_to_the_first_occurrence() -> None:
    (utc,) = local_to_utc_ns(np.array([iso_ns("2017-11-05T01:30")]), "America/New_York")
    assert utc == iso_ns("2017-11-05T05:30")  # EDT, the first 01:30


def test_skipped_local_time_raises_with_its_index() -> None:
    local = np.array([iso_ns("2017-03-12T01:00"), iso_ns("2017-03-12T02:30")])
    with pytest.raises(NonexistentLocalTimeError, match="DST gap") as caught:
        local_to_utc_ns(local, "America/New_York")
    assert caught.value.index == 1


def test_fixed_offsets_and_utc() -> None:
    local = np.array([iso_ns("2014-05-01T00:00:01.787")])
    assert local_to_utc_ns(local, "-05:00")[0] == iso_ns("2014-05-01T05:00:01.787")
    assert local_to_utc_ns(local, "+05:30")[0] == iso_ns("2014-04-30T18:30:01.787")
    assert local_to_utc_ns(local, "UTC")[0] == local[0]
    with pytest.raises(ValueError, match="clock 'EST5'"):
        check_clock("EST5")


@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1)))
def test_matches_zoneinfo_for_any_instant(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    if aware.fold:  # the repeated hour: we map to the first occurrence by design
        return
    wall = aware.replace(tzinfo=None)
    local = np.array([int(np.datetime64(wall, "us").astype(np.int64)) * 1000])
    expected = int(np.datetime64(moment, "us").astype(np.int64)) * 1000
    assert local_to_utc_ns(local, "America/New_York")[0] == expected


def test_pair_table() -> None:
    assert fx_pair_spec("EUR/USD").price_precision == 5
    assert fx_pair_spec("usdjpy").price_precision == 3 and fx_pair_spec("GBP-JPY").pip_size == 0.01
    assert DEFAULT_FX_PAIRS["EURUSD"].symbol == "EUR/USD"
    with pytest.raises(KeyError, match="no FX pair spec for 'SEK/NOK'"):
        fx_pair_spec("SEK/NOK")
    extra = {"SEKNOK": FxPairSpec("SEK", "NOK", 5, 0.0001)}
    assert fx_pair_spec("SEK/NOK", extra).quote == "NOK"
    with pytest.raises(ValueError, match=r"FxPairSpec\.base"):
        FxPairSpec("sek", "NOK", 5, 0.0001)
