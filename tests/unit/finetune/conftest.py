"""Fixtures for fine-tuning unit tests: one torch thread, a tiny remote-code model.

``tiny_vlm_dir`` and ``tiny_text_dir`` are shared session fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.threads import one_torch_thread


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    one_torch_thread()


@pytest.fixture(scope="session")
def tiny_remote_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nautilus_ai.models.tiny_models import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("ft-tiny-remote"), remote_code=True)
