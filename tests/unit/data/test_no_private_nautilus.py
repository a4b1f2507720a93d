"""The data package uses no private Nautilus names (they move between releases: 1.221 / 1.231)."""

from __future__ import annotations

import ast
from pathlib import Path

import nautilus_ai.data

PACKAGE = Path(nautilus_ai.data.__file__).parent


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nautilus_trader"):
            parts = (node.module or "").split(".")
            names = [a.name for a in node.names]
            found += [f"{node.module}.{n}" for n in [*parts, *names] if n.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [
                a.name
                for a in node.names
                if a.name.startswith("nautilus_trader")
                and any(p.startswith("_") for p in a.name.split("."))
            ]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in ("catalog", "reader", "parquet_catalog")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return [f"{path.relative_to(PACKAGE)}:{name}" for name in found]


def test_no_private_nautilus_names_in_the_data_package() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    assert [use for path in modules for use in _private_uses(path)] == []


def test_the_guard_sees_the_old_import(tmp_path: Path) -> None:
    old = tmp_path / "old.py"
    old.write_text(
        "from nautilus_trader.persistence.catalog.parquet import (\n"
        "    _parse_filename_timestamps,\n)\n"
        "def f(catalog):\n    return catalog._make_path(1, 2)\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        assert _private_uses(old) == [
            "old.py:nautilus_trader.persistence.catalog.parquet._parse_filename_timestamps",
            "old.py:catalog._make_path",
        ]
    finally:
        PACKAGE = saved
