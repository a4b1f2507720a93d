"""Fixtures for the pattern-memory integration tests (a small live replay catalog)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.replay_catalog import build_replay_catalog


@pytest.fixture(scope="session")
def patterns_replay_catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 real EUR/USD 1-minute bars (HistData, January 2017) with a 0.3 pip ASK side."""
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("patterns-replay"), rows=3000)
