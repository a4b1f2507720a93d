"""``switch_model`` predictors are built on the listener thread before the command is queued
(a model load must not stall the event loop). An operator who re-sends the same switch (the
first reply was slow) must get each command its own prepared model: none built on the loop,
none left unclosed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.config import BacktestEngineConfig, ImportableControllerConfig, LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from pydantic import BaseModel, ConfigDict

from nautilus_ai.control import parse_command
from nautilus_ai.models import Prediction, register_backend
from nautilus_ai.models.base import Action
from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy
from nautilus_ai.strategies.controller import RemoteController, _Guarded

BUILT: list[Any] = []


class CountedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["counted_test"] = "counted_test"


class Counted:
    model_id = "counted/1"

    def __init__(self, spec: Any) -> None:
        self.spec_hash = spec.hash
        self.closed = False
        BUILT.append(self)

    def predict(self, features: Any, context: Any) -> Prediction:
        return Prediction(Action.HOLD, 0.0, 0.0, self.model_id)

    def predict_batch(self, features: Any, contexts: Any = None) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True


def test_the_same_switch_sent_twice_uses_two_prepared_models_and_leaks_none() -> None:
    register_backend("counted_test", CountedConfig, lambda c, spec: Counted(spec), replace=True)
    engine = BacktestEngine(
        BacktestEngineConfig(
            logging=LoggingConfig(log_level="ERROR"),
            controller=ImportableControllerConfig(
                controller_path="nautilus_ai.strategies.controller:RemoteController",
                config_path="nautilus_ai.strategies.controller:RemoteControllerConfig",
                config={},
            ),
        )
    )
    engine.add_venue(
        Venue("SIM"), OmsType.NETTING, AccountType.MARGIN, [Money(100_000, USD)],
        base_currency=USD, default_leverage=Decimal(30),
    )  # fmt: skip
    engine.add_instrument(TestInstrumentProvider.default_fx_ccy("EUR/USD"))
    strategy = AIPatternStrategy(
        AIPatternConfig(instrument_id="EUR/USD.SIM", bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")
    )
    engine.add_strategy(strategy)
    engine.run()  # no data: the strategy starts (its rule model) and stops
    [controller] = [a for a in engine.trader.actors() if isinstance(a, RemoteController)]
    config = {"kind": "counted_test"}
    target = {"trader_id": "BACKTESTER-001", "strategy_id": str(strategy.id), "timestamp_ns": 1}
    commands = [
        parse_command(
            dict(
                target,
                type="switch_model",
                command_id=f"switch-{i}",
                nonce=f"nonce-{i:012d}",
                config=config,
            )
        )
        for i in (1, 2)
    ]
    for command in commands:  # the listener thread: both arrive before either is applied
        controller._prepare(command)
    assert len(BUILT) == 2
    guarded = _Guarded(strategy, controller)
    for _ in commands:  # the loop applies them in order
        guarded.switch_model(dict(config))
    assert len(BUILT) == 2, "a model was built again on the event loop"
    assert strategy._predictor is BUILT[1] and not BUILT[1].closed
    assert BUILT[0].closed  # replaced by the second: closed, not leaked
    controller._prepare(commands[0])  # prepared, never applied (e.g. the node stops first)
    controller.on_stop()
    assert BUILT[2].closed
    engine.dispose()
