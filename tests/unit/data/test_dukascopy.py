"""Dukascopy .bi5: URL layout, decoding (EURUSD and GBPJPY), and tick -> candle exactness."""

from __future__ import annotations

import lzma
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fixtures.data_files import iso_ns
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.data import BarArrays, DataFormatError, QuoteArrays, bars_from_quotes
from nautilus_ai.data.aggregate import bars_covered
from nautilus_ai.data.dukascopy import (
    DukascopyFile,
    decode_ticks,
    decompress_bi5,
    dukascopy_files,
    find_files,
    load_candles,
    load_ticks,
    parse_key,
    price_scale,
)

MINUTE = 60 * 1_000_000_000


@pytest.fixture(scope="module")
def root(data_dir: Path) -> Path:
    return data_dir / "dukascopy"


@pytest.fixture(scope="module")
def eurusd_ticks(root: Path) -> QuoteArrays:
    pairs = [p for p in find_files([root / "EURUSD" / "2019" / "01"]) if p[1].kind == "ticks"]
    assert len(pairs) == 48
    quotes, failures = load_ticks(pairs, price_scale("EURUSD"))
    assert failures == ()
    return quotes


def test_urls_use_zero_based_months() -> None:
    feb = datetime(2019, 2, 4, 8, tzinfo=UTC)
    assert DukascopyFile("EURUSD", "ticks", feb).key == "EURUSD/2019/01/04/08h_ticks.bi5"
    day = datetime(2019, 2, 4, tzinfo=UTC)
    assert (
        DukascopyFile("EURUSD", "m1", day, "BID").key == "EURUSD/2019/01/04/BID_candles_min_1.bi5"
    )
    jan = datetime(2019, 1, 1, tzinfo=UTC)
    assert DukascopyFile("EURUSD", "h1", jan, "BID").key == "EURUSD/2019/00/BID_candles_hour_1.bi5"
    assert DukascopyFile("EURUSD", "d1", jan, "ASK").key == "EURUSD/2019/ASK_candles_day_1.bi5"
    assert (
        DukascopyFile("EURUSD", "ticks", feb).url("http://127.0.0.1:1/feed/")
        == "http://127.0.0.1:1/feed/EURUSD/2019/01/04/08h_ticks.bi5"
    )


def test_file_listing_covers_the_range() -> None:
    start, end = datetime(2019, 2, 4, 22, 30, tzinfo=UTC), datetime(2019, 2, 5, 1, tzinfo=UTC)
    keys = [f.key for f in dukascopy_files("EUR/USD", start, end)]
    assert keys == [
        "EURUSD/2019/01/04/22h_ticks.bi5",
        "EURUSD/2019/01/04/23h_ticks.bi5",
        "EURUSD/2019/01/05/00h_ticks.bi5",
    ]
    months = list(
        dukascopy_files("EURUSD", datetime(2018, 12, 31, tzinfo=UTC), end, "h1", ("BID",))
    )
    assert [f.key for f in months] == [
        "EURUSD/2018/11/BID_candles_hour_1.bi5",
        "EURUSD/2019/00/BID_candles_hour_1.bi5",
        "EURUSD/2019/01/BID_candles_hour_1.bi5",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "ticks", "side": "BID"}, "side"),
        ({"kind": "m1", "side": None}, "side"),
        ({"kind": "m5", "side": None}, "kind"),
        (
            {"kind": "ticks", "side": None, "start": datetime(2019, 1, 1, 0, 30, tzinfo=UTC)},
            "start",
        ),
        ({"kind": "ticks", "side": None, "start": datetime(2019, 1, 1)}, "start"),
    ],
)
def test_file_rejects_bad_fields(kwargs: dict, field: str) -> None:
    kwargs.setdefault("start", datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match=f"DukascopyFile.{field}"):
        DukascopyFile("EURUSD", **kwargs)


@given(
    kind=st.sampled_from(["ticks", "m1", "h1", "d1"]),
    side=st.sampled_from(["BID", "ASK"]),
    moment=st.datetimes(min_value=datetime(2003, 1, 1), max_value=datetime(2030, 12, 31)),
)
def test_parse_key_inverts_key(kind: str, side: str, moment: datetime) -> None:
    start = moment.replace(tzinfo=UTC, minute=0, second=0, microsecond=0)
    if kind != "ticks":
        start = start.replace(hour=0)
    if kind in ("h1", "d1"):
        start = start.replace(day=1)
    if kind == "d1":
        start = start.replace(month=1)
    file = DukascopyFile("EURUSD", kind, start, None if kind == "ticks" else side)  # type: ignore[arg-type]
    assert parse_key(file.key) == file


