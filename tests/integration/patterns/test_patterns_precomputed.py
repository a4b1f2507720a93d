"""The memory predictor on the backtest's precomputed path: the same decisions and trades as the
incremental path in a ``BacktestNode`` run of ``backtests/patterns.yaml``, and predictions only
for the bars the run reaches."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from nautilus_ai.backtest.config import parse_run_file
from nautilus_ai.backtest.runner import run_backtest
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models.registry import build_predictor
from nautilus_ai.patterns import IndexConfig, PatternMemory, build_from_catalog, save_memory

REPO = Path(__file__).resolve().parents[3]
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
# Small epochs: the 3,000-bar catalog's memory runs on IVF lists, not brute force.
SMALL_IVF = IndexConfig(exact_max=256, growth=2, nprobe=6)


def _run_file(catalog: Path, store: Path, source: str, reports: Path) -> Any:
    raw = yaml.safe_load((REPO / "backtests" / "patterns.yaml").read_text())
    raw = copy.deepcopy(raw)
    raw["report_dir"] = str(reports)
    data = raw["run"]["data"][0]
    data["catalog_path"] = str(catalog)
    del data["start_time"], data["end_time"]  # the whole catalog: both paths start cold
    config = raw["run"]["engine"]["strategies"][0]["config"]
    config["predictor"] = {"kind": "pattern_memory", "path": str(store), "k": 20}
    config["feature_source"] = source
    config["catalog_path"] = str(catalog)
    config["min_confidence"] = 0.45
    return parse_run_file(raw, REPO / "backtests" / "patterns.yaml")


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_precomputed_path_trades_as_the_incremental_path(
    patterns_replay_catalog: Path, tmp_path: Path
) -> None:
    catalog = patterns_replay_catalog
    patterns = build_from_catalog(catalog, BAR_TYPE)
    store = tmp_path / "store"
    save_memory(PatternMemory(patterns.take(slice(0, 1200)), index_config=SMALL_IVF), store)

    runs = {}
    for source in ("incremental", "precomputed"):
        outcome = run_backtest(_run_file(catalog, store, source, tmp_path), write=False)
        runs[source] = outcome
    slow, fast = runs["incremental"], runs["precomputed"]
    assert fast.strategy_stats["precomputed_fallbacks"] == 0
    assert fast.strategy_stats["predictor_errors"] == slow.strategy_stats["predictor_errors"] == 0
    decisions = [
        [(d.ts_event, d.action, d.confidence, d.intent, d.quantity) for d in run.decisions]
        for run in (slow, fast)
    ]
    assert len(decisions[0]) > 2500
    assert decisions[0] == decisions[1]
    trades = [[(t.ts_opened, t.ts_closed, t.realized_pnl) for t in r.trades] for r in (slow, fast)]
    assert trades[0] and trades[0] == trades[1]
    assert np.array_equal(slow.fills["ts"], fast.fills["ts"])
    assert np.array_equal(slow.fills["price"], fast.fills["price"])


def test_predictions_start_at_the_first_row_asked_for(
    patterns_replay_catalog: Path, tmp_path: Path
) -> None:
    """A window that starts inside the catalog: only its rows (and at most one block past the
    rows asked for) are predicted, and they equal ``predict`` row by row from there."""
    from nautilus_ai.backtest.precompute import precompute_for_strategy
    from nautilus_ai.models import MarketContext

    catalog = patterns_replay_catalog
    patterns = build_from_catalog(catalog, BAR_TYPE)
    store = tmp_path / "store"
    save_memory(PatternMemory(patterns.take(slice(0, 1200)), index_config=SMALL_IVF), store)
    spec = FeatureSpec()
    config = {"kind": "pattern_memory", "path": str(store)}
    predictor = build_predictor(config, spec)
    ts, ohlcv, features, predictions = precompute_for_strategy(
        str(catalog), BAR_TYPE, spec, predictor, context_bars=64
    )
    assert predictions is not None
    start = 1500
    asked = [predictions[i] for i in range(start, start + 300)]
    learned_after_window = predictor.learned  # type: ignore[attr-defined]
    # rows before the first one asked for were never predicted: the memory learned nothing there
    assert predictions._first == start  # type: ignore[attr-defined]
    assert predictions._done < ts.size  # type: ignore[attr-defined]
    row_model = build_predictor(config, spec)
    table = np.column_stack([ts.astype(np.float64), ohlcv])
    for offset, got in enumerate(asked):
        i = start + offset
        context = MarketContext("EUR/USD.SIM", int(ts[i]), spec.names, spec.hash,
                                table[i - 63 : i + 1])  # fmt: skip
        want = row_model.predict(features[i], context)
        assert got is not None
        assert (got.action, got.confidence, got.risk_score, got.reason) == (
            want.action, want.confidence, want.risk_score, want.reason,
        )  # fmt: skip
    assert learned_after_window > 0
