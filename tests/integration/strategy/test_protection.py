"""No unprotected position: every entry's stop-loss and take-profit work on the venue from its
first fill, a price through the stop closes the position there, reversals re-protect, and a
protective order the venue refuses closes the position with an error alert.

Real Nautilus engines (``BacktestNode`` on the packaged demo config, ``BacktestEngine``) on the
real EUR/USD bars of January 2017.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.protection_checks import canceled, check_protection, record_order_events
from fixtures.strategy_engine import ASK, BID, run_engine
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.model.objects import Price, Quantity
from pydantic import BaseModel, ConfigDict

from nautilus_ai.backtest.config import parse_run_file
from nautilus_ai.decision import core as decision_core
from nautilus_ai.models import Action, Prediction
from nautilus_ai.models.registry import register_backend
from nautilus_ai.models.testing import ScriptedPredictor
from nautilus_ai.protection import ProtectionPlan
from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

REPO = Path(__file__).resolve().parents[3]
MINUTE = 60_000_000_000


class SwitchingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = "test_switching"
    period: int = 10  # buy for `period` calls, then sell for `period`, ...
    once: bool = False  # buy on the first call, hold afterwards


class SwitchingPredictor(ScriptedPredictor):
    def __init__(self, config: SwitchingConfig) -> None:
        super().__init__(name="switching/1", confidence=0.9)
        self.config = config

    def predict(self, features: Any, context: Any) -> Prediction:
        self.calls += 1
        if self.config.once:
            action = Action.BUY if self.calls == 1 else Action.HOLD
        else:
            action = Action.BUY if (self.calls - 1) // self.config.period % 2 == 0 else Action.SELL
        return Prediction(action, 0.9, 0.1, self.name)


register_backend(
    "test_switching", SwitchingConfig, lambda config, spec: SwitchingPredictor(config), replace=True
)


@pytest.fixture
def engines() -> Any:
    made: list[BacktestEngine] = []
    yield made
    for engine in made:
        engine.dispose()


def test_demo_backtest_protects_every_position_from_its_first_fill(
    demo_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packaged demo run (BacktestNode), January 2017: every entry's stop and target are
    accepted by the venue at the entry's fill time, none is refused, and no exit ever fills
    against a later position."""
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(demo_catalog))
    path = REPO / "backtests" / "demo.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["run"]["data"][0]["end_time"] = "2017-02-01T00:00:00Z"
    run = parse_run_file(raw, path).run
    node = BacktestNode([run])
    try:
        node.build()
        engine = node.get_engine(run.id)
        assert engine is not None
        log = record_order_events(engine.kernel.msgbus, engine.cache)
        node.run()
        strategy = engine.trader.strategies()[0]
        report = check_protection(log, max_delay_ns=0)
        assert report.problems == []
        assert len(report.entries) >= 100
        reasons = {t.exit_reason for t in strategy.trades}
        assert {"stop_loss", "take_profit"} <= reasons and "protection_failed" not in reasons
        health = strategy.control_status()["health"]
        assert health["protective_rejections"] == 0 and health["protection_flattens"] == 0
        assert health["last_alert"] is None
    finally:
        node.dispose()


