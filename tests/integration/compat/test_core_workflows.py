"""What a core-only user (no torch) sees, and what doctor --config says about real configs.

On the full leg torch is installed, so "not installed" is simulated where a test needs it (the
extras module reads package metadata: the stand-in says torch is absent); the core leg runs the
same tests with torch really absent.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from nautilus_ai.cli import main
from nautilus_ai.control.local_server import LocalRedisServer
from nautilus_ai.data import import_histdata_m1

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    import nautilus_ai.extras as extras

    monkeypatch.setattr(extras, "_distribution_installed", lambda name: name != "torch")
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None)


@pytest.mark.usefixtures("without_torch")
@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (
            [
                "train",
                "--train",
                "2017-01-01",
                "2017-02-01",
                "--validation",
                "2017-02-01",
                "2017-03-01",
            ],
            "torch",
        ),
        (["finetune", "--model-dir", "m", "--train", "2017-01-01", "2017-02-01"], "finetune"),
        (["serve", "package", "m", "--kind", "torch", "--name", "n", "--store", "s"], "serve"),
    ],
)
def test_a_core_user_gets_one_line_naming_the_extra(
    argv: list[str], extra: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("nautilus-ai: error: nautilus-ai ")
    assert line.endswith(f"pip install 'nautilus-ai[{extra}]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--no-probe", *argv])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("config ")), None)
    assert start is not None, captured.err
    return code, lines[start + 1 :]


def test_doctor_config_names_the_missing_ask_series(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    catalog = tmp_path / "catalog"
    import_histdata_m1([data_dir / "histdata" / "DAT_ASCII_EURUSD_M1_201701.csv"], catalog)
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(catalog))
    code, needs = _doctor(capsys, "--config", "backtests/demo.yaml")
    assert code == 1
    assert needs == [
        f"  MISSING catalog data: EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL: no bars in catalog {catalog} "
        f"({catalog}/data/bar/EURUSD.SIM-1-MINUTE-ASK-EXTERNAL); HistData files hold bid prices "
        "only: import them with --ask-spread-pips (e.g. 0.3) to add an ask series"
    ]


def test_doctor_config_passes_on_the_demo_catalog(
    demo_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(demo_catalog))
    code, needs = _doctor(capsys, "--config", "demo")
    assert code == 0
    assert needs and all(line.startswith("  ok") for line in needs)


def _live_config(tmp_path: Path, redis_url: str, predictor: dict[str, object]) -> Path:
    raw = yaml.safe_load((REPO / "live" / "paper_replay_eurusd.yaml").read_text())
    raw["control"]["redis_url"] = redis_url
    host, port = redis_url.split("//")[1].split("/")[0].split(":")
    raw["node"]["cache"]["database"].update(host=host, port=int(port), password="")
    raw["node"]["strategies"][0]["config"]["predictor"] = predictor
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_doctor_live_config_without_redis_exits_1(
    tmp_path: Path, demo_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(demo_catalog))
    url = f"redis://127.0.0.1:{_free_port()}/0"
    code, needs = _doctor(capsys, "--config", str(_live_config(tmp_path, url, {"kind": "rule"})))
    assert code == 1
    missing = [line for line in needs if "MISSING" in line]
    assert len(missing) == 2  # the control plane and the cache database
    assert all("no Redis answers at redis://127.0.0.1:" in line for line in missing)
    assert all("start one (redis-server:" in line for line in missing)


@pytest.mark.usefixtures("without_torch")
def test_doctor_live_config_with_redis_names_only_the_torch_extra(
    tmp_path: Path,
    demo_catalog: Path,
    redis_server: LocalRedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(demo_catalog))
    config = _live_config(tmp_path, redis_server.url, {"kind": "torch_random", "seed": 1})
    code, needs = _doctor(capsys, "--config", str(config))
    assert code == 1
    assert [line for line in needs if "MISSING" in line] == [
        "  MISSING predictor torch_random: pip install 'nautilus-ai[torch]'"
    ]
    assert sum("Redis answers at" in line for line in needs) == 2
    assert sum("replay bars" in line and line.startswith("  ok") for line in needs) == 2


@pytest.mark.usefixtures("without_torch")
def test_the_demo_without_torch_logs_the_rule_run_and_says_training_needs_the_extra(
    demo_catalog: Path, data_dir: Path, tmp_path: Path
) -> None:
    from nautilus_ai.workflows.demo import run_closed_loop

    lines: list[str] = []
    result = run_closed_loop(
        demo_catalog,
        data_dir,
        reports_dir=tmp_path / "reports",
        artifacts_dir=tmp_path / "artifacts",
        progress=lines.append,
    )
    skipped = [line for line in lines if line.startswith("[3/4]")]
    assert skipped == [
        "[3/4] Training SKIPPED: the MLP needs the 'torch' extra (pip install "
        "'nautilus-ai[torch]'); no model trained, no out-of-sample comparison"
    ]
    assert not any(line.startswith("[4/4]") for line in lines)
    assert result.artifact_path is None and not (tmp_path / "artifacts").exists()
    rule = result.summary["backtest_in_sample_rule_jan_jun"]
    assert rule["bars"] == 186_348 and rule["trades"] > 1_000
    assert result.summary["snapshots_logged"] > 180_000
    assert (result.report_dir / "summary.json").is_file()
    assert "training skipped" in result.brief
