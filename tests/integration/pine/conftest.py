"""Session fixtures for the Pine checks: PineTS (npm ci once), one pynescript parser, the real
EUR/USD month, a torch MLP fitted quickly on real features, and ONE PineTS run over the month
shared by the tests that need it.

PineTS is installed into the git-ignored ``.cache/pinets`` (``$NAUTILUS_AI_PINETS_DIR``) by
``npm ci`` from the pinned lockfile; node / npm missing is a failure, not a skip.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pine_fixtures import TRAINED_MIN_CONFIDENCE, MonthRun, accepted, fit_quick_mlp

from nautilus_ai.data import BarArrays, histdata_m1_files, read_histdata_m1
from nautilus_ai.pine import (
    PineSyntaxChecker,
    StrategyOptions,
    ensure_pinets,
    export_mlp_artifact,
    run_pinets,
)


@pytest.fixture(scope="session")
def pinets_modules() -> Path:
    """PineTS installed once per machine (npm ci, 5 minute limit), its node_modules folder."""
    return ensure_pinets(timeout=300.0)


@pytest.fixture(scope="session")
def syntax_checker() -> PineSyntaxChecker:
    """The one pynescript parser of the session (its first parse is the slow one)."""
    return PineSyntaxChecker()


@pytest.fixture(scope="session")
def month_bars(data_dir: Path) -> BarArrays:
    """January 2017, real HistData EUR/USD M1 bid bars (~31,500 accepted bars)."""
    files = histdata_m1_files(data_dir)
    return accepted(read_histdata_m1(files[0]))


@pytest.fixture(scope="session")
def fit_bars(data_dir: Path) -> BarArrays:
    """February - April 2017: where the quick model is fitted (not the checked month)."""
    files = histdata_m1_files(data_dir)
    return accepted(read_histdata_m1(files[1:4]))


@pytest.fixture(scope="session")
def trained_artifact(tmp_path_factory: pytest.TempPathFactory, fit_bars: BarArrays) -> Path:
    """The quick 28 -> 32 -> 3 torch MLP (see :func:`pine_fixtures.fit_quick_mlp`)."""
    return fit_quick_mlp(
        fit_bars,
        tmp_path_factory.mktemp("artifacts"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        description="fitted in seconds for the Pine tests; no edge",
    )


@pytest.fixture(scope="session")
def month_run(trained_artifact: Path, month_bars: BarArrays, pinets_modules: Path) -> MonthRun:
    """THE month-long PineTS run of the session (~30k bars), shared by the tests that need it."""
    export = export_mlp_artifact(
        trained_artifact, options=StrategyOptions(min_confidence=TRAINED_MIN_CONFIDENCE)
    )
    b = month_bars
    started = time.perf_counter()
    result = run_pinets(
        export.script,
        b.ts_event,
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
        node_modules=pinets_modules,
    )
    print(f"PineTS month run: {result.bars} bars in {time.perf_counter() - started:.1f} s")
    return MonthRun(export=export, result=result, bars=b)
