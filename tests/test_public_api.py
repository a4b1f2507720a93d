"""Guards the curated public API: every package's ``__all__`` is sorted and importable."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import nautilus_ai
from nautilus_ai.extras import MissingExtraError


def _packages() -> list[str]:
    names = ["nautilus_ai"]
    for info in pkgutil.walk_packages(nautilus_ai.__path__, prefix="nautilus_ai."):
        if info.ispkg:
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _packages())
def test_package_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    for symbol in exported:
        try:
            present = hasattr(module, symbol)
        except MissingExtraError:
            continue  # a lazy name whose extra is not installed (the core leg): one clear line
        assert present, f"{name}.__all__ names missing {symbol!r}"


def test_strategies_install_under_nautilus_ai_namespace() -> None:
    # The repo's top-level strategies/ folder installs as nautilus_ai.strategies, so a user's own
    # top-level `strategies` package is never shadowed.
    module = importlib.import_module("nautilus_ai.strategies")
    assert module.__name__ == "nautilus_ai.strategies"
