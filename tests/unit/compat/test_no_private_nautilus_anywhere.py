"""No private NautilusTrader name anywhere in the tree (library, glue, tests, benchmarks).

Private names (``_something``) move between releases without notice: 1.221 and 1.231 differ in
them. Every version difference goes through the public API, in ``nautilus_ai/compat.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = ("nautilus_ai", "strategies", "live", "backtests", "benchmarks", "tests")
#: Names of variables that hold Nautilus objects in our code, whose ``_attr`` would be private.
NAUTILUS_HOLDERS = frozenset(
    {"catalog", "reader", "parquet_catalog", "engine", "node", "kernel", "trader", "cache"}
)


def private_uses(source: str, label: str) -> list[str]:
    """``label:name`` for each private Nautilus module, name or attribute used in ``source``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nautilus_trader"):
            module = node.module or ""
            private_module = any(part.startswith("_") for part in module.split("."))
            names = [a.name for a in node.names if a.name.startswith("_")]
            found += [f"{module}.{n}" for n in names] + ([module] if private_module else [])
        elif isinstance(node, ast.Import):
            found += [
                a.name
                for a in node.names
                if a.name.startswith("nautilus_trader")
                and any(part.startswith("_") for part in a.name.split("."))
            ]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in NAUTILUS_HOLDERS
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return [f"{label}:{name}" for name in found]


def test_no_private_nautilus_name_in_the_tree() -> None:
    files = [path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 300
    this = Path(__file__).resolve()
    uses = [
        use
        for path in files
        if path.resolve() != this and "test_no_private_nautilus" not in path.name
        for use in private_uses(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert uses == []


def test_the_guard_sees_each_kind_of_private_use() -> None:
    source = (
        "from nautilus_trader.persistence.catalog.parquet import _parse_filename_timestamps\n"
        "import nautilus_trader._libnautilus\n"
        "from nautilus_trader.core._private import thing\n"
        "def f(catalog, engine):\n    return catalog._make_path(1, 2), engine._kernel\n"
    )
    assert sorted(private_uses(source, "x.py")) == [
        "x.py:catalog._make_path",
        "x.py:engine._kernel",
        "x.py:nautilus_trader._libnautilus",
        "x.py:nautilus_trader.core._private",
        "x.py:nautilus_trader.persistence.catalog.parquet._parse_filename_timestamps",
    ]
