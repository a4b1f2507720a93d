"""The packaged demo decides and trades the same on every supported NautilusTrader release.

Each CI leg (1.221 / Python 3.11 with torch, 1.231 / Python 3.12 core) runs this against the
ONE committed fingerprint, so the two releases are compared through it on every run.
"""

from __future__ import annotations

import json
from pathlib import Path

import nautilus_trader
from decision_fingerprint import FINGERPRINT_FILE, fingerprint, run_demo

from nautilus_ai.compat import NAUTILUS_RANGE, nautilus_version


def test_demo_decisions_and_trades_match_the_committed_fingerprint(
    demo_catalog: Path, tmp_path: Path
) -> None:
    expected = json.loads(FINGERPRINT_FILE.read_text())
    # The fingerprint describes a real run: every bar decided, orders sent, trades closed.
    assert expected["bars"] == 186_348
    assert expected["decisions"] > 180_000
    assert expected["orders_sent"] > 1_000 and expected["trades"] > 1_000
    assert NAUTILUS_RANGE[0] <= nautilus_version() <= NAUTILUS_RANGE[1], nautilus_trader.__version__

    got = fingerprint(run_demo(demo_catalog, tmp_path))

    assert got == expected, f"nautilus_trader {nautilus_trader.__version__}"