def test_48_hours_of_eurusd_ticks(eurusd_ticks: QuoteArrays, root: Path) -> None:
    assert len(eurusd_ticks) == 266_219
    assert np.all(np.diff(eurusd_ticks.ts_event) >= 0)
    key = "EURUSD/2019/01/04/08h_ticks.bi5"
    file = parse_key(key)
    hour = decode_ticks(decompress_bi5((root / key).read_bytes(), file), file, 100_000)
    assert len(hour) == 10_546
    # First raw record (71, 114427, 114425, 3.5, 1.0).
    assert hour.ts_event[0] == iso_ns("2019-02-04T08:00:00.071")
    assert (hour.ask[0], hour.bid[0]) == (1.14427, 1.14425)
    assert (hour.ask_size[0], hour.bid_size[0]) == (3_500_000.0, 1_000_000.0)
    assert eurusd_ticks.bid.min() >= 1.1401 and eurusd_ticks.ask.max() <= 1.1462


def test_gbpjpy_decodes_with_the_1e3_scale(root: Path) -> None:
    assert price_scale("GBP/JPY") == 1_000
    pairs = find_files([root / "GBPJPY"])
    quotes, failures = load_ticks(pairs, price_scale("GBPJPY"))
    assert failures == () and len(pairs) == 24
    assert len(quotes) == 58_953
    first = [p for p in pairs if p[1].start.hour == 8]
    hour, _ = load_ticks(first, 1_000)
    assert len(hour) == 3_407
    assert hour.ts_event[0] == iso_ns("2012-12-03T08:00:00.313")
    assert (hour.ask[0], hour.bid[0]) == (132.015, 132.002)
    assert quotes.bid.min() >= 131.6 and quotes.ask.max() <= 132.6


@pytest.mark.parametrize("side", ["BID", "ASK"])
def test_minute_bars_from_ticks_reproduce_dukascopy_candles_exactly(
    eurusd_ticks: QuoteArrays, root: Path, side: str
) -> None:
    pairs = [p for p in find_files([root / "EURUSD" / "2019" / "01"]) if p[1].kind == "m1"]
    candles, failures = load_candles([p for p in pairs if p[1].side == side], 100_000)
    assert failures == ()
    assert len(candles) == (2_880 if side == "BID" else 1_440)
    ours = bars_from_quotes(eurusd_ticks, MINUTE, side)  # type: ignore[arg-type]
    ours = ours.take(np.isin(ours.ts_event, candles.ts_event))
    assert len(ours) == len(candles)
    for column in ("ts_event", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(ours, column), getattr(candles, column)), column


def test_candle_record_order_is_open_close_low_high(root: Path) -> None:
    key = "EURUSD/2019/01/04/BID_candles_min_1.bi5"
    (pair,) = find_files([root / key])
    bars, _ = load_candles([pair], 100_000)
    # Raw (0, 114543, 114569, 114542, 114570, 293.76):
    # 00:00 O 1.14543 H 1.14570 L 1.14542 C 1.14569.
    assert bars.ts_event[0] == iso_ns("2019-02-04T00:01")
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0]) == (
        1.14543,
        1.1457,
        1.14542,
        1.14569,
    )
    assert bars.volume[0] == 293_760_000.0
    day = find_files([root / "EURUSD/2019/BID_candles_day_1.bi5"])
    days, _ = load_candles(day, 100_000)
    assert len(days) == 365
    assert days.ts_event[1] == iso_ns(
        "2019-01-03T00:00"
    )  # the 2019-01-02 candle, closing at midnight
    assert (days.open[1], days.high[1], days.low[1], days.close[1]) == (
        1.14612,
        1.14967,
        1.13092,
        1.13121,
    )


