"""Shared fixtures: the real market data folder (never committed; see ../shared/data/README.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nautilus_ai.paths import shared_data_dir

# Tiny torch / transformers models are ~50x slower with 2 threads on a loaded 2-core box.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder. Missing data is a failure, not a skip: CI must have it."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The demo catalog (six months of real EUR/USD M1 bid + ask bars), imported once."""
    from nautilus_ai.backtest.demo import ensure_demo_catalog

    path, _ = ensure_demo_catalog(tmp_path_factory.mktemp("demo_catalog"), data_dir)
    return path


# -- tiny offline Hugging Face models (built once a session; backends and fine-tuning tests) ----


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight MiniCPM-V 4.6 model directory (action words are single tokens)."""
    from nautilus_ai.models.tiny_models import build_tiny_minicpmv

    return build_tiny_minicpmv(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama-architecture text model directory with a chat template."""
    from nautilus_ai.models.tiny_models import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text"), chat_template=True)
