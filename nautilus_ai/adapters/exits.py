"""PositionExits: a strategy's entries, closes and protective exits on one instrument
(Nautilus glue; the bookkeeping rules are the pure :mod:`nautilus_ai.protection`).

What it guarantees, in backtests and live alike:

* An entry is a market order; when it has filled (its fill already applied to the cache), the
  stop-loss / take-profit it planned are submitted as a reduce-only one-updates-other pair for
  the position's quantity (:func:`~nautilus_ai.adapters.protective_orders.protective_orders`).
* A protective order the venue rejects, cancels or lets expire while the position is open, a
  protective order Nautilus' risk engine denies, a position whose side is not the entry's, or a
  position left without acknowledged exits for longer than the grace period (checked on every
  bar): the position is closed at market (``exit=protection_failed``) and an error alert is
  raised (log + ``StrategyHealth``). No retry: the venue's reasons for refusing a valid stop
  (price already through it, reduce-only state, precision) repeat on a retry, and every retry
  lengthens the unprotected time; closing does what the stop was there for.
* One close at a time, and no decision while entries, closes or retired exits are still with
  the venue (:meth:`PositionExits.busy`): in a live node events arrive after the bars, so
  acting on a position the venue is still changing sends duplicate or stale orders. A new
  position is never opened while the previous one's exits may still work on it.
"""

from __future__ import annotations

from typing import Any

from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId
from nautilus_trader.model.orders import Order
from nautilus_trader.trading.strategy import Strategy

from nautilus_ai.adapters.protective_orders import exit_tag, protective_orders
from nautilus_ai.health import ALERT_ORDERS, ALERT_PROTECTION, StrategyHealth
from nautilus_ai.protection import STOP_LOSS, TAKE_PROFIT, ProtectionBook, ProtectionPlan

__all__ = ["PROTECTION_FAILED", "PROTECTION_GRACE_NS", "PositionExits"]

PROTECTION_GRACE_NS = 10_000_000_000
"""How long a position may wait for acknowledged exits (or an order for the venue's answer)."""

PROTECTION_FAILED = "protection_failed"
"""Exit reason of a close forced by lost protection."""

_TERMINAL = (OrderFilled, OrderRejected, OrderDenied, OrderCanceled, OrderExpired)


