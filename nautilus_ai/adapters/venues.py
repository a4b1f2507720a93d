"""The data / execution client kinds a live config may name, resolved lazily.

A live config names each client by ``kind`` (or, for anything else, by explicit ``factory`` and
``config_path``). Resolving is lazy so a config for Interactive Brokers can be checked without
the IB client library installed (``pip install nautilus-ai[ib]`` installs it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nautilus_trader.common.config import resolve_path

__all__ = ["CLIENT_KINDS", "ClientKind", "resolve_client"]


@dataclass(frozen=True, slots=True)
class ClientKind:
    """A known client: where its factory and config class live, and what it is for."""

    role: str  # "data" or "exec"
    factory_path: str
    config_path: str
    description: str
    install_hint: str = ""


CLIENT_KINDS: dict[tuple[str, str], ClientKind] = {
    ("data", "replay"): ClientKind(
        "data",
        "nautilus_ai.adapters.replay:ReplayDataClientFactory",
        "nautilus_ai.adapters.replay:ReplayDataClientConfig",
        "replays catalog bars (+ quotes from BID/ASK bars) offline",
    ),
    ("exec", "sandbox"): ClientKind(
        "exec",
        "nautilus_trader.adapters.sandbox.factory:SandboxLiveExecClientFactory",
        "nautilus_trader.adapters.sandbox.config:SandboxExecutionClientConfig",
        "simulated fills against the live quotes of the same venue (paper trading)",
    ),
    ("data", "interactive_brokers"): ClientKind(
        "data",
        "nautilus_trader.adapters.interactive_brokers.factories:"
        "InteractiveBrokersLiveDataClientFactory",
        "nautilus_trader.adapters.interactive_brokers.config:InteractiveBrokersDataClientConfig",
        "Interactive Brokers TWS / IB Gateway market data",
        "pip install 'nautilus-ai[ib]'",
    ),
    ("exec", "interactive_brokers"): ClientKind(
        "exec",
        "nautilus_trader.adapters.interactive_brokers.factories:"
        "InteractiveBrokersLiveExecClientFactory",
        "nautilus_trader.adapters.interactive_brokers.config:InteractiveBrokersExecClientConfig",
        "Interactive Brokers order routing (real money unless the account is a paper account)",
        "pip install 'nautilus-ai[ib]'",
    ),
}


def resolve_client(role: str, spec: dict[str, Any], where: str) -> tuple[type, type]:
    """The (factory class, config class) for one client entry of a live config.

    ``spec`` has either ``kind`` (see :data:`CLIENT_KINDS`) or both ``factory`` and
    ``config_path`` (``"package.module:Name"``). Raises ``ValueError`` naming ``where``.
    """
    kind = spec.get("kind")
    if kind is not None:
        known = CLIENT_KINDS.get((role, str(kind)))
        if known is None:
            names = sorted(k for r, k in CLIENT_KINDS if r == role)
            raise ValueError(f"{where}.kind: unknown {role} client kind {kind!r}; known: {names}")
        factory_path, config_path, hint = known.factory_path, known.config_path, known.install_hint
    else:
        try:
            factory_path, config_path = str(spec["factory"]), str(spec["config_path"])
        except KeyError as exc:
            raise ValueError(
                f"{where}: give 'kind' or both 'factory' and 'config_path' (missing {exc})"
            ) from None
        hint = ""
    try:
        factory, config_cls = resolve_path(factory_path), resolve_path(config_path)
    except (ImportError, AttributeError) as exc:
        extra = f" ({hint})" if hint else ""
        raise ValueError(f"{where}: cannot import {factory_path}: {exc}{extra}") from None
    return factory, config_cls
