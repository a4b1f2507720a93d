"""The decision core driven with plain floats: no engine, no Nautilus."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.decision import DecisionCore, RiskControls
from nautilus_ai.policy import Intent, PolicyConfig
from nautilus_ai.sizing import SizingConfig

T0 = 1_483_400_000_000_000_000
MINUTE = 60_000_000_000


class Account:
    """A flat or open position, equity and free margin as plain numbers."""

    def __init__(self, side: int = 0, equity: float = 100_000.0, busy: bool = False) -> None:
        self.side = side
        self.equity = equity
        self.busy = busy
        self.asked_equity = 0

    def position_side(self) -> int:
        return self.side

    def equity_and_free_margin(self) -> tuple[float, float]:
        self.asked_equity += 1
        return self.equity, self.equity

    def orders_in_flight(self) -> bool:
        return self.busy


def core(**controls: float | bool | None) -> DecisionCore:
    return DecisionCore(
        PolicyConfig(max_holding_bars=10),
        SizingConfig(),
        RiskControls(**controls),  # type: ignore[arg-type]
        stop_loss_atr=2.0,
        take_profit_atr=3.0,
    )


def test_a_confident_buy_enters_with_a_size_and_exits_planned() -> None:
    c = core(min_confidence=0.6)
    account = Account()
    d = c.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m/1", "rule", account)
    assert d.intent is Intent.ENTER and d.side == 1 and d.send
    assert d.quantity >= 1000 and d.quantity % 1000 == 0
    assert d.plan is not None and d.plan.stop_loss == pytest.approx(1.1 - 2 * 0.0011)
    assert c.last_decision == d.record and list(c.decisions) == [d.record]
    assert d.record.action == "buy" and d.record.order_sent and d.record.error is None


def test_below_min_confidence_is_no_signal_and_asks_nothing_of_the_account() -> None:
    c = core(min_confidence=0.6)
    account = Account()
    d = c.decide(T0, 1.1, 0.001, 0.0, 1, 0.59, 0.1, "m/1", "rule", account)
    assert d.intent is Intent.NONE and not d.send and d.quantity == 0.0
    assert account.asked_equity == 0


def test_min_confidence_has_one_home_and_the_policy_and_sizer_follow_it() -> None:
    c = core(min_confidence=0.6)
    c.update_controls(min_confidence=0.8)
    assert c.controls.min_confidence == c.policy.min_confidence == c.sizing.min_confidence == 0.8
    with pytest.raises(ValueError, match="min_confidence"):
        c.update_controls(min_confidence=1.5)
    assert c.policy.min_confidence == 0.8  # a refused change changes nothing


def test_risk_controls_replace_validates_and_caps_the_multiplier() -> None:
    c = core()
    with pytest.raises(ValueError, match="max_risk_multiplier"):
        c.update_controls(risk_multiplier=5.0)
    with pytest.raises(ValueError, match="unknown"):
        c.update_controls(max_positon=1.0)
    c.update_controls(max_position=2000.0, risk_multiplier=0.5)
    assert c.sizing.max_position == 2000.0 and c.controls.risk_multiplier == 0.5
    assert RiskControls.from_dict(c.controls.to_dict()) == c.controls


def test_paused_holds_entries_and_still_exits_on_an_opposite_signal() -> None:
    c = core(paused=True)
    assert c.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m", "", Account()).intent is Intent.NONE
    d = c.decide(T0, 1.1, 0.001, 0.0, -1, 0.9, 0.1, "m", "", Account(side=1))
    assert d.intent is Intent.EXIT and d.send


def test_orders_in_flight_and_observe_only_send_nothing() -> None:
    busy = core().decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m", "r", Account(busy=True))
    assert not busy.send and busy.record.reason.startswith("orders in flight")
    observe = DecisionCore(PolicyConfig(), SizingConfig(), RiskControls(), observe_only=True)
    d = observe.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m", "r", Account())
    assert d.intent is Intent.ENTER and d.quantity > 0 and not d.send


def test_no_atr_no_entry_and_a_reversal_still_exits() -> None:
    c = core()
    d = c.decide(T0, 1.1, 0.0, 0.0, 1, 0.9, 0.1, "m", "r", Account())
    assert d.quantity == 0.0 and not d.send and "no exit distance" in d.record.reason
    d = c.decide(T0, 1.1, 0.0, 0.0, 1, 0.9, 0.1, "m", "r", Account(side=-1))
    assert d.intent is Intent.EXIT and d.send


def test_a_predictor_error_is_a_typed_field_of_the_record() -> None:
    c = core()
    d = c.decide(T0, 1.1, 0.001, 0.0, 0, 0.0, 1.0, "m", "predictor error: boom", Account(),
                 error="RuntimeError: boom")  # fmt: skip
    assert d.record.error == "RuntimeError: boom" and d.intent is Intent.NONE


def test_positions_join_their_decision_by_order_id_and_feed_the_stats() -> None:
    c = core()
    c.bars = 5
    d = c.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m/1", "r", Account())
    c.order_placed("O-1", d.decision_ts, "m/1")
    c.order_placed("O-2", T0 + MINUTE, "m/2")  # another entry, never opened
    c.position_opened("O-1")
    c.exit_filled("take_profit")
    trade = c.position_closed(
        ts_opened=T0, ts_closed=T0 + 5 * MINUTE, side="long", quantity=1000.0,
        avg_px_open=1.1, avg_px_close=1.101, realized_pnl=1.0, default_model_id="x",
    )  # fmt: skip
    assert (trade.model_id, trade.decision_ts, trade.exit_reason) == ("m/1", T0, "take_profit")
    assert c.stats.win_rates() == {"m/1": 1.0}
    assert c.stats.kelly_inputs("m/1").trades == 1
    seen = []
    c.add_trade_sink(seen.append)
    c.position_closed(
        ts_opened=T0, ts_closed=T0, side="short", quantity=1000.0, avg_px_open=1.1,
        avg_px_close=1.1, realized_pnl=-2.0, default_model_id="x",
    )  # fmt: skip
    assert seen[0].exit_reason == "unknown" and c.stats.win_rates() == {"m/1": 0.5}


def test_max_holding_bars_counts_from_the_entry() -> None:
    c = core()
    c.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m", "r", Account())
    c.bars += 10
    d = c.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m", "r", Account(side=1))
    assert d.intent is Intent.EXIT_TIMEOUT and d.send


class Rows:
    """Precomputed signals as lists (the SignalRows protocol)."""

    model_id = "m/1"

    def __init__(self, signs: list[int], confidences: list[float]) -> None:
        self.sign = signs
        self.confidence = confidences
        self.risk_score = [0.1] * len(signs)
        self.reason = ["r"] * len(signs)

    def hold_record(self, row: int):  # type: ignore[no-untyped-def]
        from nautilus_ai.decision import ACTION_NAMES, DecisionRecord

        action = ACTION_NAMES[self.sign[row]]
        ts = T0 + row * MINUTE
        return DecisionRecord(ts, action, self.confidence[row], 0.1, "m/1", "none", 0.0, False, "r")


@given(
    st.lists(st.tuples(st.sampled_from([-1, 0, 1]), st.floats(0.0, 1.0)), min_size=1, max_size=40)
)
def test_a_row_lookup_decides_as_the_full_path_while_flat(rows: list[tuple[int, float]]) -> None:
    """Observe-only (always flat): decide_row's log equals deciding every row in full."""
    signs, confidences = [s for s, _ in rows], [c for _, c in rows]
    fast = DecisionCore(PolicyConfig(), SizingConfig(), RiskControls(), observe_only=True)
    slow = DecisionCore(PolicyConfig(), SizingConfig(), RiskControls(), observe_only=True)
    source = Rows(signs, confidences)
    fast.use_signals(source)
    account = Account()
    for i, (sign, confidence) in enumerate(rows):
        ts = T0 + i * MINUTE
        fast.decide_row(i, ts, 1.1, 0.001, 0.0, False, account)
        slow.decide(ts, 1.1, 0.001, 0.0, sign, confidence, 0.1, "m/1", "r", account)
    got = [(d.ts_event, d.action, d.intent, d.quantity, d.order_sent) for d in fast.decisions]
    want = [(d.ts_event, d.action, d.intent, d.quantity, d.order_sent) for d in slow.decisions]
    assert got == want
    assert fast.last_decision is not None and fast.last_decision.ts_event == want[-1][0]
    fast.use_signals(None)  # rows become records; the log reads the same
    assert [(d.ts_event, d.intent) for d in fast.decisions] == [(w[0], w[2]) for w in want]


