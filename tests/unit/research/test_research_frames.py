"""``as_bars``: what the facade accepts (and converts), and the one-line refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nautilus_ai.research as nr
from nautilus_ai.features.validation import accepted_bars_mask
from nautilus_ai.models.testing import synthetic_bars

ZONES = ("UTC", "Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney")


def utc_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    raw = synthetic_bars(n, seed=seed)
    index = pd.DatetimeIndex(pd.to_datetime(raw[:, 0].astype(np.int64), unit="ns", utc=True))
    return pd.DataFrame(raw[:, 1:], index=index, columns=["open", "high", "low", "close", "volume"])


def refusal(frame: object, **kwargs: object) -> str:
    with pytest.raises(nr.ResearchInputError) as info:
        nr.as_bars(frame, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message, message  # one line
    return message


# -- accepted inputs ------------------------------------------------------------------------


def test_utc_frame_comes_back_checked_and_equal() -> None:
    frame = utc_frame()
    bars = nr.as_bars(frame)
    assert list(bars.columns) == list(nr.BAR_COLUMNS)
    assert str(bars.index.dtype) == "datetime64[ns, UTC]"
    assert bars.index.name == nr.INDEX_NAME
    pd.testing.assert_frame_equal(bars, frame, check_names=False, check_freq=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    representation=st.sampled_from(["aware", "int_ns", "naive_with_tz", "time_column", "micro"]),
    seed=st.integers(0, 10_000),
    case=st.sampled_from([str.lower, str.upper, str.title]),
)
def test_every_accepted_representation_gives_the_same_bars_and_features(
    zone: str, representation: str, seed: int, case: object
) -> None:
    reference = utc_frame(150, seed=seed)
    frame = reference.rename(columns=case)  # type: ignore[arg-type]
    kwargs: dict[str, object] = {}
    if representation == "aware":
        frame.index = reference.index.tz_convert(zone)
    elif representation == "int_ns":
        frame.index = reference.index.asi8
    elif representation == "naive_with_tz":
        frame.index = reference.index.tz_convert(zone).tz_localize(None)
        kwargs["tz"] = zone
    elif representation == "time_column":
        frame = frame.reset_index(drop=True)
        frame["When"] = reference.index.tz_convert(zone)
        kwargs["time_column"] = "When"
    else:  # microsecond resolution: asi8 would be µs, the facade must still give ns
        frame.index = reference.index.tz_convert(zone).as_unit("us")
    bars = nr.as_bars(frame, **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(bars.index.asi8, reference.index.asi8)
    expected = nr.features(reference).to_numpy()
    assert nr.features(bars).to_numpy().tobytes() == expected.tobytes()


def test_naive_local_time_with_tz_is_converted_with_dst() -> None:
    frame = utc_frame(4)
    frame.index = pd.DatetimeIndex(
        ["2017-01-03 09:00", "2017-01-03 09:01", "2017-06-01 09:00", "2017-06-01 09:01"]
    )
    bars = nr.as_bars(frame, tz="America/New_York")
    assert [t.strftime("%m-%d %H:%M") for t in bars.index] == [
        "01-03 14:00",  # EST, UTC-5
        "01-03 14:01",
        "06-01 13:00",  # EDT, UTC-4
        "06-01 13:01",
    ]


def test_open_stamped_bars_move_to_the_close() -> None:
    frame = utc_frame(5)
    opened = frame.set_axis(frame.index - pd.Timedelta("1min"))
    bars = nr.as_bars(opened, stamped="open", bar_duration="1min")
    np.testing.assert_array_equal(bars.index.asi8, frame.index.asi8)
    assert "bar_duration" in refusal(opened, stamped="open")


def test_input_is_never_modified() -> None:
    frame = utc_frame(50).rename(columns=str.title)
    frame.index = frame.index.tz_convert("Asia/Tokyo")
    before = frame.copy(deep=True)
    nr.as_bars(frame)
    nr.features(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_invalid_drop_keeps_what_the_engine_accepts() -> None:
    frame = utc_frame(40)
    frame.iloc[7, frame.columns.get_loc("high")] = frame["low"].iloc[7] - 1e-4  # high < low
    frame.iloc[9, frame.columns.get_loc("volume")] = -1.0
    bars = nr.as_bars(frame, invalid="drop")
    ts = frame.index.asi8
    mask = accepted_bars_mask(ts, *(frame[c].to_numpy() for c in nr.BAR_COLUMNS))
    np.testing.assert_array_equal(bars.index.asi8, ts[mask])
    assert bars.attrs["dropped_bars"] == 2


def test_integer_price_columns_are_numbers() -> None:
    frame = utc_frame(5)
    frame["volume"] = np.arange(5)
    assert nr.as_bars(frame)["volume"].dtype == np.float64


# -- refusals: one line naming the problem ---------------------------------------------------


def test_naive_times_without_a_clock_are_refused() -> None:
    frame = utc_frame(5)
    frame.index = frame.index.tz_localize(None)
    message = refusal(frame)
    assert "timezone-naive" in message and "tz='UTC'" in message


def test_aware_times_with_a_different_tz_are_refused() -> None:
    frame = utc_frame(5)
    frame.index = frame.index.tz_convert("Europe/London")
    assert "already in zone Europe/London" in refusal(frame, tz="America/New_York")
    assert len(nr.as_bars(frame, tz="Europe/London")) == 5


def test_local_time_that_does_not_exist_is_refused() -> None:
    frame = utc_frame(2)
    frame.index = pd.DatetimeIndex(["2017-03-12 02:30", "2017-03-12 02:31"])  # spring forward
    assert "DST" in refusal(frame, tz="America/New_York")


@pytest.mark.parametrize(
    ("times", "named"),
    [
        (["2017-03-12 01:59", "2017-03-12 02:30"], "2017-03-12 02:30:00"),  # spring forward
        (["2017-11-05 00:59", "2017-11-05 01:30"], "2017-11-05 01:30:00"),  # fall back
    ],
)
def test_a_dst_refusal_names_the_wall_time(times: list[str], named: str) -> None:
    frame = utc_frame(2)
    frame.index = pd.DatetimeIndex(times)
    assert refusal(frame, tz="America/New_York").startswith(
        f"bars: naive time {named} does not exist or is ambiguous in America/New_York (DST"
    )


def test_unknown_zone_is_refused() -> None:
    frame = utc_frame(2)
    frame.index = frame.index.tz_localize(None)
    assert "unknown time zone 'Mars/Olympus'" in refusal(frame, tz="Mars/Olympus")


def test_missing_columns_are_named() -> None:
    message = refusal(utc_frame(5).drop(columns=["high", "volume"]))
    assert "missing column(s) 'high', 'volume'" in message
    assert "df['volume'] = 0.0" in refusal(utc_frame(5).drop(columns=["volume"]))


def test_ambiguous_columns_are_named() -> None:
    frame = utc_frame(5)
    frame["Close"] = frame["close"]
    assert "ambiguous columns ['close', 'Close']" in refusal(frame)


def test_multiindex_columns_are_refused_with_the_way_out() -> None:
    frame = utc_frame(5)
    frame.columns = pd.MultiIndex.from_product([["EURUSD=X"], frame.columns])
    assert "MultiIndex" in refusal(frame)


def test_unsorted_times_are_named() -> None:
    frame = utc_frame(10).iloc[[0, 1, 2, 4, 3, 5]]
    message = refusal(frame)
    assert "not sorted: row 4" in message and "sort_index" in message


def test_duplicate_times_are_named() -> None:
    frame = utc_frame(10)
    frame = pd.concat([frame.iloc[:5], frame.iloc[4:]])
    message = refusal(frame)
    assert "1 duplicate time(s)" in message and "rows 4 and 5" in message


def test_nan_prices_are_named_with_their_time() -> None:
    frame = utc_frame(10)
    frame.iloc[6, frame.columns.get_loc("close")] = np.nan
    message = refusal(frame)
    assert "column 'close'" in message and "row 6" in message and str(frame.index[6]) in message
    frame.iloc[6, frame.columns.get_loc("close")] = np.inf
    assert "infinite" in refusal(frame)


def test_nullable_missing_prices_are_named() -> None:
    frame = utc_frame(5)
    frame["open"] = frame["open"].astype("Float64")
    frame.iloc[2, frame.columns.get_loc("open")] = pd.NA
    assert "column 'open'" in refusal(frame)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # pandas 2 (Python 3.11) stores strings as object, pandas 3 (3.12+) as its str dtype
        (lambda f: f["close"].astype(str), f"has dtype {pd.Series(['x']).dtype}"),
        (lambda f: f["close"] > 0, "has dtype bool"),
        (lambda f: pd.Categorical(f["close"]), "has dtype category"),
    ],
)
def test_wrong_dtypes_are_named(values: object, expected: str) -> None:
    frame = utc_frame(5)
    frame["close"] = values(frame)  # type: ignore[operator]
    message = refusal(frame)
    assert "column 'close'" in message and expected in message


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (lambda f: f.index.strftime("%Y-%m-%d %H:%M"), "strings"),
        (lambda f: f.index.asi8 / 1e9, "floats"),
        (lambda f: f.index.asi8 // 10**9, "look like seconds"),
        (lambda f: f.index.asi8 // 10**6, "look like milliseconds"),
        (lambda f: pd.RangeIndex(len(f)), "plain row number"),
        (lambda f: -f.index.asi8, "negative"),
    ],
)
def test_times_that_are_not_times_are_refused(index: object, expected: str) -> None:
    frame = utc_frame(5)
    frame.index = index(frame)  # type: ignore[operator]
    assert expected in refusal(frame)


def test_mixed_zones_in_an_object_index_are_refused() -> None:
    frame = utc_frame(2)
    frame.index = pd.Index(
        [
            pd.Timestamp("2017-01-02 10:00", tz="UTC"),
            pd.Timestamp("2017-01-02 11:01", tz="Asia/Tokyo"),
        ],
        dtype=object,
    )
    assert "mix time zones" in refusal(frame)


def test_invalid_bar_is_named_with_its_reason() -> None:
    frame = utc_frame(10)
    frame.iloc[3, frame.columns.get_loc("high")] = frame["low"].iloc[3] - 1e-4
    message = refusal(frame)
    assert "invalid bar at" in message and "row 3" in message and "high_below_low" in message
    assert "invalid='drop'" in message


def test_non_frames_and_bad_options_are_refused() -> None:
    assert "expected a pandas DataFrame, got ndarray" in refusal(synthetic_bars(5))
    assert "invalid:" in refusal(utc_frame(5), invalid="skip")
    assert "stamped:" in refusal(utc_frame(5), stamped="middle")
    assert "time_column 'when' is not a column" in refusal(utc_frame(5), time_column="when")
    assert "bar_duration: must be positive" in refusal(
        utc_frame(5), stamped="open", bar_duration="-1min"
    )


def naive_frame(n: int = 5) -> pd.DataFrame:
    frame = utc_frame(n)
    frame.index = frame.index.tz_localize(None)
    return frame


@pytest.mark.parametrize("duration", [60, 60.0, np.int64(60)])
def test_a_bare_number_bar_duration_is_refused_not_read_as_nanoseconds(duration: object) -> None:
    # pd.Timedelta(60) is 60 ns: bar_duration=60 moved every open time by 60 ns, not a minute.
    message = refusal(naive_frame(), tz="UTC", stamped="open", bar_duration=duration)
    assert message.startswith("bar_duration: expected a duration ('1min', '1h')")
    assert "nanoseconds" in message


def test_bar_duration_without_open_stamps_is_refused_on_a_checked_frame_too() -> None:
    # A frame as_bars already returned took the shortcut and ignored bar_duration silently.
    checked = nr.as_bars(utc_frame(5))
    assert refusal(checked, bar_duration="1min") == "bar_duration is only used with stamped='open'"
    assert refusal(utc_frame(5), bar_duration="1min") == (
        "bar_duration is only used with stamped='open'"
    )


@pytest.mark.parametrize("tz", [5, 5.0, -300])
def test_a_number_for_tz_is_refused_not_read_as_an_offset_in_seconds(tz: object) -> None:
    # pandas read tz=5 as the fixed zone UTC+00:00:05: every naive time moved by 5 seconds.
    message = refusal(naive_frame(), tz=tz)
    assert message == (
        f"tz: expected a zone name ('UTC', 'America/New_York', 'Etc/GMT-5'), got {tz!r}"
    )
