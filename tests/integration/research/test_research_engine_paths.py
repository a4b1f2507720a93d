"""The research facade on the demo catalog gives the engine paths' numbers, not look-alikes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nautilus_ai.research as nr
from nautilus_ai.data.catalog import read_bars
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.labels import LabelSpec, make_labels
from nautilus_ai.models import PredictionError, build_predictor
from nautilus_ai.sizing import SizingConfig, SizingInputs, size_position

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


@pytest.fixture(scope="module")
def all_bars(demo_catalog: Path) -> pd.DataFrame:
    return nr.bars(demo_catalog, BID)


@pytest.fixture(scope="module")
def all_features(all_bars: pd.DataFrame) -> pd.DataFrame:
    return nr.features(all_bars)


def engine_arrays(catalog: Path) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """What the strategy's precomputed path feeds compute_features: read_bars, accepted rows."""
    raw = read_bars(catalog, BID)
    columns = (raw.open, raw.high, raw.low, raw.close, raw.volume)
    keep = accepted_bars_mask(raw.ts_event, *columns)
    return raw.ts_event[keep], tuple(c[keep] for c in columns)


def test_catalog_bars_are_read_bars_in_a_half_open_window(demo_catalog: Path) -> None:
    bars = nr.bars(demo_catalog, BID, start="2017-03-01", end="2017-03-08")
    raw = read_bars(demo_catalog, BID)
    inside = (raw.ts_event >= pd.Timestamp("2017-03-01", tz="UTC").value) & (
        raw.ts_event < pd.Timestamp("2017-03-08", tz="UTC").value
    )
    np.testing.assert_array_equal(bars.index.asi8, raw.ts_event[inside])
    for name in nr.BAR_COLUMNS:
        assert bars[name].to_numpy().tobytes() == getattr(raw, name)[inside].tobytes()
    assert bars.attrs["instrument_id"] == "EUR/USD.SIM"
    assert bars.index[-1] < pd.Timestamp("2017-03-08", tz="UTC")


def test_features_equal_the_vectorised_twin_bit_for_bit(
    demo_catalog: Path, all_bars: pd.DataFrame, all_features: pd.DataFrame
) -> None:
    ts, columns = engine_arrays(demo_catalog)
    expected = compute_features(FeatureSpec(), ts, *columns)
    assert len(all_bars) == len(ts) > 180_000
    np.testing.assert_array_equal(all_features.index.asi8, ts)
    assert list(all_features.columns) == list(FeatureSpec().names)
    assert all_features.to_numpy().tobytes() == expected.tobytes()


def test_a_pandas_read_histdata_csv_gives_the_catalog_features(
    data_dir: Path, all_features: pd.DataFrame
) -> None:
    """A researcher's own path: pandas reads the raw CSV (New York wall clock, bar open times)."""
    files = sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*.csv"))
    raw = pd.concat(
        pd.read_csv(
            f,
            sep=";",
            header=None,
            names=["time", "Open", "High", "Low", "Close", "Volume"],
            index_col="time",
            parse_dates=["time"],
            date_format="%Y%m%d %H%M%S",
        )
        for f in files
    )
    with pytest.raises(nr.ResearchInputError, match="timezone-naive"):
        nr.features(raw)
    bars = nr.as_bars(raw, tz="America/New_York", stamped="open", bar_duration="1min")
    features = nr.features(bars)
    np.testing.assert_array_equal(features.index.asi8, all_features.index.asi8)
    assert features.to_numpy().tobytes() == all_features.to_numpy().tobytes()


