"""A protective exit the venue leaves working after its position closed (no one-cancels-other
on Nautilus' Sandbox) is cancelled by the strategy: on the next bar, and its alert, if the venue
does not answer, counts from that cancel.

Seen on the packaged paper replay (live/paper_replay_eurusd.yaml from 2017-06-29): the stop
filled, the take-profit stayed working, and only when the decision core next asked for orders in
flight (19 and 22 s later) was the cancel sent, together with an error alert "order ... is still
PENDING_CANCEL 22 s after it was sent", 0 s after the cancel was.
"""

from __future__ import annotations

from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId

from nautilus_ai.adapters.exits import PositionExits
from nautilus_ai.health import StrategyHealth

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


class _Order:
    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = ClientOrderId(client_order_id)
        self.status = "ACCEPTED"

    @property
    def is_open(self) -> bool:
        return self.status in ("ACCEPTED", "PENDING_CANCEL")

    @property
    def is_closed(self) -> bool:
        return self.status in ("CANCELED", "FILLED")

    @property
    def is_pending_cancel(self) -> bool:
        return self.status == "PENDING_CANCEL"

    def status_string(self) -> str:
        return self.status


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def timestamp_ns(self) -> int:
        return self.now


class _Cache:
    def __init__(self) -> None:
        self.orders: dict[ClientOrderId, _Order] = {}

    def order(self, client_order_id: ClientOrderId) -> _Order | None:
        return self.orders.get(client_order_id)


class _Strategy:
    """What PositionExits uses of a strategy, for a position that closed on its stop."""

    def __init__(self) -> None:
        self.clock = _Clock()
        self.cache = _Cache()
        self.cancels: list[tuple[str, int]] = []

    def cancel_order(self, order: _Order) -> None:
        order.status = "PENDING_CANCEL"
        self.cancels.append((order.client_order_id.value, self.clock.now))


def _closed_on_its_stop() -> tuple[_Strategy, PositionExits, StrategyHealth]:
    strategy = _Strategy()
    alerts: list[tuple[str, str]] = []
    health = StrategyHealth(lambda level, message: alerts.append((level, message)), 0)
    exits = PositionExits(strategy, InstrumentId.from_str("EUR/USD.SIM"), health, protect=True)  # type: ignore[arg-type]
    target = _Order("O-TP")
    strategy.cache.orders[target.client_order_id] = target
    exits.book.activate({"O-SL": "stop_loss", "O-TP": "take_profit"})
    exits.book.acknowledge("O-SL")
    exits.book.acknowledge("O-TP")
    exits.on_position_opened()
    exits.book.filled("O-SL")  # the stop filled ...
    exits.on_position_closed()  # ... and closed the position; the venue kept the target
    return strategy, exits, health


def test_the_next_bar_cancels_an_exit_the_venue_left_working() -> None:
    strategy, exits, health = _closed_on_its_stop()
    strategy.clock.now = T0 + 60 * SECOND  # the next bar; the core asked nothing
    exits.check(strategy.clock.now)
    assert strategy.cancels == [("O-TP", T0 + 60 * SECOND)]
    assert health.last_alert is None


def test_an_exit_cancelled_late_is_not_reported_as_an_unanswered_cancel() -> None:
    strategy, exits, health = _closed_on_its_stop()
    strategy.clock.now = T0 + 19 * SECOND
    assert exits.busy()  # the cancel goes out now: the venue has not had time to answer
    assert strategy.cancels == [("O-TP", T0 + 19 * SECOND)]
    assert health.last_alert is None
    strategy.clock.now = T0 + 30 * SECOND  # 11 s after the cancel, still no answer
    assert exits.busy()
    assert health.last_alert is not None
    assert health.last_alert.message == (
        "order O-TP is still PENDING_CANCEL 11 s after its cancel was sent"
    )
    assert strategy.cancels == [("O-TP", T0 + 19 * SECOND)]  # sent once
