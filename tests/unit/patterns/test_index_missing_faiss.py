"""Without faiss the IVF index says which extra to install, as a MissingExtraError (what every
other missing extra raises, so a Python caller can catch one type)."""

from __future__ import annotations

import sys

import pytest

from nautilus_ai.extras import MissingExtraError
from nautilus_ai.patterns import index


def test_the_ivf_index_without_faiss_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` raises ImportError
    with pytest.raises(
        MissingExtraError, match=r"needs faiss: pip install 'nautilus-ai\[patterns\]'"
    ):
        index._faiss()
