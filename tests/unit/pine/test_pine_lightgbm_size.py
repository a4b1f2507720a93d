"""``export-pine`` of a LightGBM ensemble too large to embed: the MLP path distils an MLP above
``--max-parameters`` (TradingView limits a script's size), the LightGBM path wrote any ensemble
exactly, however large, and exited 0. It is refused now, naming its size and the limit, and the
flag raises the limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.stored_models import MINUTE_BID, lightgbm_model

from nautilus_ai.cli import main
from nautilus_ai.models.lightgbm import LightGBMPredictor, read_gbt_card
from nautilus_ai.pine.export import (
    MAX_EMBEDDED_PARAMETERS,
    export_lightgbm_artifact,
    lightgbm_embedded_values,
)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lightgbm_model(tmp_path_factory.mktemp("gbt"), "large", MINUTE_BID, rounds=60,
                          leaves=16)  # fmt: skip


def _values(path: Path) -> int:
    from nautilus_ai.features import FeatureSpec

    spec = FeatureSpec.from_dict(read_gbt_card(path).feature_spec)
    ensemble = LightGBMPredictor.from_artifact(path, spec=spec).ensemble
    assert lightgbm_embedded_values(ensemble) == (
        4 * ensemble.num_nodes + ensemble.num_leaves + ensemble.num_trees
    )
    return lightgbm_embedded_values(ensemble)


def test_a_large_ensemble_is_refused_naming_its_size_and_the_limit(
    large: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = _values(large)
    assert values > MAX_EMBEDDED_PARAMETERS
    out = tmp_path / "large.pine"
    for embed in ("auto", "exact"):
        assert main(["export-pine", "--model", str(large), "--out", str(out),
                     "--embed", embed]) == 2  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert err.startswith(
            f"nautilus-ai: error: model large/1: 180 trees embed {values:,} values in the Pine "
            f"script, over the limit of {MAX_EMBEDDED_PARAMETERS:,}"
        ), err
        assert "--max-parameters" in err and "--embed tree" in err
        assert len(err.splitlines()) == 1 and not out.exists()
    with pytest.raises(ValueError, match=f"over the limit of {values - 1:,}"):
        export_lightgbm_artifact(large, max_parameters=values - 1)


def test_the_flag_raises_the_limit(
    large: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "large.pine"
    argv = ["export-pine", "--model", str(large), "--out", str(out)]
    assert main([*argv, "--max-parameters", str(_values(large))]) == 0
    assert "embedded as exact LightGBM (every tree)" in capsys.readouterr().out
    assert out.read_text().startswith("//@version=6")


def test_a_small_ensemble_is_embedded_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = lightgbm_model(tmp_path, "small", MINUTE_BID)
    assert _values(small) < MAX_EMBEDDED_PARAMETERS
    assert main(["export-pine", "--model", str(small), "--out", str(tmp_path / "s.pine")]) == 0
    assert "embedded as exact LightGBM" in capsys.readouterr().out
