"""``nautilus-ai export-pine --model CONFIG``: the config is checked as a strategy's predictor is,
and ``--feature-spec`` is never ignored for a stored model. No torch (the MLP is numpy-written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.stored_models import MINUTE_BID, mlp_model

from nautilus_ai.cli import main
from nautilus_ai.features import FeatureSpec


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("models"), "mlp", MINUTE_BID)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # a typo was ignored (the MLP exported as if the key were not there), exit 0
        ({"kind": "torch", "path": "{artifact}", "devic": "cpu"},
         "--model: backend 'torch': devic: unknown key (received 'cpu'); did you mean 'device'?"),
        ({"kind": "lightgbm", "path": "{artifact}", "bogus": 1},
         "--model: backend 'lightgbm': bogus: unknown key (received 1)"),
        # KeyError: 'path' through the catch-all (exit 1, "run with --debug")
        ({"kind": "torch"}, "--model: backend 'torch': path: missing required key"),
        # a pydantic ValidationError of four lines
        ({"kind": "rule", "bogus": 1}, "--model: backend 'rule': bogus: unknown key (received 1)"),
        ({"kind": "rule", "trend_min_atr": -1},
         "--model: backend 'rule': trend_min_atr: Input should be greater than 0"),
    ],
)  # fmt: skip
def test_a_bad_model_config_is_one_line_naming_the_key(
    config: dict[str, object],
    message: str,
    artifact: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = json.dumps(config).replace("{artifact}", str(artifact))
    out = tmp_path / "x.pine"
    assert main(["export-pine", "--model", text, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_feature_spec_other_than_the_cards_is_refused(
    artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The export computes the card's spec: another --feature-spec was ignored without a word
    # (even a file that does not exist), exit 0, the user believing the script computes theirs.
    other = tmp_path / "spec.json"
    other.write_text(json.dumps(FeatureSpec(version=1, atr_period=21).to_dict()))
    out = tmp_path / "x.pine"
    for model in (str(artifact), json.dumps({"kind": "torch", "path": str(artifact)})):
        code = main(["export-pine", "--model", model, "--feature-spec", str(other),
                     "--out", str(out)])  # fmt: skip
        assert code == 2
        err = capsys.readouterr().err
        assert f"--feature-spec {other}" in err and "drop --feature-spec" in err
        assert FeatureSpec().hash in err
        assert not out.exists()
    missing = tmp_path / "missing.json"
    assert main(["export-pine", "--model", str(artifact), "--feature-spec", str(missing)]) == 2
    assert f"--feature-spec {missing}" in capsys.readouterr().err
    # the card's own spec is accepted
    same = tmp_path / "same.json"
    same.write_text(json.dumps(FeatureSpec().to_dict()))
    code = main(["export-pine", "--model", str(artifact), "--feature-spec", str(same),
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and out.is_file()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        # each was ignored without a word: the MLP embedded exactly, no check ran, exit 0
        (["--max-depth", "3"], "--max-depth 3: not used by this export (embedded as exact MLP: "
         "no distillation, no --check); drop it, or pass --embed tree to distil"),
        (["--holdout", "0.5"], "--holdout 0.5: not used by this export"),
        (["--catalog", "cat"], "--catalog cat: not used by this export (embedded as exact MLP: "
         "no distillation, no --check); drop it, or add --check"),
        (["--data", "a.csv", "b.csv"], "--data a.csv b.csv: not used by this export"),
        (["--check-bars", "100"], "--check-bars 100: only with --check"),
        (["--pinets-dir", "somewhere"], "--pinets-dir somewhere: only with --check"),
    ],
)  # fmt: skip
def test_a_flag_the_export_would_ignore_is_refused(
    flags: list[str],
    message: str,
    artifact: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "x.pine"
    assert main(["export-pine", "--model", str(artifact), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert f"nautilus-ai: error: {message}" in err
    assert not out.exists()
