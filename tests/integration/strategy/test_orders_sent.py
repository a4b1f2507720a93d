"""``orders_sent`` counts the orders the strategy sent to the venue: a flatten with nothing to
close sends nothing, and a close Nautilus' risk engine denies never leaves the node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fixtures.strategy_engine as strategy_engine
import pytest
from fixtures.strategy_engine import run_engine
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.enums import OrderStatus, TradingState
from pydantic import BaseModel, ConfigDict

from nautilus_ai.models import Action, Prediction
from nautilus_ai.models.registry import register_backend
from nautilus_ai.models.testing import ScriptedPredictor
from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

NO_EXITS = {"stop_loss_atr": None, "take_profit_atr": None}


class BuyOnceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = "test_buy_once"


class BuyOnce(ScriptedPredictor):
    """Buys on its first call, holds afterwards."""

    def __init__(self) -> None:
        super().__init__(name="buy_once/1", confidence=0.9)

    def predict(self, features: Any, context: Any) -> Prediction:
        self.calls += 1
        return Prediction(Action.BUY if self.calls == 1 else Action.HOLD, 0.9, 0.1, self.name)


register_backend("test_buy_once", BuyOnceConfig, lambda config, spec: BuyOnce(), replace=True)


@pytest.fixture
def engines() -> Iterator[list[BacktestEngine]]:
    made: list[BacktestEngine] = []
    yield made
    for engine in made:
        engine.dispose()


def test_a_flatten_with_nothing_to_close_sends_nothing(
    january_bars: tuple[Any, list[Any]],
    engines: list[BacktestEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_bar = AIPatternStrategy.on_bar

    def flatten_first(self: AIPatternStrategy, bar: Any) -> None:
        if self.core.bars == 0:
            self.flatten("operator, while flat")
        on_bar(self, bar)

    monkeypatch.setattr(AIPatternStrategy, "on_bar", flatten_first)
    instrument, bars = january_bars
    strategy, engine, _ = run_engine(instrument, bars[:400], **NO_EXITS)
    engines.append(engine)
    assert engine.cache.orders() == []
    assert strategy.orders_sent == 0


def test_a_close_the_risk_engine_denies_is_not_counted(
    january_bars: tuple[Any, list[Any]],
    engines: list[BacktestEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_bar = AIPatternStrategy.on_bar
    sim_engine = strategy_engine.sim_engine
    halted: list[Any] = []

    def keep(*args: Any, **kwargs: Any) -> BacktestEngine:
        engine = sim_engine(*args, **kwargs)
        engines.append(engine)
        return engine

    def halt_then_flatten(self: AIPatternStrategy, bar: Any) -> None:
        on_bar(self, bar)
        if not halted and self._exits.position_open and not self._exits.busy():
            halted.append(bar.ts_event)
            engines[-1].kernel.risk_engine.set_trading_state(TradingState.HALTED)
            self.flatten("operator, trading halted")

    monkeypatch.setattr(strategy_engine, "sim_engine", keep)
    monkeypatch.setattr(AIPatternStrategy, "on_bar", halt_then_flatten)
    instrument, bars = january_bars
    strategy, engine, _ = run_engine(
        instrument, bars[:600], predictor={"kind": "test_buy_once"}, **NO_EXITS
    )
    assert halted, "no position was opened"
    orders = engine.cache.orders()
    denied = [o for o in orders if o.status == OrderStatus.DENIED]
    assert denied, "the close must have been denied"
    assert strategy.orders_sent == len(orders) - len(denied)
    assert strategy.control_status()["orders_sent"] == strategy.orders_sent  # in the reply too
