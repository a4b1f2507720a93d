"""The decision core: from one signal and the account to an intent, a size and a record.

Pure (no Nautilus import): a unit test drives it with plain floats. The strategy hands it each
warm bar's signal (:meth:`DecisionCore.decide`) and only turns the answer into orders; position
events come back through :meth:`DecisionCore.order_placed`, :meth:`DecisionCore.position_opened`
and :meth:`DecisionCore.position_closed` (the outcome hook: per-model statistics, the trade
record, the trade sinks).

The risk controls (:class:`~nautilus_ai.decision.controls.RiskControls`) are the one source of
``min_confidence``: the policy's and the sizer's configs are derived from them on every change.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple, Protocol

from nautilus_ai.decision.controls import RiskControls
from nautilus_ai.decision.records import (
    DecisionLog,
    DecisionRecord,
    RecordFields,
    RowSource,
    TradeRecord,
)
from nautilus_ai.decision.stats import ModelStats
from nautilus_ai.policy import Intent, PolicyConfig, decide_sign
from nautilus_ai.protection import ProtectionPlan, plan_exits
from nautilus_ai.sizing import SizingConfig, SizingDecision, SizingInputs, size_position

__all__ = [
    "ACTION_NAMES",
    "AccountView",
    "Decision",
    "DecisionCore",
    "SignalRows",
    "TradeSink",
    "UNPROTECTED_ENTRY_REASONS",
]

#: How the reason of an entry not made for want of exits begins (no ATR to measure them by,
#: or a stop / target at a price no order can carry), as against "sized to zero: ...".
UNPROTECTED_ENTRY_REASONS = ("no exit distance", "exit prices outside")

#: ``ACTION_NAMES[sign]``: the action's name for a sign (+1 buy, -1 sell, 0 hold).
ACTION_NAMES = ("hold", "buy", "sell")

TradeSink = Callable[[TradeRecord], None]


class AccountView(Protocol):
    """What the core asks of the account, only when it needs it."""

    def position_side(self) -> int:
        """+1 long, -1 short, 0 flat."""
        ...

    def equity_and_free_margin(self) -> tuple[float, float]:
        """Account equity and free margin (account currency)."""
        ...

    def orders_in_flight(self) -> bool:
        """Whether orders are still with the venue (then no new order is sent)."""
        ...


class SignalRows(Protocol):
    """Precomputed signals, one list element per row (see
    :class:`~nautilus_ai.backtest.precompute.SignalArrays`)."""

    model_id: str
    sign: list[int]
    confidence: list[float]
    risk_score: list[float]
    reason: list[str]

    def hold_record(self, row: int) -> DecisionRecord:
        """Row ``row`` decided as nothing to do."""
        ...


class Decision(NamedTuple):
    """What to do now: ``send`` says whether orders go out (``intent`` with ``side``,
    ``quantity`` and the exit ``plan`` for an entry); ``record`` is what was logged."""

    intent: Intent
    side: int
    quantity: float
    plan: ProtectionPlan | None
    send: bool
    decision_ts: int
    record: DecisionRecord


class DecisionCore:
    """Policy, sizing, risk controls, per-model statistics and the records of one strategy.

    Parameters
    ----------
    rules : PolicyConfig
        Position management (its ``min_confidence`` is replaced by ``controls``').
    sizing : SizingConfig
        The sizer (its ``min_confidence`` is replaced by ``controls``'; ``controls``'
        ``max_position``, when set, replaces its ``max_position``).
    controls : RiskControls
        The live controls.
    stop_loss_atr, take_profit_atr : float or None
        Exit distances in ATR for every entry (``None``: no such exit).
    max_price : float
        The largest price an exit order can carry (the strategy passes Nautilus' ``PRICE_MAX``):
        an entry whose stop or target would lie beyond it is not made.
    observe_only : bool
        Record decisions, send nothing.
    record_decisions : bool
        Keep every decision in :attr:`decisions`.
    """

    def __init__(
        self,
        rules: PolicyConfig,
        sizing: SizingConfig,
        controls: RiskControls,
        *,
        stop_loss_atr: float | None = None,
        take_profit_atr: float | None = None,
        max_price: float = math.inf,
        observe_only: bool = False,
        record_decisions: bool = True,
    ) -> None:
        self._rules = rules
        self.max_price = max_price
        self._base_sizing = sizing
        self.stop_loss_atr = stop_loss_atr
        self.take_profit_atr = take_profit_atr
        self.observe_only = observe_only
        self.record_decisions = record_decisions
        self.controls = controls
        self.policy, self.sizing = self._derive(controls)
        self.stats = ModelStats()
        self.decisions = DecisionLog()
        self.tick_decisions = DecisionLog()  # decisions made on quote ticks (tick mode)
        self.trades: list[TradeRecord] = []
        self._last: DecisionRecord | None = None
        self._last_fields: RecordFields | None = None  # the last decision, from decide_quiet
        self._signals: SignalRows | None = None
        self._last_row = -1  # the last decision is this signal row's hold (no record built)
        self._tick_source: RowSource | None = None  # precomputed tick decisions (tick mode)
        self._last_tick_row = -1  # the last decision is this tick row's hold
        #: Quiet rows not yet handed to a bulk decision log (``None``: nobody collects them).
        self.quiet_rows: list[int] | None = None
        self.bars = 0  # accepted bars
        self.entry_bar = 0
        self.peak_equity = 0.0
        self._provenance: dict[str, tuple[int, str]] = {}  # entry order id -> decision
        self._open: tuple[int, str] = (0, "")  # the open position's (decision_ts, model_id)
        self._exit_reason = ""
        self._trade_sinks: list[TradeSink] = []

    # -- controls -------------------------------------------------------------------------

    def _derive(self, controls: RiskControls) -> tuple[PolicyConfig, SizingConfig]:
        policy = dataclasses.replace(self._rules, min_confidence=controls.min_confidence)
        sizing = self._base_sizing.replace(min_confidence=controls.min_confidence)
        if controls.max_position is not None:
            sizing = sizing.replace(max_position=controls.max_position)
        cap = sizing.max_risk_multiplier
        if not controls.risk_multiplier <= cap:
            raise ValueError(
                f"risk_multiplier must be in [0, {cap}] (sizing.max_risk_multiplier), "
                f"was {controls.risk_multiplier!r}"
            )
        return policy, sizing

    def set_controls(self, controls: RiskControls) -> None:
        """Switch to ``controls``; on an invalid combination nothing changes and it raises."""
        self.policy, self.sizing = self._derive(controls)
        self.controls = controls

    def update_controls(self, **changes: object) -> RiskControls:
        """:meth:`set_controls` with ``controls.replace(**changes)``; returns the new controls."""
        controls = self.controls.replace(**changes)
        self.set_controls(controls)
        return controls

    # -- decisions ------------------------------------------------------------------------

    def is_quiet(self, sign: int, confidence: float, position_open: bool) -> bool:
        """No signal at ``min_confidence``, and flat or in a position the policy keeps on a
        hold (no ``exit_on_hold``, not past ``max_holding_bars``): :meth:`decide` would record a
        hold and send nothing whatever the account says, so the quiet paths log that record
        without sizing or asking the account."""
        policy = self.policy
        if sign != 0 and confidence >= policy.min_confidence:
            return False
        if not position_open:
            return True
        if policy.exit_on_hold:
            return False
        max_bars = policy.max_holding_bars
        return max_bars is None or self.bars - self.entry_bar < max_bars

    @property
    def last_decision(self) -> DecisionRecord | None:
        if self._last_tick_row >= 0 and self._tick_source is not None:
            return self._tick_source.hold_record(self._last_tick_row)
        if self._last_row >= 0 and self._signals is not None:
            return self._signals.hold_record(self._last_row)
        if self._last_fields is not None:
            return DecisionRecord(*self._last_fields)
        return self._last

    def use_signals(self, signals: SignalRows | None) -> None:
        """Read precomputed signals with :meth:`decide_row` (``None``: stop; rows already
        logged are turned into records first)."""
        self._last = self.last_decision
        self._last_row = -1
        self._last_fields = None
        self.decisions.set_source(signals)
        self._signals = signals

    def decide_row(
        self,
        row: int,
        ts: int,
        close: float,
        atr_close: float,
        vol_regime: float,
        position_open: bool,
        account: AccountView,
    ) -> Decision | None:
        """:meth:`decide` on precomputed signal ``row``; ``None`` (the row logged as a hold,
        nothing built) when :meth:`is_quiet`: only a signal, or a position the policy may close,
        costs a decision."""
        signals = self._signals
        assert signals is not None
        sign = signals.sign[row]
        confidence = signals.confidence[row]
        if self.is_quiet(sign, confidence, position_open):
            if self.record_decisions:
                self.decisions.append_row(row)
            if self.quiet_rows is not None:
                self.quiet_rows.append(row)
            self._last_row = row
            return None
        return self.decide(
            ts, close, atr_close, vol_regime, sign, confidence, signals.risk_score[row],
            signals.model_id, signals.reason[row], account,
        )  # fmt: skip

    def decide_quiet(
        self,
        ts: int,
        sign: int,
        confidence: float,
        risk_score: float,
        model_id: str,
        reason: str,
        position_open: bool,
        *,
        error: str | None = None,
        on_tick: bool = False,
    ) -> bool:
        """Log what :meth:`decide` would decide, without building anything, when
        :meth:`is_quiet` (as :meth:`decide_row`); ``False`` (nothing logged) otherwise: then call
        :meth:`decide`. ``error`` and ``on_tick``: as :meth:`decide`'s."""
        if not self.is_quiet(sign, confidence, position_open):
            return False
        # Plain fields: the record is built only when read.
        fields = (ts, ACTION_NAMES[sign], confidence, risk_score, model_id, "none", 0.0, False,
                  reason, error, on_tick)  # fmt: skip
        if self.record_decisions:
            (self.tick_decisions if on_tick else self.decisions).append_fields(fields)
        self._last_fields = fields
        self._last_row = self._last_tick_row = -1
        return True

    def decide_signal(
        self,
        ts: int,
        close: float,
        atr_close: float,
        vol_regime: float,
        signal: tuple[int, float, float, str],
        model_id: str,
        position_open: bool,
        account: AccountView,
        *,
        on_tick: bool = False,
    ) -> Decision | None:
        """:meth:`decide` on a plain ``(sign, confidence, risk_score, reason)`` signal; ``None``
        when :meth:`decide_quiet` logged it (nothing to do, nothing built). ``on_tick``: made on
        the quote tick at ``ts`` (price ``close``), as :meth:`decide`."""
        sign, confidence, risk_score, reason = signal
        if self.decide_quiet(
            ts, sign, confidence, risk_score, model_id, reason, position_open, on_tick=on_tick
        ):
            return None
        return self.decide(ts, close, atr_close, vol_regime, sign, confidence, risk_score,
                           model_id, reason, account, on_tick=on_tick)  # fmt: skip

    def decide(
        self,
        ts: int,
        close: float,
        atr_close: float,
        vol_regime: float,
        sign: int,
        confidence: float,
        risk_score: float,
        model_id: str,
        reason: str,
        account: AccountView,
        *,
        decision_ts: int | None = None,
        error: str | None = None,
        on_tick: bool = False,
    ) -> Decision:
        """Decide on one signal (``sign`` +1 buy / -1 sell / 0 hold) at bar ``ts`` (``close``,
        ``atr_close`` = ATR / close, ``vol_regime``); ``decision_ts`` is the bar the signal was
        made for when it arrives later (latency). Records the decision and returns it.
        ``on_tick``: made on the quote tick at ``ts`` (price ``close``), recorded in
        :attr:`tick_decisions`."""
        position_side = account.position_side()
        intent, side = decide_sign(
            sign,
            confidence,
            position_side,
            self.bars - self.entry_bar,
            self.controls.paused,
            self.policy,
        )
        quantity = 0.0
        plan: ProtectionPlan | None = None
        if intent is Intent.ENTER or intent is Intent.REVERSE:
            sizing = self.size(side, confidence, risk_score, model_id, close, atr_close,
                               vol_regime, account)  # fmt: skip
            quantity = sizing.quantity
            if quantity > 0.0:
                atr = atr_close * close
                plan = plan_exits(
                    side, close, atr, self.stop_loss_atr, self.take_profit_atr, self.max_price
                )
                if plan is None:  # no stop distance: never enter unprotected
                    quantity = 0.0
                    no_distance, outside = UNPROTECTED_ENTRY_REASONS
                    reason = (
                        f"{no_distance}: ATR={atr!r}"
                        if not atr > 0.0
                        else f"{outside} (0, {self.max_price:g}] from close {close!r}, "
                        f"ATR {atr!r}: the stop / target could not be placed"
                    )
            else:
                reason = f"sized to zero: {sizing.blocked_by}"
            if quantity <= 0.0 and intent is Intent.REVERSE:
                intent = Intent.EXIT  # the opposite signal still closes the old position
        send = False
        if not self.observe_only and intent is not Intent.NONE:
            if account.orders_in_flight():
                reason = f"orders in flight, not acted on: {reason}"
            elif intent is Intent.EXIT or intent is Intent.EXIT_TIMEOUT or plan is not None:
                send = True
                if intent is not Intent.EXIT and intent is not Intent.EXIT_TIMEOUT:
                    self.entry_bar = self.bars
        record = DecisionRecord(
            ts, ACTION_NAMES[sign], confidence, risk_score, model_id, intent.value, quantity,
            send, reason, error, on_tick,
        )  # fmt: skip
        self._keep(record, on_tick)
        return Decision(intent, side, quantity, plan, send, decision_ts or ts, record)

    def _keep(self, record: DecisionRecord, on_tick: bool) -> None:
        """``record`` is the last decision; logged (bar or tick log) when decisions are kept,
        as a plain tuple of its fields: the collector stops tracking those (it never stops
        tracking a named tuple), so a long run's log adds no work to its full collections."""
        self._last = record
        self._last_row = self._last_tick_row = -1
        self._last_fields = None
        if self.record_decisions:
            (self.tick_decisions if on_tick else self.decisions).append_fields(record[:])

    def use_tick_source(self, source: RowSource | None) -> None:
        """Tick rows logged from now on (:meth:`hold_tick_row`) are ``source``'s (the
        precomputed tick path); ``None``: stop (rows already logged become records)."""
        self.tick_decisions.set_source(source)
        self._last_tick_row = -1
        self._tick_source = source

    def hold_tick_row(self, row: int) -> None:
        """A flat tick with no signal on the precomputed tick path: logged as its row number
        (the record :meth:`decide_quiet` would log, built when read)."""
        if self.record_decisions:
            self.tick_decisions.append_row(row)
        self._last_tick_row = row

    def size(
        self,
        side: int,
        confidence: float,
        risk_score: float,
        model_id: str,
        close: float,
        atr_close: float,
        vol_regime: float,
        account: AccountView,
    ) -> SizingDecision:
        """The sizer's answer for an entry on ``side`` (a sizing fault sizes to zero)."""
        equity, free_margin = account.equity_and_free_margin()
        if equity > self.peak_equity:
            self.peak_equity = equity
        kelly = self.stats.kelly_inputs(model_id)
        # Positional, in SizingInputs' field order (half the cost of keywords, on every entry):
        # side, confidence, risk_score, price, equity, peak_equity, free_margin,
        # current_position (0: reversals close first; the new leg is sized from flat),
        # vol_regime, volatility, risk_multiplier, win_rate, payoff_ratio, trades.
        inputs = SizingInputs(
            side, confidence, risk_score, close, equity, max(self.peak_equity, equity),
            free_margin, 0.0, vol_regime, atr_close, self.controls.risk_multiplier,
            kelly.win_rate, kelly.payoff_ratio, kelly.trades,
        )  # fmt: skip
        try:
            return size_position(inputs, self.sizing)
        except (ValueError, ArithmeticError) as exc:
            return SizingDecision.blocked(f"sizing error: {exc}")

    # -- positions (the outcome hook) -------------------------------------------------------

    def order_placed(self, client_order_id: str, decision_ts: int, model_id: str) -> None:
        """An entry order went out for the decision made at ``decision_ts`` by ``model_id``."""
        self._provenance[client_order_id] = (decision_ts, model_id)

    def closing(self, reason: str) -> None:
        """The strategy is closing the position for ``reason`` (until an exit fill says)."""
        self._exit_reason = reason

    def exit_filled(self, reason: str) -> None:
        """An exit order (``reason``: stop_loss, take_profit, signal_exit...) filled."""
        self._exit_reason = reason

    def position_opened(self, opening_order_id: str) -> None:
        """A position opened from ``opening_order_id``: its decision is looked up, not parsed.
        Its exit reason starts empty: a close asked for while flat (a flatten with nothing
        open) must not label this position's close (its own exit fills set the reason)."""
        self.entry_bar = self.bars
        self._exit_reason = ""
        opened = self._provenance.pop(opening_order_id, None)
        if opened is not None:
            self._open = opened

    def position_closed(
        self,
        *,
        ts_opened: int,
        ts_closed: int,
        side: str,
        quantity: float,
        avg_px_open: float,
        avg_px_close: float,
        realized_pnl: float,
        default_model_id: str,
    ) -> TradeRecord:
        """Record a closed position: per-model statistics, the trade record, the trade sinks."""
        decision_ts, model_id = self._open
        model_id = model_id or default_model_id
        self.stats.record(model_id, realized_pnl)
        trade = TradeRecord(
            ts_opened=ts_opened,
            ts_closed=ts_closed,
            side=side,
            quantity=quantity,
            avg_px_open=avg_px_open,
            avg_px_close=avg_px_close,
            realized_pnl=realized_pnl,
            model_id=model_id,
            exit_reason=self._exit_reason or "unknown",
            decision_ts=decision_ts,
        )
        self._exit_reason = ""
        self.trades.append(trade)
        for sink in self._trade_sinks:
            sink(trade)
        return trade

    def add_trade_sink(self, sink: TradeSink) -> None:
        """Call ``sink(trade_record)`` for each closed position (outcome feedback)."""
        self._trade_sinks.append(sink)

    def release(self) -> None:
        """Let go of the precomputed signals and the sinks once the run is over (the records stay
        readable: the decision log keeps its own reference until it is cleared)."""
        self._signals = None
        self._trade_sinks = []

    def reset(self) -> None:
        """Forget the run (records, statistics, positions); keep configuration and controls."""
        self.stats = ModelStats()
        self.decisions = DecisionLog()
        self.tick_decisions = DecisionLog()
        self._tick_source = None
        self._last_tick_row = -1
        self.trades = []
        self._last = None
        self._last_fields = None
        self._signals = None
        self._last_row = -1
        self.bars = self.entry_bar = 0
        self.peak_equity = 0.0
        self._provenance.clear()
        self._open = (0, "")
        self._exit_reason = ""
