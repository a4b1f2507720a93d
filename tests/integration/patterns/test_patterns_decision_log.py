"""A pattern store built from a logged backtest (``FeatureSnapshot`` rows written by a real
``BacktestEngine`` run with ``feature_log``) equals the store built from the same bars."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from fixtures.replay_catalog import build_replay_catalog

from nautilus_ai.patterns import build_from_bars, build_from_decision_log

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
_LOGGED = Path(__file__).resolve().parents[1] / "catalog" / "logged_backtest.py"


def _run_logged_backtest():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("patterns_logged_backtest", _LOGGED)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run_logged_backtest


def test_store_from_the_decision_log_equals_the_store_from_bars(
    data_dir: Path, tmp_path: Path
) -> None:
    from nautilus_ai.catalog import read_snapshots
    from nautilus_ai.catalog.reader import read_bars
    from nautilus_ai.features import accepted_bars_mask

    catalog = build_replay_catalog(data_dir, tmp_path / "catalog", rows=2500)
    run = _run_logged_backtest()
    strategy = run(str(catalog), str(catalog), "logged-run", end=None, flush_rows=800)
    assert strategy.decisions, "the logged run made no decision"
    snapshots = read_snapshots(catalog, "logged-run")
    assert len(snapshots) == len(strategy.decisions) > 2000

    logged = build_from_decision_log(catalog, "logged-run")
    ts, ohlcv = read_bars(catalog, BAR_TYPE)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    from_bars = build_from_bars(ts[keep], ohlcv[keep], instrument_id="EUR/USD.SIM")
    assert logged.source == "decision_log" and len(logged) > 2000
    # Same rows: every bar the strategy logged whose outcome is known, nothing else.
    assert np.array_equal(logged.ts_event, from_bars.ts_event)
    assert np.array_equal(logged.available_ns, from_bars.available_ns)
    assert logged.vectors.tobytes() == from_bars.vectors.tobytes()  # the logged features, exactly
    for column in ("label", "forward_return", "mfe", "mae", "close", "atr"):
        assert np.array_equal(getattr(logged, column), getattr(from_bars, column)), column
    assert logged.checksum() == from_bars.checksum()

    with pytest.raises(Exception, match="nope"):
        build_from_decision_log(catalog, "nope")
