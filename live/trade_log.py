"""TradeLogActor: a JSON-lines trade log written as events happen (crash-safe, one line each).

It records, for every strategy of the node: order fills (with the order's tags, which carry the
``model=`` id), rejections and denials, positions opened / closed (with realised PnL), and every
control outcome the :class:`~nautilus_ai.strategies.controller.RemoteController` publishes (pause,
resume, flatten, set-risk, switch-model, status; applied, rejected or failed, with the reason).

A record that cannot be written (a full disk, a file system gone read-only, the file unopenable)
never reaches the node's event handling, which called the actor: it is counted, logged as an
error (the first, then at most once a minute) and named in :attr:`TradeLogActor.problem`, which
fails the live run; the log goes on with the next record that can be written, on a new line.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import IO, Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.events import (
    OrderDenied,
    OrderFilled,
    OrderRejected,
    PositionClosed,
    PositionOpened,
)

from nautilus_ai.strategies.controller import CONTROL_REPLY_TOPIC

__all__ = ["TradeLogActor", "TradeLogConfig", "read_trade_log"]


class TradeLogConfig(ActorConfig, frozen=True, kw_only=True):
    """
    Parameters
    ----------
    path : str
        The JSON-lines file (appended to; its folder is created).
    """

    path: str


class TradeLogActor(Actor):
    """Appends one JSON object per trading or control event to ``config.path``."""

    #: Seconds between two error lines about records that could not be written.
    ERROR_EVERY_SECS = 60.0

    def __init__(self, config: TradeLogConfig) -> None:
        super().__init__(config)
        self._path = Path(config.path)
        self._file: IO[bytes] | None = None
        self._opened = False
        self._torn = False  # the file may end mid-line: the next record starts a new one
        self._next_error = 0.0
        self.lines = 0
        #: Records that could not be written, and the last error (``None``: none so far).
        self.lost = 0
        self.error: str | None = None

    @property
    def problem(self) -> str | None:
        """Why the log is incomplete (records lost, with the last error), or ``None``."""
        if not self.lost:
            return None
        return (
            f"trade log {self._path}: {self.lost} of {self.lost + self.lines} record(s) could "
            f"not be written ({self.error}); the log is incomplete"
        )

    def on_start(self) -> None:
        if not self._opened:  # a restart of the same node keeps writing to the open file
            self._opened = True
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                # a write cut short by a kill or a full disk: start on a new line
                self._torn = _ends_mid_line(self._path)
                # Unbuffered: a record either reaches the file in one write or is counted lost,
                # never kept in a buffer to come out later, glued to another.
                self._file = self._path.open("ab", buffering=0)
            except OSError as exc:  # every record is lost (counted as it comes)
                self._failed(exc, lost=0)
            self.msgbus.subscribe(topic="events.order.*", handler=self._on_order_event)
            self.msgbus.subscribe(topic="events.position.*", handler=self._on_position_event)
            self.msgbus.subscribe(topic=CONTROL_REPLY_TOPIC, handler=self._on_control)
        self._write(
            {"event": "start", "trader_id": self.trader_id.value, "ts": self.clock.timestamp_ns()}
        )

    # Nautilus stops the actors before the strategies, and a strategy closes its position in
    # its own on_stop: the log stays open through the node's post-stop wait for those fills,
    # and ends (``stop``) when the node disposes of it.

    def on_dispose(self) -> None:
        self._write({"event": "stop", "ts": self.clock.timestamp_ns()})
        if self.lost:
            self.log.error(self.problem or "")
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, record: dict[str, Any]) -> None:
        if not self._opened:
            return
        if self._file is None:  # could not be opened: every record is lost
            self.lost += 1
            return
        data = (json.dumps(record, default=str, sort_keys=True) + "\n").encode("utf-8")
        if self._torn:
            data = b"\n" + data  # the torn record stays alone on its line
        try:
            written = self._file.write(data)
            if written != len(data):
                raise OSError(f"short write: {written} of {len(data)} bytes")
        except OSError as exc:  # never into the node's event handling, which called us
            self._torn = True
            self._failed(exc)
            return
        if self._torn and self.lost:
            self.log.warning(f"Trade log {self._path}: writing again after {self.lost} lost")
        self._torn = False
        self.lines += 1

    def _failed(self, exc: OSError, lost: int = 1) -> None:
        """Count a lost record; log the error (the first, then at most once a minute)."""
        self.lost += lost
        self.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        now = time.monotonic()
        if now >= self._next_error:
            self._next_error = now + self.ERROR_EVERY_SECS
            self.log.error(
                f"Trade log {self._path}: {self.error}; {self.lost} record(s) not written so "
                "far; trading goes on, the run will fail naming the log"
            )

    def _on_order_event(self, event: Any) -> None:
        if isinstance(event, OrderFilled):
            order = self.cache.order(event.client_order_id)
            self._write(
                {
                    "event": "fill",
                    "ts": event.ts_event,
                    "strategy_id": event.strategy_id.value,
                    "instrument_id": event.instrument_id.value,
                    "client_order_id": event.client_order_id.value,
                    "side": "buy" if event.is_buy else "sell",
                    "quantity": float(event.last_qty),
                    "price": float(event.last_px),
                    "commission": str(event.commission),
                    "position_id": event.position_id.value if event.position_id else None,
                    "tags": list(order.tags or []) if order is not None else [],
                }
            )
        elif isinstance(event, OrderRejected | OrderDenied):
            self._write(
                {
                    "event": "order_rejected" if isinstance(event, OrderRejected) else "denied",
                    "ts": event.ts_event,
                    "strategy_id": event.strategy_id.value,
                    "client_order_id": event.client_order_id.value,
                    "reason": str(event.reason),
                }
            )

    def _on_position_event(self, event: Any) -> None:
        if isinstance(event, PositionOpened):
            self._write(
                {
                    "event": "position_opened",
                    "ts": event.ts_event,
                    "strategy_id": event.strategy_id.value,
                    "position_id": event.position_id.value,
                    "side": event.side.name.lower(),
                    "quantity": float(event.quantity),
                    "avg_px_open": event.avg_px_open,
                }
            )
        elif isinstance(event, PositionClosed):
            self._write(
                {
                    "event": "position_closed",
                    "ts": event.ts_event,
                    "strategy_id": event.strategy_id.value,
                    "position_id": event.position_id.value,
                    "side": "long" if event.entry.name == "BUY" else "short",
                    "quantity": float(event.peak_qty),
                    "avg_px_open": event.avg_px_open,
                    "avg_px_close": event.avg_px_close,
                    "realized_pnl": str(event.realized_pnl),
                }
            )

    def _on_control(self, message: Any) -> None:
        try:
            reply = json.loads(message)
        except (TypeError, ValueError):
            reply = {"raw": str(message)}
        self._write({"event": "control", "ts": self.clock.timestamp_ns(), **reply})


def read_trade_log(path: str | Path) -> list[dict[str, Any]]:
    """All records of a trade log, in order. A line that is not a JSON record (a write cut
    short when the node was killed or the disk filled) is skipped with a warning naming it."""
    records = []
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                warnings.warn(
                    f"{path}:{number}: not a JSON record, skipped (a write cut short?): "
                    f"{line.strip()[:80]!r}",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            records.append(record)
    return records


def _ends_mid_line(path: Path) -> bool:
    """Whether ``path`` exists and its last byte is not a newline."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            if handle.tell() == 0:
                return False
            handle.seek(-1, 2)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False
