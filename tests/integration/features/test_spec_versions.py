"""Feature-spec versions (issue 12.5): a card and a logged catalog written by the release whose
default spec was v1 (tests/fixtures/spec_v1, made by its make_spec_v1_fixtures.py with that
release's code) still load and compute after the default moved to v2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures.spec_v1.make_spec_v1_fixtures import import_v1_bars

from nautilus_ai.catalog.reader import logged_feature_spec, read_bars, read_snapshots
from nautilus_ai.features import FeatureEngine, FeatureSpec
from nautilus_ai.features.spec import default_spec_hashes, stored_spec
from nautilus_ai.models.card import read_model_card
from nautilus_ai.models.mlp import MLPPredictor, load_mlp_weights
from nautilus_ai.models.spec import SpecMismatchError
from nautilus_ai.training.data import load_training_frame

FIXTURES = Path(__file__).parents[2] / "fixtures" / "spec_v1"
CARD = FIXTURES / "models" / "v1-mlp" / "v1"
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
V1_HASH = "d06397a97f41dd53"


@pytest.fixture
def v1_catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURES / "catalog", target)  # the fixture itself stays read-only
    import_v1_bars(target)  # the bars the v1 run logged (market data is not committed)
    return target


def expected() -> dict[str, list[list[float]]]:
    data: dict[str, list[list[float]]] = json.loads((FIXTURES / "expected.json").read_text())
    return data


def test_the_default_moved_on_and_v1_stays_addressable() -> None:
    assert FeatureSpec().version == 2 and FeatureSpec().hash != V1_HASH
    assert default_spec_hashes()[V1_HASH] == 1
    assert default_spec_hashes()[FeatureSpec().hash] == 2


def test_a_v1_model_card_loads_and_computes_what_the_v1_release_computed(
    v1_catalog: Path,
) -> None:
    card = read_model_card(CARD)
    assert card.spec_hash == V1_HASH
    spec = stored_spec(card.feature_spec, card.spec_hash, where=str(CARD))
    assert spec.version == 1
    predictor = MLPPredictor(load_mlp_weights(CARD), spec)
    ts, ohlcv = read_bars(v1_catalog, BAR_TYPE)
    engine = FeatureEngine(spec)
    rows = [
        np.asarray(engine.update(int(t), *map(float, bar)))
        for t, bar in zip(ts, ohlcv, strict=True)
    ]
    want = expected()
    assert np.array_equal(np.asarray(rows), np.asarray(want["feature_rows"]), equal_nan=True)
    warm = [r for r in rows if r[spec.index("warm")] == 1.0]
    assert len(warm) > 100
    got = [predictor.predict_proba(r) for r in warm]
    assert np.array_equal(np.asarray(got), np.asarray(want["probabilities"]))


def test_the_new_default_spec_is_refused_by_a_v1_card_naming_the_version() -> None:
    match = r"built for feature spec d06397a9.*feature_spec to the model's \(version 1\)"
    with pytest.raises(SpecMismatchError, match=match):
        MLPPredictor(load_mlp_weights(CARD), FeatureSpec())


def test_a_v1_logged_catalog_loads_and_recomputes_equal(v1_catalog: Path) -> None:
    spec_hash, spec_dict = logged_feature_spec(v1_catalog, "v1-run")
    assert spec_hash == V1_HASH
    spec = stored_spec(spec_dict, spec_hash, where=f"{v1_catalog} run v1-run")
    snaps = read_snapshots(v1_catalog, "v1-run")
    assert snaps.spec_hash == V1_HASH and len(snaps) == 300
    frame = load_training_frame(v1_catalog, BAR_TYPE, spec, source="snapshots", run_id="v1-run")
    assert frame.agreement is not None
    assert frame.features.shape == (300, len(spec.names))
    # With the new default the logged run is refused by name, not silently mixed.
    with pytest.raises(Exception, match=r"logged with feature spec d06397a97f41dd53"):
        load_training_frame(
            v1_catalog, BAR_TYPE, FeatureSpec(), source="snapshots", run_id="v1-run"
        )


def test_a_stored_spec_whose_hash_does_not_rebuild_is_refused_naming_where() -> None:
    with pytest.raises(ValueError, match=r"card\.json: stored feature spec rebuilds as"):
        stored_spec({"version": 1, "atr_period": 10}, V1_HASH, where="card.json")
    with pytest.raises(ValueError, match=r"card\.json: stored feature spec: .*version"):
        stored_spec({"version": 9}, V1_HASH, where="card.json")


def test_a_strategy_keeps_running_a_v1_model_after_the_default_moved_on(
    january_bars: tuple[Any, list[Any]],
) -> None:
    # No feature_spec in the config: the strategy computes the model's own (v1) version and
    # decides with it; a config that pins the new default is refused (one error, no model).
    from fixtures.strategy_engine import run_engine

    instrument, bars = january_bars
    predictor = {"kind": "torch", "path": str(CARD), "device": "cpu"}
    strategy, _engine, _log = run_engine(instrument, bars[:6_000], predictor=predictor)
    assert strategy.spec.hash == V1_HASH
    decided = [r for r in strategy.decisions if r.model_id.startswith("v1-mlp")]
    assert len(decided) > 2_000 and not any(r.error for r in decided)
    pinned, _engine, _log = run_engine(
        instrument, bars[:200], predictor=predictor, feature_spec=FeatureSpec().to_dict()
    )
    assert pinned.spec.version == 2 and len(pinned.decisions) == 0
