"""PineTS runs on the node nautilus_ai.services located (the services extra's Node.js unless
overridden): the harness reports the binary that ran it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nautilus_ai.pine import run_pinets
from nautilus_ai.services import probe_version, require


def test_pinets_runs_on_the_located_node(pinets_modules: Path) -> None:
    node = require("node")
    n = 8
    ts = (np.arange(n, dtype=np.int64) + 1) * 60_000_000_000 + 1_700_000_000_000_000_000
    close = np.linspace(1.0, 2.0, n)
    script = '//@version=6\nindicator("t")\nplot(close * 2, "twice")'
    result = run_pinets(
        script, ts, close, close, close, close, close * 0, node_modules=pinets_modules
    )
    assert np.allclose(result.plots["twice"], close * 2)
    path, version = result.node.rsplit(" ", 1)
    assert Path(path).resolve() == node.executable.resolve()
    assert version.lstrip("v") == ".".join(str(p) for p in probe_version(node).numbers)
