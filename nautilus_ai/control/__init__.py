"""The control plane: signed commands to running strategies over Redis Streams.

Pure parts (no Nautilus import): the command schema, HMAC signing, the replay guard, the gate
that checks every command, the inbox that hands commands to the strategy's thread, the applier
that calls the strategy, and backtest schedules. Redis parts: the node-side listener and the
sender-side client. The Nautilus glue is ``nautilus_ai.strategies.controller``.
"""

from nautilus_ai.control.applier import Controllable, GuardedTarget, apply_command, json_safe
from nautilus_ai.control.client import ControlClient, ReplyTimeoutError
from nautilus_ai.control.gate import Accepted, CommandGate, Rejected, TimeWindow
from nautilus_ai.control.inbox import CommandInbox, InboxFullError
from nautilus_ai.control.listener import ControlListener, ListenerStats
from nautilus_ai.control.local_server import LocalRedisServer
from nautilus_ai.control.plane import ControlPlane
from nautilus_ai.control.presence import TraderClaim, TraderClaimedError
from nautilus_ai.control.replay import (
    LayeredNonceStore,
    MemoryNonceStore,
    NonceStore,
    NonceVerdict,
    RedisNonceStore,
)
from nautilus_ai.control.schedule import ScheduledCommand, parse_schedule, schedule_problems
from nautilus_ai.control.schema import (
    COMMAND_TYPES,
    COMMANDS,
    CliOption,
    CommandReply,
    CommandSpec,
    ControlCommand,
    FlattenCommand,
    InvalidCommandError,
    PauseCommand,
    ReplyStatus,
    ResumeCommand,
    SetRiskCommand,
    StatusCommand,
    SwitchModelCommand,
    canonical_json,
    parse_command,
)
from nautilus_ai.control.signing import (
    SECRET_ENV,
    MissingSecretError,
    SignedEnvelope,
    load_secret,
    seal,
    sign,
    sign_reply,
    verify_reply,
    verify_signature,
)
from nautilus_ai.control.transport import (
    REDIS_URL_ENV,
    Backoff,
    RedisSettings,
    StreamNames,
    connect,
    redis_url_from_env,
)

__all__ = [
    "Accepted",
    "Backoff",
    "COMMANDS",
    "COMMAND_TYPES",
    "CliOption",
    "CommandGate",
    "CommandInbox",
    "CommandReply",
    "CommandSpec",
    "ControlClient",
    "ControlCommand",
    "ControlListener",
    "ControlPlane",
    "Controllable",
    "FlattenCommand",
    "GuardedTarget",
    "InboxFullError",
    "InvalidCommandError",
    "LayeredNonceStore",
    "ListenerStats",
    "LocalRedisServer",
    "MemoryNonceStore",
    "MissingSecretError",
    "NonceStore",
    "NonceVerdict",
    "PauseCommand",
    "REDIS_URL_ENV",
    "RedisNonceStore",
    "RedisSettings",
    "Rejected",
    "ReplyStatus",
    "ReplyTimeoutError",
    "ResumeCommand",
    "SECRET_ENV",
    "ScheduledCommand",
    "SetRiskCommand",
    "SignedEnvelope",
    "StatusCommand",
    "StreamNames",
    "SwitchModelCommand",
    "TimeWindow",
    "TraderClaim",
    "TraderClaimedError",
    "apply_command",
    "canonical_json",
    "connect",
    "json_safe",
    "load_secret",
    "parse_command",
    "parse_schedule",
    "redis_url_from_env",
    "schedule_problems",
    "seal",
    "sign",
    "sign_reply",
    "verify_reply",
    "verify_signature",
]
