"""``nautilus-ai train`` as a user runs it: a subprocess on the real demo catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import TorchPredictor


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "train", *args],
        capture_output=True, text=True, timeout=600, cwd=cwd,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip


def test_train_with_out_of_sample_backtest(demo_catalog: Path, tmp_path: Path) -> None:
    args = [
        "--catalog", str(demo_catalog), "--train", "2017-01-02", "2017-01-23",
        "--validation", "2017-01-23", "2017-02-01", "--test", "2017-02-01", "2017-02-11",
        "--epochs", "3", "--hidden", "16", "--out", str(tmp_path / "artifacts"),
        "--name", "cli-mlp", "--backtest", "--reports", str(tmp_path / "reports"), "--json",
    ]  # fmt: skip
    result = _train(*args, cwd=tmp_path)
    # The 3-epoch model is unsure (risk score near 1), so every entry is sized to zero: the
    # runner calls that run failed, the comparison says so and exits 1 (it said exit 0 and
    # showed the flat line as a result); the model is stored all the same.
    assert result.returncode == 1, result.stderr[-3000:]
    assert "nautilus-ai: error: out-of-sample backtest failed: trained MLP (report " in (
        result.stderr
    )
    assert "could not trade: all" in result.stderr and "were sized to zero" in result.stderr
    assert "epoch   1/3  train loss" in result.stderr
    assert "OUT-OF-SAMPLE" in result.stderr
    out = json.loads(result.stdout)
    artifact = Path(out["artifact"])
    assert artifact == tmp_path / "artifacts" / "cli-mlp" / "v1"
    oos = out["metrics"]["backtest_oos"]
    assert oos["sample"] == "out-of-sample"
    assert oos["window"] == {"start": "2017-02-01T00:00:00Z", "end": "2017-02-11T00:00:00Z"}
    for key in ("trained", "rule", "buy_and_hold"):
        assert isinstance(oos[key]["pnl"], float)
    assert [oos[k]["status"] for k in ("trained", "rule", "buy_and_hold")] == ["failed", "ok", "ok"]
    assert "were sized to zero" in oos["trained"]["reasons"][0]
    assert oos["rule"]["trades"] > 0
    assert Path(oos["trained"]["report_dir"]).parent == tmp_path / "reports"
    predictor = TorchPredictor.from_artifact(artifact, spec=FeatureSpec(), device="cpu")
    assert predictor.model_id == "cli-mlp/1" == out["model_id"]
    assert predictor.card.temperature == out["temperature"]
    # a second run never overwrites: it is v2
    again = _train(*[a for a in args if a not in ("--backtest", "--json")][:-2], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "cli-mlp/2" in again.stdout and "[OUT-OF-SAMPLE]" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train", "2017-02-01", "2017-01-01", "--validation", "2017-02-01", "2017-02-05"],
         "--train 2017-02-01 2017-01-01: Window: start (2017-02-01T00:00:00Z) must be before end "
         "(2017-01-01T00:00:00Z)"),
        (["--train", "2017-01-02", "2017-01-10", "--validation", "2017-01-10", "2017-01-12",
          "--hidden", "a,b"], "--hidden"),
        (["--train", "2017-01-02", "2017-01-10", "--validation", "2017-01-10", "2017-01-12",
          "--horizon", "0"], "LabelSpec.horizon"),
        (["--train", "2017-01-02", "2017-01-10", "--validation", "2017-01-10", "2017-01-12",
          "--backtest"], "--backtest needs a --test window"),
        (["--train", "2017-01-02", "2017-01-10", "--validation", "2017-01-10", "2017-01-12",
          "--features", "snapshots", "--run-id", "nope"], "no logged run 'nope'"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clean_error(
    demo_catalog: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = _train("--catalog", str(demo_catalog), "--out", str(tmp_path), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "../evil"], "nautilus-ai: error: --name: letters, digits and _ . - only"),
        (["--out", "a-file"], "nautilus-ai: error: --out: a-file is a file, not a folder"),
    ],
)
def test_a_bad_name_or_output_is_refused_before_training(
    demo_catalog: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    # Both used to fail after the training, a multi-line pydantic error for the name and
    # "NotADirectoryError: ..." for the folder.
    (tmp_path / "a-file").write_text("not a folder")
    result = _train(
        "--catalog", str(demo_catalog), "--train", "2017-01-02", "2017-01-10", "--validation",
        "2017-01-10", "2017-01-12", "--epochs", "1", *args, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[0]]
    assert result.stderr.startswith(message)


def test_backtest_on_an_empty_test_window_is_refused_before_training(
    demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `train --backtest` with a test window that holds no bars (a Saturday), run as the CLI
    # (in-process: the refusal comes before any torch work): refused in one line before any
    # epoch, no artifact stored and no backtest run (an empty comparison would have been flat
    # lines reported as figures, and buy & hold would index no bar).
    from nautilus_ai.cli import main

    out, reports = tmp_path / "artifacts", tmp_path / "reports"
    code = main([
        "train", "--catalog", str(demo_catalog), "--train", "2017-01-02", "2017-01-10",
        "--validation", "2017-01-10", "2017-01-14", "--test", "2017-01-28", "2017-01-29",
        "--epochs", "1", "--hidden", "8", "--threads", "1", "--out", str(out), "--backtest",
        "--reports", str(reports),
    ])  # fmt: skip
    stderr = capsys.readouterr().err
    assert code == 2, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(
        "nautilus-ai: error: no usable test rows in [2017-01-28T00:00:00Z, 2017-01-29T00:00:00Z):"
        " it holds 0 bars"
    ), last
    assert "Traceback" not in stderr and "epoch" not in stderr
    assert not any(out.rglob("model_card.json")) and not reports.exists()
