"""AIPatternStrategy in a real BacktestEngine on real EUR/USD bars (January 2017)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import Price, Quantity

from nautilus_ai.models import Prediction
from nautilus_ai.models.registry import register_backend
from nautilus_ai.strategies.ai_pattern import AIPatternConfig

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
RunStrategy = Any  # the run_strategy fixture (see conftest.py)


def _fills(engine: Any) -> list[tuple[Any, ...]]:
    report = engine.trader.generate_fills_report()
    return [
        (int(r.ts_event.value), str(r.order_side), str(r.last_qty), str(r.last_px))
        for r in report.itertuples()
    ]


def test_strategy_trades_on_real_bars(run_strategy: RunStrategy) -> None:
    strategy, engine = run_strategy()
    assert strategy.invalid_bars == 0
    assert strategy.predictor_errors == 0
    assert len(strategy.trades) >= 5, "the rule should trade a few times in a month"
    assert strategy.orders_sent > 0
    entries = [d for d in strategy.decisions if d.intent in ("enter", "reverse") and d.order_sent]
    assert entries and all(d.quantity >= 1000 for d in entries)
    reasons = {t.exit_reason for t in strategy.trades}
    assert reasons - {"unknown"}, f"exit reasons should be known, got {reasons}"
    assert all(t.model_id == strategy.model_id for t in strategy.trades)
    # account and trade log agree: realised PnL of closed trades == balance change when flat
    account = engine.trader.generate_account_report(engine.list_venues()[0])
    final = float(account["total"].iloc[-1])
    assert final - 100_000 == pytest.approx(sum(t.realized_pnl for t in strategy.trades), abs=0.05)


def test_observe_only_records_decisions_without_orders(run_strategy: RunStrategy) -> None:
    strategy, engine = run_strategy(observe_only=True)
    assert len(engine.trader.generate_orders_report()) == 0
    assert strategy.trades == []
    warm_bars = strategy.core.bars - strategy.spec.warmup_bars
    assert len(strategy.decisions) >= warm_bars - 1
    assert any(d.intent == "enter" and d.quantity > 0 for d in strategy.decisions)


@pytest.mark.parametrize(
    "predictor",
    [
        {"kind": "rule"},
        pytest.param({"kind": "torch_random", "seed": 3}, marks=pytest.mark.extra("torch")),
    ],
)
def test_precomputed_path_gives_the_same_trades(
    run_strategy: RunStrategy, predictor: dict[str, Any]
) -> None:
    fast, fast_engine = run_strategy(feature_source="precomputed", predictor=predictor)
    slow, slow_engine = run_strategy(feature_source="incremental", predictor=predictor)
    assert fast.precomputed_fallbacks == 0
    assert len(_fills(fast_engine)) > 0
    assert _fills(fast_engine) == _fills(slow_engine)
    assert [t.realized_pnl for t in fast.trades] == [t.realized_pnl for t in slow.trades]
    fast_d = [(d.ts_event, d.action, d.intent, d.quantity) for d in fast.decisions]
    slow_d = [(d.ts_event, d.action, d.intent, d.quantity) for d in slow.decisions]
    assert fast_d == slow_d


class _FlakyPredictor:
    """Raises on every third call; otherwise says buy with high confidence."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def model_id(self) -> str:
        return "flaky/1"

    batch_exact = False

    @property
    def spec_hash(self) -> str | None:
        return None

    def predict(self, features: np.ndarray, context: Any) -> Prediction:
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("model server exploded")
        from nautilus_ai.models import Action

        return Prediction(Action.BUY if self.calls % 2 else Action.SELL, 0.9, 0.1, self.model_id)

    def predict_batch(self, features: np.ndarray, contexts: Any = None) -> list[Prediction]:
        raise RuntimeError("no batching")

    def close(self) -> None:
        pass


def _register_flaky() -> None:
    from pydantic import BaseModel, ConfigDict

    class FlakyConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kind: str = "test_flaky"

    register_backend(
        "test_flaky", FlakyConfig, lambda config, spec: _FlakyPredictor(), replace=True
    )


def test_predictor_errors_become_holds(run_strategy: RunStrategy) -> None:
    _register_flaky()
    strategy, _ = run_strategy(bar_limit=6000, predictor={"kind": "test_flaky"})
    assert strategy.predictor_errors > 100
    errors = [d for d in strategy.decisions if d.reason.startswith("predictor error")]
    assert len(errors) == strategy.predictor_errors
    assert all(d.action == "hold" and not d.order_sent for d in errors)
    assert any(d.order_sent for d in strategy.decisions), "healthy calls still trade"


def test_invalid_bars_do_nothing(run_strategy: RunStrategy) -> None:
    strategy, _ = run_strategy(bar_limit=2000, feature_source="incremental")
    decisions, bars, orders = len(strategy.decisions), strategy.core.bars, strategy.orders_sent
    last = strategy._engine  # the incremental engine state must not move either
    before = last.bars_seen
    bar_type = BarType.from_str(BID)
    ts = 1_483_400_000_000_000_000  # before the last bar seen: out of order
    price = Price.from_str("1.05000")
    stale = Bar(bar_type, price, price, price, price, Quantity.from_int(0), ts, ts)
    strategy.on_bar(stale)
    strategy.on_bar(stale)
    assert strategy.invalid_bars == 2
    assert (len(strategy.decisions), strategy.core.bars, strategy.orders_sent) == (
        decisions, bars, orders,
    )  # fmt: skip
    assert last.bars_seen == before


def test_config_checks_fields() -> None:
    base = {"instrument_id": "EUR/USD.SIM", "bar_type": BID}
    with pytest.raises(ValueError, match="feature_source"):
        AIPatternConfig(**base, feature_source="magic")
    with pytest.raises(ValueError, match="catalog_path"):
        AIPatternConfig(**base, feature_source="precomputed")
    with pytest.raises(ValueError, match="not for instrument_id"):
        AIPatternConfig(instrument_id="GBP/USD.SIM", bar_type=BID)
    with pytest.raises(ValueError, match="stop_loss_atr"):
        AIPatternConfig(**base, stop_loss_atr=0.0)
    with pytest.raises(ValueError, match="min_confidence"):
        AIPatternConfig(**base, min_confidence=2.0)
    # the decoded path (what ImportableStrategyConfig does) runs the same checks
    with pytest.raises(Exception, match="feature_source"):
        AIPatternConfig.parse(
            json.dumps({"instrument_id": "EUR/USD.SIM", "bar_type": BID, "feature_source": "magic"})
        )
