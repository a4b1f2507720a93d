"""``nautilus-ai train`` flags that would have no effect are refused before any data is read."""

from __future__ import annotations

import pytest

from nautilus_ai.cli import main

WINDOWS = ["--train", "2017-01-01", "2017-02-01", "--validation", "2017-02-01", "2017-03-01"]


@pytest.mark.extra("torch")  # `nautilus-ai train` on a core install refuses for the extra first
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        # recomputed the features from the bars, as if the run had been read
        (["--run-id", "demo-rule-1"], "--run-id demo-rule-1: a logged run is read only with "
         "--features snapshots; with --features bars the features are recomputed"),
        # trained a bar model, the cadence dropped
        # read nothing open: the flag is for logged runs only
        (["--allow-open-run"], "--allow-open-run applies to --features snapshots only"),
        (["--every-ticks", "5"], "--every-ticks 5: only with --ticks INSTRUMENT_ID"),
        # said "embargo_bars (-5) must be >= ...", naming no flag
        (["--embargo", "-5"], "--embargo -5: must be >= the label horizon (30 bars, --horizon)"),
        (["--embargo", "10", "--horizon", "20"], "--embargo 10: must be >= the label horizon "
         "(20 bars"),
    ],
)  # fmt: skip
def test_a_flag_that_would_be_ignored_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: object, flags: list[str], message: str
) -> None:
    catalog = ["--catalog", str(tmp_path), "--out", str(tmp_path)]
    assert main(["train", *WINDOWS, *catalog, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nautilus-ai: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        # each trained the trees with their own defaults, exit 0, as if the flag were taken
        (["--epochs", "3"], "--epochs 3: an MLP setting, not used by --family lightgbm"),
        (["--hidden", "8"], "--hidden 8: an MLP setting"),
        (["--lr", "0.5"], "--lr 0.5: an MLP setting"),
        (["--batch-size", "64"], "--batch-size 64: an MLP setting"),
        (["--activation", "gelu"], "--activation gelu: an MLP setting"),
    ],
)
def test_an_mlp_flag_with_the_lightgbm_family_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: object, flags: list[str], message: str
) -> None:
    catalog = ["--catalog", str(tmp_path), "--out", str(tmp_path)]
    assert main(["train", "--family", "lightgbm", *WINDOWS, *catalog, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nautilus-ai: error: {message}") and err.count("\n") == 1
