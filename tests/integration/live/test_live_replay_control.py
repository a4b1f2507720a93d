"""Acceptance: a live TradingNode on replayed real bars with Sandbox fills, controlled over Redis.

The node runs on the test's main thread (it owns the loop and the signal handlers); a driver
thread plays the operator with the same client the CLI uses. Evidence is read back from the
reply stream (Redis) and the trade log (JSON lines), not from the strategy's internals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixtures.control_harness import wait_for
from fixtures.live_configs import STRATEGY, live_config

from nautilus_ai.control import ControlClient, LocalRedisServer, ReplyStatus
from nautilus_ai.live import load_live_config, read_trade_log, run_live


def buys(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in log if r["event"] == "fill" and r["side"] == "buy"]


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_pause_resume_flatten_switch_status_on_a_live_node(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    client: ControlClient,
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_REDIS_URL", redis_server.url)
    path = live_config(
        tmp_path,
        replay_catalog,
        speed=15_000,
        limit=2500,
        control={"listen": True, "block_ms": 200},
        # Positions are held 100 bars (0.4 s at this speed): the flatten below, sent as soon
        # as a position is open, finds it open. With the drill's default 3 bars the position
        # was sometimes closed by its own hold exit first and no fill said exit=flatten.
        strategy={"hold_bars": 100},
    )
    run_file = load_live_config(path)
    trade_log = tmp_path / "trades.jsonl"
    seen: dict[str, Any] = {}
    failures: list[BaseException] = []

    def drive(node: Any) -> None:
        strategy = node.trader.strategies()[0]

        def request(kind: str, **fields: Any) -> Any:
            reply = client.request(client.command(kind, STRATEGY, **fields), timeout=5)
            assert reply.status is ReplyStatus.APPLIED, f"{kind}: {reply.reason}"
            return reply

        def after_bars(n: int) -> Callable[[], bool]:
            start = strategy.bars
            return lambda: strategy.bars >= start + n

        try:
            assert wait_for(lambda: len(strategy.entries) >= 3, timeout=20), "no entries"
            reply = request("pause", reason="acceptance: pause")
            seen["pause"] = reply
            entries_at_pause = len(strategy.entries)
            position_at_pause = reply.result["position"]
            assert wait_for(after_bars(110), timeout=10)  # past the drill's hold exit
            seen["entries_during_pause"] = len(strategy.entries) - entries_at_pause
            seen["position_at_pause"] = position_at_pause
            seen["position_after_pause"] = request("status").result["position"]

            seen["switch"] = request("switch_model", config={"kind": "mlp"})
            seen["risk"] = request("set_risk", risk_multiplier=0.5)
            seen["resume"] = request("resume")
            entries_at_resume = len(strategy.entries)
            assert wait_for(lambda: len(strategy.entries) >= entries_at_resume + 3, timeout=10)
            assert wait_for(
                lambda: strategy.portfolio.is_net_long(strategy._instrument_id), timeout=10
            )

            seen["flatten"] = request("flatten", reason="acceptance: flatten")
            assert wait_for(lambda: request("status").result["position"] == 0.0, timeout=10)
            entries_at_flatten = len(strategy.entries)
            assert wait_for(after_bars(40), timeout=10)
            seen["entries_after_flatten"] = len(strategy.entries) - entries_at_flatten
            seen["status"] = request("status")

            # A forged command on the way: rejected, and the node keeps serving.
            forged = client.command("resume", STRATEGY)
            bad = ControlClient(client._client, client.names, b"z" * 32, poll_ms=200)
            cursor = client.reply_cursor()
            bad.send(forged)  # the node's signed rejection: read by the operator (the secret)
            seen["forged"] = client.wait_for_reply(forged.command_id, cursor, timeout=5)
            seen["after_forged"] = request("status")
        except BaseException as exc:
            failures.append(exc)
        finally:
            node.kernel.loop.call_soon_threadsafe(node.stop)

    def on_built(node: Any) -> None:
        threading.Thread(target=drive, args=(node,), daemon=True).start()

    started = time.monotonic()
    outcome = run_live(run_file, on_built=on_built)
    assert not failures, failures[0]
    assert time.monotonic() - started < 60

    # Pause: no new entries while paused (exits still close what was open).
    assert seen["entries_during_pause"] == 0
    if seen["position_at_pause"]:
        assert seen["position_after_pause"] == 0.0, "exits must keep working while paused"
    # Switch model and risk: entries after resume carry the new model id and half the size.
    assert seen["switch"].result["model_id"] == "mlp/1"
    assert seen["risk"].result["risk_multiplier"] == 0.5
    log = read_trade_log(trade_log)
    fills_after_resume = [r for r in buys(log) if r["ts"] > seen["resume"].completed_ns]
    assert fills_after_resume, "resume must restart entries"
    assert all("model=mlp/1" in r["tags"] for r in fills_after_resume)
    assert all(r["quantity"] == 5000.0 for r in fills_after_resume)
    assert all(
        "model=rule/1" in r["tags"] for r in buys(log) if r["ts"] < seen["pause"].completed_ns
    )
    # Flatten: the position is closed, the strategy stays paused.
    assert any(r["event"] == "fill" and "exit=flatten" in r["tags"] for r in log)
    assert seen["entries_after_flatten"] == 0
    status = seen["status"].result
    assert status["paused"] is True and status["position"] == 0.0
    assert status["model_id"] == "mlp/1" and status["risk_multiplier"] == 0.5
    # Forged command: rejected with a reason; the next one applied.
    assert seen["forged"].status is ReplyStatus.REJECTED
    assert seen["forged"].reason == "bad signature"
    assert seen["after_forged"].ok

    # Trade log: every control outcome, in order, beside the fills.
    control = [(r["command_type"], r["status"]) for r in log if r["event"] == "control"]
    kinds = [kind for kind, _ in control if kind != "status"]
    assert kinds == ["pause", "switch_model", "set_risk", "resume", "flatten"]
    assert all(status == "applied" for _, status in control)
    # Reply stream: the same commands plus the rejected forgery, all acknowledged.
    replies = client.replies(200)
    assert [r.command_type for r in replies if r.command_type != "status"] == [
        "pause",
        "switch_model",
        "set_risk",
        "resume",
        "flatten",
        "resume",
    ]
    assert replies[-2].status is ReplyStatus.REJECTED
    pending = client._client.xpending(client.names.commands, "nautilus-ai-control")
    assert pending["pending"] == 0
    assert outcome.strategies[STRATEGY]["paused"] is True
    assert [r["command_type"] for r in outcome.control if r["command_type"] != "status"] == kinds
