"""Imports never lose stored data: random sequences of imports of random sub-ranges, from two
sources with different prices, under random conflict policies, read back through Nautilus'
own ``ParquetDataCatalog.query`` and compared with a plain model of the merge (dict ts -> row).
Real HistData bars and real LEAN OANDA ticks (which repeat timestamps: a group per ts)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data import (
    BarArrays,
    FxPairSpec,
    QuoteArrays,
    WriteConflictError,
    fx_instrument,
    read_histdata_m1,
    read_lean_ticks,
    write_bars,
    write_instrument,
    write_quotes,
)
from nautilus_ai.data.catalog import bars_series, write_series
from nautilus_ai.data.catalog_layout import parse_parquet_file_name
from nautilus_ai.data.store import SourceInfo
from nautilus_ai.data.swap import STAGING_DIR

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"
POINT = 1e-5
INSTRUMENT = fx_instrument("EUR/USD")
Row = tuple[int, ...]
HYPOTHESIS = settings(
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def real_bars(data_dir: Path) -> BarArrays:
    return read_histdata_m1(data_dir / "histdata" / "DAT_ASCII_EURUSD_M1_201701.csv").take(
        slice(0, 240)
    )


@pytest.fixture(scope="module")
def real_ticks(data_dir: Path) -> QuoteArrays:
    ticks = read_lean_ticks(data_dir / "lean/forex/oanda/tick/eurusd/20140506_quote.zip")
    ticks = ticks.take(slice(0, 400))
    assert len(np.unique(ticks.ts_event)) < len(ticks)  # real repeated timestamps
    return ticks


def _points(values: np.ndarray) -> list[int]:
    return [round(float(v) / POINT) for v in values]


def _shift(bars: BarArrays, points: int) -> BarArrays:
    """The same bars from another source: prices ``points`` higher (still OHLC-consistent)."""
    d = points * POINT
    return BarArrays(
        bars.ts_event,
        np.round(bars.open + d, 5),
        np.round(bars.high + d, 5),
        np.round(bars.low + d, 5),
        np.round(bars.close + d, 5),
        bars.volume,
    )


def _bar_rows(bars: BarArrays) -> dict[int, tuple[Row, ...]]:
    rows = zip(
        bars.ts_event.tolist(),
        _points(bars.open),
        _points(bars.high),
        _points(bars.low),
        _points(bars.close),
        strict=True,
    )
    return {ts: ((o, h, low, c),) for ts, o, h, low, c in rows}


def _read_bars(catalog: Path, bar_type: str) -> dict[int, tuple[Row, ...]]:
    bars = ParquetDataCatalog(str(catalog)).query(Bar, identifiers=[bar_type])
    out = {
        b.ts_init: ((*_points(np.array([b.open, b.high, b.low, b.close], float)),),) for b in bars
    }
    assert len(out) == len(bars), f"{bar_type}: a timestamp read twice"
    return out


def model(stored: dict, new: dict, policy: str) -> tuple[dict, dict[str, int]]:
    """The merge spelled out over dicts ts -> group of rows."""
    result = dict(stored)
    counts = dict(added=0, unchanged=0, changed=0, skipped=0, conflicts=0)
    for ts, group in new.items():
        if ts not in stored:
            counts["added"] += len(group)
            result[ts] = group
        elif stored[ts] == group:
            counts["unchanged"] += len(group)
        else:
            counts["conflicts"] += 1
            if policy == "replace":
                counts["changed"] += len(group)
                result[ts] = group
            else:
                counts["skipped"] += len(group)
    counts["kept"] = sum(len(g) for ts, g in stored.items() if ts not in new)
    return result, counts


def _check_layout(catalog: Path) -> None:
    """Files of each series have disjoint intervals, true to their content; nothing staged."""
    assert not (catalog / STAGING_DIR).exists()
    for folder in (catalog / "data").glob("*/*"):
        intervals = []
        for path in folder.glob("*.parquet"):
            interval = parse_parquet_file_name(path.name)
            assert interval is not None, path
            ts = pq.read_table(path, columns=["ts_init"]).column("ts_init").to_numpy()
            assert (int(ts[0]), int(ts[-1])) == interval
            intervals.append(interval)
        intervals.sort()
        assert all(a[1] < b[0] for a, b in itertools.pairwise(intervals))


imports = st.lists(
    st.fixed_dictionaries(
        {
            "bid_source": st.sampled_from([0, 3]),  # points added to the real prices
            "ask_source": st.sampled_from([8, 11]),
            "start": st.integers(0, 239),
            "length": st.integers(1, 240),
            "holes": st.integers(0, 2**32 - 1),
            "policy": st.sampled_from(["error", "replace", "keep"]),
            "dry_run": st.booleans(),
        }
    ),
    min_size=1,
    max_size=6,
)


def _step(bid: int, ask: int, start: int, length: int, policy: str, dry_run: bool = False) -> dict:
    return dict(
        bid_source=bid,
        ask_source=ask,
        start=start,
        length=length,
        holes=7,
        policy=policy,
        dry_run=dry_run,
    )


# Every path at least once: add, keep a conflict, a dry run, replace, refuse, re-import.
EVERY_PATH = [
    _step(0, 8, 0, 120, "error"),
    _step(3, 11, 60, 120, "keep"),
    _step(3, 11, 100, 140, "replace", dry_run=True),
    _step(3, 11, 100, 140, "replace"),
    _step(0, 8, 0, 240, "error"),
    _step(3, 11, 100, 140, "error"),
]


@HYPOTHESIS
@given(steps=imports)
@example(steps=EVERY_PATH)
def test_bar_imports_match_the_model(real_bars: BarArrays, steps: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as name:
        catalog = Path(name)
        state: dict[str, dict] = {BID: {}, ASK: {}}
        for step in steps:
            rng = np.random.default_rng(step["holes"])
            rows = np.arange(step["start"], min(240, step["start"] + step["length"]))
            rows = rows[rng.random(len(rows)) < 0.8] if len(rows) > 3 else rows
            if len(rows) == 0:
                continue
            part = real_bars.take(rows)
            bid, ask = _shift(part, step["bid_source"]), _shift(part, step["ask_source"])
            policy = step["policy"]
            expected = {
                BID: model(state[BID], _bar_rows(bid), policy),
                ASK: model(state[ASK], _bar_rows(ask), policy),
            }
            refused = policy == "error" and any(c["conflicts"] for _, c in expected.values())
            series = [bars_series(INSTRUMENT, BID, bid), bars_series(INSTRUMENT, ASK, ask)]
            source = SourceInfo(f"source-{step['bid_source']}")
            try:
                results = write_series(
                    catalog, series, on_conflict=policy, source=source, dry_run=step["dry_run"]
                )
            except WriteConflictError as error:
                assert refused
                results = error.results
            else:
                assert not refused
            for result in results:
                wanted, counts = expected[result.identifier]
                got = {k: getattr(result, k) for k in counts}
                assert got == counts, result.identifier
                series_refused = policy == "error" and counts["conflicts"] > 0
                assert result.stored_after == (
                    len(state[result.identifier]) if series_refused else len(wanted)
                )
                if not refused and not step["dry_run"]:
                    state[result.identifier] = wanted
            for bar_type in (BID, ASK):
                assert _read_bars(catalog, bar_type) == state[bar_type]
            _check_layout(catalog)


def _tick_rows(ticks: QuoteArrays) -> dict[int, tuple[Row, ...]]:
    groups: dict[int, list[Row]] = {}
    for ts, b, a, bs, as_ in zip(
        ticks.ts_event.tolist(),
        _points(ticks.bid),
        _points(ticks.ask),
        ticks.bid_size.tolist(),
        ticks.ask_size.tolist(),
        strict=True,
    ):
        groups.setdefault(ts, []).append((b, a, int(bs), int(as_)))
    return {ts: tuple(g) for ts, g in groups.items()}


def _read_ticks(catalog: Path) -> dict[int, tuple[Row, ...]]:
    groups: dict[int, list[Row]] = {}
    for q in ParquetDataCatalog(str(catalog)).query(QuoteTick, identifiers=["EUR/USD.SIM"]):
        row = (
            *_points(np.array([q.bid_price, q.ask_price], float)),
            int(q.bid_size),
            int(q.ask_size),
        )
        groups.setdefault(q.ts_init, []).append(row)
    return {ts: tuple(sorted(g)) for ts, g in groups.items()}


@HYPOTHESIS
@given(steps=imports)
@example(steps=EVERY_PATH)
def test_quote_imports_match_the_model_group_by_group(
    real_ticks: QuoteArrays, steps: list[dict]
) -> None:
    with tempfile.TemporaryDirectory() as name:
        catalog = Path(name)
        state: dict = {}
        for step in steps:
            rng = np.random.default_rng(step["holes"])
            rows = np.arange(step["start"], min(400, step["start"] + step["length"] * 2))
            rows = rows[rng.random(len(rows)) < 0.9]
            if len(rows) == 0:
                continue
            part = real_ticks.take(rows)
            d = step["bid_source"] * POINT
            ticks = QuoteArrays(
                part.ts_event,
                np.round(part.bid + d, 5),
                np.round(part.ask + d, 5),
                part.bid_size,
                part.ask_size,
            )
            policy = step["policy"]
            wanted, counts = model(state, _tick_rows(ticks), policy)
            refused = policy == "error" and counts["conflicts"] > 0
            try:
                result = write_quotes(
                    catalog, INSTRUMENT, ticks, on_conflict=policy, dry_run=step["dry_run"]
                )
            except WriteConflictError as error:
                assert refused
                (result,) = error.results
            else:
                assert not refused
            assert {k: getattr(result, k) for k in counts} == counts
            if not refused and not step["dry_run"]:
                state = wanted
            assert _read_ticks(catalog) == {ts: tuple(sorted(g)) for ts, g in state.items()}
            _check_layout(catalog)


def test_refused_import_writes_no_series(tmp_path: Path, real_bars: BarArrays) -> None:
    write_series(tmp_path, [bars_series(INSTRUMENT, ASK, _shift(real_bars, 8))])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    series = [  # BID is new (would be added); ASK contradicts what is stored
        bars_series(INSTRUMENT, BID, real_bars),
        bars_series(INSTRUMENT, ASK, _shift(real_bars, 11)),
    ]
    with pytest.raises(WriteConflictError) as caught:
        write_series(tmp_path, series, instrument=INSTRUMENT)
    message = str(caught.value)
    assert message.startswith(f"{ASK}: 240 stored timestamps hold different values (first at ")
    assert ": stored open 1.05163, new 1.05166)" in message
    assert "--on-conflict replace" in message
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert [r.added for r in caught.value.results] == [240, 0]


def test_other_precision_cannot_join_a_series(tmp_path: Path, real_bars: BarArrays) -> None:
    write_bars(tmp_path, INSTRUMENT, BID, real_bars)
    coarse = fx_instrument("EUR/USD", table={"EURUSD": FxPairSpec("EUR", "USD", 4, 1e-4)})
    rounded = BarArrays(
        real_bars.ts_event + 10**12,
        *(np.round(getattr(real_bars, c), 4) for c in ("open", "high", "low", "close")),
        real_bars.volume,
    )
    with pytest.raises(
        ValueError, match="stored price_precision='5', new data price_precision='4'"
    ):
        write_bars(tmp_path, coarse, BID, rounded)


def test_nautilus_written_files_merge_and_are_reported_as_unknown_source(
    tmp_path: Path, real_bars: BarArrays
) -> None:
    bar_type = BarType.from_str(BID)
    first = real_bars.take(slice(0, 120))
    theirs = Bar.from_raw_arrays_to_list(
        bar_type, 5, 0, first.open, first.high, first.low, first.close, first.volume,
        first.ts_event.astype(np.uint64), first.ts_event.astype(np.uint64),
    )  # fmt: skip
    ParquetDataCatalog(str(tmp_path)).write_data(theirs)
    result = write_bars(tmp_path, INSTRUMENT, BID, real_bars.take(slice(60, 240)))
    assert (result.unchanged, result.added, result.kept) == (60, 120, 60)
    assert result.mixed and result.unknown_rows == 120
    assert "120 rows of unknown source" in result.to_text()
    assert _read_bars(tmp_path, BID) == _bar_rows(real_bars)
    _check_layout(tmp_path)


def test_instrument_rewrite_is_a_no_op(tmp_path: Path) -> None:
    assert write_instrument(tmp_path, INSTRUMENT)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert not write_instrument(tmp_path, INSTRUMENT)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    assert [str(i.id) for i in ParquetDataCatalog(str(tmp_path)).instruments()] == ["EUR/USD.SIM"]


def test_file_names_are_the_ones_nautilus_reads(tmp_path: Path, real_bars: BarArrays) -> None:
    write_bars(tmp_path, INSTRUMENT, BID, real_bars.take(slice(0, 100)))
    write_bars(tmp_path, INSTRUMENT, BID, real_bars.take(slice(150, 240)))
    catalog = ParquetDataCatalog(str(tmp_path))
    ts = real_bars.ts_event
    assert catalog.get_intervals(Bar, BID) == [
        (int(ts[0]), int(ts[99])),
        (int(ts[150]), int(ts[239])),
    ]
    window = catalog.query(Bar, identifiers=[BID], start=int(ts[90]), end=int(ts[160]))
    assert [b.ts_init for b in window] == [*ts[90:100].tolist(), *ts[150:161].tolist()]
