"""RemoteController: the Nautilus glue of the control plane (an ``Actor``, via ``Controller``).

It turns signed Redis commands (live) and a schedule of commands (backtests, drills) into calls
of the target strategy's control methods (:class:`nautilus_ai.control.Controllable`), always on
the thread that owns the strategies:

* live: the listener thread hands accepted commands to an inbox and wakes the node's asyncio
  loop with ``loop.call_soon_threadsafe``; the drain runs on the loop, between bars. (Nautilus'
  live clock timers fire on a Rust runtime thread, not the loop, so a polling timer would mutate
  strategy state from another thread; see BENCHMARKS.md for both measured.)
* backtest: schedule entries are clock time alerts, fired by the engine in simulated time.

After a state-changing command the strategy's state is written to the cache (``on_save``), so with
a cache database a restarted node comes back paused if it was paused, even after a crash.

Use it as the node's controller::

    TradingNodeConfig(..., controller=ImportableControllerConfig(
        controller_path="nautilus_ai.strategies.controller:RemoteController",
        config_path="nautilus_ai.strategies.controller:RemoteControllerConfig",
        config={"listen": True}))
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from typing import Any

from nautilus_trader.common.config import PositiveFloat, PositiveInt
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.live.config import ControllerConfig
from nautilus_trader.trading.controller import Controller
from nautilus_trader.trading.trader import Trader

from nautilus_ai.control import (
    SECRET_ENV,
    CommandReply,
    CommandSpec,
    ControlCommand,
    Controllable,
    ControlPlane,
    ReplyStatus,
    ScheduledCommand,
    SwitchModelCommand,
    TimeWindow,
    TraderClaimedError,
    apply_command,
    parse_schedule,
    redis_url_from_env,
    schedule_problems,
)

__all__ = [
    "CONTROL_REFUSED_TOPIC",
    "CONTROL_REPLY_TOPIC",
    "RemoteController",
    "RemoteControllerConfig",
]

CONTROL_REPLY_TOPIC = "nautilus_ai.control.replies"
"""Message-bus topic: each command's reply as canonical JSON (the trade log subscribes)."""
CONTROL_REFUSED_TOPIC = "nautilus_ai.control.refused"
"""Message-bus topic: the one-line reason the control plane did not start (another live node
holds the trader id); the live runner fails the run on it."""
MAX_BLOCK_MS = 10_000
"""The largest ``block_ms``: it is also how long a stop may wait for the listener."""


class RemoteControllerConfig(ControllerConfig, frozen=True, kw_only=True):
    """Configuration for :class:`RemoteController`.

    Parameters
    ----------
    listen : bool, default False
        Listen for signed commands on Redis (live nodes). Needs the secret in ``secret_env``.
    redis_url : str, optional
        Redis for the control plane; default ``$NAUTILUS_AI_REDIS_URL`` or
        ``redis://127.0.0.1:6379/0``. Keep passwords in the environment.
    secret_env : str, default "NAUTILUS_AI_CONTROL_SECRET"
        Name of the environment variable holding the shared HMAC secret.
    strategy_ids : list[str], optional
        Strategies that may be controlled; default every strategy of the trader.
    max_age_secs : float, default 30
        Oldest command accepted (the replay window).
    max_future_secs : float, default 5
        Largest clock skew accepted for commands from the future.
    block_ms : int, default 500
        Redis ``XREADGROUP`` block time (the listener's worst-case stop delay), at most
        ``MAX_BLOCK_MS`` (10 s).
    schedule : list[dict], default []
        Commands at given times: ``{"at": ns | ISO-8601, "type": ..., "strategy_id": ...,
        ...}`` (see :mod:`nautilus_ai.control.schedule`). Unsigned: trusted configuration.
    persist_state : bool, default True
        Write the strategy's state to the cache after each state-changing command.
    """

    listen: bool = False
    redis_url: str | None = None
    secret_env: str = SECRET_ENV
    strategy_ids: list[str] | None = None
    max_age_secs: PositiveFloat = 30.0
    max_future_secs: float = 5.0
    block_ms: PositiveInt = 500
    schedule: list[dict[str, Any]] = []
    persist_state: bool = True

    def __post_init__(self) -> None:
        TimeWindow.from_seconds(self.max_age_secs, self.max_future_secs)
        if not 1 <= self.block_ms <= MAX_BLOCK_MS:  # it is also how long a stop may wait
            raise ValueError(f"block_ms must be in [1, {MAX_BLOCK_MS}], was {self.block_ms!r}")
        if not self.secret_env:
            raise ValueError("secret_env must name an environment variable")
        if self.strategy_ids is not None and not self.strategy_ids:  # would refuse every command
            raise ValueError(
                "strategy_ids must name at least one strategy (leave it out: every strategy)"
            )
        # Validate the schedule now (trader id is filled in at start).
        parse_schedule(self.schedule, trader_id="CHECK-000")