def test_predictions_equal_predict_batch_on_the_accepted_rows(
    all_features: pd.DataFrame,
) -> None:
    spec = FeatureSpec()
    matrix = all_features.to_numpy()
    accepted = (matrix[:, spec.index("warm")] == 1.0) & np.isfinite(matrix).all(axis=1)
    predictor = build_predictor({"kind": "rule"}, spec)
    # Today's engine call on the whole frame fails for every row because of the warm-up ...
    with pytest.raises(PredictionError, match="in row 0 is"):
        predictor.predict_batch(matrix)
    # ... the facade holds those rows and sends exactly the others.
    frame = nr.predict(all_features, predictor)
    expected = predictor.predict_batch(matrix[accepted])
    np.testing.assert_array_equal(frame["accepted"].to_numpy(), accepted)
    got = frame[accepted]
    assert list(got["action"].astype(str)) == [p.action.value for p in expected]
    assert (
        got["confidence"].to_numpy().tobytes()
        == np.array([p.confidence for p in expected]).tobytes()
    )
    assert (
        got["risk_score"].to_numpy().tobytes()
        == np.array([p.risk_score for p in expected]).tobytes()
    )
    assert list(got["reason"]) == [p.reason for p in expected]
    assert set(got["model_id"]) == {predictor.model_id}
    np.testing.assert_array_equal(got["signal"].to_numpy(), [p.action.sign for p in expected])
    held = frame[~accepted]
    assert len(held) == spec.warmup_bars - 1
    assert (held["action"] == "hold").all() and (held["confidence"] == 0).all()
    assert held["reason"].str.startswith("not predicted: warm-up").all()


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_torch_predictions_equal_predict_batch(all_features: pd.DataFrame) -> None:
    spec = FeatureSpec()
    month = all_features.loc["2017-02"]  # starts warm: the features ran from January
    predictor = build_predictor({"kind": "torch_random", "seed": 3, "device": "cpu"}, spec)
    try:
        frame = nr.predict(month, predictor)
        expected = predictor.predict_batch(month.to_numpy())
    finally:
        predictor.close()
    assert frame["accepted"].all()
    assert (
        frame["confidence"].to_numpy().tobytes()
        == np.array([p.confidence for p in expected]).tobytes()
    )
    assert list(frame["action"].astype(str)) == [p.action.value for p in expected]


def test_labels_equal_make_labels(all_bars: pd.DataFrame) -> None:
    spec = LabelSpec(kind="triple_barrier", horizon=20, buy_threshold=1.5, sell_threshold=1.5)
    frame = nr.labels(all_bars, spec)
    ts = all_bars.index.asi8
    expected = make_labels(
        spec, ts, *(all_bars[c].to_numpy() for c in ("open", "high", "low", "close"))
    )
    np.testing.assert_array_equal(frame["label"].to_numpy(), expected.label)
    np.testing.assert_array_equal(frame["valid"].to_numpy(), expected.valid)
    assert frame["forward_return"].to_numpy().tobytes() == expected.forward_return.tobytes()
    valid = expected.valid
    np.testing.assert_array_equal(
        pd.DatetimeIndex(frame["label_end"]).asi8[valid],
        ts[expected.end_index[valid]],
    )
    assert frame["label_end"][~valid].isna().all()
    assert frame.attrs["label_description"] == spec.describe()


def test_size_is_the_strategy_sizer_row_by_row(
    all_bars: pd.DataFrame, all_features: pd.DataFrame
) -> None:
    bars, features = all_bars.loc["2017-04"], all_features.loc["2017-04"]
    predictions = nr.predict(features, {"kind": "rule"})
    config = SizingConfig(base_fraction=0.5, full_fraction=3.0)
    sized = nr.size(predictions, features, bars, config.to_dict(), equity=50_000.0)
    calls = np.flatnonzero(predictions["signal"].to_numpy() != 0)
    assert calls.size > 100
    for row in calls.tolist():
        decision = size_position(
            SizingInputs(
                side=int(predictions["signal"].iloc[row]),
                confidence=float(predictions["confidence"].iloc[row]),
                risk_score=float(predictions["risk_score"].iloc[row]),
                price=float(bars["close"].iloc[row]),
                equity=50_000.0,
                peak_equity=50_000.0,
                free_margin=50_000.0,
                vol_regime=float(features["vol_regime"].iloc[row]),
                volatility=float(features["atr_close"].iloc[row]),
            ),
            config,
        )
        assert sized["quantity"].iloc[row] == decision.quantity
        assert sized["blocked_by"].iloc[row] == decision.blocked_by
    assert (sized["quantity"][predictions["signal"] == 0] == 0).all()
    assert (sized["blocked_by"][predictions["signal"] == 0] == "hold").all()
    signs = np.sign(sized["signed_quantity"].to_numpy()[sized["quantity"].to_numpy() > 0])
    np.testing.assert_array_equal(signs, predictions["signal"].to_numpy()[sized["quantity"] > 0])


