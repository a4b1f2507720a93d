"""Decision and trade records, and the decision log a run keeps.

:class:`DecisionLog` is a sequence of :class:`DecisionRecord`; on the precomputed path a bar
with no signal and no position is logged as its row number only (one ``int`` in a list) and
turned into a record when read, from the signal arrays (:class:`RowSource`), so a run builds
no per-bar object for the bars nothing happens on. The decision core logs every other decision
as a plain tuple of the record's fields (:meth:`DecisionLog.append_fields`): cheaper to build
than the record for a quiet bar or tick, and untracked by the cyclic garbage collector once it
has seen it (a named tuple stays tracked, and 186k of them make the run pay full collections).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, overload

from nautilus_ai.models.base import Action, Prediction

__all__ = [
    "DecisionLog",
    "DecisionRecord",
    "RecordFields",
    "RowSource",
    "TradeRecord",
    "record_prediction",
]


class DecisionRecord(NamedTuple):
    """One bar's (or quote tick's) decision (a tuple: one is built per decision).

    ``error`` is set when the predictor failed and the decision is the hold standing in for
    its answer (``reason`` then says so in words). ``on_tick``: made on a quote tick (the
    strategy's tick mode; ``ts_event`` is the tick's), not on a bar.
    """

    ts_event: int
    action: str
    confidence: float
    risk_score: float
    model_id: str
    intent: str
    quantity: float
    order_sent: bool
    reason: str
    error: str | None = None
    on_tick: bool = False


def record_prediction(record: DecisionRecord) -> Prediction:
    """The prediction a decision record was made on (what the feedback sink is given)."""
    return Prediction(Action.parse(record.action), record.confidence, record.risk_score,
                      record.model_id, 0.0, record.reason, record.error)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A closed round trip, joined to the decision that opened it."""

    ts_opened: int
    ts_closed: int
    side: str
    quantity: float
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float
    model_id: str
    exit_reason: str
    decision_ts: int


class RowSource(Protocol):
    """Where a row-only entry of a :class:`DecisionLog` gets its record from."""

    def hold_record(self, row: int) -> DecisionRecord:
        """The record of row ``row`` decided as "nothing to do"."""
        ...


#: A :class:`DecisionRecord`'s fields as a plain tuple (what :meth:`DecisionLog.append_fields`
#: keeps).
RecordFields = tuple[int, str, float, float, str, str, float, bool, str, "str | None", bool]


class DecisionLog(Sequence[DecisionRecord]):
    """The decisions of a run, in order: records, row numbers of a :class:`RowSource`, or a
    record's fields as a plain tuple."""

    __slots__ = ("_items", "_lazy", "_source")

    def __init__(self) -> None:
        self._items: list[DecisionRecord | int | RecordFields] = []
        self._source: RowSource | None = None
        self._lazy = False  # some items are not records yet

    def append(self, record: DecisionRecord) -> None:
        self._items.append(record)

    def append_row(self, row: int) -> None:
        """Log row ``row`` of the current source (a record is built only when read)."""
        self._items.append(row)
        self._lazy = True

    def append_fields(self, fields: RecordFields) -> None:
        """Log a record given as its fields (it is built only when read)."""
        self._items.append(fields)
        self._lazy = True

    def clear(self) -> None:
        """Forget every decision (what a finished run's caller does to free memory)."""
        self._items = []
        self._source = None
        self._lazy = False

    def set_source(self, source: RowSource | None) -> None:
        """Rows logged from now on belong to ``source``; rows of the previous one are turned
        into records first."""
        if self._source is not None:
            self._materialize()
        self._source = source

    def _materialize(self) -> None:
        source = self._source
        items = self._items
        for i, item in enumerate(items):
            kind = item.__class__
            if kind is int:
                assert source is not None
                items[i] = source.hold_record(item)  # type: ignore[arg-type]
            elif kind is tuple:
                items[i] = DecisionRecord(*item)  # type: ignore[misc]
        self._lazy = False

    def _record(self, item: DecisionRecord | int | RecordFields) -> DecisionRecord:
        if isinstance(item, int):
            assert self._source is not None
            return self._source.hold_record(item)
        if item.__class__ is tuple:
            return DecisionRecord(*item)
        return item  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> DecisionRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[DecisionRecord]: ...
    def __getitem__(self, index: int | slice) -> DecisionRecord | list[DecisionRecord]:
        if isinstance(index, slice):
            return [self._record(item) for item in self._items[index]]
        return self._record(self._items[index])

    def __iter__(self) -> Iterator[DecisionRecord]:
        if self._lazy:  # read once, kept: a report iterates more than once
            self._materialize()
        return iter(self._items)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DecisionLog({len(self._items)} decisions)"
