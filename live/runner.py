"""Build and run a ``TradingNode`` from a live config (:mod:`nautilus_ai.live.config`).

``nautilus-ai live CONFIG`` calls :func:`run_live`. The node runs on the calling thread (it owns
the asyncio loop and the SIGINT / SIGTERM handlers) until it is stopped: by a signal, by
``max_runtime_secs``, or when every replay data client has emitted its last bar
(``stop_after_replay``). On the way out the runner collects each strategy's control status and
the controller's command outcomes, then disposes of the node.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nautilus_trader.live.node import TradingNode

from nautilus_ai.adapters.replay import REPLAY_FINISHED_TOPIC, ReplayDataClientConfig
from nautilus_ai.control import Controllable, json_safe
from nautilus_ai.live.config import LiveRunFile
from nautilus_ai.strategies.controller import RemoteController

__all__ = ["LiveOutcome", "build_node", "cancel_pending_tasks", "run_live"]


@dataclass
class LiveOutcome:
    """What a finished live run reports."""

    name: str
    trader_id: str
    stopped_by: str
    seconds: float
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    control: list[dict[str, Any]] = field(default_factory=list)
    replay: dict[str, dict[str, Any]] = field(default_factory=dict)
    trade_log: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trader_id": self.trader_id,
            "stopped_by": self.stopped_by,
            "seconds": round(self.seconds, 3),
            "strategies": self.strategies,
            "control": self.control,
            "replay": self.replay,
            "trade_log": str(self.trade_log) if self.trade_log else None,
        }


def build_node(run_file: LiveRunFile) -> TradingNode:
    """A built (not started) node with the config's client factories registered.

    The node gets a fresh event loop (set as the thread's current loop): a disposed node closes
    its loop, so reusing the thread's previous one would fail on a second run in one process.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    node = TradingNode(config=run_file.node, loop=loop)
    for name, spec in run_file.data_clients.items():
        node.add_data_client_factory(name, spec.factory)
    for name, spec in run_file.exec_clients.items():
        node.add_exec_client_factory(name, spec.factory)
    node.build()
    return node


def run_live(
    run_file: LiveRunFile,
    *,
    on_built: Callable[[TradingNode], None] | None = None,
) -> LiveOutcome:
    """Run the node until it is stopped; returns the outcome (the node is disposed).

    ``on_built`` is called with the built node before it starts (tests use it to reach the
    strategies and the loop).
    """
    started = time.monotonic()
    node = build_node(run_file)
    loop = node.kernel.loop
    reason = ["signal or external stop"]
    stopping = [False]

    def stop(why: str) -> None:
        if not stopping[0]:
            stopping[0] = True
            reason[0] = why
            node.kernel.logger.info(f"Stopping: {why}")
            node.stop()

    replay_names = {
        name
        for name, spec in run_file.data_clients.items()
        if isinstance(spec.config, ReplayDataClientConfig)
    }
    replay: dict[str, dict[str, Any]] = {}
    options = run_file.run

    def on_replay_finished(message: Any) -> None:
        info = json.loads(message)
        replay[info["client_id"]] = info
        if options.stop_after_replay and replay_names <= set(replay):
            loop.call_later(options.replay_grace_secs, stop, "replay finished")

    node.kernel.msgbus.subscribe(REPLAY_FINISHED_TOPIC, on_replay_finished)
    if options.max_runtime_secs is not None:
        loop.call_later(options.max_runtime_secs, stop, "max runtime")
    if on_built is not None:
        on_built(node)
    try:
        node.run(raise_exception=True)
        outcome = _collect(node, run_file, reason[0], time.monotonic() - started, replay)
    finally:
        cancel_pending_tasks(loop)
        node.dispose()
        asyncio.set_event_loop(None)
    return outcome


def cancel_pending_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is still pending on the stopped node's loop before it is closed.

    ``TradingNode.dispose`` closes the loop with the actors' ``ActorExecutor`` worker tasks still
    pending; on Python 3.12 (with NautilusTrader 1.231) each is then destroyed at garbage
    collection with "Task was destroyed but it is pending" and a "RuntimeError: Event loop is
    closed" from inside the task. Cancelling them while the loop can still run ends them cleanly.
    """
    if loop.is_closed() or loop.is_running():
        return
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _collect(
    node: TradingNode,
    run_file: LiveRunFile,
    stopped_by: str,
    seconds: float,
    replay: dict[str, dict[str, Any]],
) -> LiveOutcome:
    outcome = LiveOutcome(
        name=run_file.name,
        trader_id=node.trader_id.value,
        stopped_by=stopped_by,
        seconds=seconds,
        replay=replay,
        trade_log=run_file.run.trade_log,
    )
    for strategy in node.trader.strategies():
        status: dict[str, Any] = {"state": strategy.state.name}
        if isinstance(strategy, Controllable):
            try:
                status.update(json_safe(strategy.control_status()))
            except Exception as exc:
                status["status_error"] = f"{type(exc).__name__}: {exc}"
        outcome.strategies[strategy.id.value] = status
    for actor in node.trader.actors():
        if isinstance(actor, RemoteController):
            outcome.control = [reply.model_dump(mode="json") for reply in actor.replies]
    return outcome