def test_evaluation_scores_each_call_against_the_close_horizon_bars_later(
    all_bars: pd.DataFrame, all_features: pd.DataFrame
) -> None:
    features = all_features.loc["2017-05"]
    predictions = nr.predict(features, {"kind": "rule"})
    report = nr.evaluate(predictions, all_bars, horizon=15, cost_pips=0.5, min_confidence=0.6)
    close = all_bars["close"]
    position = all_bars.index.get_indexer(predictions.index)
    calls = (predictions["signal"] != 0) & (predictions["confidence"] >= 0.6)
    rows = np.flatnonzero(calls.to_numpy())
    gross = (
        predictions["signal"].to_numpy()[rows]
        * (close.to_numpy()[position[rows] + 15] - close.to_numpy()[position[rows]])
        / 1e-4
    )
    assert len(report.trades) == rows.size > 50  # bars run past May: every call has a horizon
    np.testing.assert_allclose(report.trades["gross_pips"].to_numpy(), gross, rtol=0, atol=1e-9)
    np.testing.assert_allclose(report.trades["net_pips"].to_numpy(), gross - 0.5, atol=1e-9)
    assert report.summary["hit_rate"] == pytest.approx(float(np.mean(gross > 0)))
    assert report.summary["total_net_pips"] == pytest.approx(float(np.sum(gross - 0.5)))
    assert report.pnl.iloc[-1] == pytest.approx(float(np.sum(gross - 0.5)))
    assert report.by_signal.loc["buy", "rows"] == int((predictions["signal"][calls] > 0).sum())
    text = report.text()
    assert text.startswith(nr.NOT_A_BACKTEST) and "cost 0.5 pips" in text


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"catalog": "missing-folder"}, "catalog: no folder at missing-folder"),
        ({"bar_type": "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"}, "no bars of type"),
        ({"bar_type": "not a bar type"}, "bar_type 'not a bar type'"),
        ({"start": "2017-13-45"}, "start: cannot read '2017-13-45'"),
        ({"start": "2017-03-01", "end": "2017-02-01"}, "must be after start"),
        ({"start": "2018-01-01"}, "has no EUR/USD.SIM-1-MINUTE-BID-EXTERNAL bars in"),
    ],
)
def test_catalog_refusals_are_one_line(
    demo_catalog: Path, kwargs: dict[str, object], expected: str
) -> None:
    arguments: dict[str, object] = {"catalog": demo_catalog, "bar_type": BID, **kwargs}
    catalog = arguments.pop("catalog")
    bar_type = arguments.pop("bar_type")
    with pytest.raises(nr.ResearchInputError) as error:
        nr.bars(catalog, bar_type, **arguments)  # type: ignore[arg-type]
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_catalog_bounds_in_any_zone_are_converted(demo_catalog: Path) -> None:
    utc = nr.bars(demo_catalog, BID, start="2017-03-01 00:00", end="2017-03-02 00:00")
    tokyo = nr.bars(
        demo_catalog,
        BID,
        start=pd.Timestamp("2017-03-01 09:00", tz="Asia/Tokyo"),
        end=pd.Timestamp("2017-03-02 09:00", tz="Asia/Tokyo"),
    )
    ns = nr.bars(demo_catalog, BID, start=utc.index[0].value, end=utc.index[-1].value + 1)
    assert utc.index.equals(tokyo.index) and utc.index.equals(ns.index)
