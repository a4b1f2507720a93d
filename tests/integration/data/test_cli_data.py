"""``nautilus-ai data ...`` end to end (in-process), including a download from a loopback mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nautilus_ai.cli import main


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_import_twice_then_info(tmp_path: Path, data_dir: Path, capsys) -> None:
    catalog = str(tmp_path / "catalog")
    args = ["data", "import", "histdata-m1", "--catalog", catalog, "--data-dir", str(data_dir)]
    assert main([*args, "--ask-spread-pips", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "MODELLING ASSUMPTION" in captured.out
    assert "nautilus-ai data: reading 6 HistData M1 file(s)" in captured.err
    assert main([*args, "--ask-spread-pips", "0.5", "-q", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows_read"] == 186_348 and summary["writes"][0]["unchanged"] == 186_348
    assert main(["data", "info", "--catalog", catalog, "--json"]) == 0
    info = _json(capsys)
    rows = {d["identifier"]: d["rows"] for d in info["data"]}
    assert rows["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"] == 186_348
    assert rows["EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"] == 186_348
    assert info["instruments"] == ["EUR/USD.SIM"]


def test_validate_reports_and_strict_exit(data_dir: Path, capsys) -> None:
    paths = [
        str(p) for p in sorted((data_dir / "lean/forex/fxcm/tick/eurusd").glob("2014050[1-2]*.zip"))
    ]
    assert main(["data", "validate", "lean", *paths, "--json", "-q"]) == 0
    report = _json(capsys)["reports"][0]
    crossed = next(c for c in report["checks"] if c["name"] == "crossed")
    assert crossed["count"] > 0 and crossed["action"] == "flag"
    assert main(["data", "validate", "lean", *paths, "--strict", "-q"]) == 1
    assert "crossed" in capsys.readouterr().out
    assert main(["data", "validate", "lean", *paths, "--policy", "crossed=drop", "--json"]) == 0
    report = _json(capsys)["reports"][0]
    assert report["dropped"] == next(c for c in report["checks"] if c["name"] == "crossed")["count"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "data",
                "import",
                "csv",
                "nautilus/truefx/usdjpy-ticks.csv",
                "--instrument-id",
                "USD/JPY.SIM",
            ],
            "--preset",
        ),
        (["data", "import", "lean", "no/such/file.zip"], "no such file"),
        (["data", "import", "histdata-m1", "--policy", "crossed=ignore"], "--policy"),
        (
            ["data", "import", "dukascopy", "dukascopy/EURUSD/2019/01/04", "--bars", "60:LAST"],
            "--bars",
        ),
        (["data", "info", "--catalog", "/nonexistent/catalog"], "no catalog"),
    ],
)
def test_user_errors_exit_2_with_a_message(
    argv: list[str], message: str, data_dir: Path, tmp_path: Path, capsys
) -> None:
    extra = ["--data-dir", str(data_dir), "--catalog", str(tmp_path)] if argv[1] == "import" else []
    assert main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err


def test_download_from_a_mirror_then_import(
    dukascopy_mirror, tmp_path: Path, data_dir: Path, capsys
) -> None:
    cache, catalog = tmp_path / "cache", tmp_path / "catalog"
    argv = [
        "data",
        "download",
        "EUR/USD",
        "--start",
        "2019-02-04T07:00",
        "--end",
        "2019-02-04T10:00",
        "--cache",
        str(cache),
        "--workers",
        "2",
        "--import",
        "--catalog",
        str(catalog),
        "--bars",
        "60:BID",
    ]
    with dukascopy_mirror(
        data_dir / "dukascopy", {"EURUSD/2019/01/04/08h_ticks.bi5": ["503"]}
    ) as mirror:
        assert main([*argv, "--base-url", mirror.url, "--json"]) == 0
        captured = capsys.readouterr()
        payload = json.loads(captured.out)
        assert payload["download"]["downloaded"] == 3 and payload["download"]["requests"] == 4
        assert payload["import"]["rows_read"] == 6_914 + 10_546 + 9_276
        assert "[3/3]" in captured.err
        assert main([*argv, "--base-url", mirror.url, "--json", "-q"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["download"]["requests"] == 0 and again["download"]["cached"] == 3
