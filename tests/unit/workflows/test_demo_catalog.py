"""The demo on a catalog that already holds other EUR/USD bars at its timestamps (an ASK series
imported at another spread): one line naming the catalog and the ways out, exit 2.

It ended in the importer's "WriteConflictError: ... Choose how to resolve: --on-conflict
replace ... on_conflict= in Python" through the catch-all (exit 1): neither `nautilus-ai demo`
nor `ensure_demo_catalog` has that flag or argument.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.cli import main
from nautilus_ai.data import import_histdata_m1
from nautilus_ai.workflows.demo import (
    DEMO_INSTRUMENT_ID,
    DemoCatalogError,
    demo_files,
    ensure_demo_catalog,
)


@pytest.fixture
def other_spread_catalog(tmp_path: Path, data_dir: Path) -> Path:
    catalog = tmp_path / "catalog"
    january = demo_files(data_dir)[:1]
    import_histdata_m1(january, catalog, instrument_id=DEMO_INSTRUMENT_ID, ask_spread_pips=0.5)
    return catalog


def test_ensure_demo_catalog_names_the_catalog_and_the_ways_out(
    other_spread_catalog: Path, data_dir: Path
) -> None:
    with pytest.raises(DemoCatalogError) as error:
        ensure_demo_catalog(other_spread_catalog, data_dir)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        f"catalog {other_spread_catalog} already holds bars that the demo's import contradicts: "
        "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL (31,500 timestamps); nothing was written."
    )
    assert "ensure_demo_catalog(catalog=...)" in message
    assert f"--on-conflict replace --catalog {other_spread_catalog}`" in message


def test_the_demo_command_stops_in_one_line_exit_2(
    other_spread_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--catalog", str(other_spread_catalog), "--reports",
                 str(tmp_path / "reports"), "--no-experiment"])  # fmt: skip
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 2
    assert errors == [errors[0]] and errors[0].startswith(
        f"nautilus-ai: error: catalog {other_spread_catalog} already holds bars"
    )
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
