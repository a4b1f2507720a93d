"""``nautilus-ai <verb>``: the one command-line entry point.

Each verb group lives in its own module under ``nautilus_ai.cli`` and exposes
``register(subparsers) -> None``; heavy imports (Nautilus, torch) happen inside the handlers so
``nautilus-ai --help`` stays fast. To add a verb group, add its module name to ``VERB_MODULES``.

Errors are one line on stderr (``nautilus-ai: error: ...``): usage and config errors exit 2,
anything unexpected exits 1; ``nautilus-ai --debug VERB ...`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["CliError", "OneLineParser", "main"]

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
    "experiment",
    "doctor",
)


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (``nautilus-ai: error: ...``, exit 2), with the nearest valid
    option or command when an argument is misspelt."""

    #: The arguments being parsed (set by :func:`main`), so a hint follows the command given.
    argv: Sequence[str] | None = None

    def error(self, message: str) -> NoReturn:
        # Arguments left over are reported by the top parser: name the command they were given to.
        command = _given_command(self, self.argv or ())
        hint = _nearest_argument(command, message) or _dash_value_hint(message, _ARGV)
        verb = command.prog.removeprefix("nautilus-ai").strip()
        where = f"{verb}: " if verb else ""
        print(
            f"nautilus-ai: error: {where}{message}{hint} (see '{command.prog} --help')",
            file=sys.stderr,
        )
        sys.exit(2)


#: The arguments :func:`main` parses (a sub-command's parser has no ``argv`` of its own).
_ARGV: list[str] = []


def _dash_value_hint(message: str, argv: Sequence[str]) -> str:
    """``--clock -05:00`` is read by argparse as a flag with no value ('expected one
    argument'): say how to give a value that starts with '-'."""
    match = re.search(r"argument (--[\w-]+)(?:/\S+)?: expected one argument", message)
    if match is None:
        return ""
    flag = match.group(1)
    for given, value in itertools.pairwise(argv):
        if given == flag and value.startswith("-") and not value.startswith("--"):
            return f"; a value starting with '-' goes after '=': {flag}={value}"
    return ""


def _nearest_argument(parser: argparse.ArgumentParser, message: str) -> str:
    import difflib

    match = re.search(r"unrecognized arguments: (\S+)", message)
    if match is None:
        match = re.search(r"invalid choice: '([^']*)'", message)
    if match is None:
        return ""
    word = match.group(1).split("=", 1)[0]
    # Only the given command's options (and its sub-commands') are candidates: 'experiment run
    # --check' was told "did you mean '--check'?", an option of backtest.
    options: list[str] = []
    parsers = [parser]
    while parsers:  # this parser's options and commands, and those of its sub-commands
        current = parsers.pop()
        for action in current._actions:
            options += action.option_strings
            if isinstance(action, argparse._SubParsersAction):
                options += list(action.choices)
                parsers += list(action.choices.values())
            elif action.choices:
                options += [str(c) for c in action.choices]
    found = difflib.get_close_matches(word, [o for o in options if o != word], n=1, cutoff=0.7)
    return f"; did you mean {found[0]!r}?" if found else ""


def _given_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The innermost sub-command parser that ``argv`` selects (``parser`` itself if none)."""
    for token in argv:
        commands = next(
            (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None
        )
        if commands is None:
            break
        if token in commands.choices:
            parser = commands.choices[token]
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="nautilus-ai",
        description="AI pattern strategies for NautilusTrader.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (for bug reports)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in VERB_MODULES:
        module = importlib.import_module(f"nautilus_ai.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:  # the verbs' modules load here (a second or so): Ctrl-C in it was a traceback
        parser = build_parser()
        _ARGV[:] = list(sys.argv[1:] if argv is None else argv)
        if isinstance(parser, OneLineParser):
            parser.argv = list(_ARGV)
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("nautilus-ai: interrupted", file=sys.stderr)
        return 130
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from nautilus_ai.compat import range_warning
    from nautilus_ai.extras import MissingExtraError

    unsupported = range_warning()
    if unsupported is not None:  # run anyway (a newer release may well work), but say so
        print(f"nautilus-ai: warning: {unsupported}", file=sys.stderr)
    debug = bool(getattr(args, "debug", False))
    try:
        return int(handler(args) or 0)
    except (CliError, MissingExtraError) as exc:
        # MissingExtraError: a core-only install asked for torch & co; the line names the extra.
        if debug:
            traceback.print_exc()
        # One line, whatever a library's message wrapped into it held (a tokenizer's error is
        # five lines): a wrapper or a log reader takes the first line for the error.
        print(f"nautilus-ai: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except ImportError as exc:
        # An optional library met deep inside a command (pynescript, faiss, lightgbm, ray ...):
        # the line names the extra, as require_extra's do, instead of the catch-all below. A
        # library's own ImportError raised for it (its message written for the user, the
        # missing module as its context) is printed as it is.
        from nautilus_ai.extras import missing_extra_of

        absent = exc if isinstance(exc, ModuleNotFoundError) else exc.__context__
        missing = None
        if isinstance(absent, ModuleNotFoundError):
            missing = missing_extra_of(absent, f"nautilus-ai {args.command}")
        if missing is None:
            return _unexpected(exc, debug)
        if debug:
            traceback.print_exc()
        text = missing if absent is exc else " ".join(str(exc).split())
        print(f"nautilus-ai: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nautilus-ai: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nautilus-ai ... | head`): stop quietly, like other CLI tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug or an unexpected failure: one line unless --debug
        return _unexpected(exc, debug)


def _unexpected(exc: Exception, debug: bool) -> int:
    if debug:
        raise exc
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(
        f"nautilus-ai: error: {type(exc).__name__}: {message} (run with --debug for the traceback)",
        file=sys.stderr,
    )
    return 1


def _version() -> str:
    from nautilus_ai import __version__

    return f"nautilus-ai {__version__}"
