"""Training from a catalog: bars recomputed, or logged snapshots checked against the bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from training_bars import features_and_fold, patterned_bars

from nautilus_ai.catalog import FeatureLogConfig, FeatureLogger, read_bars
from nautilus_ai.data import BarArrays, fx_instrument, write_bars, write_instrument
from nautilus_ai.features import FeatureSpec
from nautilus_ai.labels import LabelSpec
from nautilus_ai.models import Action, Prediction
from nautilus_ai.training import (
    FeatureMismatchError,
    TrainConfig,
    load_training_frame,
    train_model,
)

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
HOLD = Prediction(Action.HOLD, 0.0, 1.0, "test/1")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("catalog")
    ts, ohlcv = patterned_bars(6_000, seed=4)
    ohlcv = np.round(ohlcv, 5)  # EUR/USD has 5 decimals
    ohlcv[:, 1] = np.maximum(ohlcv[:, 1], ohlcv[:, [0, 3]].max(axis=1))
    ohlcv[:, 2] = np.minimum(ohlcv[:, 2], ohlcv[:, [0, 3]].min(axis=1))
    instrument = fx_instrument("EUR/USD")
    write_instrument(root, instrument)
    write_bars(root, instrument, BAR_TYPE, BarArrays(ts, *ohlcv.T))
    spec = FeatureSpec()
    features, _ = features_and_fold(ts, ohlcv, spec)
    _log_run(root, "good", features, ts, spec)  # a logged run, as the strategy writes it
    return root, (ts, ohlcv)


def _log_run(root: Path, run_id: str, features: np.ndarray, ts: np.ndarray, spec: Any) -> None:
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(root), run_id=run_id, fsync=False),
        spec=spec, instrument_id="EUR/USD.SIM", bar_type=BAR_TYPE,
    )  # fmt: skip
    warm = spec.warmup_bars - 1
    for row, t in zip(features[warm:], ts[warm:], strict=True):
        logger.record(int(t), row, HOLD, "none", 0.0, False)
    logger.close()


def test_bars_source_recomputes_from_the_catalog(catalog: tuple[Path, Any]) -> None:
    root, (ts, _ohlcv) = catalog
    frame = load_training_frame(root, BAR_TYPE, FeatureSpec())
    np.testing.assert_array_equal(frame.ts, ts)
    np.testing.assert_array_equal(frame.ohlcv, read_bars(root, BAR_TYPE)[1])
    assert frame.source == "bars" and frame.agreement is None
    assert np.isnan(frame.features[0]).any() and np.isfinite(frame.features[-1]).all()


def test_snapshots_source_checks_every_logged_vector(catalog: tuple[Path, Any]) -> None:
    root, (ts, ohlcv) = catalog
    spec = FeatureSpec()
    features, _ = features_and_fold(ts, ohlcv, spec)
    frame = load_training_frame(root, BAR_TYPE, spec, source="snapshots", run_id="good")
    assert frame.agreement is not None
    assert frame.agreement.rows_compared == frame.agreement.rows_identical == ts.size - 113
    assert np.isnan(frame.features[:113]).all()  # no snapshot for the warm-up bars

    tampered = features.copy()
    tampered[3_000, spec.index("rsi")] += 1e-6
    _log_run(root, "tampered", tampered, ts, spec)
    with pytest.raises(FeatureMismatchError, match=r"feature 'rsi' at ts_event \d+ is"):
        load_training_frame(root, BAR_TYPE, spec, source="snapshots", run_id="tampered")

    other = FeatureSpec(atr_period=10)
    with pytest.raises(FeatureMismatchError, match="was logged with feature spec"):
        load_training_frame(root, BAR_TYPE, other, source="snapshots", run_id="good")


def test_train_model_from_logged_snapshots(catalog: tuple[Path, Any], tmp_path: Path) -> None:
    root, (ts, ohlcv) = catalog
    _, fold = features_and_fold(ts, ohlcv)
    lines: list[str] = []
    result = train_model(
        root, bar_type=BAR_TYPE, fold=fold, label=LabelSpec(horizon=5),
        config=TrainConfig(hidden=(8,), epochs=2, threads=1), source="snapshots", run_id="good",
        artifacts_root=tmp_path, name="from-log", progress=lines.append,
    )  # fmt: skip
    data = result.card.metrics["data"]
    assert data["feature_source"] == "snapshots" and data["run_id"] == "good"  # type: ignore[index]
    assert data["snapshot_agreement"]["rows_identical"] > 5_000  # type: ignore[index]
    assert any("agree with the recomputed ones" in line for line in lines)
