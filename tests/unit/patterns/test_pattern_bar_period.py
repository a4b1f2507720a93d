"""A pattern store records the bar period it was cut from, and a memory of one period refuses
bars of another: 32 one-minute closes and a 30-minute outcome say nothing of an hour-bar
window. Real EUR/USD minute bars, and hour bars aggregated from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.models import MarketContext
from nautilus_ai.models.base import PredictionError
from nautilus_ai.models.registry import build_predictor
from nautilus_ai.patterns import (
    IndexConfig,
    PatternMemory,
    PatternSet,
    build_from_bars,
    load_memory,
    save_memory,
)
from nautilus_ai.patterns.store import (
    META_BAR_NS,
    STORE_FILE,
    PatternStoreError,
    bar_step_ns,
    read_patterns,
)

MINUTE = 60_000_000_000
HOUR = 60 * MINUTE
EXACT = IndexConfig(mode="exact")


def _aggregate(ts: np.ndarray, ohlcv: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Bars of ``period`` from minute bars (close time = the period's end)."""
    group = (ts - 1) // period
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], ts.size] - 1
    out = np.column_stack([
        ohlcv[starts, 0], np.maximum.reduceat(ohlcv[:, 1], starts),
        np.minimum.reduceat(ohlcv[:, 2], starts), ohlcv[ends, 3],
        np.add.reduceat(ohlcv[:, 4], starts),
    ])  # fmt: skip
    return (group[starts] + 1) * period, out


