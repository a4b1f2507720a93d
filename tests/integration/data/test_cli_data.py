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


def test_validate_refuses_the_batches_import_refuses(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # 'data validate' read any batch: a file given twice (31,499 rows 'dropped as out of
    # order'), OANDA and FXCM minutes as one series, minute and hour zips together, an
    # --instrument-id of another pair; each exit 0, where the import refuses them.
    january = str(data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv")
    lean = data_dir / "lean/forex"
    oanda, fxcm = (str(lean / m / "minute/eurusd/20140501_quote.zip") for m in ("oanda", "fxcm"))
    hour = str(lean / "oanda/hour/eurusd.zip")
    for argv, expected in [
        (["histdata-m1", january, january], "the same file is given twice"),
        (["lean", oanda, fxcm], "LEAN files of several markets ['fxcm', 'oanda']"),
        (["lean", oanda, hour], "LEAN files of several resolutions ['hour', 'minute']"),
        (["lean", hour, "--instrument-id", "GBP/USD.SIM"], "does not match the files' EURUSD"),
    ]:
        assert main(["data", "validate", *argv, "-q"]) == 2, argv
        assert expected in capsys.readouterr().err, argv
    assert main(["data", "validate", "lean", oanda, "-q"]) == 0


LEAN_MINUTES = "lean/forex/oanda/minute/eurusd/*.zip"
TICKS_08H = "dukascopy/EURUSD/2019/01/04/08h_ticks.bi5"


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
        # Options another format does not read used to be ignored without a word.
        (
            ["data", "import", "lean", LEAN_MINUTES, "--bars", "60:MID"],
            "--bars applies to dukascopy only, not lean",
        ),
        (
            ["data", "import", "histdata-m1", "--keep-flats"],
            "--keep-flats applies to dukascopy only, not histdata-m1",
        ),
        (
            ["data", "import", "dukascopy", TICKS_08H, "--price-type", "ASK"],
            "--price-type applies to csv only, not dukascopy",
        ),
        (
            [
                "data",
                "import",
                "csv",
                "nautilus/truefx/usdjpy-ticks.csv",
                "--preset",
                "truefx-ticks",
                "--instrument-id",
                "USD/JPY.SIM",
                "--clock",
                "UTC",
            ],
            "--clock applies to histdata-m1 / histdata-ticks / lean only, not csv",
        ),
        (
            ["data", "validate", "lean", LEAN_MINUTES, "--spec", "spec.json"],
            "--spec applies to csv only, not lean",
        ),
        (
            [
                "data",
                "download",
                "EURUSD",
                "--start",
                "2019-02-04",
                "--end",
                "2019-02-05",
                "--dry-run",
            ],
            "--dry-run: only with --import",
        ),
        (
            [
                "data",
                "download",
                "EURUSD",
                "--start",
                "2019-02-04",
                "--end",
                "2019-02-05",
                "--import",
                "--clock",
                "UTC",
            ],
            "--clock applies to",
        ),
        # Dukascopy work the files cannot do.
        (["data", "import", "dukascopy", TICKS_08H, "--no-ticks"], "would write nothing"),
        (
            [
                "data",
                "import",
                "dukascopy",
                "dukascopy/EURUSD/2019/01/04/BID_candles_min_1.bi5",
                "--bars",
                "60:MID",
            ],
            "builds bars from tick files: none given",
        ),
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


# -- imports never lose stored data (issue 10, part 1): the user's paths, end to end ----------

HISTDATA_2017 = "histdata/DAT_ASCII_EURUSD_M1_2017*.csv"
BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


def _import(catalog: Path, data_dir: Path, *args: str) -> int:
    return main(["data", "import", *args, "--catalog", str(catalog), "--data-dir", str(data_dir)])


def _bars(catalog: Path, bar_type: str) -> list:
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    return ParquetDataCatalog(str(catalog)).bars([bar_type])


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def test_histdata_then_lean_into_one_catalog_keeps_every_bar(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    """The README's first two lines. They used to leave 18,184 bars: all of 2017 was gone."""
    catalog = tmp_path / "catalog"
    assert _import(catalog, data_dir, "histdata-m1", HISTDATA_2017, "-q") == 0
    capsys.readouterr()
    assert _import(catalog, data_dir, "lean", LEAN_MINUTES, "-q", "--json") == 0
    summary = _json(capsys)

    bid, ask = _bars(catalog, BID), _bars(catalog, ASK)
    assert len(bid) == 186_348 + 18_184 and len(ask) == 18_184
    assert len({b.ts_init for b in bid}) == len(bid)
    from nautilus_ai.data import read_histdata_m1

    source = read_histdata_m1(sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*")))
    wanted = set(source.ts_event.tolist())
    stored_2017 = [b for b in bid if b.ts_init in wanted]
    assert [b.close.as_double() for b in stored_2017] == source.close.tolist()

    writes = {w["identifier"]: w for w in summary["writes"]}
    assert (writes[BID]["added"], writes[BID]["kept"], writes[BID]["stored_after"]) == (
        18_184,
        186_348,
        204_532,
    )
    assert writes[BID]["mixed_sources"] and not writes[ASK]["mixed_sources"]
    assert writes[BID]["other_sources"][0].startswith(
        "histdata-m1 [DAT_ASCII_EURUSD_M1_201701.csv .. DAT_ASCII_EURUSD_M1_201706.csv (6 files)]"
    )
    assert (writes[ASK]["added"], writes[ASK]["kept"]) == (18_184, 0)
    assert main(["data", "info", "--catalog", str(catalog)]) == 0
    info = capsys.readouterr().out
    assert "histdata-m1 (186,348 rows written); lean-minute:oanda (18,184 rows written)" in info


def test_reimporting_january_and_june_keeps_all_rows_and_writes_nothing(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    """Re-importing two months into a January-June catalog used to leave 62,694 of 186,348."""
    catalog = tmp_path / "catalog"
    months = [f"histdata/DAT_ASCII_EURUSD_M1_2017{m}.csv" for m in ("01", "06")]
    assert _import(catalog, data_dir, "histdata-m1", HISTDATA_2017, "-q") == 0
    before = _snapshot(catalog)
    capsys.readouterr()
    assert _import(catalog, data_dir, "histdata-m1", *months, "-q", "--json") == 0
    summary = _json(capsys)
    assert len(_bars(catalog, BID)) == 186_348
    (write,) = summary["writes"]
    assert (write["unchanged"], write["added"], write["changed"]) == (62_694, 0, 0)
    assert (write["kept"], write["stored_after"], write["written"]) == (123_654, 186_348, False)
    assert _snapshot(catalog) == before  # an identical re-import is a no-op, byte for byte


@pytest.mark.parametrize(
    "args",
    [
        (LEAN_MINUTES,),  # adds to a bar type stored from another source
        (HISTDATA_2017.replace("2017*", "20170[1-3]"), "--ask-spread-pips", "0.5"),  # conflicts
    ],
    ids=["lean-adds", "histdata-changes"],
)
def test_dry_run_writes_nothing_and_reports_what_the_real_run_does(
    args: tuple[str, ...], tmp_path: Path, data_dir: Path, capsys
) -> None:
    catalog = tmp_path / "catalog"
    fmt = "lean" if args[0] == LEAN_MINUTES else "histdata-m1"
    setup = ["histdata-m1", HISTDATA_2017, "--ask-spread-pips", "0.3", "-q"]
    assert _import(catalog, data_dir, *setup) == 0
    capsys.readouterr()
    before = _snapshot(catalog)
    run = [fmt, *args, "--on-conflict", "replace", "-q", "--json"]
    assert _import(catalog, data_dir, *run, "--dry-run") == 0
    dry = _json(capsys)
    assert _snapshot(catalog) == before
    assert _import(catalog, data_dir, *run) == 0
    real = _json(capsys)
    assert _snapshot(catalog) != before
    assert dry["dry_run"] and not real["dry_run"]

    def counts(summary: dict) -> list[dict]:
        return [
            {k: v for k, v in w.items() if k not in ("dry_run", "written")}
            for w in summary["writes"]
        ]

    assert counts(dry) == counts(real)
    assert dry["rows_written"] == real["rows_written"] > 0
    assert all(w["written"] for w in real["writes"] if w["added"] + w["changed"])


def test_dry_run_on_a_missing_catalog_creates_nothing(tmp_path: Path, data_dir: Path, capsys):
    catalog = tmp_path / "nothing-here"
    assert _import(catalog, data_dir, "lean", LEAN_MINUTES, "--dry-run", "-q") == 0
    assert "DRY RUN (nothing written)" in capsys.readouterr().out
    assert not catalog.exists()


def test_conflicts_are_refused_by_default_kept_or_replaced_on_request(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    catalog = tmp_path / "catalog"
    january = "histdata/DAT_ASCII_EURUSD_M1_201701.csv"
    assert _import(catalog, data_dir, "histdata-m1", january, "--ask-spread-pips", "0.3", "-q") == 0
    before = _snapshot(catalog)
    capsys.readouterr()
    spread = ["histdata-m1", january, "--ask-spread-pips", "0.5", "-q"]
    assert _import(catalog, data_dir, *spread) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"nautilus-ai: error: {ASK}: 31,500 stored timestamps hold different")
    assert "--on-conflict replace (new values win) or keep (stored values stay)" in line
    assert _snapshot(catalog) == before

    assert _import(catalog, data_dir, *spread, "--on-conflict", "keep") == 0
    assert "31,500 new rows NOT imported (--on-conflict keep)" in capsys.readouterr().out
    assert _snapshot(catalog) == before
    assert _import(catalog, data_dir, *spread, "--on-conflict", "replace") == 0
    assert "new values replaced 31,500 stored rows" in capsys.readouterr().out
    bid, ask = _bars(catalog, BID), _bars(catalog, ASK)
    assert all(a.open.raw - b.open.raw == 5 * 10**11 for a, b in zip(ask, bid, strict=True))


def test_cli_policies_are_the_library_policies() -> None:
    from nautilus_ai.cli.data import _ON_CONFLICT
    from nautilus_ai.data import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY

    assert set(_ON_CONFLICT) == set(CONFLICT_POLICIES) and DEFAULT_CONFLICT_POLICY == "error"


def test_the_csv_presets_in_the_help_are_the_library_presets(capsys) -> None:
    # The help used to say "see --list-presets", an option that does not exist.
    from nautilus_ai.cli.data import _CSV_PRESETS
    from nautilus_ai.data import CSV_PRESETS

    assert tuple(sorted(CSV_PRESETS)) == _CSV_PRESETS
    with pytest.raises(SystemExit):
        main(["data", "import", "--help"])
    out = "".join(capsys.readouterr().out.split())  # argparse wraps at hyphens
    assert "--list-presets" not in out
    assert f"apresetlayout({','.join(_CSV_PRESETS)})" in out


def test_a_corrupt_catalog_file_is_named_in_one_line(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # Import, info and read_bars used to print pyarrow's "Parquet magic bytes not found in
    # footer" without saying which of the catalog's files it was.
    catalog = tmp_path / "catalog"
    months = [str(data_dir / f"histdata/DAT_ASCII_EURUSD_M1_20170{m}.csv") for m in (1, 2, 3)]
    for month in months[:2]:
        assert main(["data", "import", "histdata-m1", month, "--catalog", str(catalog)]) == 0
    (january, february) = sorted(catalog.glob("data/bar/*/*.parquet"))
    kept = january.read_bytes()
    february.write_bytes(february.read_bytes()[:5_000])
    capsys.readouterr()
    for args in (
        ["data", "import", "histdata-m1", months[2], "--catalog", str(catalog), "-q"],
        ["data", "info", "--catalog", str(catalog)],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"{february}: unreadable Parquet file in the catalog" in err
    from nautilus_ai.data import DataFormatError, read_bars

    with pytest.raises(DataFormatError, match="unreadable Parquet file"):
        read_bars(catalog, "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")
    assert sorted(catalog.glob("data/bar/*/*.parquet")) == [january, february]
    assert january.read_bytes() == kept


@pytest.mark.parametrize("copy_name", ["backup.parquet", "{name} (copy).parquet"])
def test_a_copy_of_a_catalog_file_is_named_and_never_merged(
    tmp_path: Path, data_dir: Path, capsys, copy_name: str
) -> None:
    # A copy of a series' file left in its folder (under a name the catalog does not write):
    # 'data info' counted its rows as data (twice the bars, no overlap flagged), and the next
    # import merged both copies into one file of duplicated bars, exit 0, after which nothing
    # showed them.
    catalog = tmp_path / "catalog"
    months = [str(data_dir / f"histdata/DAT_ASCII_EURUSD_M1_20170{m}.csv") for m in (1, 2)]
    assert main(["data", "import", "histdata-m1", months[0], "--catalog", str(catalog), "-q"]) == 0
    (stored,) = catalog.glob("data/bar/*/*.parquet")
    copy = stored.with_name(copy_name.format(name=stored.stem))
    copy.write_bytes(stored.read_bytes())
    capsys.readouterr()
    assert main(["data", "info", "--catalog", str(catalog), "--json"]) == 0
    (bars,) = [d for d in _json(capsys)["data"] if d["data_type"] == "bar"]
    assert bars["overlapping_files"] and bars["misnamed_files"] == [copy.name]
    first, second = sorted([stored.name, copy.name])
    assert bars["overlaps"] == [[first, second]]
    assert main(["data", "info", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert f"OVERLAP: {first} and {second}" in out
    assert f"NOT CATALOG FILES: {copy.name} not named <first>_<last>.parquet" in out
    for extra in (["--dry-run"], []):
        argv = ["data", "import", "histdata-m1", *months, "--catalog", str(catalog), "-q"]
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"stored files {first} and {second} both hold rows at ts_init" in err
        assert "(31,500 shared timestamps in all)" in err
    assert sorted(p.name for p in catalog.glob("data/bar/*/*.parquet")) == sorted(
        [stored.name, copy.name]
    )


def test_a_catalog_path_that_is_a_file_is_refused(tmp_path: Path, data_dir: Path, capsys) -> None:
    # The dry run used to report 31,500 rows added; the real run died with "FileExistsError".
    path = tmp_path / "catalog"
    path.write_text("not a catalog")
    january = str(data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv")
    for extra in (["--dry-run"], []):
        argv = ["data", "import", "histdata-m1", january, "--catalog", str(path), "-q", *extra]
        assert main(argv) == 2
        assert f"catalog {path} is not a folder" in capsys.readouterr().err
    assert path.read_text() == "not a catalog"


def test_an_id_differing_only_in_case_from_a_stored_one_is_refused(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # `--instrument-id EUR/USD.sim` beside the stored EUR/USD.SIM started a second instrument
    # and series ("EURUSD.sim") without a word; ids are case-sensitive.
    catalog = tmp_path / "catalog"
    january, february = (
        str(data_dir / f"histdata/DAT_ASCII_EURUSD_M1_20170{m}.csv") for m in (1, 2)
    )
    assert main(["data", "import", "histdata-m1", january, "--catalog", str(catalog), "-q"]) == 0
    before = sorted(p.relative_to(catalog) for p in catalog.rglob("*") if p.is_file())
    capsys.readouterr()
    for extra in (["--dry-run"], []):
        argv = ["data", "import", "histdata-m1", february, "--catalog", str(catalog), "-q",
                "--instrument-id", "EUR/USD.sim", *extra]  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "'EUR/USD.sim-1-MINUTE-BID-EXTERNAL' differs only in letter case from " in err
    assert sorted(p.relative_to(catalog) for p in catalog.rglob("*") if p.is_file()) == before
    argv = ["data", "import", "histdata-m1", february, "--catalog", str(catalog), "-q"]
    assert main(argv) == 0  # spelled as the catalog does: imports


def test_a_csv_of_ask_prices_is_not_stored_as_the_bid_series(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # FOREX_EURUSD_1H_ASK.csv / usdjpy-m1-ask-2013.csv without --price-type were stored as the
    # BID bar series (the default), exit 0: a backtest then read ask prices as bids.
    catalog = str(tmp_path / "catalog")
    asks = str(data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv")
    options = ["--catalog", catalog, "-q", "--json", "--preset", "dukascopy-csv-h1"]
    eurusd = ["data", "import", "csv", asks, *options, "--instrument-id", "EUR/USD.SIM"]
    assert main([*eurusd, "--dry-run"]) == 0
    (write,) = _json(capsys)["writes"]
    assert write["identifier"] == "EUR/USD.SIM-1-HOUR-ASK-EXTERNAL"
    assert main([*eurusd, "--price-type", "BID"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--price-type (price_type) BID, but the file FOREX_EURUSD_1H_ASK.csv names ASK" in err
    fxcm = [str(data_dir / f"nautilus/fxcm/usdjpy-m1-{side}-2013.csv") for side in ("bid", "ask")]
    options = ["--catalog", catalog, "--preset", "nautilus-fxcm-m1", "--dry-run"]
    assert main(["data", "import", "csv", *fxcm, *options, "--instrument-id", "USD/JPY.SIM"]) == 2
    assert "the files name several price sides (usdjpy-m1-ask-2013.csv (ASK), " in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "catalog").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["import", "histdata-m1", "histdata/DAT_ASCII_EURUSD_M1_201701.csv"],
            "--policy crossed=drop: histdata-m1 bars (one price side) have no crossed check",
        ),
        (
            ["validate", "histdata-ticks", "histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv"],
            "--policy ohlc=drop: histdata-ticks quote ticks have no ohlc check",
        ),
        (
            ["import", "csv", "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv", "--preset",
             "dukascopy-csv-h1", "--instrument-id", "EUR/USD.SIM"],
            "--policy locked=drop: csv bars (one price side) have no locked check",
        ),
    ],
)  # fmt: skip
def test_a_policy_for_a_check_the_data_never_runs_is_refused(
    tmp_path: Path, data_dir: Path, capsys, argv: list[str], expected: str
) -> None:
    # The policy was taken and ignored (the summary listed no such check), exit 0.
    check = expected.split()[1].rstrip(":")
    catalog = tmp_path / "catalog"
    args = ["data", *argv[:2], str(data_dir / argv[2]), *argv[3:], "--policy", check]
    if argv[0] == "import":
        args += ["--catalog", str(catalog)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not catalog.exists()


def test_ctrl_c_while_the_cli_starts_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The verbs' modules load before the command runs (a second or so); Ctrl-C then (an
    # impatient 'nautilus-ai data import ...') printed a KeyboardInterrupt traceback.
    import nautilus_ai.cli as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    try:
        code = cli.main(["data", "info"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main (a traceback for the user)")
    assert code == 130
    assert capsys.readouterr().err == "nautilus-ai: interrupted\n"


@pytest.mark.parametrize(
    ("flag", "value", "bound"),
    [
        ("--ask-spread-pips", "-0.3", ">= 0"),
        ("--ask-spread-pips", "nan", ">= 0"),
        ("--assumed-volume", "-1", "> 0"),
        ("--assumed-volume", "inf", "> 0"),
    ],
)
def test_a_bad_modelling_assumption_names_its_flag(
    tmp_path: Path, data_dir: Path, capsys, flag: str, value: str, bound: str
) -> None:
    # 'spread_pips must be a finite number >= 0, got -0.3' named no flag.
    january = str(data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv")
    argv = ["data", "import", "histdata-m1", january, "--catalog", str(tmp_path / "c"), "-q"]
    assert main([*argv, f"{flag}={value}"]) == 2
    attribute = flag.removeprefix("--").replace("-", "_")
    expected = f"{flag} ({attribute}) must be a finite number {bound}, got {float(value)!r}"
    assert capsys.readouterr().err == f"nautilus-ai: error: {expected}\n"


@pytest.mark.parametrize(("value", "stored"), [("0.04", "0"), ("0.25", "0.2")])
def test_a_spread_off_the_price_grid_is_refused_not_rounded(
    tmp_path: Path, data_dir: Path, capsys, value: str, stored: str
) -> None:
    # EUR/USD's prices have 5 decimals, a 0.1 pip grid: --ask-spread-pips 0.25 was stored as
    # 0.2 pips and 0.04 as none at all (ASK = BID), exit 0, under a summary saying 'BID + a
    # constant 0.25 pip spread'.
    rows = (data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv").read_text().splitlines()
    january = tmp_path / "DAT_ASCII_EURUSD_M1_201701.csv"
    january.write_text("\n".join(rows[:100]) + "\n")
    catalog = tmp_path / "c"
    argv = ["data", "import", "histdata-m1", str(january), "--catalog", str(catalog), "-q"]
    assert main([*argv, "--ask-spread-pips", value]) == 2
    assert capsys.readouterr().err == (
        f"nautilus-ai: error: --ask-spread-pips (ask_spread_pips): spread_pips {value} is not a "
        f"whole number of price increments (0.1 pip at 5 decimals): it would be stored as "
        f"{stored}\n"
    )
    assert not (catalog / "data").exists()
    assert main([*argv, "--ask-spread-pips", "0.3"]) == 0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--venue", ""], "--venue: expected letters, digits, '_' or '-', got ''"),
        (["--venue", "SIM X"], "--venue: expected letters, digits, '_' or '-', got 'SIM X'"),
        (
            ["--instrument-id", "EUR/USD.SIM X"],
            "instrument_id must look like 'EUR/USD.SIM', got 'EUR/USD.SIM X'",
        ),
    ],
)
def test_a_venue_that_no_bar_type_can_name_is_refused(
    tmp_path: Path, data_dir: Path, capsys, extra: list[str], expected: str
) -> None:
    # --venue '' was taken as SIM without a word; 'SIM X' was stored as a venue (and an id with
    # a space), which no run file's bar type can then name.
    january = str(data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv")
    argv = ["data", "import", "histdata-m1", january, "--catalog", str(tmp_path / "c"), "-q"]
    assert main([*argv, *extra]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "c" / "data").exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--side", "ASK"], "--side ASK: applies to candles (--kind m1, h1, d1), not ticks"),
        (["--workers", "0"], "--workers must be >= 1, got 0"),
        (["--retries", "-1"], "--retries must be >= 0, got -1"),
        (["--max-connection-failures", "0"], "--max-connection-failures must be >= 1, got 0"),
        (["--timeout", "nan"], "--timeout must be a finite number of seconds > 0, got nan"),
    ],
)
def test_download_flags_are_checked_by_name(
    tmp_path: Path, capsys, extra: list[str], expected: str
) -> None:
    # --side with ticks was ignored (the download went on); the others were refused as
    # 'DownloadConfig.workers must be >= 1' / 'read_timeout must be ...', naming no flag.
    argv = ["data", "download", "EURUSD", "--start", "2019-02-04", "--end", "2019-02-05"]
    argv += ["--cache", str(tmp_path / "cache"), "--base-url", "http://127.0.0.1:9", *extra]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"nautilus-ai: error: {expected}")
    assert not (tmp_path / "cache").exists()


def test_download_and_import_of_closed_hours_says_nothing_was_imported(
    dukascopy_mirror, tmp_path: Path, data_dir: Path, capsys
) -> None:
    # A Saturday: every hour empty. '--import' printed the download counts only, exit 0,
    # with no word that nothing went into the catalog.
    saturday = {f"EURUSD/2019/01/02/{hour:02d}h_ticks.bi5": "empty" for hour in range(2)}
    argv = ["data", "download", "EURUSD", "--start", "2019-02-02T00:00", "--end"]
    argv += ["2019-02-02T02:00", "--cache", str(tmp_path / "cache"), "--import"]
    argv += ["--catalog", str(tmp_path / "catalog"), "-q"]
    with dukascopy_mirror(data_dir / "dukascopy", saturday) as mirror:
        assert main([*argv, "--base-url", mirror.url]) == 0
        out = capsys.readouterr().out
        assert out.rstrip().endswith(
            "nothing imported: none of the 2 file(s) holds data (market closed, or not available)"
        )
        assert main([*argv, "--base-url", mirror.url, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["import"] is None
    assert not (tmp_path / "catalog").exists()


def test_info_on_a_folder_that_is_not_a_catalog_says_so(tmp_path: Path, capsys) -> None:
    # --catalog catalogs (the folder of catalogs) listed nothing, exit 0: an empty catalog.
    (tmp_path / "demo" / "data").mkdir(parents=True)
    assert main(["data", "info", "--catalog", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"nautilus-ai: error: {tmp_path} is not a catalog (it has no data/ folder); catalogs "
        "inside it: demo\n"
    )


def test_a_csv_spec_file_with_a_key_given_twice_is_refused(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # {"close": "Close", ..., "close": "Open"} kept the last value without a word: the bars
    # were stored with their open as close, exit 0 (run files and live configs refused it).
    spec = tmp_path / "spec.json"
    spec.write_text(
        '{"kind": "bars", "timestamp": "Time", "timestamp_format": "%d.%m.%Y %H:%M:%S.000", '
        '"open": "Open", "high": "High", "low": "Low", "close": "Close", "bar_seconds": 3600, '
        '"close": "Open"}'
    )
    source = str(data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv")
    catalog = tmp_path / "catalog"
    argv = ["data", "import", "csv", source, "--spec", str(spec), "--instrument-id"]
    assert main([*argv, "EUR/USD.SIM", "--catalog", str(catalog), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"nautilus-ai: error: --spec {spec}: not valid JSON: key 'close' is given twice in one "
        "object; only one value can hold\n"
    )
    assert not catalog.exists()


def test_quotes_with_bid_and_ask_swapped_are_refused(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # A spec mapping bid to the ask column and ask to the bid one stored 1,000 TrueFX ticks
    # with 999 crossed ('crossed 999 flagged, kept'), exit 0: a market of negative spreads.
    # Real crossings (LEAN FXCM, ~10 % of its ticks) still go in, flagged.
    spec = tmp_path / "swapped.json"
    spec.write_text(
        json.dumps({"kind": "quotes", "timestamp": "timestamp", "timestamp_format": "iso8601",
                    "bid": "ask", "ask": "bid"})
    )  # fmt: skip
    ticks = str(data_dir / "nautilus/truefx/usdjpy-ticks.csv")
    catalog = tmp_path / "c"
    argv = ["data", "import", "csv", ticks, "--catalog", str(catalog), "-q"]
    assert main([*argv, "--spec", str(spec), "--instrument-id", "USD/JPY.SIM"]) == 2
    assert capsys.readouterr().err == (
        f"nautilus-ai: error: {ticks}: 999 of 1,000 quotes have bid > ask: are the bid and ask "
        "columns swapped?; nothing was written\n"
    )
    assert not (catalog / "data").exists()
    fxcm = str(data_dir / "lean/forex/fxcm/tick/eurusd/20140505_quote.zip")
    assert main(["data", "import", "lean", fxcm, "--catalog", str(catalog), "-q"]) == 0


def test_a_download_of_a_pair_no_import_can_read_is_refused(tmp_path: Path, capsys) -> None:
    # 'data download EURUDS' (a typo) went to the datafeed, a request per hour of the range,
    # for files no import could then read (no price scale): refused before any request.
    argv = ["data", "download", "EURUDS", "--start", "2019-02-04", "--end", "2019-02-05"]
    argv += ["--cache", str(tmp_path / "cache"), "--base-url", "http://127.0.0.1:9", "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nautilus-ai: error: EURUDS: not a pair whose Dukascopy files can be ")
    assert err.endswith("; did you mean EURUSD?\n")
    assert not (tmp_path / "cache").exists()


def test_an_ask_that_is_the_bid_again_is_refused(tmp_path: Path, data_dir: Path, capsys) -> None:
    # A Dukascopy BID candle file copied as the ASK file was stored, exit 0, as 1,440 ASK bars
    # equal to the BID ('locked 1440 kept'): a market with no spread. So were ticks whose spec
    # read bid and ask from one column. Refused (import and validate), nothing written.
    day = "dukascopy/EURUSD/2019/01/04"
    folder = tmp_path / "dk" / "EURUSD/2019/01/04"
    folder.mkdir(parents=True)
    bid = (data_dir / day / "BID_candles_min_1.bi5").read_bytes()
    (folder / "BID_candles_min_1.bi5").write_bytes(bid)
    (folder / "ASK_candles_min_1.bi5").write_bytes(bid)
    catalog = tmp_path / "c"
    for verb in ("import", "validate"):
        argv = ["data", verb, "dukascopy", str(tmp_path / "dk"), "-q"]
        assert main([*argv, "--catalog", str(catalog)] if verb == "import" else argv) == 2
        assert "1,440 of 1,440 " in (err := capsys.readouterr().err)
        assert "ASK bars equal the BID bars at the same time" in err
    assert not catalog.exists()
    spec = tmp_path / "one_column.json"
    spec.write_text(
        json.dumps({"kind": "quotes", "timestamp": "timestamp", "timestamp_format": "iso8601",
                    "bid": "bid", "ask": "bid"})
    )  # fmt: skip
    ticks = str(data_dir / "nautilus/truefx/usdjpy-ticks.csv")
    argv = ["data", "import", "csv", ticks, "--spec", str(spec), "--instrument-id", "USD/JPY.SIM"]
    assert main([*argv, "--catalog", str(catalog), "-q"]) == 2
    assert "1,000 of 1,000 quotes have bid == ask" in capsys.readouterr().err
    assert not catalog.exists()
    # The real pair (ASK above BID) goes in.
    (folder / "ASK_candles_min_1.bi5").write_bytes(
        (data_dir / day / "ASK_candles_min_1.bi5").read_bytes()
    )
    assert (
        main(["data", "import", "dukascopy", str(tmp_path / "dk"), "--catalog", str(catalog), "-q"])
        == 0
    )


def test_a_read_only_catalog_is_refused_in_one_line_and_still_read(
    tmp_path: Path, data_dir: Path, read_only, capsys
) -> None:
    # An import into a catalog the user cannot write ended 'OSError: [Errno 30] Read-only file
    # system: '.../.nautilus-ai-staging' (run with --debug for the traceback)', exit 1.
    month = str(data_dir / "histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv")
    catalog = tmp_path / "c"
    argv = ["data", "import", "histdata-ticks", month, "--catalog", str(catalog), "-q"]
    assert main(argv) == 0
    capsys.readouterr()
    files = sorted(p.relative_to(catalog) for p in catalog.rglob("*"))
    read_only(catalog)
    for target in (catalog, catalog / "new"):
        assert main([*argv[:-3], "--catalog", str(target), "-q", "--on-conflict", "replace"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"nautilus-ai: error: catalog {target}: cannot write into "), err
        assert "nothing was written" in err and err.count("\n") == 1
    assert sorted(p.relative_to(catalog) for p in catalog.rglob("*")) == files
    assert main(["data", "info", "--catalog", str(catalog), "--json"]) == 0
    assert 9_500 in [d["rows"] for d in _json(capsys)["data"]]


def test_a_csv_whose_name_names_another_pair_is_refused(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    # FOREX_EURUSD_1H_ASK.csv imported with --instrument-id GBP/USD.SIM was stored as 6,225
    # GBP/USD bars, exit 0 (EUR/USD and GBP/USD trade at levels the price check accepts).
    source = data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv"
    catalog = tmp_path / "c"
    for verb in ("import", "validate"):
        argv = ["data", verb, "csv", str(source), "--preset", "dukascopy-csv-h1", "-q"]
        argv += ["--instrument-id", "GBP/USD.SIM"]
        assert main([*argv, "--catalog", str(catalog)] if verb == "import" else argv) == 2
        assert capsys.readouterr().err == (
            "nautilus-ai: error: --instrument-id (instrument_id) GBP/USD.SIM, but the file "
            "FOREX_EURUSD_1H_ASK.csv names EUR/USD: give --instrument-id EUR/USD.SIM, or rename "
            "the file if its name is wrong; nothing was written\n"
        )
    assert not catalog.exists()
    # Its own pair, and a name that names none, go in.
    plain = tmp_path / "hourly_ask.csv"
    plain.write_bytes(b"".join(source.read_bytes().splitlines(keepends=True)[:50]))
    for path, instrument in ((source, "EUR/USD.SIM"), (plain, "GBP/USD.SIM")):
        argv = ["data", "import", "csv", str(path), "--preset", "dukascopy-csv-h1"]
        assert main([*argv, "--instrument-id", instrument, "--catalog", str(catalog), "-q"]) == 0
