"""Live deployments (installed as ``nautilus_ai.live``): config files, the runner and the trade log.

``nautilus-ai live CONFIG`` runs a ``TradingNode`` from a YAML / JSON config; the packaged configs
are ``paper_replay_eurusd`` (offline: replayed bars + Sandbox), ``paper_ib_eurusd`` (Sandbox fills
over Interactive Brokers data) and ``ib_idealpro_eurusd`` (real orders on IB IDEALPRO).
"""

from nautilus_ai.live.config import (
    ClientSpec,
    LiveConfigError,
    LiveFileSchema,
    LiveRunFile,
    MissingEnvironmentError,
    RunOptions,
    check_environment,
    load_live_config,
)
from nautilus_ai.live.runner import LiveOutcome, build_node, prepare_live, run_live
from nautilus_ai.live.trade_log import TradeLogActor, TradeLogConfig, read_trade_log

__all__ = [
    "ClientSpec",
    "LiveConfigError",
    "LiveFileSchema",
    "LiveOutcome",
    "LiveRunFile",
    "MissingEnvironmentError",
    "RunOptions",
    "TradeLogActor",
    "TradeLogConfig",
    "build_node",
    "check_environment",
    "load_live_config",
    "prepare_live",
    "read_trade_log",
    "run_live",
]