def test_empty_body_is_no_data_and_corrupt_bodies_name_file_and_period(root: Path) -> None:
    file = parse_key("EURUSD/2019/01/04/08h_ticks.bi5")
    assert decompress_bi5(b"", file) == b""
    assert len(decode_ticks(b"", file, 100_000)) == 0
    body = (root / file.key).read_bytes()
    with pytest.raises(DataFormatError, match=r"08h_ticks\.bi5: EURUSD ticks 2019-02-04 08:00 UTC"):
        decompress_bi5(body[: len(body) // 2], file)
    raw = lzma.decompress(body)
    with pytest.raises(DataFormatError, match="20-byte records"):
        decode_ticks(raw[:-7], file, 100_000)


def test_a_corrupt_file_is_listed_and_the_others_still_load(tmp_path: Path, root: Path) -> None:
    keys = [f"EURUSD/2019/01/04/{h:02d}h_ticks.bi5" for h in (7, 8, 9)]
    for key in keys:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes((root / key).read_bytes())
    broken = tmp_path / keys[1]
    broken.write_bytes(broken.read_bytes()[:1000])
    quotes, failures = load_ticks(find_files([tmp_path]), 100_000)
    assert len(quotes) == 6_914 + 9_276
    assert len(failures) == 1
    assert failures[0].key == keys[1]
    assert "2019-02-04 08:00" in str(failures[0]) and "LZMA" in str(failures[0])


def test_bars_from_quotes_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(0, 50 * MINUTE, 2_000)).astype(np.int64)
    bid = np.round(1.1 + rng.normal(0, 1e-4, len(ts)).cumsum(), 5)
    quotes = QuoteArrays(ts, bid, bid + 0.0001, rng.random(len(ts)), rng.random(len(ts)))
    bars = bars_from_quotes(quotes, MINUTE, "BID")
    expected: dict[int, list[float]] = {}
    for t, price, size in zip(ts, bid, quotes.bid_size, strict=True):
        key = (int(t) // MINUTE + 1) * MINUTE
        if key not in expected:
            expected[key] = [price, price, price, price, 0.0]
        row = expected[key]
        row[1], row[2], row[3], row[4] = (
            max(row[1], price),
            min(row[2], price),
            price,
            row[4] + size,
        )
    assert bars.ts_event.tolist() == list(expected)
    got = np.column_stack([bars.open, bars.high, bars.low, bars.close, bars.volume])
    assert np.allclose(got, np.array(list(expected.values())), rtol=0, atol=1e-12)
    mid = bars_from_quotes(quotes, MINUTE, "MID", precision=5)
    assert np.all(np.abs(mid.close * 1e5 - np.rint(mid.close * 1e5)) < 1e-6)
    with pytest.raises(ValueError, match="precision"):
        bars_from_quotes(quotes, MINUTE, "MID")
    assert len(bars_from_quotes(QuoteArrays.empty(), MINUTE, "ASK")) == 0
    assert isinstance(bars, BarArrays)


def test_bars_covered_needs_every_file_of_the_period() -> None:
    hour = 3_600_000_000_000
    read = np.array([12, 13, 15], dtype=np.int64) * hour  # 14h is missing (not read, corrupt)
    closes = np.array([13, 14, 15, 16, 24], dtype=np.int64) * hour
    assert bars_covered(closes, hour, read, hour).tolist() == [True, True, False, True, False]
    # Two-hour bars [12, 14) and [14, 16); a day [0, 24) from a few hours only.
    two = np.array([14, 16], dtype=np.int64) * hour
    assert bars_covered(two, 2 * hour, read, hour).tolist() == [True, False]
    assert bars_covered(np.array([24 * hour]), 24 * hour, read, hour).tolist() == [False]
    # A 7-minute bar straddling 12h / 13h needs both hours; one straddling 11h / 12h does not.
    seven = 420_000_000_000
    straddle = np.array([13 * hour + 3 * 60_000_000_000, 12 * hour + 60_000_000_000])
    assert bars_covered(straddle, seven, read, hour).tolist() == [True, False]


@pytest.mark.parametrize("endless", [float("inf"), float("nan"), 0.0])
def test_a_download_source_refuses_a_timeout_without_end(endless: float) -> None:
    # HttpDataSource(read_timeout=inf) was taken: a server that accepts and never answers held
    # the download for good (the CLI's --timeout is checked; the Python API was not).
    from nautilus_ai.data.dukascopy.source import HttpDataSource

    with pytest.raises(ValueError, match="read_timeout must be a finite number > 0 seconds"):
        HttpDataSource(read_timeout=endless)