@given(
    st.lists(
        st.tuples(st.sampled_from([-1, 0, 1]), st.floats(0.0, 1.0), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, 1, 3]),
    st.booleans(),
)
def test_a_plain_signal_decides_and_logs_as_the_full_path(
    rows: list[tuple[int, float, bool]],
    observe_only: bool,
    on_tick: bool,
    max_holding_bars: int | None,
    exit_on_hold: bool,
) -> None:
    """decide_signal (the incremental fast paths of bars and ticks: quiet rows, flat or in a
    position the policy keeps, logged as plain fields) gives the same records, field for field
    and type for type, in the same log, as deciding every row in full, whatever the holding
    limit and the exit-on-hold rule."""
    policy = PolicyConfig(max_holding_bars=max_holding_bars, exit_on_hold=exit_on_hold)
    fast = DecisionCore(policy, SizingConfig(), RiskControls(), observe_only=observe_only)
    slow = DecisionCore(policy, SizingConfig(), RiskControls(), observe_only=observe_only)
    for i, (sign, confidence, open_) in enumerate(rows):
        ts = T0 + i * MINUTE
        fast.bars = slow.bars = i + 1  # the strategy counts every accepted bar
        account = Account(side=(1 if i % 2 else -1) if open_ else 0)
        reason = f"r{i}"
        got = fast.decide_signal(ts, 1.1, 0.001, 0.0, (sign, confidence, 0.1, reason), "m/1",
                                 open_, account, on_tick=on_tick)  # fmt: skip
        want = slow.decide(ts, 1.1, 0.001, 0.0, sign, confidence, 0.1, "m/1", reason, account,
                           on_tick=on_tick)  # fmt: skip
        if got is None:  # logged without deciding: only where deciding does nothing
            assert want.intent is Intent.NONE and not want.send and want.quantity == 0.0
        else:
            assert got == want
        assert fast.last_decision == want.record
        assert type(fast.last_decision) is type(want.record)
    logs = [(c.tick_decisions, c.decisions) for c in (fast, slow)]
    if not on_tick:
        logs = [(bar, ticks) for ticks, bar in logs]
    (fast_log, fast_other), (slow_log, slow_other) = logs
    assert len(fast_other) == len(slow_other) == 0 and len(fast_log) == len(rows)
    assert fast_log[-1] == slow_log[-1] and fast_log[:] == slow_log[:]
    records = list(fast_log)
    assert records == list(slow_log)
    assert all(r.on_tick is on_tick for r in records)
    assert all(type(a) is type(b) for a, b in zip(records, slow_log, strict=True))
    assert [[type(v) for v in r] for r in records] == [[type(v) for v in r] for r in slow_log]


