"""Issue 15, part 4 in a live TradingNode: AIPatternStrategy trades replayed real bars on the
Sandbox, and every position it closes reaches a real token-protected HTTP endpoint as the
outcome of the decision that opened it (linked by the entry's client order id)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.feedback_endpoint import TOKEN, TOKEN_ENV, Endpoint, endpoint, posted
from fixtures.live_configs import live_config, use_ai_pattern

from nautilus_ai.live import load_live_config, run_live
from nautilus_ai.models import TradeOutcome

__all__ = ["endpoint"]


@pytest.mark.slow
def test_a_live_node_sends_every_closed_position_to_the_endpoint(
    tmp_path: Path, replay_catalog: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    path = live_config(tmp_path, replay_catalog, speed=15_000, limit=3000)
    use_ai_pattern(path)
    data = yaml.safe_load(path.read_text())
    data["node"]["strategies"][0]["config"]["feedback"] = {
        "url": endpoint.url, "token_env": TOKEN_ENV,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data))
    seen: dict[str, Any] = {}

    def on_built(node: Any) -> None:
        seen["strategy"] = node.trader.strategies()[0]

    outcome = run_live(load_live_config(path), on_built=on_built)
    strategy = seen["strategy"]
    trades = strategy.trades
    assert len(trades) >= 3, "the live node closed too few positions to check"
    sink = strategy.feedback
    assert [o.decision_ts for o in sink.outcomes] == [t.decision_ts for t in trades]
    received = [TradeOutcome.from_dict(row) for row in posted(endpoint)]
    assert received == sink.outcomes  # disposed: the sender drained its queue on close
    status = outcome.strategies["AIPatternStrategy-001"]["feedback"]
    assert status["outcomes"] == len(trades) and status["unlinked"] == 0
    http = status["http"]
    assert http["dropped"] == http["refused"] == http["failed"] == 0
