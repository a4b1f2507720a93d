"""Fixtures for the live tests: a real redis-server and a small real-data catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.redis_server import control_secret, redis_server
from fixtures.replay_catalog import build_replay_catalog

__all__ = ["control_secret", "redis_server"]


@pytest.fixture(scope="session")
def replay_catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 real EUR/USD 1-minute bars (HistData, January 2017) with a 0.3 pip ASK side."""
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("catalog"), rows=3000)
