"""Arrow schemas of the decision log: one ``FeatureSnapshot`` row per decision, one
``DecisionOutcome`` row per closed position (pure pyarrow, no Nautilus import).

The same schemas are registered with Nautilus by :mod:`nautilus_ai.catalog.snapshot`, so files
written here are read by ``ParquetDataCatalog.query(FeatureSnapshot)`` as well as by the fast
readers in :mod:`nautilus_ai.catalog.reader`.

Layout in a catalog (Nautilus' own convention for custom data)::

    <catalog>/data/custom_feature_snapshot/<run id>/<first ts_init>_<last ts_init>.parquet
    <catalog>/data/custom_decision_outcome/<run id>/<first ts_init>_<last ts_init>.parquet

One folder per logging run (a backtest or a live session), one file per flush, file names in
the catalog's timestamp format so its time filters prune files. Each file also carries, in its
Arrow schema metadata, the feature names and the full feature spec (keys in
:data:`META_FEATURE_NAMES` etc.), so a file can be interpreted on its own.

``FeatureSnapshot`` columns
    ``instrument_id``, ``bar_type``, ``run_id``, ``spec_hash``: strings; ``features``:
    ``list<double>`` (the feature vector, in spec order); ``model_id``; ``action``
    (``buy``/``sell``/``hold``); ``confidence``, ``risk_score``, ``latency_s``: doubles;
    ``reason`` (the prediction's reason, or why the sizer sized the trade to zero);
    ``intent`` (the policy's decision: ``none``,
    ``enter``, ``exit``, ``exit_timeout``, ``reverse``); ``quantity`` (the sizer's quantity, 0
    when it did not size); ``order_sent``: bool; ``type`` (``"FeatureSnapshot"``, Nautilus'
    custom data convention); ``ts_event`` (the bar's close time, UTC ns); ``ts_init`` (when the
    decision was made, UTC ns).

``DecisionOutcome`` columns
    ``instrument_id``, ``run_id``, ``model_id``; ``decision_ts`` (the ``ts_event`` of the
    snapshot whose decision opened the position: the join key); ``ts_opened``, ``ts_closed``,
    ``holding_ns``: int64; ``side`` (``long``/``short``); ``quantity``, ``avg_px_open``,
    ``avg_px_close``, ``realized_pnl``: doubles; ``exit_reason``; ``type``; ``ts_event`` and
    ``ts_init`` (both the close time).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

__all__ = [
    "META_FEATURE_NAMES",
    "META_FEATURE_SPEC",
    "META_SCHEMA_VERSION",
    "META_SPEC_HASH",
    "OUTCOME_DIR",
    "OUTCOME_SCHEMA",
    "OUTCOME_TYPE",
    "SCHEMA_VERSION",
    "SNAPSHOT_DIR",
    "SNAPSHOT_SCHEMA",
    "SNAPSHOT_TYPE",
    "check_identifier",
    "ns_to_file_timestamp",
    "parquet_file_name",
]

SCHEMA_VERSION = 1
#: Class names (the ``type`` column) and the catalog folders Nautilus derives from them.
SNAPSHOT_TYPE = "FeatureSnapshot"
OUTCOME_TYPE = "DecisionOutcome"
SNAPSHOT_DIR = "custom_feature_snapshot"
OUTCOME_DIR = "custom_decision_outcome"

META_SCHEMA_VERSION = "nautilus_ai.schema_version"
META_FEATURE_NAMES = "nautilus_ai.feature_names"
META_FEATURE_SPEC = "nautilus_ai.feature_spec"
META_SPEC_HASH = "nautilus_ai.spec_hash"

SNAPSHOT_SCHEMA = pa.schema(
    [
        ("instrument_id", pa.string()),
        ("bar_type", pa.string()),
        ("run_id", pa.string()),
        ("spec_hash", pa.string()),
        ("features", pa.list_(pa.float64())),
        ("model_id", pa.string()),
        ("action", pa.string()),
        ("confidence", pa.float64()),
        ("risk_score", pa.float64()),
        ("latency_s", pa.float64()),
        ("reason", pa.string()),
        ("intent", pa.string()),
        ("quantity", pa.float64()),
        ("order_sent", pa.bool_()),
        ("type", pa.string()),
        ("ts_event", pa.int64()),
        ("ts_init", pa.int64()),
    ]
)

OUTCOME_SCHEMA = pa.schema(
    [
        ("instrument_id", pa.string()),
        ("run_id", pa.string()),
        ("model_id", pa.string()),
        ("decision_ts", pa.int64()),
        ("ts_opened", pa.int64()),
        ("ts_closed", pa.int64()),
        ("holding_ns", pa.int64()),
        ("side", pa.string()),
        ("quantity", pa.float64()),
        ("avg_px_open", pa.float64()),
        ("avg_px_close", pa.float64()),
        ("realized_pnl", pa.float64()),
        ("exit_reason", pa.string()),
        ("type", pa.string()),
        ("ts_event", pa.int64()),
        ("ts_init", pa.int64()),
    ]
)

# A run id becomes a folder name: keep it to a safe, portable alphabet.
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+\-]{0,127}$")


def check_identifier(value: str, what: str = "run_id") -> str:
    """Return ``value`` if it is a safe folder name (letters, digits, ``_ . = + -``), else raise."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(
            f"{what} must be 1-128 characters of letters, digits and _ . = + - (starting with a "
            f"letter or digit), was {value!r}"
        )
    return value


def ns_to_file_timestamp(ns: int) -> str:
    """UTC ns -> the catalog's file-name timestamp, ``2017-01-02T07-01-00-000000000Z``.

    Identical to Nautilus' ``_timestamps_to_filename`` halves (a test checks it), without
    importing Nautilus.
    """
    if ns < 0:
        raise ValueError(f"timestamp must be >= 0 ns, was {ns}")
    seconds, nanos = divmod(int(ns), 1_000_000_000)
    text = str(np.datetime64(seconds, "s"))  # YYYY-MM-DDTHH:MM:SS
    return f"{text.replace(':', '-')}-{nanos:09d}Z"


def parquet_file_name(first_ns: int, last_ns: int) -> str:
    """``<first>_<last>.parquet`` as the catalog names a file of rows with these ``ts_init``."""
    if last_ns < first_ns:
        raise ValueError(f"last timestamp {last_ns} is before the first {first_ns}")
    return f"{ns_to_file_timestamp(first_ns)}_{ns_to_file_timestamp(last_ns)}.parquet"
