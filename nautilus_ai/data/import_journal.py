"""A record of an import in progress, so an import stopped between its series is not taken as
complete (no Nautilus import).

Each series is swapped in whole (:mod:`nautilus_ai.data.swap`), but an import of several series
(HistData with ``--ask-spread-pips``: BID and ASK; Dukascopy ticks and bars) writes them one
after the other. Killed between two, it leaves one series updated and the other not, and the
catalog looked complete: ``data info`` showed both, a backtest ran on the half it found.

Before the first series is written, the import records the series it will write in
``<catalog>/.nautilus-ai-import-<key>.json`` (``key``: a digest of its source, files and
series, so a rerun of the same import uses the same record); each series written is added; the
record goes when the last one is in. A record still there names an import that stopped half-way:
:func:`interrupted_imports` lists them (``data info`` prints them), and running the same import
again completes it and removes its record. Writers take turns (the catalog lock), so records
are only written by the one writer holding it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from nautilus_ai.data.swap import fsync_directory

__all__ = ["ImportJournal", "interrupted_imports"]

_PREFIX = ".nautilus-ai-import-"


class ImportJournal:
    """The record of one import of several series into ``root`` (see the module docstring)."""

    def __init__(
        self, root: Path, source: str, files: str, planned: Sequence[str], series: Sequence[str]
    ) -> None:
        self.path = self.path_for(root, source, files, planned)
        self._record: dict[str, object] = {
            "source": source,
            "files": files,
            "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "series": list(series),
            "written": [],
        }
        self._save()

    @staticmethod
    def path_for(root: Path, source: str, files: str, planned: Sequence[str]) -> Path:
        """Where the record of this import lives: by source, files and every series it plans
        (written or not), so the same import run again finds it and another one does not."""
        text = "\n".join([source, files, *sorted(planned)])
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        return root / f"{_PREFIX}{key}.json"

    def written(self, identifier: str) -> None:
        """``identifier`` is in the catalog now."""
        done = self._record["written"]
        assert isinstance(done, list)
        done.append(identifier)
        self._save()

    def finish(self) -> None:
        """Every series is in: the import is complete, the record goes."""
        self.path.unlink(missing_ok=True)
        fsync_directory(self.path.parent)

    def _save(self) -> None:
        partial = self.path.with_suffix(".partial")
        with open(partial, "w") as handle:
            json.dump(self._record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
        fsync_directory(self.path.parent)


def interrupted_imports(catalog_path: str | os.PathLike[str]) -> tuple[str, ...]:
    """One line per import that stopped between its series (its record is still there)."""
    lines: list[str] = []
    for path in sorted(Path(catalog_path).glob(f"{_PREFIX}*.json")):
        try:
            record = json.loads(path.read_text())
            series, written = list(record["series"]), list(record["written"])
            what = f"{record['source']} ({record['files']}, started {record['started']})"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            lines.append(f"{path.name}: an import record that cannot be read ({exc})")
            continue
        missing = [s for s in series if s not in written]
        lines.append(
            f"{what} stopped after writing {len(written)} of its {len(series)} series; "
            f"not written: {', '.join(missing)}; run the same import again to complete it"
        )
    return tuple(lines)
