"""Where things are on disk: the shared market data and the default catalog / report folders.

Every location is configurable: a CLI flag wins, then an environment variable, then a default
relative to the repository (the shared data folder is expected beside the repo checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CATALOG_DIR_ENV",
    "DATA_DIR_ENV",
    "REPORTS_DIR_ENV",
    "default_catalog_dir",
    "default_reports_dir",
    "repo_root",
    "shared_data_dir",
]

DATA_DIR_ENV = "NAUTILUS_AI_DATA"
CATALOG_DIR_ENV = "NAUTILUS_AI_CATALOG"
REPORTS_DIR_ENV = "NAUTILUS_AI_REPORTS"


def repo_root() -> Path:
    """The source checkout (for an editable install), else the current working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def shared_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the real market data fixtures (``histdata/``, ``dukascopy/``, ...).

    Order: ``explicit`` argument, ``$NAUTILUS_AI_DATA``, then ``shared/data`` beside the repo
    (``../shared/data``) or inside it (``./shared/data``). Raises ``FileNotFoundError`` naming
    every place it looked.
    """
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get(DATA_DIR_ENV):
        candidates.append(Path(os.environ[DATA_DIR_ENV]))
    else:
        root = repo_root()
        candidates += [root.parent / "shared" / "data", root / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"market data folder not found (looked in: {looked}); pass --data-dir or set "
        f"${DATA_DIR_ENV}"
    )


def default_catalog_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(CATALOG_DIR_ENV):
        return Path(os.environ[CATALOG_DIR_ENV])
    return repo_root() / "catalogs" / "demo"


def default_reports_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(REPORTS_DIR_ENV):
        return Path(os.environ[REPORTS_DIR_ENV])
    return repo_root() / "reports"