class RemoteController(Controller):
    """Applies control commands to the trader's strategies on the node's own thread.

    Attributes
    ----------
    replies : deque[CommandReply]
        The last 1,000 outcomes (live and scheduled), for tests and post-mortems.
    """

    def __init__(self, trader: Trader, config: RemoteControllerConfig | None = None) -> None:
        config = config or RemoteControllerConfig()
        super().__init__(trader=trader, config=config)
        self._config = config
        self._plane: ControlPlane | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._schedule: list[ScheduledCommand] = []
        self._alerts: list[str] = []
        self._next_entry = 0  # schedule entries before it were applied (they run in order)
        self.replies: deque[CommandReply] = deque(maxlen=1000)
        # switch_model predictors built on the listener thread, keyed by (strategy, config JSON):
        # loading a model (torch import, HF weights) must not stall the event loop.
        # One list per key, in arrival order: the same switch sent twice gets two models.
        self._prepared: dict[tuple[str, str], list[Any]] = {}
        self._prepared_lock = threading.Lock()

    @property
    def plane(self) -> ControlPlane | None:
        """The Redis control plane while listening, else ``None``."""
        return self._plane

    def schedule_problems(self, due_by_ns: int | None = None) -> list[str]:
        """Each scheduled command that was not applied (rejected, failed, or never due within
        the run), as a reason for the run's outcome; empty when all were. With ``due_by_ns``
        (a live node: it may stop before later entries), only the entries due by then."""
        schedule = self._schedule
        if due_by_ns is not None:
            schedule = [entry for entry in schedule if entry.at_ns <= due_by_ns]
        return schedule_problems(schedule, list(self.replies))

    # -- lifecycle ----------------------------------------------------------------------------

    def on_start(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # a backtest: everything runs on the engine's thread
        self._schedule = parse_schedule(self._config.schedule, trader_id=self.trader_id.value)
        self._next_entry = 0
        for index, entry in enumerate(self._schedule):
            name = f"{self.id}-schedule-{index}"
            self.clock.set_time_alert_ns(name, entry.at_ns, self._on_schedule_alert)
            self._alerts.append(name)
        if self._schedule:
            self.log.info(f"Control schedule: {len(self._schedule)} command(s)")
        if self._config.listen:
            self._start_listening()

    def _start_listening(self) -> None:
        if self._loop is None:
            raise RuntimeError(
                "RemoteController(listen=True) needs a live node with a running event loop"
            )
        url = redis_url_from_env(self._config.redis_url)
        self._plane = ControlPlane.from_environment(
            self.trader_id.value,
            url,
            secret_env=self._config.secret_env,
            strategy_ids=self._config.strategy_ids,
            window=TimeWindow.from_seconds(self._config.max_age_secs, self._config.max_future_secs),
            block_ms=self._config.block_ms,
            logger=_nautilus_logger(self, f"nautilus_ai.control.{self.trader_id.value}"),
            prepare=self._prepare,
        )
        loop = self._loop
        try:
            self._plane.start(
                lambda: loop.call_soon_threadsafe(self._apply_pending),
                on_refused=lambda why: loop.call_soon_threadsafe(self._control_lost, why),
            )
        except TraderClaimedError as exc:  # two nodes would split the commands between them
            self._plane.close()
            self._plane = None
            self.log.error(f"Control plane not started: {exc}")
            self.msgbus.publish(CONTROL_REFUSED_TOPIC, str(exc))
            return
        self.log.info(
            f"Control plane listening on {self._plane.names.commands} "
            f"(replies on {self._plane.names.replies})"
        )

    def _control_lost(self, why: str) -> None:
        """The listener stopped reading commands mid-run (another node took the trader id):
        this node can no longer be paused or flattened remotely; the runner stops it."""
        self.log.error(f"Control plane stopped reading commands: {why}")
        self.msgbus.publish(CONTROL_REFUSED_TOPIC, why)

    def on_stop(self) -> None:
        for name in self._alerts:
            if name in self.clock.timer_names:
                self.clock.cancel_timer(name)
        self._alerts = []
        if self._plane is not None:
            # commands accepted but not applied are answered "node stopping"
            for reply in self._plane.stop(timeout=max(2.0, 2 * self._config.block_ms / 1000.0)):
                self._record(reply)
            self._plane.close()
            self._plane = None
        self._close_prepared()

    # -- applying (always on the node's thread) -----------------------------------------------

    def _apply_pending(self) -> None:
        plane = self._plane
        if plane is None:
            return
        for reply in plane.apply_pending(self._resolve):
            self._record(reply)

    def _on_schedule_alert(self, event: TimeEvent) -> None:
        if self._loop is not None:
            # Live clock alerts fire on a Rust runtime thread: hop onto the loop first.
            self._loop.call_soon_threadsafe(self._apply_scheduled, event.name)
        else:
            self._apply_scheduled(event.name)

    def _apply_scheduled(self, name: str) -> None:
        """Apply every entry due by now, in schedule order (``name``'s among them). Entries
        already due when the node starts fire at once, in no set order on the live clock: a
        pause / resume pair came out resume, pause and left the strategy paused."""
        due = self._schedule[int(name.rsplit("-", 1)[1])].at_ns  # this alert's entry is due
        now = max(self.clock.timestamp_ns(), due)
        while self._next_entry < len(self._schedule):
            command = self._schedule[self._next_entry].command
            if self._schedule[self._next_entry].at_ns > now:
                break
            self._next_entry += 1
            reply = apply_command(
                self._resolve(command.strategy_id),
                command,
                received_ns=self.clock.timestamp_ns(),
                clock=self.clock.timestamp_ns,
            )
            self._record(reply)
            if self._plane is not None:
                self._plane.listener.submit_reply(reply)  # audit trail; no stream entry to ack

    def _prepare(self, command: ControlCommand) -> None:
        """Listener thread: build a ``switch_model`` predictor before the command is queued."""
        if not isinstance(command, SwitchModelCommand):
            return
        for strategy in self._trader.strategies():
            if strategy.id.value == command.strategy_id and hasattr(strategy, "prepare_model"):
                config = dict(command.config)
                predictor = strategy.prepare_model(config)  # pure: reads only the immutable spec
                with self._prepared_lock:
                    key = (command.strategy_id, _config_key(config))
                    self._prepared.setdefault(key, []).append(predictor)
                return

    def _take_prepared(self, strategy_id: str, config: dict[str, Any]) -> Any:
        with self._prepared_lock:
            waiting = self._prepared.get((strategy_id, _config_key(config)))
            if not waiting:
                return None
            predictor = waiting.pop(0)
            if not waiting:
                del self._prepared[(strategy_id, _config_key(config))]
            return predictor

    def _close_prepared(self) -> None:
        """Close the models prepared for commands that never switched to them."""
        with self._prepared_lock:
            left = [p for waiting in self._prepared.values() for p in waiting]
            self._prepared.clear()
        for predictor in left:
            try:
                predictor.close()
            except Exception as exc:  # closing must not stop the node stopping
                self.log.warning(f"Closing an unused prepared model: {type(exc).__name__}: {exc}")

    def _resolve(self, strategy_id: str) -> Controllable | None:
        allowed = self._config.strategy_ids
        if allowed is not None and strategy_id not in allowed:
            return None
        for strategy in self._trader.strategies():
            if strategy.id.value == strategy_id and isinstance(strategy, Controllable):
                return _Guarded(strategy, self)
        return None

    def _record(self, reply: CommandReply) -> None:
        self.replies.append(reply)
        self.msgbus.publish(CONTROL_REPLY_TOPIC, reply.to_json())
        text = (
            f"Control {reply.command_type} {reply.command_id} -> {reply.strategy_id}: "
            f"{reply.status.value}{': ' + reply.reason if reply.reason else ''}"
        )
        if reply.status is ReplyStatus.APPLIED:
            self.log.info(text)
        else:
            self.log.warning(text)


class _Guarded:
    """Wraps a strategy: refuses order-sending commands unless it runs, and persists state."""

    def __init__(self, strategy: Any, controller: RemoteController) -> None:
        self._strategy = strategy
        self._controller = controller

    def __getattr__(self, name: str) -> Any:
        # Every control method but the two below is the strategy's own: a new command needs
        # no wrapper here (its registry entry says whether it needs a running strategy).
        return getattr(self._strategy, name)

    def before_command(self, spec: CommandSpec) -> None:
        if spec.needs_running and not self._strategy.is_running:
            raise RuntimeError(
                f"strategy {self._strategy.id} is {self._strategy.state.name}, not RUNNING"
            )

    def after_command(self, spec: CommandSpec) -> None:
        if spec.changes_state and self._controller._config.persist_state:
            self._controller.cache.update_strategy(self._strategy)

    def switch_model(self, config: dict[str, Any]) -> None:
        prepared = self._controller._take_prepared(self._strategy.id.value, config)
        if prepared is not None:
            self._strategy.switch_model(config, predictor=prepared)
        else:
            self._strategy.switch_model(config)

    def control_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._strategy.control_status()
        status.setdefault("strategy_state", self._strategy.state.name)
        return status


def _config_key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def _nautilus_logger(actor: RemoteController, name: str) -> logging.Logger:
    """A stdlib logger whose records go to the actor's Nautilus log (thread-safe)."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        if isinstance(handler, _ToNautilus):
            logger.removeHandler(handler)
    logger.addHandler(_ToNautilus(actor))
    return logger


class _ToNautilus(logging.Handler):
    def __init__(self, actor: RemoteController) -> None:
        super().__init__()
        self._log = actor.log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self.format(record)
            if record.levelno >= logging.ERROR:
                self._log.error(message)
            elif record.levelno >= logging.WARNING:
                self._log.warning(message)
            else:
                self._log.info(message)
        except Exception:
            self.handleError(record)
