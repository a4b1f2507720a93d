"""Acceptance with the real strategy: AIPatternStrategy (rule model) in a live TradingNode on
replayed real EUR/USD bars, Sandbox fills, controlled over Redis.

Evidence comes from the reply stream and the trade log: entry fills carry ``model=<id>`` and
``decision_ts=<bar>`` tags, exits carry ``exit=<reason>``. (The feature logger has not landed on
main yet, so ``model_id`` is checked in trade tags and the strategy's decision records.)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fixtures.control_harness import wait_for
from fixtures.live_configs import AI_STRATEGY as STRATEGY
from fixtures.live_configs import live_config, use_ai_pattern

from nautilus_ai.control import ControlClient, LocalRedisServer, ReplyStatus
from nautilus_ai.live import load_live_config, read_trade_log, run_live

SWITCH_TO = {"kind": "rule", "trend_min_atr": 2.5}


def tag(record: dict[str, Any], key: str) -> str | None:
    for item in record.get("tags", []):
        if item.startswith(key + "="):
            return str(item.split("=", 1)[1])
    return None


def entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [r for r in read_trade_log(path) if r["event"] == "fill" and tag(r, "model")]


@pytest.mark.slow
def test_ai_pattern_strategy_is_controlled_live(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    client: ControlClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_REDIS_URL", redis_server.url)
    path = live_config(
        tmp_path,
        replay_catalog,
        speed=15_000,
        limit=3000,
        control={"listen": True, "block_ms": 200},
    )
    use_ai_pattern(path)
    trade_log = tmp_path / "trades.jsonl"
    seen: dict[str, Any] = {}
    failures: list[BaseException] = []

    def request(kind: str, **fields: Any) -> Any:
        reply = client.request(client.command(kind, STRATEGY, **fields), timeout=5)
        assert reply.status is ReplyStatus.APPLIED, f"{kind}: {reply.reason}"
        return reply

    def bars_after(reply: Any, n: int) -> bool:
        return bool(request("status").result["bars"] >= reply.result["bars"] + n)

    def drive(node: Any) -> None:
        seen["strategy"] = node.trader.strategies()[0]
        try:
            assert wait_for(lambda: len(entries(trade_log)) >= 1, timeout=30), "no entries"
            seen["pause"] = pause = request("pause", reason="acceptance")
            seen["model_before"] = pause.result["model_id"]
            assert wait_for(lambda: bars_after(pause, 300), timeout=15)
            seen["switch"] = request("switch_model", config=SWITCH_TO)
            seen["risk"] = request("set_risk", risk_multiplier=0.5)
            seen["resume"] = resume = request("resume")
            resumed_at = resume.result["last_decision"]["ts_event"]
            assert wait_for(
                lambda: any(
                    int(tag(r, "decision_ts") or 0) > resumed_at for r in entries(trade_log)
                ),
                timeout=20,
            ), "resume must restart entries"
            assert wait_for(lambda: request("status").result["position"] != 0.0, timeout=20)
            seen["flatten"] = flatten = request("flatten", reason="acceptance")
            assert wait_for(lambda: request("status").result["position"] == 0.0, timeout=10)
            assert wait_for(lambda: bars_after(flatten, 300), timeout=15)
            seen["status"] = request("status")
        except BaseException as exc:
            failures.append(exc)
        finally:
            node.kernel.loop.call_soon_threadsafe(node.stop)

    def on_built(node: Any) -> None:
        threading.Thread(target=drive, args=(node,), daemon=True).start()

    run_live(load_live_config(path), on_built=on_built)
    assert not failures, failures[0]

    log = read_trade_log(trade_log)
    new_model = seen["switch"].result["model_id"]
    assert new_model != seen["model_before"] and new_model.startswith("rule-trend-momentum/")
    paused_at = seen["pause"].result["last_decision"]["ts_event"]
    resumed_at = seen["resume"].result["last_decision"]["ts_event"]
    flattened_at = seen["flatten"].result["last_decision"]["ts_event"]
    decided = [(int(tag(r, "decision_ts") or 0), tag(r, "model")) for r in entries(trade_log)]
    # Pause: no entry decided while paused; resume: entries again, all from the new model.
    assert not [ts for ts, _m in decided if paused_at < ts <= resumed_at]
    after = [(ts, model) for ts, model in decided if resumed_at < ts <= flattened_at]
    assert after and all(model == new_model for _ts, model in after)
    assert all(model == seen["model_before"] for ts, model in decided if ts <= paused_at)
    # Flatten: a position still open when it was applied is closed by the next fill, an exit
    # (flatten-tagged, or the close already in flight when the flatten came: a second close
    # would overshoot, so none is sent; 10-bar holds at 15,000x race it); nothing entered
    # afterwards; stays paused.
    if seen["flatten"].result["position"] != 0.0:
        at = next(i for i, r in enumerate(log) if r.get("command_type") == "flatten")
        first_fill = next(r for r in log[at:] if r["event"] == "fill")
        assert any(tag.startswith("exit=") for tag in first_fill["tags"]), first_fill
    assert not [ts for ts, _m in decided if ts > flattened_at]
    status = seen["status"].result
    assert status["paused"] is True and status["position"] == 0.0
    assert status["model_id"] == new_model and status["risk_multiplier"] == 0.5
    assert status["predictor"] == SWITCH_TO
    # Decision records carry the model id too.
    decisions = seen["strategy"].decisions
    assert {d.model_id for d in decisions if d.ts_event > resumed_at} == {new_model}
    # Trade log and reply stream: every command, in order.
    control = [r["command_type"] for r in log if r["event"] == "control"]
    assert [c for c in control if c != "status"] == [
        "pause",
        "switch_model",
        "set_risk",
        "resume",
        "flatten",
    ]
    replies = [r.command_type for r in client.replies(500) if r.command_type != "status"]
    assert replies == ["pause", "switch_model", "set_risk", "resume", "flatten"]
