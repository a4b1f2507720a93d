"""One trader's control plane, assembled: gate + listener + inbox + applier.

The owner of the strategies (the Nautilus controller actor, a benchmark's stand-in loop) does
two things: ``start(wakeup)`` with a ``wakeup`` that schedules a call of :meth:`apply_pending` on
the strategies' own thread (``loop.call_soon_threadsafe``), and ``stop()`` at shutdown. Nothing
here touches a strategy off that thread.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nautilus_ai.control.applier import Controllable, apply_command
from nautilus_ai.control.gate import Accepted, CommandGate, TimeWindow
from nautilus_ai.control.inbox import CommandInbox
from nautilus_ai.control.listener import ControlListener
from nautilus_ai.control.presence import DEFAULT_CLAIM_TTL_MS, TraderClaim, TraderClaimedError
from nautilus_ai.control.replay import (
    LayeredNonceStore,
    MemoryNonceStore,
    NonceStore,
    RedisNonceStore,
)
from nautilus_ai.control.schema import CommandReply, ControlCommand, ReplyStatus
from nautilus_ai.control.signing import SECRET_ENV, load_secret
from nautilus_ai.control.transport import RedisSettings, StreamNames, connect

__all__ = ["ControlPlane"]


class ControlPlane:
    """The node side of one trader's control plane.

    Parameters
    ----------
    client : redis.Redis
        Injected client (see :func:`~nautilus_ai.control.transport.connect`; its socket timeout
        must exceed ``block_ms``).
    names : StreamNames
        The trader's stream keys.
    secret : bytes
        The shared HMAC secret.
    strategy_ids : Iterable[str], optional
        Strategies commands may target (others are refused by the gate).
    window : TimeWindow, optional
        Accepted command age / clock skew.
    nonce_store : NonceStore, optional
        Default: in memory and in Redis (survives both a Redis and a node restart).
    consumer : str, optional
        Consumer name in the group; default ``<trader_id>`` (stable across restarts).
    block_ms : int
        ``XREADGROUP`` block time (also the worst-case stop delay).
    inbox_capacity : int
        Most accepted commands waiting for the strategies' thread.
    logger : logging.Logger, optional
        Where the listener logs.
    clock : Callable[[], int]
        Wall-clock unix ns.
    prepare : Callable[[ControlCommand], None], optional
        Called on the listener thread for each accepted command before it is queued, to do slow
        work (building a predictor for ``switch_model``) off the strategies' thread. Commands
        stay in order; an exception is logged and the command is queued anyway (applying it
        then fails or succeeds on its own).
    claim_ttl_ms : int
        Time to live of the node's claim on its trader id (:mod:`~nautilus_ai.control.presence`):
        how long a killed node on another host blocks a restart with the same trader id.
    where : str
        The Redis, as messages name it (a redacted URL).
    """

    def __init__(
        self,
        client: Any,
        names: StreamNames,
        secret: bytes,
        *,
        strategy_ids: Iterable[str] | None = None,
        window: TimeWindow | None = None,
        nonce_store: NonceStore | None = None,
        consumer: str | None = None,
        block_ms: int = 1000,
        inbox_capacity: int = 10_000,
        logger: logging.Logger | None = None,
        clock: Callable[[], int] = time.time_ns,
        prepare: Callable[[ControlCommand], None] | None = None,
        claim_ttl_ms: int = DEFAULT_CLAIM_TTL_MS,
        where: str = "this Redis",
    ) -> None:
        self._client = client
        self._prepare = prepare
        self._log = logger or logging.getLogger(__name__)
        self._clock = clock
        store = nonce_store or LayeredNonceStore(
            MemoryNonceStore(), RedisNonceStore(client, names.nonce_prefix)
        )
        self.gate = CommandGate(
            secret, names.trader_id, store, window, strategy_ids=strategy_ids, clock=clock
        )
        self.inbox = CommandInbox(capacity=inbox_capacity)
        self.claim = TraderClaim(
            client, names.presence, names.trader_id, ttl_ms=claim_ttl_ms, where=where
        )
        self.listener = ControlListener(
            client,
            names,
            self.gate,
            self._accept,
            consumer=consumer or names.trader_id,
            block_ms=block_ms,
            logger=logger,
            clock=clock,
            reply_secret=secret,
            claim=self.claim,
        )

    @classmethod
    def from_environment(
        cls,
        trader_id: str,
        redis_url: str,
        *,
        secret_env: str = SECRET_ENV,
        env: Mapping[str, str] | None = None,
        block_ms: int = 1000,
        **kwargs: Any,
    ) -> ControlPlane:
        """Build with the secret from ``$secret_env`` and a client for ``redis_url``.

        Raises ``MissingSecretError`` (naming the variable) before anything connects.
        """
        secret = load_secret(os.environ if env is None else env, secret_env)
        settings = RedisSettings(url=redis_url)
        client = connect(settings, extra_socket_timeout=block_ms / 1000.0)
        names = StreamNames(trader_id)
        kwargs.setdefault("where", settings.redacted_url)
        return cls(client, names, secret, block_ms=block_ms, **kwargs)

    def _accept(self, item: Accepted) -> None:
        if self._prepare is not None:
            try:
                self._prepare(item.command)
            except Exception as exc:
                self._log.warning(
                    f"Preparing {item.command.type} {item.command.command_id} failed: "
                    f"{type(exc).__name__}: {exc}"
                )
        self.inbox.put(item)

    @property
    def names(self) -> StreamNames:
        return self.listener.names

    @property
    def connected(self) -> bool:
        return self.listener.connected

    def start(
        self,
        wakeup: Callable[[], object],
        on_refused: Callable[[str], object] | None = None,
    ) -> None:
        """Claim the trader id, then start listening; ``wakeup`` must schedule
        :meth:`apply_pending` on the owner thread. ``on_refused(why)`` is called (from the
        listener's thread) if the listener later stops reading commands for good: another node
        took the trader id while this one could not refresh its claim. The node then takes no
        command (no pause, no flatten): its owner should stop it.

        Raises
        ------
        TraderClaimedError
            Another live node holds the trader id on this Redis (nothing was started). When
            Redis cannot be reached the listener claims the trader once it answers.
        """
        from redis.exceptions import RedisError

        try:
            self.claim.acquire()
        except TraderClaimedError:
            raise
        except (RedisError, OSError) as exc:
            self._log.warning(
                f"Control plane: cannot claim trader {self.names.trader_id} yet "
                f"({type(exc).__name__}: {exc}); the listener claims it when Redis answers"
            )
        self.inbox.set_wakeup(wakeup)
        self.listener.on_refused = on_refused
        self.listener.start()

    def apply_pending(self, resolve: Callable[[str], Controllable | None]) -> list[CommandReply]:
        """Apply every waiting command (call on the strategies' thread) and queue the replies.

        ``resolve(strategy_id)`` returns the target strategy, or ``None`` when there is none
        (the command is then rejected).
        """
        replies = []
        for item in self.inbox.drain():
            reply = apply_command(
                resolve(item.command.strategy_id),
                item.command,
                entry_id=item.entry_id,
                received_ns=item.received_ns,
                clock=self._clock,
            )
            self.listener.submit_reply(reply)
            replies.append(reply)
        return replies

    def stop(self, timeout: float = 5.0) -> list[CommandReply]:
        """Stop listening and flush replies; does not close the injected client.

        Commands accepted but not applied yet (the owner's thread is stopping and will not
        drain the inbox again) are answered ``rejected: node stopping`` rather than left to
        the sender's timeout; their replies are returned.
        """
        self.inbox.set_wakeup(None)
        self.listener.stop_reading(timeout)
        refused = []
        for item in self.inbox.drain():
            command = item.command
            reply = CommandReply(
                command_id=command.command_id,
                status=ReplyStatus.REJECTED,
                reason="node stopping: the command was not applied",
                command_type=command.type,
                trader_id=command.trader_id,
                strategy_id=command.strategy_id,
                entry_id=item.entry_id,
                received_ns=item.received_ns,
                completed_ns=self._clock(),
            )
            self.listener.submit_reply(reply)
            refused.append(reply)
        self.listener.stop(timeout)
        return refused

    def close(self) -> None:
        """Close the Redis client (after :meth:`stop`)."""
        self._client.close()
