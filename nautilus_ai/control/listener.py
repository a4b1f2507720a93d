"""The node side of the control plane: read signed commands from a Redis Stream consumer group,
pass them through the :class:`~nautilus_ai.control.gate.CommandGate`, hand accepted ones to a sink
(the strategy's inbox) and write one reply per command to the reply stream.

Two daemon threads, one injected Redis client (its pool gives each thread its own connection):

* the **reader** blocks in ``XREADGROUP ... BLOCK``, checks each entry and either hands it to the
  sink (accepted) or queues its rejection;
* the **writer** drains the outbox: ``XADD`` the reply and ``XACK`` the command in one pipeline.

A command is acknowledged only after its reply is written, so a crash in between leaves it
pending; on (re)connect the reader first re-reads its own pending entries (``XREADGROUP`` from id
``0``) and now and then claims entries another consumer left idle (``XAUTOCLAIM``). Entries already
in flight in this process are skipped, so a reconnect never applies a command twice.

Redis down: both threads log it, back off (capped, jittered) and retry; the strategy keeps trading
on its last state. If Redis lost the consumer group (a restart without persistence) the reader
recreates it from a point ``2 x max_age`` back, so nothing sent after Redis is back is skipped and
anything older would be refused as expired anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nautilus_ai.control.gate import Accepted, CommandGate, Rejected
from nautilus_ai.control.inbox import InboxFullError
from nautilus_ai.control.presence import TraderClaim, TraderClaimedError
from nautilus_ai.control.schema import CommandReply, ReplyStatus
from nautilus_ai.control.signing import sign_reply
from nautilus_ai.control.transport import Backoff, StreamNames

__all__ = ["ControlListener", "ListenerStats"]

_LOG = logging.getLogger("nautilus_ai.control")


@dataclass
class ListenerStats:
    """Counters, for logs and tests (read without a lock: approximate while running)."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    replies_written: int = 0
    reconnects: int = 0
    recovered: int = 0
    last_error: str = ""
    reasons: dict[str, int] = field(default_factory=dict)


