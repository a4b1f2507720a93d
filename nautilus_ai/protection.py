"""Protective exits: where they go, and which ones the venue is holding for the open position.

Pure (no Nautilus import); the strategy feeds it order ids and event kinds.

Why the strategy places stop-loss and take-profit itself, after the entry fill, instead of
submitting a bracket (entry + reduce-only children released by the venue on the fill): in a live
node Nautilus' Sandbox venue releases the children inside its own fill, *before* the live
execution engine (an asyncio queue) has applied that fill to the cache. The reduce-only check then
sees no position, or the previous one, and rejects both exits ("REDUCE_ONLY STOP_MARKET BUY order
would have increased position"; nautechsystems/nautilus_trader#5009, still open). A backtest
never sees it because its events are handled synchronously. Submitting the exits from the
strategy's fill handler, when the cache already holds the new position, works the same way in
both, on any venue that accepts a one-cancels-other pair.

:class:`ProtectionBook` keeps the three things the strategy must know to never hold an
unprotected position silently: the exit prices planned for entries still being filled, the
protective orders working for the current position (and which of them the venue acknowledged),
and the protective orders the strategy retired itself (their cancellations are expected).
:meth:`ProtectionBook.check` names a position that has gone unprotected for longer than a
grace period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "STOP_LOSS",
    "TAKE_PROFIT",
    "ProtectionBook",
    "ProtectionPlan",
    "plan_exits",
]

STOP_LOSS = "stop_loss"
TAKE_PROFIT = "take_profit"


@dataclass(frozen=True, slots=True)
class ProtectionPlan:
    """Exit prices for an entry: ``side`` +1 long / -1 short; ``None`` for no such exit."""

    side: int
    stop_loss: float | None
    take_profit: float | None

    @property
    def roles(self) -> tuple[str, ...]:
        """The exits this plan asks for (``STOP_LOSS`` first)."""
        return tuple(
            role
            for role, price in ((STOP_LOSS, self.stop_loss), (TAKE_PROFIT, self.take_profit))
            if price is not None
        )


def plan_exits(
    side: int,
    close: float,
    atr: float,
    stop_loss_atr: float | None,
    take_profit_atr: float | None,
    max_price: float = math.inf,
) -> ProtectionPlan | None:
    """Stop ``stop_loss_atr`` x ATR against ``side`` from ``close``, target ``take_profit_atr``
    x ATR with it; ``None`` (do not enter) when an exit is asked for and ATR is not > 0 or a
    price would not be in ``(0, max_price]`` and finite (``max_price``: the largest price the
    venue's orders can carry; an exit beyond it cannot be placed, so the entry would be
    unprotected)."""
    if side not in (1, -1):
        raise ValueError(f"side must be 1 or -1, was {side!r}")
    if stop_loss_atr is None and take_profit_atr is None:
        return ProtectionPlan(side, None, None)
    if not atr > 0.0:  # also NaN
        return None
    stop = None if stop_loss_atr is None else close - side * stop_loss_atr * atr
    target = None if take_profit_atr is None else close + side * take_profit_atr * atr
    for price in (stop, target):
        if price is not None and not (0.0 < price <= max_price and price < math.inf):
            return None
    return ProtectionPlan(side, stop, target)


class ProtectionBook:
    """What the strategy expects the venue to hold for its position.

    Parameters
    ----------
    grace_ns : int
        How long a position may be without acknowledged protection (the exits are being
        placed, or an exit order is closing it) before :meth:`check` reports it.
    """

    def __init__(self, grace_ns: int) -> None:
        if grace_ns < 0:
            raise ValueError(f"grace_ns must be >= 0, was {grace_ns!r}")
        self.grace_ns = grace_ns
        self._plans: dict[str, ProtectionPlan] = {}  # entry order id -> its exits
        self.active: dict[str, str] = {}  # protective order id -> role, for the open position
        self._acknowledged: set[str] = set()  # active ids the venue accepted
        self.retired: set[str] = set()  # ids the strategy cancelled itself
        self._gap_since: int | None = None  # when the open position was last seen unprotected

    # -- entries ------------------------------------------------------------------------------

    def plan(self, entry_id: str, plan: ProtectionPlan) -> None:
        """Remember the exits for an entry order until it is done filling."""
        self._plans[entry_id] = plan

    def is_entry(self, order_id: str) -> bool:
        return order_id in self._plans

    def entry_done(self, entry_id: str) -> ProtectionPlan | None:
        """The plan of a finished entry (filled, or cancelled / rejected), forgotten here."""
        return self._plans.pop(entry_id, None)

    # -- protective orders --------------------------------------------------------------------

    def activate(self, roles: dict[str, str]) -> None:
        """``roles`` (order id -> role) were submitted to protect the open position."""
        self.active.update(roles)

    def role(self, order_id: str) -> str | None:
        """The role of an active protective order, else ``None``."""
        return self.active.get(order_id)

    def acknowledge(self, order_id: str) -> None:
        """The venue accepted ``order_id`` (ignored unless it is active)."""
        if order_id in self.active:
            self._acknowledged.add(order_id)

    def position_closed(self) -> list[str]:
        """The position closed: its exits are retired (the venue cancels what is left of
        them) and any gap in protection is over. Returns the retired ids."""
        self._gap_since = None
        return self.retire()

    def retire(self) -> list[str]:
        """Stop counting on the active orders (the strategy is cancelling them or closing the
        position); returns their ids. Their cancellations are then expected."""
        ids = list(self.active)
        self.retired.update(ids)
        self.active.clear()
        self._acknowledged.clear()
        return ids

    def ended(self, order_id: str) -> str | None:
        """``order_id`` is done without (fully) filling: cancelled, rejected, denied, expired.

        Returns its role when it was active: the position lost that protection (the caller
        decides, from the position, whether that matters). Retired or unknown ids return None.
        """
        self.retired.discard(order_id)
        self._acknowledged.discard(order_id)
        return self.active.pop(order_id, None)

    def filled(self, order_id: str) -> None:
        """``order_id`` filled completely (an exit was taken)."""
        self.retired.discard(order_id)
        self._acknowledged.discard(order_id)
        self.active.pop(order_id, None)

    # -- the invariant --------------------------------------------------------------------------

    @property
    def working(self) -> bool:
        """Every active protective order is acknowledged (and there is at least one)."""
        return bool(self.active) and len(self._acknowledged) == len(self.active)

    def check(self, position_open: bool, expected: bool, now: int) -> str | None:
        """Why the open position counts as unprotected, or ``None``.

        ``expected``: the strategy is configured to protect positions. A position may lack
        acknowledged protection for :attr:`grace_ns` (exits in flight, a close in flight); past
        that the gap is reported, and reported again on every later call until it closes.
        """
        if not position_open or not expected or self.working:
            self._gap_since = None
            return None
        if self._gap_since is None:
            self._gap_since = now
        waited = now - self._gap_since
        if waited <= self.grace_ns:
            return None
        if self.active:
            return f"protective orders not acknowledged after {waited / 1e9:.1f} s"
        return f"no protective orders for {waited / 1e9:.1f} s"