def test_the_core_hands_the_sizer_every_input_where_it_belongs() -> None:
    """Each sizing input distinct and live (Kelly stats, a drawdown, a multiplier, less free
    margin than equity): the core's sizing equals the sizer's on inputs built by name."""
    from nautilus_ai.sizing import SizingInputs, size_position

    class Margined(Account):
        def equity_and_free_margin(self) -> tuple[float, float]:
            return self.equity, 0.0123 * self.equity

    config = SizingConfig(kelly_multiplier=0.5, kelly_min_trades=2, margin_rate=0.05)
    c = DecisionCore(PolicyConfig(), config, RiskControls(risk_multiplier=0.7))
    for pnl in (3.0, -1.0, 2.0):
        c.position_closed(
            ts_opened=T0, ts_closed=T0, side="long", quantity=1000.0, avg_px_open=1.1,
            avg_px_close=1.1, realized_pnl=pnl, default_model_id="m/1",
        )  # fmt: skip
    c.peak_equity = 120_000.0
    kelly = c.stats.kelly_inputs("m/1")
    assert kelly.trades == 3 and kelly.win_rate is not None and kelly.payoff_ratio is not None
    got = c.size(-1, 0.83, 0.27, "m/1", 1.0937, 0.00071, 1.0, Margined(equity=100_000.0))
    want = size_position(
        SizingInputs(
            side=-1, confidence=0.83, risk_score=0.27, price=1.0937, equity=100_000.0,
            peak_equity=120_000.0, free_margin=1230.0, current_position=0.0, vol_regime=1.0,
            volatility=0.00071, win_rate=kelly.win_rate, payoff_ratio=kelly.payoff_ratio,
            trades=3, risk_multiplier=0.7,
        ),
        config,
    )  # fmt: skip
    assert got == want and got.quantity > 0.0
    assert [step.name for step in got.steps][-1] == "min_quantity"


