"""The decision core: policy, sizing, risk controls, per-model statistics and records.

Pure (no Nautilus import): strategies feed it plain floats and turn its answers into orders.
"""

from nautilus_ai.decision.controls import RiskControls
from nautilus_ai.decision.core import ACTION_NAMES, AccountView, Decision, DecisionCore, TradeSink
from nautilus_ai.decision.records import DecisionLog, DecisionRecord, RowSource, TradeRecord
from nautilus_ai.decision.stats import KellyInputs, ModelStats

__all__ = [
    "ACTION_NAMES",
    "AccountView",
    "Decision",
    "DecisionCore",
    "DecisionLog",
    "DecisionRecord",
    "KellyInputs",
    "ModelStats",
    "RiskControls",
    "RowSource",
    "TradeRecord",
    "TradeSink",
]