class PositionExits:
    """Entries, closes and protective exits of ``strategy`` on ``instrument_id``.

    Parameters
    ----------
    strategy : Strategy
        The owner: its cache, clock, order factory and submit / cancel calls are used.
    instrument_id : InstrumentId
        The traded instrument.
    health : StrategyHealth
        Counts protective-order failures and raises the alerts.
    protect : bool
        Whether positions must carry exits (the strategy trades and asks for a stop or target).
    """

    def __init__(
        self,
        strategy: Strategy,
        instrument_id: InstrumentId,
        health: StrategyHealth,
        protect: bool,
        grace_ns: int = PROTECTION_GRACE_NS,
        *,
        stop_loss: bool = True,
    ) -> None:
        self._strategy = strategy
        self._stop_loss = stop_loss  # entries carry a stop (False: said at start)
        self._instrument_id = instrument_id
        self._health = health
        self.protect = protect
        self.book = ProtectionBook(grace_ns)
        self.position_open = False  # from the strategy's own position events
        self._in_flight: dict[ClientOrderId, int] = {}  # entries, closes, retired exits -> ts
        self._closes: set[ClientOrderId] = set()
        self._entries: set[ClientOrderId] = set()  # entries not done yet
        self._close_on_fill: dict[ClientOrderId, str] = {}  # entries a close overtook
        self._close_reasons: dict[str, str] = {}  # close order id -> exit reason
        self.sent = 0  # entries and closes the execution client sent (OrderSubmitted)

    # -- orders the strategy sends --------------------------------------------------------------

    def enter(self, side: int, quantity: float, plan: ProtectionPlan, tags: list[str]) -> str:
        """A market entry; ``plan``'s exits follow its fill. Returns its client order id."""
        strategy = self._strategy
        instrument = strategy.cache.instrument(self._instrument_id)
        order = strategy.order_factory.market(
            self._instrument_id,
            OrderSide.BUY if side > 0 else OrderSide.SELL,
            instrument.make_qty(quantity),
            tags=tags,
        )
        if plan.roles:
            self.book.plan(order.client_order_id.value, plan)
        self._entries.add(order.client_order_id)
        self._in_flight[order.client_order_id] = strategy.clock.timestamp_ns()
        strategy.submit_order(order)
        return str(order.client_order_id.value)

    def close(self, reason: str) -> None:
        """Cancel the strategy's orders on the instrument and close its position at market,
        tagged ``exit=<reason>`` (not while an earlier close is still young). An entry still in
        flight is closed as soon as it fills (a flatten right after an entry stays flat)."""
        strategy = self._strategy
        now = strategy.clock.timestamp_ns()
        for entry in self._entries:
            self._close_on_fill[entry] = reason
        self._retire(now)  # their cancellations are expected
        strategy.cancel_all_orders(self._instrument_id)
        if self._close_in_flight(now):
            return  # a second close would be refused (reduce-only) or overshoot
        for position in strategy.cache.positions_open(
            instrument_id=self._instrument_id, strategy_id=strategy.id
        ):
            order = strategy.order_factory.market(
                self._instrument_id,
                OrderSide.SELL if position.is_long else OrderSide.BUY,
                position.quantity,
                reduce_only=True,
                tags=[exit_tag(reason)],
            )
            self._in_flight[order.client_order_id] = now
            self._closes.add(order.client_order_id)
            self._close_reasons[order.client_order_id.value] = reason
            strategy.submit_order(order, position_id=position.id)

    def busy(self) -> bool:
        """Whether entries, closes or retired exits are still with the venue (decisions wait).

        A retired exit the venue left working (no one-cancels-other support) is cancelled here;
        an order without an answer for longer than the grace period raises an alert.
        """
        if not self._in_flight:
            return False
        strategy = self._strategy
        now = strategy.clock.timestamp_ns()
        retired = self.book.retired
        for client_order_id, since in list(self._in_flight.items()):
            order = strategy.cache.order(client_order_id)
            if order is None or order.is_closed:
                del self._in_flight[client_order_id]
                continue
            cancel = client_order_id.value in retired
            if cancel and order.is_open and not order.is_pending_cancel:
                strategy.cancel_order(order)
                # From now the venue owes the answer to this cancel (the exit was retired
                # when its position closed, maybe many bars ago, and left working).
                self._in_flight[client_order_id] = since = now
            if now - since > self.book.grace_ns:
                self._health.alert(
                    "error",
                    ALERT_ORDERS,
                    f"order {client_order_id} is still {order.status_string()} "
                    f"{(now - since) / 1e9:.0f} s after "
                    f"{'its cancel' if cancel else 'it'} was sent",
                    now,
                )
        return bool(self._in_flight)

    def exit_reason(self, client_order_id: str) -> str | None:
        """Why ``client_order_id`` exits the position (``stop_loss``, ``take_profit``, a close's
        reason), or ``None`` when it is not an exit: looked up, never parsed from tags."""
        return self._close_reasons.get(client_order_id) or self.book.role(client_order_id)

    # -- the invariant --------------------------------------------------------------------------

    def check(self, now: int) -> None:
        """Each bar: cancel exits the venue left working after their position closed (no
        one-cancels-other: the Sandbox), and close the position if it has been without
        acknowledged exits too long."""
        if self._in_flight:
            self.busy()
        if not self.position_open:
            return
        problem = self.book.check(self.position_open, self.protect, now)
        if problem is not None:
            self._failed(f"unprotected position: {problem}")

    def adopt(self) -> None:
        """On start: a warning when entries will carry no stop loss; and (a restart with a cache
        database) the open position's working exits (tagged ``exit=stop_loss`` /
        ``exit=take_profit``) count as its protection; without them :meth:`check` closes it
        once the grace period has passed."""
        strategy = self._strategy
        instrument_id = self._instrument_id
        if not self._stop_loss:  # a NaN set from Python arrives as null through Nautilus' encoder
            strategy.log.warning(
                "Entries carry no stop loss: stop_loss_atr is null (a NaN set in Python arrives "
                "as null); set a number to protect every position"
            )
        if not strategy.cache.positions_open(instrument_id=instrument_id, strategy_id=strategy.id):
            return
        self.position_open = True
        roles = {exit_tag(STOP_LOSS): STOP_LOSS, exit_tag(TAKE_PROFIT): TAKE_PROFIT}
        for order in strategy.cache.orders_open(
            instrument_id=instrument_id, strategy_id=strategy.id
        ):
            role = next((roles[tag] for tag in order.tags or [] if tag in roles), None)
            if role is not None:
                self.book.activate({order.client_order_id.value: role})
                self.book.acknowledge(order.client_order_id.value)
        if self.protect and not self.book.working:
            strategy.log.warning("Open position without working exits at start: closing it soon")

    def status(self) -> dict[str, Any]:
        return {
            "expected": self.protect,
            "working": self.book.working,
            "orders": dict(self.book.active),
            "in_flight": len(self._in_flight),
        }

    # -- events (forwarded by the strategy) ---------------------------------------------------

    def on_order_event(self, event: OrderEvent) -> None:
        if isinstance(event, OrderSubmitted):
            # Counted here, not when submit_order is called: a close with nothing to close
            # sends nothing, and an order the risk engine denies never reaches the venue.
            order_id = event.client_order_id
            if order_id in self._entries or order_id in self._closes:
                self.sent += 1
        elif isinstance(event, OrderAccepted):
            self.book.acknowledge(event.client_order_id.value)
        elif isinstance(event, _TERMINAL):
            order = self._strategy.cache.order(event.client_order_id)
            if order is not None and order.is_closed:  # not a partial fill
                self._order_done(order, event)

    def on_position_opened(self) -> None:
        self.position_open = True

    def on_position_closed(self) -> None:
        self.position_open = False
        now = self._strategy.clock.timestamp_ns()
        for order_id in self.book.position_closed():  # the venue cancels the sibling exit
            self._in_flight[ClientOrderId(order_id)] = now

    # -- internals ----------------------------------------------------------------------------

    def _order_done(self, order: Order, event: OrderEvent) -> None:
        client_order_id = order.client_order_id
        key = client_order_id.value
        self._in_flight.pop(client_order_id, None)
        self._closes.discard(client_order_id)
        self._close_reasons.pop(key, None)
        book = self.book
        if client_order_id in self._entries:
            self._entries.discard(client_order_id)
            plan = book.entry_done(key)
            overtaken = self._close_on_fill.pop(client_order_id, None)
            if order.filled_qty.as_double() > 0.0:
                if overtaken is not None:
                    self.close(overtaken)
                elif plan is not None:
                    self._protect(order, plan)
            elif isinstance(event, OrderRejected | OrderDenied):
                now = self._strategy.clock.timestamp_ns()
                why = event.reason or "no reason given"
                self._health.entry_refused(key, type(event).__name__, str(why), now)
            return
        if isinstance(event, OrderFilled):
            book.filled(key)
            return
        role = book.ended(key)
        if role is None:
            return  # retired by the strategy, or not an exit
        self._health.protective_rejections += 1
        strategy = self._strategy
        if strategy.cache.positions_open_count(
            instrument_id=self._instrument_id, strategy_id=strategy.id
        ):
            why = getattr(event, "reason", "") or "no reason given"
            self._failed(f"{role} order {key} {type(event).__name__}: {why}")

    def _protect(self, entry: Order, plan: ProtectionPlan) -> None:
        """Submit the exits for the position ``entry`` opened (its fill is in the cache)."""
        strategy = self._strategy
        # Not cache.position_for_order: a netting position reopened under its old id is not
        # indexed for the new order.
        position = strategy.cache.position(entry.position_id) if entry.position_id else None
        if position is None or position.is_closed:
            return
        if (1 if position.is_long else -1) != plan.side:
            self._failed(
                f"the position after entry {entry.client_order_id} is {position.side.name}"
            )
            return
        try:
            orders, order_list = protective_orders(
                strategy.order_factory,
                strategy.cache.instrument(self._instrument_id),
                position.quantity,
                plan,
                strategy.clock.timestamp_ns(),
                [f"entry={entry.client_order_id}"],
            )
        except ValueError as exc:  # a price or quantity the instrument cannot hold
            # Raising here crashed the strategy inside its fill handler and left the position
            # open without exits: close it, and say why.
            self._failed(f"the exits for entry {entry.client_order_id} cannot be built: {exc}")
            return
        # Before submitting: a denial arrives during the submit call.
        self.book.activate({order.client_order_id.value: role for order, role in orders})
        if order_list is None:
            strategy.submit_order(orders[0][0], position_id=position.id)
        else:
            strategy.submit_order_list(order_list, position_id=position.id)

    def _failed(self, message: str) -> None:
        self._health.protection_flattens += 1
        now = self._strategy.clock.timestamp_ns()
        self._health.alert("error", ALERT_PROTECTION, f"{message}; closing the position", now)
        self.close(PROTECTION_FAILED)

    def _retire(self, now: int) -> None:
        for order_id in self.book.retire():
            self._in_flight[ClientOrderId(order_id)] = now

    def _close_in_flight(self, now: int) -> bool:
        for client_order_id in list(self._closes):
            order = self._strategy.cache.order(client_order_id)
            if order is None or order.is_closed:
                self._closes.discard(client_order_id)
            elif now - self._in_flight.get(client_order_id, now) <= self.book.grace_ns:
                return True
        return False
