"""Leakage: no fold's model, calibration or threshold depends on a bar at or after the start of
its test window. Perturb every bar from the test start on (in a copy of the real catalog):
each family's fold model (weights / trees / patterns), temperature and thresholds come out
identical. Perturb bars of the validation window instead and they change (the comparison is
sensitive: the test can fail)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nautilus_ai.data.arrays import BarArrays
from nautilus_ai.data.catalog import read_bars, write_bars
from nautilus_ai.datasets import Fold, Window
from nautilus_ai.experiments.config import Market
from nautilus_ai.experiments.plan import ModelSpec
from nautilus_ai.experiments.tasks import PreparedModel, prepare_model
from nautilus_ai.labels import LabelSpec

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"
FOLD = Fold(
    train=Window.parse("2017-01-02", "2017-01-12"),
    validation=Window.parse("2017-01-12", "2017-01-16"),
    test=Window.parse("2017-01-16", "2017-01-19"),
    index=0,
)
PARAMS = {
    "lightgbm": {"num_leaves": 7, "max_iterations": 40},
    "mlp": {"hidden": [16], "epochs": 4},
    "rule": {},
    "pattern_memory": {"k": 10},
}


def _perturbed_copy(source: Path, target: Path, start_ns: int, end_ns: int | None) -> Path:
    """``source`` with every bar in ``[start_ns, end_ns)`` moved (bid and ask by the same
    factor, so the spread keeps its sign)."""
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    shutil.copytree(source, target)
    instrument = ParquetDataCatalog(str(target)).instruments()[0]
    rng = np.random.default_rng(3)
    factor: np.ndarray | None = None
    for bar_type in (BID, ASK):
        bars = read_bars(target, bar_type)
        keep = bars.ts_event >= start_ns
        if end_ns is not None:
            keep &= bars.ts_event < end_ns
        if factor is None:
            factor = 1.0 + np.cumsum(rng.normal(0.0, 4e-4, int(keep.sum())))
        prices = {
            name: np.round(getattr(bars, name)[keep] * factor, 5)
            for name in ("open", "high", "low", "close")
        }
        arrays = BarArrays(ts_event=bars.ts_event[keep], volume=bars.volume[keep], **prices)
        write_bars(target, instrument, bar_type, arrays, on_conflict="replace")
    return target


def _prepare(family: str, catalog: Path) -> PreparedModel:
    spec = ModelSpec(
        key=f"leak-{family}", family=family, model_params=PARAMS[family], seed=7, fold=FOLD,
        market=Market("EUR/USD.SIM", BID), catalog=str(catalog),
        label=LabelSpec(horizon=30).to_dict(), embargo_bars=30, signal_rates=(0.02, 0.05),
    )  # fmt: skip
    return prepare_model(spec)


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _fingerprint(model: PreparedModel) -> dict[str, Any]:
    """What the fold's decisions depend on: the model's files (tensors, trees, patterns; the
    card without its creation time, timings, catalog path and file hash), its temperature and
    its thresholds."""
    files = {}
    for name, content in model.files.items():
        if name.endswith("model_card.json"):
            card = json.loads(content)
            card.pop("created_at", None)
            card.get("metrics", {}).pop("data", None)
            card.pop("weights_sha256", None)  # hashes the file, whose header order varies
            card.pop("card_sha256", None)  # the card's seal covers the time and path dropped
            files[name] = _without_timings(card)
        elif name.endswith(".safetensors"):  # its header's key order varies: compare tensors
            from safetensors.numpy import load

            files[name] = {k: v.tobytes() for k, v in sorted(load(content).items())}
        else:
            files[name] = content
    temperature = (model.card or {}).get("temperature")
    return {"files": files, "temperature": temperature, "thresholds": model.thresholds}


@pytest.fixture(scope="module")
def catalogs(demo_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("leakage")
    assert FOLD.test is not None and FOLD.validation is not None
    return {
        "original": demo_catalog,
        "test_perturbed": _perturbed_copy(demo_catalog, root / "after", FOLD.test.start_ns, None),
        "validation_perturbed": _perturbed_copy(
            demo_catalog, root / "validation", FOLD.validation.start_ns + 86_400 * 10**9,
            FOLD.validation.end_ns,
        ),
    }  # fmt: skip


def test_the_perturbation_really_moves_the_test_window(catalogs: dict[str, Path]) -> None:
    assert FOLD.test is not None
    original = read_bars(catalogs["original"], BID)
    moved = read_bars(catalogs["test_perturbed"], BID)
    after = original.ts_event >= FOLD.test.start_ns
    assert np.array_equal(original.ts_event, moved.ts_event)
    assert np.array_equal(original.close[~after], moved.close[~after])
    assert np.mean(original.close[after] != moved.close[after]) > 0.9


@pytest.mark.parametrize(
    "family",
    ["lightgbm", pytest.param("mlp", marks=pytest.mark.extra("torch")), "rule", "pattern_memory"],
)
def test_no_fold_model_calibration_or_threshold_reads_the_test_window(
    family: str, catalogs: dict[str, Path]
) -> None:
    original = _fingerprint(_prepare(family, catalogs["original"]))
    after_test = _fingerprint(_prepare(family, catalogs["test_perturbed"]))
    assert original == after_test
    assert set(original["thresholds"]) == {"0.02", "0.05"}
    # The same comparison sees a change of bars the fold may use (the validation window).
    in_validation = _fingerprint(_prepare(family, catalogs["validation_perturbed"]))
    assert original != in_validation
