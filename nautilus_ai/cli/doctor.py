"""``nautilus-ai doctor`` (placeholder while it is written)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Nothing yet."""
