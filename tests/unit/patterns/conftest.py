"""Real EUR/USD minute bars (the demo catalog, January-February 2017) for the pattern tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


@pytest.fixture(scope="session")
def real_bars(demo_catalog: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(ts, ohlcv)`` of 20,000 real bars (2 Jan .. early Feb 2017), accepted by the engine."""
    from nautilus_ai.catalog import read_bars
    from nautilus_ai.features import accepted_bars_mask

    ts, ohlcv = read_bars(demo_catalog, BAR_TYPE)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    return ts[keep][:20_000], np.ascontiguousarray(ohlcv[keep][:20_000])