def test_a_bar_through_the_stop_closes_the_position_at_the_stop_on_the_venue(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    instrument, bars = january_bars
    head = bars[:228]  # 114 minutes: the warm-up, then a long entry on the last one
    last_bid = [b for b in head if str(b.bar_type) == BID][-1]
    ts = last_bid.ts_event + MINUTE
    crash: list[Bar] = []
    for bar_type, spread in ((BID, 0.0), (ASK, 0.00003)):
        open_ = last_bid.close.as_double() + spread
        low = open_ * 0.99  # a 1 % drop inside one minute: far through a 3-ATR stop
        prices = [Price(p, 5) for p in (open_, open_, low, low + 0.0005)]
        volume = Quantity.from_int(1_000_000)
        crash.append(Bar(BarType.from_str(bar_type), *prices, volume, ts, ts))
    assert len(crash) == 2, "one BID and one ASK bar"
    strategy, engine, log = run_engine(
        instrument,
        head + crash,
        predictor={"kind": "test_switching", "once": True},
        max_holding_bars=None,
    )
    engines.append(engine)
    report = check_protection(log, max_delay_ns=0)
    assert report.problems == [] and len(report.entries) == 1
    stop_id = report.exits[report.entries[0]]["stop_loss"]
    stop = engine.cache.order(ClientOrderId(stop_id))
    assert stop.is_closed and stop.filled_qty == stop.quantity
    (fill_ts, fill_px), = [(t, px) for key, t, px in report.fills if key == stop_id]  # fmt: skip
    crash_low = crash[0].low.as_double()
    assert fill_ts == ts, "closed by the crash bar"
    assert crash_low <= fill_px <= stop.trigger_price.as_double(), "at the stop or through it"
    assert [t.exit_reason for t in strategy.trades] == ["stop_loss"]
    assert report.exits[report.entries[0]]["take_profit"] in canceled(log)
    assert engine.cache.positions_open_count() == 0


def test_reversals_get_their_own_exits_and_old_exits_never_act_on_them(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    instrument, bars = january_bars
    strategy, engine, log = run_engine(
        instrument, bars[:3000], predictor={"kind": "test_switching", "period": 15}
    )
    engines.append(engine)
    report = check_protection(log, max_delay_ns=0)
    assert report.problems == []
    reversals = [t for t in strategy.trades if t.exit_reason == "reversal"]
    assert len(reversals) >= 5, [t.exit_reason for t in strategy.trades]
    # Each reversal: the old exits were cancelled, the new position's exits accepted at its fill.
    gone = canceled(log)
    for previous, entry in zip(report.entries, report.entries[1:], strict=False):
        old = report.exits[previous]
        if not any(report.first_fill_ns.get(o) for o in old.values()):  # closed by a reversal
            assert set(old.values()) <= gone
        for order in report.exits[entry].values():
            assert report.accepted_ns[order] == report.first_fill_ns[entry]


def test_a_refused_stop_closes_the_position_and_raises_an_error_alert(
    january_bars: tuple[Any, list[Any]],
    engines: list[BacktestEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first entry's stop is placed on the wrong side of the market (as after a gap): the
    venue rejects it. The strategy closes the position at once, says so at error level and in
    its status, and the trade log has the reason; later entries are protected as usual."""
    real_plan_exits = decision_core.plan_exits
    calls = [0]

    def first_stop_in_the_market(*args: Any) -> ProtectionPlan | None:
        plan = real_plan_exits(*args)
        calls[0] += 1
        if calls[0] == 1 and plan is not None and plan.stop_loss is not None:
            side, close = args[0], args[1]
            return ProtectionPlan(side, close + side * 0.0020, plan.take_profit)
        return plan

    monkeypatch.setattr(decision_core, "plan_exits", first_stop_in_the_market)
    written: list[tuple[str, str]] = []  # what goes to the strategy's Nautilus logger
    write_alert = AIPatternStrategy._write_alert

    def spy(self: AIPatternStrategy, level: str, message: str) -> None:
        written.append((level, message))
        write_alert(self, level, message)

    monkeypatch.setattr(AIPatternStrategy, "_write_alert", spy)
    instrument, bars = january_bars
    strategy, engine, log = run_engine(instrument, bars[:6000])
    engines.append(engine)

    report = check_protection(log, max_delay_ns=0)
    first = report.entries[0]
    assert len(report.problems) == 1 and "refused" in report.problems[0]
    assert first in report.problems[0] and "in the market" in report.problems[0]
    first_trade = strategy.trades[0]
    assert first_trade.exit_reason == "protection_failed"
    assert first_trade.ts_closed == report.first_fill_ns[first], "closed on the entry's bar"
    assert report.exits[first]["take_profit"] in canceled(log)
    assert len(report.entries) >= 5 and all(t.exit_reason != "unknown" for t in strategy.trades)
    health = strategy.control_status()["health"]
    assert health["protective_rejections"] == 1 and health["protection_flattens"] == 1
    alert = health["last_alert"]
    assert alert["level"] == "error" and alert["kind"] == "protection"
    assert "stop_loss" in alert["message"] and "OrderRejected" in alert["message"]
    assert [level for level, _ in written] == ["error"]
    assert written[0][1].startswith(
        f"ALERT protection: stop_loss order {report.exits[first]['stop_loss']}"
    )


def test_an_entry_without_a_stop_distance_is_not_sent(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    """Flat bars have ATR 0: with a stop asked for, the strategy holds instead of entering
    unprotected (it used to send a plain market order)."""
    instrument, bars = january_bars
    flat: list[Bar] = []
    for bar in bars[:600]:
        price = Price(1.05, 5)
        flat.append(Bar(bar.bar_type, price, price, price, price, bar.volume, bar.ts_event,
                        bar.ts_init))  # fmt: skip
    strategy, engine, _ = run_engine(instrument, flat, predictor={"kind": "test_switching"})
    engines.append(engine)
    decided = [d for d in strategy.decisions if d.intent == "enter"]
    assert decided and not any(d.order_sent for d in decided)
    assert all(d.reason.startswith("no exit distance") for d in decided)
    assert engine.cache.orders() == []


def test_a_flatten_that_overtakes_an_entry_in_flight_stays_flat(
    january_bars: tuple[Any, list[Any]],
    engines: list[BacktestEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator's flatten right after an entry was sent (before its fill): the entry is
    closed as soon as it fills, instead of being protected and left open while paused."""
    enter = AIPatternStrategy._execute

    def enter_then_flatten(self: AIPatternStrategy, *args: Any) -> None:
        enter(self, *args)
        self.flatten("operator")

    monkeypatch.setattr(AIPatternStrategy, "_execute", enter_then_flatten)
    instrument, bars = january_bars
    strategy, engine, log = run_engine(instrument, bars[:400], predictor={"kind": "test_switching"})
    engines.append(engine)
    report = check_protection(log, max_delay_ns=0)
    assert len(report.entries) == 1 and report.exits == {}, "closed, not protected"
    assert [t.exit_reason for t in strategy.trades] == ["flatten"]
    assert strategy.paused and engine.cache.positions_open_count() == 0
    assert strategy.health.alerts == 0


def test_a_real_stop_inside_the_spread_is_refused_and_the_position_closed(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    """With the default exits (2 / 3 ATR) on January, one late-night entry's stop lies inside
    the spread (ATR well under a pip): the venue rejects it as in the market, with its target.
    The previous strategy left that position open without exits until a later reversal; now it
    is closed on the same bar."""
    instrument, bars = january_bars
    strategy, engine, log = run_engine(instrument, bars, stop_loss_atr=2.0, take_profit_atr=3.0)
    engines.append(engine)
    report = check_protection(log, max_delay_ns=0)
    refused = log.refused_exits()
    assert len(refused) == 1 and "was in the market" in refused[0][2]
    assert len(report.problems) == 1 and refused[0][0] in report.problems[0]
    (entry,) = [e for e, exits in report.exits.items() if refused[0][0] in exits.values()]
    (trade,) = [t for t in strategy.trades if t.ts_opened == report.first_fill_ns[entry]]
    assert trade.exit_reason == "protection_failed"
    assert trade.ts_closed == trade.ts_opened
    assert strategy.health.protection_flattens == 1
