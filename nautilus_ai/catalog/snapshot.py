"""``FeatureSnapshot`` and ``DecisionOutcome`` as Nautilus custom data (Nautilus glue).

Decorated with Nautilus' ``@customdataclass``, which registers their Arrow schemas
(``SNAPSHOT_SCHEMA`` and ``OUTCOME_SCHEMA`` of :mod:`nautilus_ai.catalog.schema`), so
``ParquetDataCatalog.write_data([...])`` and ``catalog.query(FeatureSnapshot, ...)`` work
(``query`` returns ``CustomData`` wrappers; the snapshot is ``.data``). They can also be
published on the message bus. The logger does not build these objects: it writes the same
columns straight from numpy (:mod:`nautilus_ai.catalog.logger`), ~100x faster.

This module must not use ``from __future__ import annotations``: ``@customdataclass`` reads the
annotations as classes.
"""

from typing import Any

import numpy as np
import pyarrow as pa
from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.identifiers import InstrumentId

from nautilus_ai.catalog.schema import OUTCOME_SCHEMA, SNAPSHOT_SCHEMA

__all__ = ["DecisionOutcome", "FeatureSnapshot"]


@customdataclass
class FeatureSnapshot(Data):  # type: ignore[misc]
    """One decision: the feature vector, the prediction and what the strategy did with it.

    Construct with ``FeatureSnapshot(ts_event, ts_init, instrument_id=..., ...)`` (Nautilus'
    custom data convention: the two timestamps first). Columns are documented in
    :mod:`nautilus_ai.catalog.schema`.
    """

    instrument_id: InstrumentId
    bar_type: str
    run_id: str
    spec_hash: str
    features: tuple  # type: ignore[type-arg]  # @customdataclass needs a plain class here
    model_id: str
    action: str
    confidence: float
    risk_score: float
    latency_s: float
    reason: str
    intent: str
    quantity: float
    order_sent: bool

    _schema = SNAPSHOT_SCHEMA

    def features_array(self) -> np.ndarray:
        """The feature vector as a float64 array."""
        return np.asarray(self.features, dtype=np.float64)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> list["FeatureSnapshot"]:
        """Objects from a table of :data:`SNAPSHOT_SCHEMA` rows (column-wise, not per dict)."""
        cols = table.to_pydict()
        ids: dict[str, InstrumentId] = {}
        out = []
        for i in range(table.num_rows):
            raw_id = cols["instrument_id"][i]
            instrument_id = ids.get(raw_id) or ids.setdefault(raw_id, InstrumentId.from_str(raw_id))
            out.append(
                cls(
                    cols["ts_event"][i],
                    cols["ts_init"][i],
                    instrument_id=instrument_id,
                    bar_type=cols["bar_type"][i],
                    run_id=cols["run_id"][i],
                    spec_hash=cols["spec_hash"][i],
                    features=tuple(cols["features"][i]),
                    model_id=cols["model_id"][i],
                    action=cols["action"][i],
                    confidence=cols["confidence"][i],
                    risk_score=cols["risk_score"][i],
                    latency_s=cols["latency_s"][i],
                    reason=cols["reason"][i],
                    intent=cols["intent"][i],
                    quantity=cols["quantity"][i],
                    order_sent=cols["order_sent"][i],
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every column (the ``features`` as a list)."""
        return {
            "instrument_id": self.instrument_id.value,
            "bar_type": self.bar_type,
            "run_id": self.run_id,
            "spec_hash": self.spec_hash,
            "features": [float(v) for v in self.features],
            "model_id": self.model_id,
            "action": self.action,
            "confidence": self.confidence,
            "risk_score": self.risk_score,
            "latency_s": self.latency_s,
            "reason": self.reason,
            "intent": self.intent,
            "quantity": self.quantity,
            "order_sent": self.order_sent,
            "type": "FeatureSnapshot",
            "ts_event": self.ts_event,
            "ts_init": self.ts_init,
        }


@customdataclass
class DecisionOutcome(Data):  # type: ignore[misc]
    """A closed position joined to the decision that opened it (``decision_ts`` is that
    snapshot's ``ts_event``). ``ts_event`` and ``ts_init`` are the close time."""

    instrument_id: InstrumentId
    run_id: str
    model_id: str
    decision_ts: int
    ts_opened: int
    ts_closed: int
    holding_ns: int
    side: str
    quantity: float
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float
    exit_reason: str

    _schema = OUTCOME_SCHEMA
