"""Build the protective exits for an open position: a reduce-only stop-market and / or limit,
linked one-updates-other when both are asked for (Nautilus glue).

The strategy submits them once the entry's fill is in the cache (see
:mod:`nautilus_ai.protection` for why not as bracket children). ``OrderFactory`` builds
standalone orders only, so the linked pair is constructed here with the factory's ids.
"""

from __future__ import annotations

from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.enums import ContingencyType, OrderSide, TimeInForce, TriggerType
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import LimitOrder, Order, OrderList, StopMarketOrder

from nautilus_ai.protection import STOP_LOSS, TAKE_PROFIT, ProtectionPlan

__all__ = ["EXIT_TAG", "exit_tag", "protective_orders"]

EXIT_TAG = "exit="
"""Order tag prefix naming why an order closes a position (``exit=stop_loss``...): the trade
log and the strategy's trade records read it from the closing fill's order."""


def exit_tag(reason: str) -> str:
    return EXIT_TAG + reason


def protective_orders(
    factory: OrderFactory,
    instrument: Instrument,
    quantity: Quantity,
    plan: ProtectionPlan,
    ts_init: int,
    tags: list[str],
) -> tuple[list[tuple[Order, str]], OrderList | None]:
    """The exits ``plan`` asks for, closing ``quantity`` of a ``plan.side`` position.

    Returns ``([(order, role)...], order list)``; the list (one-updates-other: a partial fill of one
    reduces the other, a full fill cancels it) is ``None`` for a single exit. Each order is
    tagged ``exit=<role>`` plus ``tags``.
    """
    side = OrderSide.SELL if plan.side > 0 else OrderSide.BUY
    ids = {role: factory.generate_client_order_id() for role in plan.roles}
    list_id = factory.generate_order_list_id() if len(ids) > 1 else None
    contingency = ContingencyType.OUO if list_id is not None else ContingencyType.NO_CONTINGENCY
    orders: list[tuple[Order, str]] = []
    for role, client_order_id in ids.items():
        linked = [other for r, other in ids.items() if r != role] if list_id else None
        common = {
            "trader_id": factory.trader_id,
            "strategy_id": factory.strategy_id,
            "instrument_id": instrument.id,
            "client_order_id": client_order_id,
            "order_side": side,
            "quantity": quantity,
            "init_id": UUID4(),
            "ts_init": ts_init,
            "time_in_force": TimeInForce.GTC,
            "reduce_only": True,
            "contingency_type": contingency,
            "order_list_id": list_id,
            "linked_order_ids": linked,
            "tags": [exit_tag(role), *tags],
        }
        if role == STOP_LOSS:
            assert plan.stop_loss is not None
            order: Order = StopMarketOrder(
                trigger_price=instrument.make_price(plan.stop_loss),
                trigger_type=TriggerType.DEFAULT,
                **common,
            )
        else:
            assert role == TAKE_PROFIT and plan.take_profit is not None
            order = LimitOrder(price=instrument.make_price(plan.take_profit), **common)
        orders.append((order, role))
    order_list = OrderList(list_id, [o for o, _ in orders]) if list_id is not None else None
    return orders, order_list