def test_plain_fields_in_the_log_become_records_when_read() -> None:
    from nautilus_ai.decision import DecisionLog, DecisionRecord

    log = DecisionLog()
    fields = (T0, "buy", 0.4, 0.1, "m/1", "none", 0.0, False, "weak", None)
    log.append_fields(fields)
    log.append(DecisionRecord(T0 + MINUTE, "hold", 0.0, 0.2, "m/1", "none", 0.0, False, "r"))
    assert log[0] == DecisionRecord(*fields) and type(log[0]) is DecisionRecord
    assert [type(r) for r in log] == [DecisionRecord, DecisionRecord]
    assert log == [DecisionRecord(*fields), log[1]]
    log.clear()
    assert list(log) == []


def test_a_hold_in_a_kept_position_is_quiet_until_the_policy_may_close_it() -> None:
    """In a position, no signal: nothing to ask the account until max_holding_bars is reached
    (then decide exits) or when exit_on_hold is set (decide exits at once)."""

    class Counting(Account):
        asked_side = 0

        def position_side(self) -> int:
            self.asked_side += 1
            return super().position_side()

    c = core()  # max_holding_bars=10
    account = Counting(side=1)
    c.bars = c.entry_bar = 5
    for held in range(10):
        c.bars = 5 + held
        signal = (0, 0.0, 0.1, "hold")
        assert c.decide_signal(T0, 1.1, 0.001, 0.0, signal, "m/1", True, account) is None
    assert account.asked_side == 0 and c.decisions[-1].intent == "none"
    c.bars = 15
    d = c.decide_signal(T0, 1.1, 0.001, 0.0, (0, 0.0, 0.1, "hold"), "m/1", True, account)
    assert d is not None and d.intent is Intent.EXIT_TIMEOUT and account.asked_side == 1
    weak = (-1, 0.3, 0.1, "weak sell")  # below min_confidence: no signal
    eager = DecisionCore(PolicyConfig(exit_on_hold=True), SizingConfig(), RiskControls())
    d = eager.decide_signal(T0, 1.1, 0.001, 0.0, weak, "m/1", True, Counting(side=-1))
    assert d is not None and d.intent is Intent.EXIT


def test_a_close_asked_for_while_flat_does_not_label_the_next_position() -> None:
    """A flatten with nothing open left its reason set: the next position, closed by an order
    the strategy did not send (by hand at the venue), was recorded as closed by 'flatten'."""
    c = core()
    c.closing("flatten")  # nothing open
    c.order_placed("O-1", T0, "m/1")
    c.position_opened("O-1")
    trade = c.position_closed(
        ts_opened=T0, ts_closed=T0 + MINUTE, side="long", quantity=1000.0, avg_px_open=1.1,
        avg_px_close=1.1, realized_pnl=0.0, default_model_id="x",
    )  # fmt: skip
    assert trade.exit_reason == "unknown"
    c.order_placed("O-2", T0 + 2 * MINUTE, "m/1")
    c.position_opened("O-2")
    c.exit_filled("flatten")  # its own close's fill: the reason is the close's
    trade = c.position_closed(
        ts_opened=T0, ts_closed=T0 + 3 * MINUTE, side="long", quantity=1000.0, avg_px_open=1.1,
        avg_px_close=1.1, realized_pnl=0.0, default_model_id="x",
    )  # fmt: skip
    assert trade.exit_reason == "flatten"


def test_an_account_with_no_equity_left_is_named_so_not_a_drawdown() -> None:
    """A blown account (equity <= 0) read "sized to zero: drawdown" in the decision log and the
    status: a trader looked for a drawdown setting. The block names the equity."""
    c = core(min_confidence=0.6)
    for equity in (0.0, -250.0):
        d = c.decide(T0, 1.1, 0.001, 0.0, 1, 0.9, 0.1, "m/1", "rule", Account(equity=equity))
        assert d.quantity == 0.0 and not d.send
        assert d.record.reason == "sized to zero: equity"


def test_an_entry_whose_exits_no_order_can_carry_is_not_made_and_says_why() -> None:
    """A stop 1e300 ATRs away was planned and sent; the strategy then crashed building it."""
    c = DecisionCore(
        PolicyConfig(max_holding_bars=10), SizingConfig(), RiskControls(min_confidence=0.6),
        stop_loss_atr=1e300, take_profit_atr=3.0, max_price=1.7e13,
    )  # fmt: skip
    d = c.decide(T0, 1.1, 0.001, 0.0, -1, 0.9, 0.1, "m/1", "rule", Account())
    assert not d.send and d.quantity == 0.0 and d.plan is None
    assert d.record.reason.startswith("exit prices outside (0, 1.7e+13] from close 1.1")
