"""The packaged paper config in a live TradingNode (replayed real bars, Nautilus' Sandbox fills,
Redis cache and control plane): every position has a working stop and target on the venue, and a
future-dated bar pushed into the data engine mid-run is refused while trading goes on.

Before the protective exits were placed from the strategy's fill handler, the Sandbox rejected
them all ("REDUCE_ONLY STOP_MARKET BUY order would have increased position"): it releases bracket
children inside its own fill, before the live execution engine has applied that fill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.live_configs import AI_STRATEGY, packaged_live_config
from fixtures.protection_checks import check_protection, record_order_events
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import Price, Quantity

from nautilus_ai.control import LocalRedisServer
from nautilus_ai.live import load_live_config, read_trade_log, run_live

DAY = 86_400_000_000_000
BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


@pytest.mark.slow
def test_packaged_paper_config_protects_every_position_on_the_sandbox(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    control_secret: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_REDIS_PORT", str(redis_server.port))
    monkeypatch.setenv("NAUTILUS_AI_REDIS_URL", redis_server.url)
    path = packaged_live_config(tmp_path, replay_catalog, "paper_replay_eurusd", speed=15_000)
    seen: dict[str, Any] = {}

    def push_future_bar(node: Any) -> None:
        now = node.kernel.clock.timestamp_ns()
        price = Price(1.05, 5)
        bar = Bar(BarType.from_str(BID), price, price, price, price, Quantity.from_int(0),
                  now + DAY, now)  # fmt: skip
        seen["future_bar_ts"] = now + DAY
        node.kernel.data_engine.process(bar)  # as a data client would

    def push_once_trading(node: Any) -> None:
        # Pushed once the strategy has used replayed bars, not after a fixed delay: on a loaded
        # machine the node can take longer than any delay to start, and a bar pushed before the
        # strategy subscribes reaches nobody (CI saw that once with a 2 s delay).
        strategies = [s for s in node.trader.strategies() if str(s.id) == AI_STRATEGY]
        if strategies and strategies[0].core.bars >= 10:
            push_future_bar(node)
        else:
            node.kernel.loop.call_later(0.1, push_once_trading, node)

    def on_built(node: Any) -> None:
        seen["log"] = record_order_events(node.kernel.msgbus, node.cache)
        node.kernel.loop.call_later(0.1, push_once_trading, node)

    outcome = run_live(load_live_config(path), on_built=on_built)
    log = seen["log"]

    assert log.refused_exits() == [], "the venue refused protective orders"
    report = check_protection(log, max_delay_ns=2_000_000_000)
    assert report.problems == []
    assert len(report.entries) >= 5
    status = outcome.strategies[AI_STRATEGY]
    health = status["health"]
    assert health["protective_rejections"] == 0 and health["protection_flattens"] == 0
    # The future bar was refused and did not stop the replay's bars from being used.
    assert "future_bar_ts" in seen, "the future bar was not pushed"
    assert health["bars_rejected"] == {"ts_event_after_ts_init": 1}
    assert health["bars_accepted"] == 3000, "every replayed (historical ts_event) bar was used"
    # The trade log (what an operator reads) agrees: no refusal of an exit, and exits that
    # closed positions on the venue.
    trades = read_trade_log(tmp_path / "trades.jsonl")
    exit_ids = {order for exits in report.exits.values() for order in exits.values()}
    refused = [r for r in trades if r["event"] in ("order_rejected", "denied")]
    assert not [r for r in refused if r["client_order_id"] in exit_ids]
    venue_exits = {"exit=stop_loss", "exit=take_profit"}
    assert [r for r in trades if r["event"] == "fill" and venue_exits & set(r["tags"])]
