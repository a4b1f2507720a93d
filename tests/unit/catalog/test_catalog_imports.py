"""The decision-log readers, labels and datasets stay pure: no Nautilus, no torch on import."""

from __future__ import annotations

import subprocess
import sys


def test_pure_modules_import_neither_nautilus_nor_torch() -> None:
    code = (
        "import sys\n"
        "import nautilus_ai.catalog, nautilus_ai.labels, nautilus_ai.datasets\n"
        "print(sorted(m for m in ('nautilus_trader', 'torch') if m in sys.modules))\n"
        "import nautilus_ai.training\n"
        "print('nautilus_trader' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out == ["[]", "False"]  # training needs torch, never Nautilus