@pytest.fixture(scope="module")
def minute_memory(
    real_bars: tuple[np.ndarray, np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    ts, ohlcv = real_bars
    folder = tmp_path_factory.mktemp("minute-memory")
    save_memory(PatternMemory(build_from_bars(ts[:8_000], ohlcv[:8_000],
                                              instrument_id="EUR/USD.SIM"), index_config=EXACT),
                folder)  # fmt: skip
    return folder


def _contexts(ts: np.ndarray, ohlcv: np.ndarray, rows: range) -> tuple[np.ndarray, list]:
    spec = FeatureSpec()
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep], ohlcv[keep]
    features = compute_features(spec, ts, *ohlcv.T)
    table = np.column_stack([ts.astype(np.float64), ohlcv])
    contexts = [
        MarketContext("EUR/USD.SIM", int(ts[i]), spec.names, spec.hash, table[i - 63 : i + 1])
        for i in rows
    ]
    return features[list(rows)], contexts


def test_the_store_records_its_bar_period(minute_memory: Path) -> None:
    assert read_patterns(minute_memory).bar_ns == MINUTE
    assert load_memory(minute_memory).bar_ns == MINUTE
    assert bar_step_ns(np.array([0, 60, 120, 180, 100_000, 100_060])) == 60  # gaps aside
    assert bar_step_ns(np.array([5])) is None


def test_a_minute_memory_refuses_hour_bars(
    real_bars: tuple[np.ndarray, np.ndarray], minute_memory: Path
) -> None:
    ts, ohlcv = _aggregate(*real_bars, HOUR)
    features, contexts = _contexts(ts, ohlcv, range(200, 240))
    config = {"kind": "pattern_memory", "path": str(minute_memory), "k": 20}
    model = build_predictor(config, FeatureSpec())
    message = r"built from bars 1 min apart, the strategy's bars are 1 h apart"
    with pytest.raises(PredictionError, match=message):
        model.predict(features[0], contexts[0])
    with pytest.raises(PredictionError, match=message):
        model.predict_batch(features, contexts)
    assert model.learned == 0  # type: ignore[attr-defined]  # nothing of the hour bars joined


def test_the_start_checks_refuse_a_memory_of_another_period(minute_memory: Path) -> None:
    # The memory refused hour bars only when it saw them, bar by bar (every decision a hold
    # naming it): `backtest --check` / `live --check` said OK and the run held throughout. The
    # checks before a run (and the strategy's start) now compare the store's period.
    from nautilus_ai.models.trained_bars import BarTypeMismatchError, check_bar_type

    model = build_predictor({"kind": "pattern_memory", "path": str(minute_memory)}, FeatureSpec())
    assert check_bar_type(model, "GBP/USD.SIM-1-MINUTE-ASK-EXTERNAL").warnings == ()
    with pytest.raises(BarTypeMismatchError) as refused:
        check_bar_type(model, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL")
    assert str(refused.value).startswith(
        f"model {model.model_id} was built from bars 1 min apart, the strategy's bar type is "
        "EUR/USD.SIM-1-HOUR-BID-EXTERNAL (1 h)"
    )
    # Tick bars have no period to compare before the run: the memory checks them as they come.
    assert check_bar_type(model, "EUR/USD.SIM-100-TICK-MID-INTERNAL").warnings == ()


def test_a_five_minute_memory_refuses_minute_bars(
    real_bars: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    ts, ohlcv = real_bars
    five_ts, five = _aggregate(ts, ohlcv, 5 * MINUTE)
    save_memory(PatternMemory(build_from_bars(five_ts, five, instrument_id="EUR/USD.SIM"),
                              index_config=EXACT), tmp_path)  # fmt: skip
    features, contexts = _contexts(ts, ohlcv, range(9_000, 9_010))
    model = build_predictor({"kind": "pattern_memory", "path": str(tmp_path)}, FeatureSpec())
    with pytest.raises(PredictionError, match="bars 5 min apart, the strategy's bars are 1 min"):
        model.predict(features[0], contexts[0])


def test_minute_bars_with_gaps_and_a_weekend_are_answered(
    real_bars: tuple[np.ndarray, np.ndarray], minute_memory: Path
) -> None:
    ts, ohlcv = real_bars
    keep = accepted_bars_mask(ts, *ohlcv.T)
    friday_close = int(np.flatnonzero(np.diff(ts[keep]) > 24 * HOUR)[1])  # a weekend
    rows = range(friday_close + 1, friday_close + 40)  # windows that span it
    features, contexts = _contexts(ts, ohlcv, rows)
    model = build_predictor({"kind": "pattern_memory", "path": str(minute_memory)},
                            FeatureSpec())  # fmt: skip
    assert len(model.predict_batch(features, contexts)) == len(rows)


def test_a_store_from_before_the_record_still_loads(minute_memory: Path, tmp_path: Path) -> None:
    table = pq.read_table(minute_memory / STORE_FILE)
    metadata = dict(table.schema.metadata)
    del metadata[META_BAR_NS]
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / STORE_FILE)
    legacy = read_patterns(tmp_path)
    assert legacy.bar_ns is None and len(legacy) == len(read_patterns(minute_memory))
    metadata[META_BAR_NS] = b"0"
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / STORE_FILE)
    with pytest.raises(PatternStoreError, match=r"patterns.parquet: bar period b'0'"):
        read_patterns(tmp_path)


def test_patterns_of_two_periods_never_mix(
    real_bars: tuple[np.ndarray, np.ndarray], minute_memory: Path
) -> None:
    ts, ohlcv = real_bars
    hour = build_from_bars(*_aggregate(ts, ohlcv, HOUR), instrument_id="EUR/USD.SIM")
    minute = read_patterns(minute_memory)
    assert hour.bar_ns == HOUR
    with pytest.raises(PatternStoreError, match=r"different periods \(1 min, 1 h\)"):
        PatternSet.concat([minute, hour])
    memory = PatternMemory(minute, index_config=EXACT)
    with pytest.raises(PatternStoreError, match="patterns of 1 h bars cannot join a memory of 1"):
        memory.add(hour)


def test_similar_windows_refuses_bars_of_another_period(
    real_bars: tuple[np.ndarray, np.ndarray],
    minute_memory: Path,
    demo_catalog: Path,
    tmp_path: Path,
) -> None:
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    from nautilus_ai.data.arrays import BarArrays
    from nautilus_ai.data.catalog import write_bars
    from nautilus_ai.patterns import similar_windows

    instrument = ParquetDataCatalog(str(demo_catalog)).instruments()[0]
    ts, ohlcv = _aggregate(*real_bars, HOUR)
    arrays = BarArrays(ts_event=ts, open=ohlcv[:, 0], high=ohlcv[:, 1], low=ohlcv[:, 2],
                       close=ohlcv[:, 3], volume=ohlcv[:, 4])  # fmt: skip
    write_bars(tmp_path, instrument, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL", arrays)
    memory = load_memory(minute_memory)
    with pytest.raises(ValueError, match=r"1 min apart, EUR/USD.SIM-1-HOUR-BID-EXTERNAL is 1 h"):
        similar_windows(memory, tmp_path, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL")


def test_a_hold_for_too_few_neighbours_says_how_many_were_found(
    real_bars: tuple[np.ndarray, np.ndarray], minute_memory: Path
) -> None:
    """The hold said "hold: N eligible patterns (< min)" with N the eligible count, which an
    approximate index (or k > eligible) makes a different number from the neighbours found."""
    ts, ohlcv = real_bars
    patterns = read_patterns(minute_memory)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    accepted = ts[keep]
    row = int(np.searchsorted(accepted, patterns.available_ns[2], side="right"))  # 3 known
    features, contexts = _contexts(ts, ohlcv, range(row, row + 1))
    model = build_predictor({"kind": "pattern_memory", "path": str(minute_memory)},
                            FeatureSpec())  # fmt: skip
    (answer,) = model.predict_batch(features, contexts)
    assert answer.reason == (
        "hold: 3 neighbours found (< min_neighbours 5) among 3 eligible patterns"
    )
