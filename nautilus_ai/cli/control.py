"""``nautilus-ai control VERB``: send one signed command to a running node and print the reply.

The secret comes from ``$NAUTILUS_AI_CONTROL_SECRET`` and the Redis URL from ``--redis-url`` or
``$NAUTILUS_AI_REDIS_URL``. Exit status: 0 applied, 1 rejected or failed, 3 no reply in time
(or Redis lost once the command was sent, or while it was written: it may still be applied;
``nautilus-ai control history`` shows whether it was).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]

EXIT_REFUSED = 1
EXIT_TIMEOUT = 3
MAX_HISTORY = 1_000_000
"""Most replies ``history --count`` prints (the node caps its reply stream at ~100k)."""


def register(subparsers: Any) -> None:
    control = subparsers.add_parser(
        "control",
        help="send a signed control command to a running node (pause, resume, flatten, ...)",
        description="Send one signed command over Redis and print the node's reply as JSON. "
        "Needs $NAUTILUS_AI_CONTROL_SECRET; Redis from --redis-url or $NAUTILUS_AI_REDIS_URL. "
        "Exit 0 applied, 1 rejected/failed, 3 no reply in time (or Redis lost once the command "
        "may have been sent: see `control history`).",
    )
    verbs = control.add_subparsers(dest="control_verb", metavar="VERB", required=True)

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
        parser.add_argument("--trader", required=True, help="trader id, e.g. TRADER-001")
        parser.add_argument("--strategy", required=True, help="strategy id, e.g. AIPattern-001")
        parser.add_argument(
            "--redis-url", help="default: $NAUTILUS_AI_REDIS_URL or redis://127.0.0.1:6379/0"
        )
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="seconds to wait for the reply (default 10)"
        )
        parser.set_defaults(handler=_send, command_type=name.replace("-", "_"))
        return parser

    from nautilus_ai.control.schema import COMMANDS

    for spec in COMMANDS.values():  # one verb per registered command
        parser = verb(spec.verb, spec.help)
        for option in spec.options:
            parser.add_argument(
                option.flag, type=option.type, default=option.default, help=option.help
            )
        if spec.name == "switch_model":  # a config inline or in a file
            source = parser.add_mutually_exclusive_group(required=True)
            source.add_argument(
                "--config", help='predictor config as JSON, e.g. \'{"kind": "rule"}\''
            )
            source.add_argument("--config-file", help="predictor config in a JSON file")

    history = verbs.add_parser("history", help="print the most recent replies (audit trail)")
    history.add_argument("--trader", required=True, help="trader id")
    history.add_argument("--redis-url", help="default: $NAUTILUS_AI_REDIS_URL")
    history.add_argument("--count", type=int, default=20, help="how many (default 20)")
    history.set_defaults(handler=_history)


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    from nautilus_ai.control.schema import COMMANDS

    kind = args.command_type
    fields = {option.field: getattr(args, option.field) for option in COMMANDS[kind].options}
    if kind == "switch_model":
        text = args.config
        where = "--config"
        if args.config_file:
            where = args.config_file
            try:
                text = Path(args.config_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise CliError(f"cannot read {args.config_file}: {exc.strerror}") from None
            except UnicodeDecodeError as exc:  # a binary file, another encoding
                raise CliError(
                    f"{args.config_file} is not UTF-8 text (byte {exc.start}): {exc.reason}"
                ) from None
        try:
            fields["config"] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{where} is not JSON: {exc}") from None
        except RecursionError:  # nested deeper than Python's parser goes: no predictor config
            raise CliError(f"{where} is nested too deeply to be a predictor config") from None
    return fields


def _client(
    trader: str, redis_url: str | None, *, need_secret: bool = True, poll_ms: int = 500
) -> Any:
    from nautilus_ai.control import (
        ControlClient,
        MissingSecretError,
        RedisSettings,
        StreamNames,
        connect,
        load_secret,
        redis_url_from_env,
    )

    try:
        secret = load_secret() if need_secret else b""
        names = StreamNames(trader)
        settings = RedisSettings(url=redis_url_from_env(redis_url))
    except (MissingSecretError, ValueError) as exc:
        raise CliError(str(exc)) from None
    redis_client = connect(settings, extra_socket_timeout=poll_ms / 1000.0)
    return ControlClient(redis_client, names, secret, poll_ms=poll_ms), settings


def _send(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from nautilus_ai.control import InvalidCommandError, ReplyTimeoutError

    if not 0 < args.timeout < math.inf:  # NaN too: checked before anything is sent
        raise CliError(f"--timeout must be a finite number of seconds > 0, was {args.timeout}")
    client, settings = _client(args.trader, args.redis_url)
    try:
        command = client.command(args.command_type, args.strategy, **_fields(args))
    except InvalidCommandError as exc:
        raise CliError(str(exc)) from None
    try:
        cursor = client.reply_cursor()
    except (RedisError, OSError) as exc:  # nothing was sent
        raise CliError(f"Redis at {settings.redacted_url}: {type(exc).__name__}: {exc}") from None
    try:
        entry_id = client.send(command)
    except (RedisError, OSError) as exc:
        # Redis answered a moment ago: the connection broke while the command was written or
        # its acknowledgement read, so it may be in the stream (and applied) all the same.
        print(
            f"nautilus-ai: {command.type} command {command.command_id} may or may not have been "
            f"sent (the connection to Redis at {settings.redacted_url} broke while it was "
            f"written: {type(exc).__name__}: {' '.join(str(exc).split())}) and may still be "
            f"applied; see nautilus-ai control history --trader {args.trader} before sending it "
            "again",
            file=sys.stderr,
        )
        return EXIT_TIMEOUT
    try:
        reply = client.wait_for_reply(command.command_id, cursor, args.timeout)
    except ReplyTimeoutError as exc:
        print(f"nautilus-ai: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except (RedisError, OSError) as exc:  # sent: the node may apply it, say so
        print(
            f"nautilus-ai: {command.type} command {command.command_id} was sent (stream entry "
            f"{entry_id}) and may still be applied, but its reply could not be read: Redis at "
            f"{settings.redacted_url}: {type(exc).__name__}: {' '.join(str(exc).split())}; see "
            f"nautilus-ai control history --trader {args.trader}",
            file=sys.stderr,
        )
        return EXIT_TIMEOUT
    print(json.dumps(reply.model_dump(mode="json"), indent=2, sort_keys=True))
    return 0 if reply.ok else EXIT_REFUSED


def _history(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from nautilus_ai.control.client import MalformedReplyError
    from nautilus_ai.control.signing import SECRET_ENV

    if not 1 <= args.count <= MAX_HISTORY:  # Redis refuses a count beyond 2**63 - 1
        raise CliError(f"--count must be in [1, {MAX_HISTORY:_}], was {args.count}")
    # With the secret each reply's signature is checked; without it the trail still prints.
    checked = bool(os.environ.get(SECRET_ENV))
    client, settings = _client(args.trader, args.redis_url, need_secret=checked)
    if not checked:
        print(f"nautilus-ai: ${SECRET_ENV} is not set: the replies' signatures are not checked",
              file=sys.stderr)  # fmt: skip
    try:
        replies = client.replies(args.count)
    except (RedisError, OSError) as exc:
        raise CliError(f"Redis at {settings.redacted_url}: {type(exc).__name__}: {exc}") from None
    malformed = 0
    for reply in replies:
        if isinstance(reply, MalformedReplyError):
            malformed += 1
            print(f"nautilus-ai: {reply}", file=sys.stderr)
        else:
            print(reply.to_json())
    return EXIT_REFUSED if malformed else 0
