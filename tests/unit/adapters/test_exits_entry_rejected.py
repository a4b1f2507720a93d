"""An entry the venue (or Nautilus' risk engine) refuses says so where an operator looks: an
error alert in the strategy's health and a count, in ``control status``.

Before, only protective orders were watched: a live node whose every entry was rejected (no
market, insufficient margin, a closed session) kept deciding and sending them, with health
``alerts: 0`` and nothing in its status (the trade log alone had the rejections).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.test_kit.stubs.events import TestEventStubs
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from nautilus_ai.adapters import exits as exits_module
from nautilus_ai.adapters.exits import PositionExits
from nautilus_ai.health import StrategyHealth
from nautilus_ai.protection import ProtectionPlan

T0 = 1_700_000_000_000_000_000


class _Instrument:
    def make_qty(self, value: float) -> Quantity:
        return Quantity.from_int(int(value))


class _Factory:
    def market(self, instrument_id: Any, side: Any, quantity: Quantity, tags: Any) -> Any:
        return TestExecStubs.market_order(order_side=side, quantity=quantity)


class _Clock:
    def timestamp_ns(self) -> int:
        return T0


class _Cache:
    def __init__(self) -> None:
        self.orders: dict[Any, Any] = {}

    def instrument(self, instrument_id: Any) -> _Instrument:
        return _Instrument()

    def order(self, client_order_id: Any) -> Any:
        return self.orders.get(client_order_id)


class _Strategy:
    def __init__(self) -> None:
        self.clock, self.cache, self.order_factory = _Clock(), _Cache(), _Factory()

    def submit_order(self, order: Any) -> None:
        self.cache.orders[order.client_order_id] = order


def test_a_rejected_entry_raises_an_alert_and_is_counted() -> None:
    strategy = _Strategy()
    written: list[tuple[str, str]] = []
    health = StrategyHealth(lambda level, message: written.append((level, message)))
    exits = PositionExits(strategy, InstrumentId.from_str("AUD/USD.SIM"), health, protect=True)  # type: ignore[arg-type]
    order_id = exits.enter(1, 10_000, ProtectionPlan(1, 0.99, 1.02), ["model=m"])
    order = strategy.cache.orders[next(iter(strategy.cache.orders))]
    assert order.client_order_id.value == order_id
    order.apply(TestEventStubs.order_submitted(order))
    rejected = TestEventStubs.order_rejected(order)
    order.apply(rejected)
    exits.on_order_event(rejected)
    assert health.entries_rejected == 1
    assert health.snapshot(0)["entries_rejected"] == 1
    assert health.last_alert is not None and health.last_alert.kind == "orders"
    assert health.last_alert.message == (
        f"entry {order_id} OrderRejected: ORDER_REJECTED (1 entries refused since start)"
    )
    assert written and written[0][0] == "error"
    assert not exits.busy()  # nothing left in flight: the next signal may try again


class _Position:
    id = None
    is_closed = False
    is_long = True
    quantity = Quantity.from_int(10_000)


def test_exits_that_cannot_be_built_close_the_position_instead_of_crashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Building the stop order raised (Instrument.make_price: a price beyond PRICE_MAX) inside
    the entry's fill handler: the strategy crashed and the filled position stayed open with no
    exits. Now it is an error alert and a flatten, as for exits the venue rejects."""

    def make_price_fails(*args: Any) -> Any:
        raise ValueError("invalid `value` greater than `PRICE_MAX` 17_014_118_346_046.0")

    monkeypatch.setattr(exits_module, "protective_orders", make_price_fails)
    strategy = _Strategy()
    strategy.cache.position = lambda position_id: _Position()  # type: ignore[attr-defined]
    health = StrategyHealth(lambda level, message: None)
    exits = PositionExits(strategy, InstrumentId.from_str("AUD/USD.SIM"), health, protect=True)  # type: ignore[arg-type]
    closed: list[str] = []
    exits.close = lambda reason: closed.append(reason)  # type: ignore[method-assign]
    order = TestExecStubs.market_order(quantity=Quantity.from_int(10_000))
    entry = SimpleNamespace(client_order_id=order.client_order_id, position_id="P-1")
    exits._protect(entry, ProtectionPlan(1, 0.99, 9e295))  # type: ignore[arg-type]
    assert closed and health.protection_flattens == 1
    assert health.last_alert is not None and "cannot be built" in health.last_alert.message
