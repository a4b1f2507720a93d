"""The same logger in a live TradingNode (replayed real bars, Sandbox fills), with the
background writer thread a live node uses: every decision logged, features equal the
vectorised ones, outcomes joined, ts_init from the live clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fixtures.live_configs import live_config, use_ai_pattern
from fixtures.replay_catalog import build_replay_catalog

from nautilus_ai.catalog import read_bars, read_outcomes, read_snapshots
from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.live import load_live_config, run_live
from nautilus_ai.strategies.ai_pattern import FEATURE_LOG_TIMER

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


@pytest.fixture(scope="module")
def replay_catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("catalog"), rows=3000)


@pytest.mark.slow
def test_live_node_logs_every_decision(replay_catalog: Path, tmp_path: Path) -> None:
    path = live_config(tmp_path, replay_catalog, speed=0.0, limit=3000)
    use_ai_pattern(path)
    data = yaml.safe_load(path.read_text())
    log = tmp_path / "log"
    data["node"]["strategies"][0]["config"]["feature_log"] = {
        "catalog_path": str(log), "run_id": "live-1", "background": True, "flush_rows": 1000,
        "flush_interval_s": 1.0,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data))
    strategies: list[Any] = []
    timer_active: list[bool] = []

    def built(node: Any) -> None:
        strategies.extend(node.trader.strategies())
        strategy = strategies[0]

        def check_timer(*_: Any) -> None:  # while running: the live flush timer is set
            if not timer_active:
                timer_active.append(FEATURE_LOG_TIMER in strategy.clock.timer_names)

        strategy.add_decision_sink(check_timer)

    run_live(load_live_config(path), on_built=built)
    strategy = strategies[0]
    assert timer_active == [True]
    assert strategy.feature_logger.stats().write_errors == 0

    snaps = read_snapshots(log, "live-1")
    assert len(snaps) == len(strategy.decisions) > 2_500
    assert [d.ts_event for d in strategy.decisions] == snaps.ts_event.tolist()
    ts_init = snaps.table.column("ts_init").to_numpy()
    assert (ts_init >= snaps.ts_event).all()  # decided when the bar arrived, on the live clock
    ts, ohlcv = read_bars(replay_catalog, BID)
    features = compute_features(FeatureSpec(), ts, *ohlcv.T)
    rows = np.searchsorted(ts, snaps.ts_event)
    np.testing.assert_allclose(snaps.features, features[rows], rtol=1e-12, atol=1e-15)
    outcomes = read_outcomes(log, "live-1").to_pylist()
    assert len(outcomes) == len(strategy.trades) > 0
    assert [o["decision_ts"] for o in outcomes] == [t.decision_ts for t in strategy.trades]
    assert set(snaps.ts_event.tolist()) >= {o["decision_ts"] for o in outcomes}
