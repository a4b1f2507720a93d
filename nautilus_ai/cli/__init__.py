"""``nautilus-ai <verb>``: the one command-line entry point.

Each verb group lives in its own module under ``nautilus_ai.cli`` and exposes
``register(subparsers) -> None``; heavy imports (Nautilus, torch) happen inside the handlers so
``nautilus-ai --help`` stays fast. To add a verb group, add its module name to ``VERB_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["CliError", "main"]

# Module names under nautilus_ai.cli, in help order.
VERB_MODULES: tuple[str, ...] = (
    "data",
    "backtest",
    "train",
    "finetune",
    "live",
    "control",
    "serve",
    "pine",
    "patterns",
)


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nautilus-ai",
        description="AI pattern strategies for NautilusTrader.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in VERB_MODULES:
        module = importlib.import_module(f"nautilus_ai.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except CliError as exc:
        print(f"nautilus-ai: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nautilus-ai: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nautilus-ai ... | head`): stop quietly, like other CLI tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _version() -> str:
    from nautilus_ai import __version__

    return f"nautilus-ai {__version__}"
