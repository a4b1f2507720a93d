"""Bad bars while running: a bar implausible in time or size is refused without becoming the
strategy's last bar or touching its features, and a run of them is reported at error level and
in ``control_status()``. Real BacktestEngine runs on the real January 2017 EUR/USD bars, with
the bad bars slipped into the stream the venue and the strategy receive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixtures.strategy_engine import BID, run_engine
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.data import Bar
from nautilus_trader.model.objects import Price

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

DAY = 86_400_000_000_000
SECOND = 1_000_000_000


@pytest.fixture
def engines() -> Any:
    made: list[BacktestEngine] = []
    yield made
    for engine in made:
        engine.dispose()


def replace_bid(bars: list[Any], index: int, **changes: Any) -> list[Any]:
    """``bars`` with the BID bar of minute ``index`` rebuilt with ``changes``."""
    out = list(bars)
    bids = [i for i, bar in enumerate(bars) if str(bar.bar_type) == BID]
    i = bids[index]
    bar = bars[i]
    fields = {
        "bar_type": bar.bar_type, "open": bar.open, "high": bar.high, "low": bar.low,
        "close": bar.close, "volume": bar.volume, "ts_event": bar.ts_event, "ts_init": bar.ts_init,
    }  # fmt: skip
    fields.update(changes)
    out[i] = Bar(**fields)
    return out


def outcome(strategy: AIPatternStrategy) -> list[tuple[Any, ...]]:
    return [(d.ts_event, d.action, d.confidence, d.intent, d.quantity) for d in strategy.decisions]


def test_a_future_bar_is_refused_and_does_not_silence_the_strategy(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    """A bar stamped a day after it was received used to become the feature engine's last bar:
    every later real bar was then refused as out of order and the strategy went quiet."""
    instrument, bars = january_bars
    bars = bars[:3000]
    bad_ts = bars[1600].ts_init
    stream = replace_bid(bars, 800, ts_event=bad_ts + DAY)
    strategy, engine, _ = run_engine(instrument, stream, feature_source="incremental")
    engines.append(engine)
    health = strategy.control_status()["health"]
    assert health["bars_rejected"] == {"ts_event_after_ts_init": 1}
    assert health["bars_accepted"] == 1499, "every other bar of the 1,500 minutes counts"
    assert strategy._engine.last_ts_event_ns == bars[-1].ts_event
    later = [d for d in strategy.decisions if d.ts_event > bad_ts]
    assert len(later) > 600, "decisions go on after the bad bar"


@pytest.mark.parametrize("source", ["incremental", "precomputed"])
def test_an_outlier_is_held_without_touching_the_features(
    january_bars: tuple[Any, list[Any]],
    engines: list[BacktestEngine],
    demo_catalog: Path,
    source: str,
) -> None:
    """A decimal-shifted print (x10) is held: every decision afterwards is what it would have
    been without the bad bar (the feature state was not touched)."""
    instrument, bars = january_bars
    bars = bars[:2000]
    bids = [bar for bar in bars if str(bar.bar_type) == BID]
    minute = bids[600]
    spike = Bar(
        minute.bar_type,
        minute.open,
        Price(minute.high.as_double() * 10, 5),
        minute.low,
        minute.close,
        minute.volume,
        minute.ts_event + 30 * SECOND,  # between two real minutes
        minute.ts_init + 30 * SECOND,
    )
    stream = sorted([*bars, spike], key=lambda bar: bar.ts_init)
    common = {"observe_only": True, "feature_source": source, "catalog_path": str(demo_catalog)}
    clean, clean_engine, _ = run_engine(instrument, bars, **common)
    spiked, spiked_engine, _ = run_engine(instrument, stream, **common)
    engines.extend([clean_engine, spiked_engine])
    assert spiked.control_status()["health"]["bars_rejected"] == {"outlier": 1}
    assert outcome(spiked) == outcome(clean) and len(outcome(clean)) > 800
    assert spiked.health.last_alert is None  # one held print is not an alarm
    assert spiked.precomputed_fallbacks == 0


def test_a_genuine_jump_is_accepted_after_three_held_bars(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    instrument, bars = january_bars
    bars = bars[:600]
    bids = [i for i, bar in enumerate(bars) if str(bar.bar_type) == BID]
    stream = list(bars)
    for i in bids[200:]:  # from minute 200 on, every BID price is 10 % higher
        bar = bars[i]
        up = [Price(p.as_double() * 1.1, 5) for p in (bar.open, bar.high, bar.low, bar.close)]
        stream[i] = Bar(bar.bar_type, *up, bar.volume, bar.ts_event, bar.ts_init)
    strategy, engine, _ = run_engine(instrument, stream, observe_only=True)
    engines.append(engine)
    health = strategy.control_status()["health"]
    assert health["bars_rejected"] == {"outlier": 3} and health["bars_accepted"] == 297
    alert = health["last_alert"]
    assert alert["level"] == "error" and "new price level" in alert["message"]


def test_a_run_of_bad_bars_says_so_at_error_level_and_in_status(
    january_bars: tuple[Any, list[Any]],
    engines: list[BacktestEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[tuple[str, str]] = []
    write_alert = AIPatternStrategy._write_alert

    def spy(self: AIPatternStrategy, level: str, message: str) -> None:
        written.append((level, message))
        write_alert(self, level, message)

    monkeypatch.setattr(AIPatternStrategy, "_write_alert", spy)
    instrument, bars = january_bars
    stream = bars[:1200]
    for minute in range(300, 320):  # twenty minutes of bars stamped in the future
        bid = [bar for bar in stream if str(bar.bar_type) == BID][minute]
        stream = replace_bid(stream, minute, ts_event=bid.ts_init + DAY)
    strategy, engine, _ = run_engine(instrument, stream)
    engines.append(engine)
    status = strategy.control_status()
    health = status["health"]
    assert health["bars_rejected"] == {"ts_event_after_ts_init": 20}
    assert health["bars_accepted"] == 580
    assert health["last_alert"]["kind"] == "bad_bars"
    assert health["last_alert"]["level"] == "error"
    # The 5th bad bar raises it; then at most one line a minute while it lasts.
    errors = [message for level, message in written if level == "error"]
    assert 1 <= len(errors) <= 16 and all("bars were rejected" in m for m in errors)
    assert "ts_event_after_ts_init" in errors[0]


def test_time_checks_against_the_clock(
    january_bars: tuple[Any, list[Any]], engines: list[BacktestEngine]
) -> None:
    """Direct calls after a run (the clock stands at the last bar): a bar received "after" the
    clock, a stale bar when an age limit is set, each refused with its reason."""
    instrument, bars = january_bars
    strategy, engine, _ = run_engine(instrument, bars[:400], max_bar_age_secs=300.0)
    engines.append(engine)
    now = strategy.clock.timestamp_ns()
    last = strategy._engine.last_ts_event_ns
    template = bars[-1]

    def bar(ts_event: int, ts_init: int) -> Bar:
        return Bar(
            template.bar_type, template.open, template.high, template.low, template.close,
            template.volume, ts_event, ts_init,
        )  # fmt: skip

    strategy.on_bar(bar(now + 3600 * SECOND, now + 3600 * SECOND))  # received in the future
    strategy.on_bar(bar(now - 600 * SECOND, now))  # ten minutes old: over the 300 s limit
    assert strategy.health.bars_rejected == {"ts_init_after_clock": 1, "stale": 1}
    assert strategy._engine.last_ts_event_ns == last


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bar_time_tolerance_secs", -1.0),
        ("max_bar_age_secs", 0.0),
        ("outlier_max_move_pct", 0.0),
        ("outlier_atr_multiple", -3.0),
    ],
)
def test_bar_guard_settings_are_checked_on_both_config_paths(field: str, value: float) -> None:
    base = {"instrument_id": "EUR/USD.SIM", "bar_type": BID}
    with pytest.raises(ValueError, match=field):
        AIPatternConfig(**base, **{field: value})
    with pytest.raises(Exception, match=field):
        AIPatternConfig.parse(json.dumps({**base, field: value}))
    assert getattr(AIPatternConfig(**base, **{field: None if "tolerance" not in field else 0.0}),
                   field) in (None, 0.0)  # fmt: skip
