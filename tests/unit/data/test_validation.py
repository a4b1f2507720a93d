"""Validation checks and policies, on synthetic series and on the real quirks the README lists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.data import (
    BAR_POLICY,
    QUOTE_POLICY,
    BarArrays,
    QuoteArrays,
    ValidationPolicy,
    read_lean_bars,
    read_lean_ticks,
    validate_bars,
    validate_bid_ask_bars,
    validate_quotes,
    weekly_closures,
)

NS = 1_000_000_000
MIN = 60 * NS
PIP = 1e-4
# Tuesday 2017-03-07 10:00 UTC, well inside a trading week.
T0 = int(np.datetime64("2017-03-07T10:00", "ns").astype(np.int64))


def _bars(minutes: list[int], close: list[float] | None = None) -> BarArrays:
    ts = np.array([T0 + m * MIN for m in minutes], dtype=np.int64)
    c = np.array(close if close is not None else [1.1] * len(ts), dtype=np.float64)
    return BarArrays(ts, c.copy(), c + 0.0002, c - 0.0002, c, np.full(len(ts), 5.0))


def test_duplicates_and_out_of_order_are_dropped_and_counted() -> None:
    kept, report = validate_bars(_bars([0, 1, 1, 2, 1, 3]), pip_size=PIP)
    assert kept.ts_event.tolist() == [T0 + m * MIN for m in (0, 1, 2, 3)]
    assert report.check("out_of_order").count == 1 and report.check("out_of_order").dropped == 1
    assert report.check("duplicates").count == 1 and report.check("duplicates").dropped == 1
    assert report.rows_in - report.rows_out == report.dropped == 2
    assert "row 2 at 2017-03-07T10:01:00.000Z" in report.check("duplicates").examples[0]


def test_kept_out_of_order_rows_are_sorted_into_place() -> None:
    policy = BAR_POLICY.with_actions(out_of_order="keep")
    kept, report = validate_bars(_bars([0, 2, 1, 3]), policy, pip_size=PIP)
    assert kept.ts_event.tolist() == [T0 + m * MIN for m in (0, 1, 2, 3)]
    assert report.check("out_of_order").action == "sorted"
    assert "sorted into place" in report.to_text()


def test_ohlc_flat_and_spike_checks() -> None:
    close = [1.1, 1.10003, 1.10001, 1.11, 1.10002, 1.10004, 1.10003, 1.10001]  # 100-pip spike at 3
    bars = _bars(list(range(8)), close)
    high = bars.high.copy()
    high[1] = 1.0  # below low
    volume = bars.volume.copy()
    volume[6] = 0.0
    o, h, low, c = bars.open.copy(), high, bars.low.copy(), bars.close.copy()
    h[6] = low[6] = o[6] = c[6]  # flat, zero volume
    o[3] = c[3]  # the spike bar opens and closes at the spike
    bars = BarArrays(bars.ts_event, o, h, low, c, volume)
    kept, report = validate_bars(bars, pip_size=PIP)
    assert report.check("ohlc").dropped == 1 and "h=1.0" in report.check("ohlc").examples[0]
    assert report.check("flat").count == 1 and report.check("flat").action == "keep"
    assert report.check("spikes").count == 1 and report.check("spikes").action == "flag"
    assert len(kept) == 7
    _, dropped = validate_bars(
        bars, BAR_POLICY.with_actions(spikes="drop", flat="drop"), pip_size=PIP
    )
    assert dropped.rows_out == 5


def test_a_trend_is_not_a_spike() -> None:
    _, report = validate_bars(_bars(list(range(4)), [1.1, 1.2, 1.3, 1.4]), pip_size=PIP)
    assert report.check("spikes").count == 0


def test_gaps_ignore_the_weekly_closure_but_not_a_weekday_hole() -> None:
    friday_close = int(np.datetime64("2017-03-10T21:59", "ns").astype(np.int64))  # EST: 22:00
    sunday_open = int(np.datetime64("2017-03-12T21:01", "ns").astype(np.int64))  # EDT: 21:00
    ts = np.array(
        [
            *(friday_close - 2 * MIN, friday_close - MIN, friday_close),
            *(sunday_open, sunday_open + MIN, sunday_open + 64 * MIN),
        ],
        dtype=np.int64,
    )
    c = np.full(len(ts), 1.1)
    bars = BarArrays(ts, c, c, c, c, np.ones(len(ts)))
    _, report = validate_bars(bars, pip_size=PIP)
    assert report.check("gaps").count == 1  # only the 62 missing minutes on Sunday evening
    assert "62 open-market minutes missing" in report.check("gaps").examples[0]


def test_weekly_closure_follows_new_york_dst() -> None:
    start = int(np.datetime64("2017-03-01", "ns").astype(np.int64))
    end = int(np.datetime64("2017-03-20", "ns").astype(np.int64))
    windows = weekly_closures(start, end).astype("datetime64[ns]").astype(str).tolist()
    assert ["2017-03-10T22:00:00.000000000", "2017-03-12T21:00:00.000000000"] in windows
    assert ["2017-03-17T21:00:00.000000000", "2017-03-19T21:00:00.000000000"] in windows


def test_quotes_crossed_locked_and_policy_drop() -> None:
    ts = np.array([T0, T0 + NS, T0 + 2 * NS, T0 + 2 * NS], dtype=np.int64)
    bid = np.array([1.1, 1.1002, 1.1001, 1.1001])
    ask = np.array([1.1001, 1.1001, 1.1001, 1.1002])
    quotes = QuoteArrays(ts, bid, ask, np.zeros(4), np.zeros(4))
    kept, report = validate_quotes(quotes, pip_size=PIP)
    assert (report.check("crossed").count, report.check("locked").count) == (1, 1)
    assert report.check("duplicates").count == 1 and len(kept) == 4  # flagged, kept
    kept, report = validate_quotes(
        quotes, QUOTE_POLICY.with_actions(crossed="drop", duplicates="drop"), pip_size=PIP
    )
    assert len(kept) == 2 and report.dropped == 2
    payload = json.loads(report.to_json())
    assert payload["dropped"] == 2 and payload["checks"][0]["name"] == "out_of_order"


def test_policy_fails_fast_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"ValidationPolicy\.crossed"):
        ValidationPolicy(crossed="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ValidationPolicy\.gaps"):
        ValidationPolicy(gaps="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ValidationPolicy\.gap_seconds"):
        ValidationPolicy(gap_seconds=0)


def test_finds_the_fxcm_crossed_quotes_the_readme_lists(data_dir: Path) -> None:
    """README: LEAN FXCM ticks crossed ~10.2% and locked ~12.4%; hourly closes crossed ~4%."""
    fxcm = data_dir / "lean" / "forex" / "fxcm"
    ticks = read_lean_ticks(sorted((fxcm / "tick").rglob("*.zip")))
    _, report = validate_quotes(ticks, pip_size=PIP, source="fxcm ticks")
    crossed, locked = report.check("crossed").count, report.check("locked").count
    assert crossed == 116_871 and abs(crossed / len(ticks) - 0.102) < 0.001
    assert locked == 142_462 and abs(locked / len(ticks) - 0.124) < 0.001
    assert report.check("duplicates").count == 0  # FXCM ticks repeat no timestamps
    assert report.rows_out == len(ticks)  # flagged, nothing dropped
    bid, ask = read_lean_bars(fxcm / "hour" / "eurusd.zip")
    _, _, hourly = validate_bid_ask_bars(bid, ask, pip_size=PIP)
    assert 0.03 < hourly.check("crossed").count / len(bid) < 0.045
    assert "bid close" in hourly.check("crossed").examples[0]


def test_finds_the_oanda_repeated_timestamps(data_dir: Path) -> None:
    """README: OANDA ticks repeat millisecond timestamps, tens to about 1,500 per day."""
    per_day = []
    for path in sorted((data_dir / "lean" / "forex" / "oanda" / "tick").rglob("*.zip")):
        ticks = read_lean_ticks(path)
        _, report = validate_quotes(ticks, pip_size=PIP)
        expected = int(np.sum(np.diff(ticks.ts_event) == 0))
        assert report.check("duplicates").count == expected
        assert report.check("crossed").count == 0  # OANDA bid <= ask always
        per_day.append(expected)
    assert min(per_day) >= 10 and 1_000 < max(per_day) <= 1_600


@settings(max_examples=50, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=-3, max_value=5), min_size=1, max_size=60),
    drop_spikes=st.booleans(),
)
def test_properties_rows_accounted_for_and_output_sorted(
    steps: list[int], drop_spikes: bool
) -> None:
    minutes = np.cumsum(steps).tolist()
    rng = np.random.default_rng(len(steps))
    close = np.round(1.1 + rng.normal(0, 0.003, len(minutes)), 5).tolist()
    policy = BAR_POLICY.with_actions(spikes="drop" if drop_spikes else "flag")
    kept, report = validate_bars(_bars(minutes, close), policy, pip_size=PIP)
    assert report.rows_out == len(kept) == report.rows_in - report.dropped
    assert np.all(np.diff(kept.ts_event) > 0)
