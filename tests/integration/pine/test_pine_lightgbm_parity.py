"""A LightGBM model trained on real bars, exported to Pine exactly, run in PineTS on other real
bars: every feature within tolerance and every signal equal to the Python predictor's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.data import BarArrays
from nautilus_ai.datasets import Fold, Window
from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.labels import LabelSpec
from nautilus_ai.models.lightgbm import LightGBMPredictor
from nautilus_ai.pine import (
    PineSyntaxChecker,
    StrategyOptions,
    check_export,
    export_lightgbm_artifact,
)
from nautilus_ai.training.gbt import GBTConfig, train_gbt_on_arrays
from nautilus_ai.workflows.oos import suggested_min_confidence

pytestmark = pytest.mark.slow

BARS = 3_000  # PineTS walks every tree in its interpreter: a few ms per bar


@pytest.fixture(scope="module")
def gbt_artifact(tmp_path_factory: pytest.TempPathFactory, fit_bars: BarArrays) -> Path:
    """A small booster trained by the real pipeline on February - April 2017 (not the checked
    month): 15 iterations x 3 classes of <= 7 leaves."""
    spec = FeatureSpec()
    b = fit_bars
    features = compute_features(spec, b.ts_event, b.open, b.high, b.low, b.close, b.volume)
    ohlcv = np.column_stack([b.open, b.high, b.low, b.close, b.volume])
    fold = Fold(
        train=Window.parse("2017-02-01", "2017-04-01"),
        validation=Window.parse("2017-04-01", "2017-05-01"),
    )
    config = GBTConfig(
        num_leaves=7, max_iterations=15, early_stopping_rounds=15, threads=1,
        target_signal_rate=0.05,
    )  # fmt: skip
    result = train_gbt_on_arrays(
        b.ts_event, ohlcv, features, spec, fold=fold, config=config,
        label=LabelSpec(horizon=15, buy_threshold=0.5, sell_threshold=0.5),
        artifacts_root=tmp_path_factory.mktemp("artifacts"), name="pine-gbt",
    )  # fmt: skip
    return result.artifact_path


def test_lightgbm_export_signals_equal_the_python_predictor(
    gbt_artifact: Path,
    month_bars: BarArrays,
    pinets_modules: Path,
    syntax_checker: PineSyntaxChecker,
) -> None:
    threshold = suggested_min_confidence(gbt_artifact)
    assert threshold is not None
    export = export_lightgbm_artifact(
        gbt_artifact, options=StrategyOptions(min_confidence=threshold)
    )
    assert export.kind == "lightgbm"
    predictor = LightGBMPredictor.from_artifact(gbt_artifact, spec=FeatureSpec())
    assert f"{predictor.ensemble.num_trees} trees" in export.script
    report = check_export(
        export,
        month_bars.take(slice(0, BARS)),
        predictor,
        checker=syntax_checker,
        node_modules=str(pinets_modules),
    )
    print(report.summary())
    assert report.passed, report.summary()
    parity = report.parity
    assert parity is not None
    assert parity.signals.mismatches == ()
    assert parity.signals.signal_bars > 20  # the model does signal at its threshold
    # same leaves and sums: the probabilities differ only through exp() in JS vs libm
    assert parity.signals.confidence_max_abs_error < 1e-12


def test_export_pine_cli_embeds_a_lightgbm_artifact(gbt_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "gbt.pine"
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "export-pine", "--model", str(gbt_artifact),
         "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "embedded as exact LightGBM (every tree)" in result.stdout
    assert "(from the model card)" in result.stdout
    script = out.read_text()
    assert script.startswith("//@version=6")
    assert "nai_leaves(array<float> x) =>" in script and "pine-gbt/1" in script
