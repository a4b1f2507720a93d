"""Fixtures for fine-tuning integration tests: one torch thread.

The tiny models (``tiny_vlm_dir``, ``tiny_text_dir``) are session fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest
from fixtures.threads import one_torch_thread


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    one_torch_thread()
