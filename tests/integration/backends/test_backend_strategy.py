"""AIPatternStrategy in a real BacktestEngine with this area's backends and decision timing.

* A latency model delays each decision: it lands on a later bar and the trade log shows it.
* A TorchServe-served model gives the same trades as the same model in process.
* A prediction cache makes a rerun independent of the model server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

MINUTE = 60_000_000_000
TORCH = {"kind": "torch_random", "seed": 3}


def _fills(engine: Any) -> list[tuple[Any, ...]]:
    report = engine.trader.generate_fills_report()
    return [
        (int(r.ts_event.value), str(r.order_side), str(r.last_qty), str(r.last_px))
        for r in report.itertuples()
    ]


def _decisions(strategy: Any) -> list[tuple[Any, ...]]:
    return [(d.ts_event, d.action, d.intent, d.quantity, d.model_id) for d in strategy.decisions]


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_latency_moves_decisions_to_later_bars(backtest) -> None:  # type: ignore[no-untyped-def]
    now, _ = backtest(bar_limit=4000, predictor=TORCH)
    late, _ = backtest(
        bar_limit=4000, predictor=TORCH, decision_latency={"kind": "fixed", "latency_ms": 90_000}
    )
    assert now.trades and late.trades
    # without latency an entry fills on its decision bar; with 90 s it fills 2 bars later
    assert all(t.ts_opened - t.decision_ts < MINUTE for t in now.trades)
    assert all(t.ts_opened - t.decision_ts >= 90 * 10**9 for t in late.trades)
    # the same model answers are applied, just later: bar t's action shows up at bar t + 2
    by_ts = {d.ts_event: d.action for d in now.decisions}
    shifted = [(d.ts_event, d.action) for d in late.decisions]
    matched = sum(by_ts.get(ts - 2 * MINUTE) == action for ts, action in shifted)
    assert matched >= 0.95 * len(shifted)  # gaps (weekend) shift by more than 2 minutes
    assert late._scheduler.stats.applied == len(late.decisions)


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_deadline_turns_late_answers_into_holds(backtest) -> None:  # type: ignore[no-untyped-def]
    strategy, engine = backtest(
        bar_limit=1500,
        predictor=TORCH,
        decision_latency={"kind": "fixed", "latency_ms": 300_000},
        decision_deadline_ms=120_000,
    )
    assert strategy.decisions
    assert all(d.action == "hold" and d.reason.startswith("late") for d in strategy.decisions)
    assert strategy.trades == [] and len(engine.trader.generate_orders_report()) == 0


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_precomputed_and_incremental_agree_under_latency(backtest) -> None:  # type: ignore[no-untyped-def]
    latency = {"kind": "lognormal", "median_ms": 70_000, "sigma": 0.6, "seed": 5}
    fast, fast_engine = backtest(
        bar_limit=3000, predictor=TORCH, feature_source="precomputed", decision_latency=latency
    )
    slow, slow_engine = backtest(
        bar_limit=3000, predictor=TORCH, feature_source="incremental", decision_latency=latency
    )
    assert fast.precomputed_fallbacks == 0
    assert _fills(fast_engine) and _fills(fast_engine) == _fills(slow_engine)
    assert _decisions(fast) == _decisions(slow)


def test_torchserve_backtest_matches_the_in_process_model(backtest, torchserve_session) -> None:  # type: ignore[no-untyped-def]
    server = torchserve_session.server
    served = {
        "kind": "torchserve",
        "model_name": "mlp",
        "url": server.inference_url,
        "key_file": str(server.key_file),
        "read_timeout_s": 10.0,
    }
    local = {"kind": "torch", "path": str(torchserve_session.mlp_dir)}
    remote, remote_engine = backtest(bar_limit=1500, predictor=served)
    inproc, inproc_engine = backtest(bar_limit=1500, predictor=local)
    assert remote.predictor_errors == 0
    assert _fills(remote_engine) and _fills(remote_engine) == _fills(inproc_engine)
    assert _decisions(remote) == _decisions(inproc)
    assert [t.realized_pnl for t in remote.trades] == [t.realized_pnl for t in inproc.trades]
    # precomputed: the whole catalog (~186k rows) through the server in 4096-row requests vs
    # the in-process batch path
    batched = dict(served, max_batch_rows=4096)
    remote_pre, remote_pre_engine = backtest(
        bar_limit=1500, feature_source="precomputed", predictor=batched
    )
    local_pre, local_pre_engine = backtest(
        bar_limit=1500, feature_source="precomputed", predictor=local
    )
    assert _fills(remote_pre_engine) == _fills(local_pre_engine)
    assert _decisions(remote_pre) == _decisions(local_pre)


def test_cached_rerun_needs_no_model_server(backtest, torchserve_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nautilus_ai.models.base import nested_predictors
    from nautilus_ai.models.cache import CachedPredictor

    server = torchserve_session.server
    path = tmp_path / "mlp.parquet"
    served = {"kind": "torchserve", "model_name": "mlp", "url": server.inference_url,
              "key_file": str(server.key_file), "model_id": "mlp-served"}  # fmt: skip
    first, first_engine = backtest(
        bar_limit=1500, predictor={"kind": "cached", "backend": served, "path": str(path)}
    )
    assert first.predictor_errors == 0
    first_engine.dispose()  # the strategy closes its predictor: the cache is flushed
    assert path.exists()
    # The same server (down, or up: nothing is asked) answers from the cache alone; the key
    # holds the server's URL, so another server's model is never answered for from it.
    rerun, rerun_engine = backtest(
        bar_limit=1500,
        predictor={"kind": "cached", "backend": served, "path": str(path), "read_only": True},
    )
    cached = [p for p in nested_predictors(rerun._predictor) if isinstance(p, CachedPredictor)]
    assert len(cached) == 1 and cached[0].misses == 0 and cached[0].hits > 1000
    assert rerun.predictor_errors == 0
    assert _fills(rerun_engine) == _fills(first_engine)
    assert _decisions(rerun) == _decisions(first)


@pytest.mark.parametrize("field", ["decision_latency", "decision_deadline_ms"])
def test_timing_config_is_validated(field: str) -> None:
    from nautilus_ai.strategies.ai_pattern import AIPatternConfig

    base = {"instrument_id": "EUR/USD.SIM", "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"}
    bad = {"decision_latency": {"kind": "fixed", "latency_ms": -5}, "decision_deadline_ms": 0}
    with pytest.raises(
        ValueError, match=field.split("_")[1] if field == "decision_latency" else field
    ):
        AIPatternConfig(**base, **{field: bad[field]})
    with pytest.raises(ValueError, match="async_predictions"):
        AIPatternConfig(
            **base, decision_latency={"kind": "fixed", "latency_ms": 1}, async_predictions=True
        )
