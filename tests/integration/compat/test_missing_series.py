"""The "1.231 completes 0 trades" report, reproduced and refused: a catalog with BID bars only.

HistData M1 files hold bid prices only. Imported without ``--ask-spread-pips`` (the README's first
data command), the catalog has no ASK series; the demo run file names both, Nautilus loads
nothing for the missing one, and its bar execution (1.221 and 1.231 alike) never makes a market:
every entry rejected "no market", 0 trades, exit 0. Now the run is refused before it starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.backtest.config import ConfigError
from nautilus_ai.backtest.data_check import RunDataError, check_run_data, run_data_problems
from nautilus_ai.backtest.runner import run_backtest
from nautilus_ai.cli import main
from nautilus_ai.data import import_histdata_m1
from nautilus_ai.datasets import Window
from nautilus_ai.workflows.oos import packaged_run_file, window_run_file

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


@pytest.fixture(scope="module")
def bid_only_catalog(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    catalog = tmp_path_factory.mktemp("bid-only")
    import_histdata_m1([data_dir / "histdata" / "DAT_ASCII_EURUSD_M1_201701.csv"], catalog)
    return catalog


def test_the_cli_refuses_a_bid_only_catalog_in_one_line(
    bid_only_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(bid_only_catalog))
    code = main(["backtest", "backtests/demo.yaml", "--no-report"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("nautilus-ai: error: ") and "backtests/demo.yaml: " in line
    assert f"holds no {ASK} bars" in line  # the preflight names the missing series


def test_the_runner_refuses_it_too(bid_only_catalog: Path, tmp_path: Path) -> None:
    run_file = window_run_file(
        packaged_run_file("demo"),
        name="bid-only",
        sample="in-sample",
        catalog_path=bid_only_catalog,
        report_dir=tmp_path,
    )
    with pytest.raises(ConfigError, match=f"holds no {ASK} bars"):
        run_backtest(run_file, write=False)
    (problem,) = run_data_problems(run_file)  # what doctor --config says, with the fix
    assert problem.kind == "missing" and problem.text.startswith(f"{ASK}: no bars in catalog")
    assert "--ask-spread-pips" in problem.text


def test_a_run_that_loads_only_the_bid_series_is_refused(
    bid_only_catalog: Path, tmp_path: Path
) -> None:
    base = packaged_run_file("demo")
    run_file = window_run_file(
        base, name="bid", sample="in-sample", catalog_path=bid_only_catalog, report_dir=tmp_path
    )
    raw = run_file.raw
    raw["run"]["data"][0]["bar_types"] = [BID]
    from nautilus_ai.backtest.config import parse_run_file

    bid_run = parse_run_file(raw, run_file.path)
    (problem,) = run_data_problems(bid_run)
    assert problem.kind == "pairing"
    assert problem.text.startswith(f"{BID}: the run loads no {ASK} bars")
    with pytest.raises(RunDataError, match="no market"):
        check_run_data(bid_run)


def test_the_demo_catalog_passes(demo_catalog: Path, tmp_path: Path) -> None:
    run_file = window_run_file(
        packaged_run_file("demo"),
        name="demo",
        sample="in-sample",
        catalog_path=demo_catalog,
        report_dir=tmp_path,
    )
    assert run_data_problems(run_file) == []


@pytest.fixture(scope="module")
def ask_from_february(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """January and February 2017 BID bars, ASK bars for February only (the January ASK rows
    cut out of the stored file: a second source, a partial download)."""
    import pyarrow.parquet as pq

    from nautilus_ai.data.catalog_layout import BAR_FOLDER, series_directory

    catalog = tmp_path_factory.mktemp("ask-from-february")
    months = [data_dir / "histdata" / f"DAT_ASCII_EURUSD_M1_20170{m}.csv" for m in (1, 2)]
    import_histdata_m1(months, catalog, ask_spread_pips=0.3)
    (file,) = series_directory(catalog, BAR_FOLDER, ASK).glob("*.parquet")
    table = pq.read_table(file)
    february = np.datetime64("2017-02-01", "ns").astype(np.int64)
    pq.write_table(table.filter(table["ts_init"].to_numpy() >= february), file)
    return catalog


def _window(month_from: str, month_to: str) -> Window:
    start, end = (int(np.datetime64(m, "ns").astype(np.int64)) for m in (month_from, month_to))
    return Window(start, end)


def test_a_run_half_without_a_market_is_refused_and_one_inside_the_ask_passes(
    ask_from_february: Path, tmp_path: Path
) -> None:
    """From 16 January to February, only February's BID bars have an ASK bar: every January entry
    would be rejected 'no market' (a note, status ok, before: the check took 50 % paired as
    enough). Over February alone every bar is paired: the run may go (the check reads the
    run's window, not the whole stored files)."""
    both = window_run_file(
        packaged_run_file("demo"), name="jan-feb", sample="in-sample",
        catalog_path=ask_from_february, report_dir=tmp_path,
        window=_window("2017-01-16", "2017-03-01"),
    )  # fmt: skip
    with pytest.raises(RunDataError, match=r"only 6\d\.\d% of its [\d,]+ bars in the window"):
        check_run_data(both)
    february = window_run_file(
        packaged_run_file("demo"), name="feb", sample="in-sample",
        catalog_path=ask_from_february, report_dir=tmp_path,
        window=_window("2017-02-01", "2017-03-01"),
    )  # fmt: skip
    assert run_data_problems(february) == []