class ControlListener:
    """Reads one trader's command stream and writes its reply stream.

    Parameters
    ----------
    client : redis.Redis
        Injected client (``decode_responses=True``; see
        :func:`nautilus_ai.control.transport.connect`), with a socket timeout longer than
        ``block_ms``.
    names : StreamNames
        Stream keys and consumer group.
    gate : CommandGate
        The checks every command passes.
    sink : Callable[[Accepted], None]
        Receives accepted commands on the reader thread; must be quick and thread-safe (an
        inbox ``put``). Whoever applies the command must call :meth:`submit_reply`.
    consumer : str
        This consumer's name in the group; keep it stable across restarts so the node finds its
        own pending entries.
    block_ms : int
        How long one ``XREADGROUP`` blocks (also the worst-case stop delay).
    batch : int
        Most entries per read.
    reply_maxlen : int
        Approximate cap on the reply stream's length (``XADD MAXLEN ~``).
    claim_idle_ms : int
        Entries pending this long with another consumer are claimed.
    backoff : Backoff, optional
        Reconnect delays (default 50 ms doubling to 5 s, jittered).
    logger : logging.Logger, optional
        Where to log (default ``nautilus_ai.control``).
    clock : Callable[[], int]
        Wall-clock unix ns (for group re-creation and reply timestamps).
    reply_secret : bytes
        The shared secret; each reply carries its HMAC (``sig``) so clients can tell the node's
        replies from entries anyone else wrote.
    claim : TraderClaim, optional
        This node's claim on the trader id (:mod:`~nautilus_ai.control.presence`): taken
        before the first read (when the owner has not taken it), refreshed by the writer thread
        and released at stop. While another node holds it the listener reads nothing.
    """

    def __init__(
        self,
        client: Any,
        names: StreamNames,
        gate: CommandGate,
        sink: Callable[[Accepted], None],
        *,
        consumer: str,
        block_ms: int = 1000,
        batch: int = 256,
        reply_maxlen: int = 100_000,
        claim_idle_ms: int = 10_000,
        backoff: Backoff | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], int] = time.time_ns,
        reply_secret: bytes,
        claim: TraderClaim | None = None,
    ) -> None:
        if not reply_secret:
            raise ValueError("reply_secret must not be empty")
        if block_ms < 1:
            raise ValueError(f"block_ms must be >= 1, was {block_ms!r}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, was {batch!r}")
        if not consumer:
            raise ValueError("consumer must be a non-empty name")
        self._client = client
        self._names = names
        self._gate = gate
        self._sink = sink
        self._consumer = consumer
        self._block_ms = block_ms
        self._batch = batch
        self._reply_maxlen = reply_maxlen
        self._claim_idle_ms = claim_idle_ms
        self._read_backoff = backoff or Backoff()
        self._write_backoff = Backoff()
        self._log = logger or _LOG
        self._clock = clock
        self._reply_secret = reply_secret
        self._stop = threading.Event()  # the writer's: flush and end
        self._stop_reading = threading.Event()  # the reader's: accept nothing more
        self._outbox: queue.SimpleQueue[CommandReply] = queue.SimpleQueue()
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._connected = threading.Event()
        self._next_claim = 0.0
        self._reject_log = _RateLimitedLog(self._log, per_second=20)
        self.stats = ListenerStats()
        self._claim = claim
        #: Called with the reason when the listener stops reading for good (set before start).
        self.on_refused: Callable[[str], object] | None = None
        self._next_refresh = 0.0
        self.refused = ""  # why this listener reads nothing: another node holds the trader

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the reader is listening (group present, last call succeeded)."""
        return self._connected.is_set()

    @property
    def names(self) -> StreamNames:
        return self._names

    def start(self) -> None:
        """Start the reader and writer threads (idempotent while running)."""
        if self._threads:
            return
        self._stop.clear()
        self._stop_reading.clear()
        for target, role in ((self._read_loop, "reader"), (self._write_loop, "writer")):
            thread = threading.Thread(
                target=target, name=f"control-{role}-{self._names.trader_id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wait_connected(self, timeout: float) -> bool:
        """Block until the reader is listening, at most ``timeout`` seconds."""
        return self._connected.wait(timeout)

    def stop_reading(self, timeout: float = 5.0) -> None:
        """Stop the reader and join it (at most ``timeout`` s): once this returns nothing more
        is accepted, and the sink holds every accepted command. Replies are still written."""
        self._stop_reading.set()
        for thread in self._threads[:1]:  # the reader
            thread.join(max(0.0, timeout))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading, flush queued replies (for at most ``timeout`` s) and join the threads."""
        self._stop_reading.set()
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self._log.warning("control plane: threads still running after stop: %s", alive)
        self._threads = []
        self._connected.clear()
        self._release_claim()

    def _release_claim(self) -> None:
        from redis.exceptions import RedisError

        if self._claim is None:
            return
        try:
            self._claim.release()
        except (RedisError, OSError) as exc:  # it lapses after its time to live
            self._log.warning(
                "control plane: cannot release the claim %s (%s); it lapses in %.0f s",
                self._claim.key,
                exc,
                self._claim.ttl_ms / 1000,
            )

    def submit_reply(self, reply: CommandReply) -> None:
        """Queue ``reply`` for the reply stream and acknowledge its entry (thread-safe)."""
        self._outbox.put(reply)

    # -- reader -----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        from redis.exceptions import RedisError, ResponseError

        down_since: float | None = None
        ready = False
        while not self._stop_reading.is_set() and not self.refused:
            try:
                if not ready:
                    if self._claim is not None and not self._claim.held:
                        self._claim.acquire()
                    self._ensure_group()
                    self._recover_pending()
                    ready = True
                    self._connected.set()
                    self._read_backoff.reset()
                    if down_since is not None:
                        self.stats.reconnects += 1
                        self._log.warning(
                            "control plane: Redis is back after %.1f s; listening on %s again",
                            time.monotonic() - down_since,
                            self._names.commands,
                        )
                        down_since = None
                    else:
                        self._log.info(
                            "control plane: listening on %s (group %s, consumer %s)",
                            self._names.commands,
                            self._names.group,
                            self._consumer,
                        )
                response = self._client.xreadgroup(
                    self._names.group,
                    self._consumer,
                    {self._names.commands: ">"},
                    count=self._batch,
                    block=self._block_ms,
                )
                for _stream, entries in response or ():
                    self._handle(entries)
                self._reject_log.flush()
                self._maybe_autoclaim()
            except TraderClaimedError as exc:
                self._refuse(str(exc))
            except ResponseError as exc:
                ready = False
                self._connected.clear()
                if "NOGROUP" in str(exc):
                    self._log.warning(
                        "control plane: consumer group %s is gone (Redis restarted without "
                        "persistence?); recreating it",
                        self._names.group,
                    )
                    continue
                self.stats.last_error = str(exc)
                self._log.error("control plane: Redis refused a command: %s", exc)
                self._stop_reading.wait(self._read_backoff.next_delay())
            except (RedisError, OSError) as exc:
                ready = False
                self._connected.clear()
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if down_since is None:
                    down_since = time.monotonic()
                delay = self._read_backoff.next_delay()
                self._log.warning(
                    "control plane: Redis unreachable (%s: %s); trading continues on the last "
                    "state; retry %d in %.2f s",
                    type(exc).__name__,
                    exc,
                    self._read_backoff.attempt,
                    delay,
                )
                self._stop_reading.wait(delay)
            except Exception:  # the listener must outlive any bug in one entry
                self._log.exception("control plane: unexpected error in the reader; continuing")
                self._stop_reading.wait(self._read_backoff.next_delay())
        self._connected.clear()

    def _refuse(self, why: str) -> None:
        self.refused = why
        self.stats.last_error = why
        self._connected.clear()
        self._log.error("control plane: reading no commands: %s", why)
        if self.on_refused is not None:
            try:
                self.on_refused(why)
            except Exception:  # the owner's hook must not kill this thread
                self._log.exception("control plane: the refusal hook failed")

    def _maybe_refresh_claim(self) -> None:
        """Writer thread: extend the claim every third of its time to live."""
        from redis.exceptions import RedisError

        claim = self._claim
        if claim is None or not claim.held or time.monotonic() < self._next_refresh:
            return
        self._next_refresh = time.monotonic() + claim.refresh_secs
        try:
            if not claim.refresh():
                self._refuse(
                    f"trader {claim.trader_id} was claimed by {claim.holder_now()} while this "
                    "node could not refresh its claim (Redis unreachable?)"
                )
        except (RedisError, OSError):
            self._next_refresh = time.monotonic() + 0.5  # the reader reports the outage

    def _ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        # Start 2 x max_age back: entries older than that would be refused as expired anyway,
        # and nothing sent since Redis came back (with a new, empty stream) is skipped.
        back_ms = 2 * self._gate.window.max_age_ns // 1_000_000
        start_ms = max(0, self._clock() // 1_000_000 - back_ms)
        try:
            self._client.xgroup_create(
                self._names.commands, self._names.group, id=f"{start_ms}-0", mkstream=True
            )
            self._log.info(
                "control plane: created consumer group %s on %s",
                self._names.group,
                self._names.commands,
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _recover_pending(self) -> None:
        """Re-read this consumer's delivered-but-unacknowledged entries."""
        start = "0-0"
        while not self._stop_reading.is_set():
            response = self._client.xreadgroup(
                self._names.group,
                self._consumer,
                {self._names.commands: start},
                count=self._batch,
            )
            entries = response[0][1] if response else []
            if not entries:
                return
            self.stats.recovered += self._handle(entries)
            start = entries[-1][0]

    def _maybe_autoclaim(self) -> None:
        now = time.monotonic()
        if now < self._next_claim:
            return
        self._next_claim = now + max(1.0, self._claim_idle_ms / 2000.0)
        response = self._client.xautoclaim(
            self._names.commands,
            self._names.group,
            self._consumer,
            min_idle_time=self._claim_idle_ms,
            start_id="0-0",
            count=self._batch,
        )
        entries = response[1] if response and len(response) > 1 else []
        if entries:
            self._log.warning(
                "control plane: claimed %d command(s) left pending by another consumer",
                len(entries),
            )
            self.stats.recovered += self._handle(entries)

    def _handle(self, entries: list[Any]) -> int:
        """Check and route entries; returns how many were handled (not skipped)."""
        handled = 0
        for entry_id, fields in entries:
            with self._in_flight_lock:
                if entry_id in self._in_flight:
                    continue
                self._in_flight.add(entry_id)
            handled += 1
            self.stats.received += 1
            if not fields:  # pending entry trimmed from the stream: nothing to do but ack
                self._outbox.put(
                    CommandReply(
                        command_id="",
                        status=ReplyStatus.REJECTED,
                        reason="entry was trimmed from the stream before it was read",
                        entry_id=entry_id,
                        completed_ns=self._clock(),
                    )
                )
                continue
            try:
                verdict = self._gate.check(fields, entry_id)
            except BaseException:  # Redis failed mid-check: re-read and checked after the retry
                with self._in_flight_lock:
                    self._in_flight.discard(entry_id)
                self.stats.received -= 1
                raise
            if isinstance(verdict, Accepted):
                try:
                    self._sink(verdict)
                except InboxFullError as exc:
                    verdict = Rejected(_reject_accepted(verdict, str(exc), self._clock()))
                else:
                    self.stats.accepted += 1
                    command = verdict.command
                    self._log.info(
                        "control plane: accepted %s %s for %s (entry %s)",
                        command.type,
                        command.command_id,
                        command.strategy_id,
                        entry_id,
                    )
                    continue
            self.stats.rejected += 1
            reply = verdict.reply
            key = reply.reason.split(":", 1)[0]
            self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
            self._reject_log.warning(
                "control plane: rejected %s %r (entry %s): %s",
                reply.command_type or "command",
                reply.command_id,
                entry_id,
                reply.reason,
            )
            self._outbox.put(reply)
        return handled

    # -- writer -----------------------------------------------------------------------------

    def _write_loop(self) -> None:
        pending: list[CommandReply] = []
        flush_deadline: float | None = None
        while True:
            self._maybe_refresh_claim()
            if self._stop.is_set() and flush_deadline is None:
                flush_deadline = time.monotonic() + 2.0
            if not pending:
                try:
                    pending.append(self._outbox.get(timeout=0.05))
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
            while len(pending) < 512:
                try:
                    pending.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            if self._write(pending):
                pending = []
                self._write_backoff.reset()
                continue
            if flush_deadline is not None and time.monotonic() > flush_deadline:
                self._log.error(
                    "control plane: stopping with %d unwritten repl(ies) (commands stay pending "
                    "and are re-read on restart): %s",
                    len(pending),
                    ", ".join(r.command_id or r.entry_id for r in pending[:20]),
                )
                return
            delay = self._write_backoff.next_delay()
            self._stop.wait(delay) if not self._stop.is_set() else time.sleep(min(delay, 0.1))

    def _write(self, replies: list[CommandReply]) -> bool:
        from redis.exceptions import RedisError, ResponseError

        try:
            pipe = self._client.pipeline(transaction=False)
            for reply in replies:
                text = reply.to_json()
                pipe.xadd(
                    self._names.replies,
                    {
                        "command_id": reply.command_id,
                        "status": reply.status.value,
                        "reply": text,
                        "sig": sign_reply(self._reply_secret, text),
                    },
                    maxlen=self._reply_maxlen,
                    approximate=True,
                )
            acked = [r.entry_id for r in replies if r.entry_id]
            if acked:
                pipe.xack(self._names.commands, self._names.group, *acked)
            results = pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            self._log.warning(
                "control plane: cannot write %d repl(ies) (%s: %s); will retry",
                len(replies),
                type(exc).__name__,
                exc,
            )
            return False
        for result in results:
            if isinstance(result, ResponseError):
                # NOGROUP on XACK after Redis lost its data: the entry is gone, nothing to ack.
                self._log.warning("control plane: reply pipeline: %s", result)
        with self._in_flight_lock:
            for reply in replies:
                self._in_flight.discard(reply.entry_id)
        self.stats.replies_written += len(replies)
        return True


def _reject_accepted(accepted: Accepted, reason: str, now_ns: int) -> CommandReply:
    command = accepted.command
    return CommandReply(
        command_id=command.command_id,
        status=ReplyStatus.REJECTED,
        reason=reason,
        command_type=command.type,
        trader_id=command.trader_id,
        strategy_id=command.strategy_id,
        entry_id=accepted.entry_id,
        received_ns=accepted.received_ns,
        completed_ns=now_ns,
    )


class _RateLimitedLog:
    """At most ``per_second`` lines a second; the rest are counted and summarised."""

    def __init__(self, log: logging.Logger, per_second: int) -> None:
        self._log = log
        self._per_second = per_second
        self._window = 0.0
        self._count = 0
        self._suppressed = 0

    def flush(self) -> None:
        """Log the count of suppressed lines once their one-second window is over."""
        if time.monotonic() - self._window >= 1.0:
            if self._suppressed:
                self._log.warning(
                    "control plane: %d more rejection(s) not logged (see the reply stream)",
                    self._suppressed,
                )
            self._window, self._count, self._suppressed = time.monotonic(), 0, 0

    def warning(self, message: str, *args: object) -> None:
        self.flush()
        if self._count < self._per_second:
            self._count += 1
            self._log.warning(message, *args)
        else:
            self._suppressed += 1
