"""The README's Data commands, run in order as a user would, on a catalog that already holds
January 2017; each line's result is checked in the catalog (read by Nautilus), not only its
exit code. The Dukascopy datafeed is replaced by a loopback mirror of the shared files."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from nautilus_trader.model.data import Bar, QuoteTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.cli import main
from nautilus_ai.data import import_histdata_m1
from nautilus_ai.data.dukascopy import find_files, load_ticks, price_scale

README = Path(__file__).parents[3] / "README.md"
BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


def readme_data_commands() -> list[str]:
    """The ``nautilus-ai`` lines of the first bash block of the README's Data section."""
    section = README.read_text().split("\n## Data\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "README: no bash block in ## Data"
    return [line for line in block.group(1).splitlines() if line.startswith("nautilus-ai ")]


def _rows(catalog: Path) -> dict[str, int]:
    reader = ParquetDataCatalog(str(catalog))
    return {
        BID: len(reader.query(Bar, identifiers=[BID])),
        ASK: len(reader.query(Bar, identifiers=[ASK])),
        "quotes": len(reader.query(QuoteTick, identifiers=["EUR/USD.SIM"])),
    }


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def test_readme_data_commands_in_order(
    tmp_path: Path, data_dir: Path, dukascopy_mirror, capsys
) -> None:
    commands = readme_data_commands()
    verbs = [" ".join(shlex.split(c)[1:4]) for c in commands]
    assert verbs == [
        "data import histdata-m1",
        "data import lean",
        "data import lean",
        "data download EURUSD",
        "data validate lean",
        "data info",
    ], "the README's data commands changed: update this test with them"

    catalog = tmp_path / "catalog"
    january = import_histdata_m1(data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv", catalog)
    jan = january.rows_written
    assert _rows(catalog) == {BID: jan, ASK: 0, "quotes": 0}
    ticks = [p for p in find_files([data_dir / "dukascopy/EURUSD/2019/01"]) if p[1].kind == "ticks"]
    day_ticks = len(load_ticks(ticks, price_scale("EURUSD"))[0])

    with dukascopy_mirror(data_dir / "dukascopy") as mirror:
        for index, command in enumerate(commands):
            argv = shlex.split(command.replace("../shared/data", str(data_dir)))[1:]
            if argv[1] in ("import", "download", "info"):
                argv += ["--catalog", str(catalog)]
            if argv[1] == "download":
                argv += ["--base-url", mirror.url, "--cache", str(tmp_path / "cache")]
            before = _snapshot(catalog)
            assert main(argv) == 0, command
            out = capsys.readouterr().out
            rows = _rows(catalog)
            if index == 0:  # the six months, January already stored
                assert rows == {BID: 186_348, ASK: 0, "quotes": 0}
                assert f"{186_348 - jan:,} added, 0 changed, {jan:,} unchanged" in out
            elif index == 1:  # dry run: the numbers, no byte written
                assert _snapshot(catalog) == before
                assert out.startswith("DRY RUN (nothing written)")
                assert f"{BID}: 18,184 added, 0 changed, 0 unchanged, 186,348 stored" in out
            elif index == 2:  # LEAN minutes beside HistData: nothing lost, the mix reported
                assert rows == {BID: 204_532, ASK: 18_184, "quotes": 0}
                assert "MIXED SOURCES: this import adds to stored rows from histdata-m1 " in out
                assert "[DAT_ASCII_EURUSD_M1_201701.csv; DAT_ASCII_EURUSD_M1_201701.csv .." in out
            elif index == 3:  # two days of ticks downloaded and imported
                assert rows == {BID: 204_532, ASK: 18_184, "quotes": day_ticks}
                assert sum(mirror.requests.values()) == 48
                assert f"EUR/USD.SIM: {day_ticks:,} added" in out
            elif index == 4:  # validation writes nothing and reports crossed quotes
                assert _snapshot(catalog) == before
                assert re.search(r"crossed\s+\d+", out)
            else:  # info: what is stored, and where it came from
                assert re.search(rf"{re.escape(BID)}\s+204532 rows", out)
                assert re.search(rf"quote_tick\s+EUR/USD.SIM\s+{day_ticks} rows", out)
                assert "histdata-m1 (186,348 rows written); lean-minute:oanda" in out
