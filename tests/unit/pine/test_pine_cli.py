"""``nautilus-ai export-pine`` without --check (the check runs in tests/integration/pine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nautilus_ai.cli import main
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import TorchPredictor, save_artifact


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = TorchPredictor.random(FeatureSpec(), seed=9, hidden=(8,), device="cpu")
    return save_artifact(model.module, model.card, tmp_path_factory.mktemp("a"))


def test_exports_an_artifact(
    artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlp.pine"
    code = main(["export-pine", "--model", str(artifact), "--out", str(out),
                 "--min-confidence", "0.6", "--take-profit-atr", "none"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "embedded as exact MLP" in text
    assert "export took" in text
    script = out.read_text()
    assert 'i_min_conf = input.float(0.6, "Min confidence"' in script
    assert "i_tp_atr = input.float(0.0," in script


def test_exports_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rule.pine"
    assert main(["export-pine", "--model", "rule", "--out", str(out)]) == 0
    assert "exact rule" in capsys.readouterr().out
    assert "RulePredictor" in out.read_text()


def test_rule_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rule.pine"
    config = json.dumps({"kind": "rule", "trend_min_atr": 1.25})
    assert main(["export-pine", "--model", config, "--out", str(out)]) == 0
    assert "r_e50 >= 1.25" in out.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--model", "no/such/thing"], "neither an artifact folder"),
     (["--model", '{"nokind": 1}'], "needs a 'kind'"),
     (["--model", "rule", "--min-confidence", "2"], "min_confidence"),
     (["--model", '{"kind": "rule", "bogus": 1}', "--embed", "exact"], "bogus"),
     # checked all but the last 5 bars / nothing, after the export
     (["--model", "rule", "--check", "--check-bars", "-5"], "--check-bars: expected a number "
      "of bars >= 1, got -5")],
)  # fmt: skip
def test_user_errors_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-pine", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_zero_stop_and_a_card_that_is_no_json_are_refused(tmp_path: Path) -> None:
    # `--stop-loss-atr 0` silently meant "no stop" (the help names only 'none'); a card that is
    # no JSON went through the catch-all handler (exit 1, "run with --debug").
    import subprocess
    import sys

    def export(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nautilus_ai.cli", "export-pine", *argv], cwd=tmp_path,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    for flag in ("--stop-loss-atr", "--take-profit-atr"):
        zero = export("--model", "rule", flag, "0", "--out", "r.pine")
        assert zero.returncode == 2 and zero.stderr.count("\n") == 1, zero.stderr
        assert f"argument {flag}: expected a distance in ATRs > 0, or 'none'" in zero.stderr
    assert not (tmp_path / "r.pine").exists()
    card = tmp_path / "model" / "model_card.json"
    card.parent.mkdir()
    card.write_text("{not json")
    bad = export("--model", str(card.parent), "--out", "r.pine")
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.startswith(f"nautilus-ai: error: {card}: not a JSON model card")
    assert export("--model", "rule", "--stop-loss-atr", "none", "--out", "r.pine").returncode == 0


def test_the_script_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An interrupted write left a truncated script where the previous one had been.
    from nautilus_ai import artifacts

    out = tmp_path / "rule.pine"
    assert main(["export-pine", "--model", "rule", "--out", str(out)]) == 0
    before = out.read_bytes()

    def cut(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts.os, "fsync", cut)
    argv = ["export-pine", "--model", '{"kind": "rule", "trend_min_atr": 1.25}', "--out", str(out)]
    assert main(argv) == 130  # "nautilus-ai: interrupted"
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rule.pine"]


def test_an_out_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It was "IsADirectoryError: [Errno 21] ..." with exit 1, after the export.
    assert main(["export-pine", "--model", "rule", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"nautilus-ai: error: --out: {tmp_path} is a folder; name the .pine file to write\n"
    )
    (tmp_path / "a-file").write_text("x")
    assert (
        main(["export-pine", "--model", "rule", "--out", str(tmp_path / "a-file" / "r.pine")]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"nautilus-ai: error: --out: cannot write {tmp_path}/a-file/r.pine: ")
    assert len(err.splitlines()) == 1


def test_a_negative_max_parameters_is_refused(
    artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --max-parameters -1 was taken without a word: no MLP fits under it, so every export
    # under --embed auto became a distilled tree (minutes, and an approximation) of a model
    # that embeds exactly.
    out = tmp_path / "mlp.pine"
    code = main(["export-pine", "--model", str(artifact), "--out", str(out),
                 "--max-parameters", "-1"])  # fmt: skip
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert (
        err
        == "nautilus-ai: error: --max-parameters: expected a number of parameters >= 0, got -1\n"
    )


def test_a_check_on_bars_inside_the_warm_up_is_refused_before_pinets_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--check --check-bars 5` started the Pine parser and PineTS (322 s on a loaded box) only
    # to report "nothing compared: 5 bars end before bar 113 (the warm-up)".
    from nautilus_ai.pine import pinets

    def no_pinets(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("PineTS was prepared for a check that cannot compare anything")

    monkeypatch.setattr(pinets, "ensure_pinets", no_pinets)
    argv = ["export-pine", "--model", "rule", "--out", str(tmp_path / "r.pine"), "--check"]
    assert main([*argv, "--check-bars", "5"]) == 2
    err = capsys.readouterr().err
    assert "--check on DAT_ASCII_EURUSD_M1_" in err
    assert "5 usable bars end before the feature warm-up (114 bars)" in err
