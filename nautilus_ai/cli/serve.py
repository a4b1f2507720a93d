"""``nautilus-ai serve package|start|stop|status``: TorchServe for our models.

TorchServe 0.12.0 is in limited maintenance upstream (no further releases or security fixes).
``start`` binds every listener to loopback and keeps token auth on unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="package, start and stop TorchServe")
    verbs = parser.add_subparsers(dest="serve_command", metavar="VERB")
    parser.set_defaults(handler=lambda args: _help(parser))

    package = verbs.add_parser("package", help="build a .mar archive for a model")
    package.add_argument("source", type=Path, help="model artifact folder or HF model directory")
    package.add_argument("--kind", choices=("torch", "transformers"), required=True)
    package.add_argument("--name", required=True, help="model name clients call")
    package.add_argument("--store", type=Path, required=True, help="model store folder")
    package.add_argument("--version", default="1.0")
    package.add_argument("--batch-size", type=int, default=1, help="server-side batch size")
    package.add_argument("--max-batch-delay-ms", type=int, default=5)
    package.add_argument("--workers", type=int, default=1)
    package.add_argument("--response-timeout-s", type=int, default=120)
    package.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="loader option (transformers: TransformersConfig field), e.g. answer_mode='\"json\"'",
    )
    package.set_defaults(handler=_package)

    start = verbs.add_parser("start", help="start TorchServe (loopback, token auth on)")
    start.add_argument("--store", type=Path, required=True)
    start.add_argument("--workdir", type=Path, required=True, help="this server's own folder")
    start.add_argument("--model", action="append", default=[], help="NAME=FILE.mar to load")
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--allow-non-loopback", action="store_true")
    for port in ("inference", "management", "metrics", "grpc-inference", "grpc-management"):
        start.add_argument(f"--{port}-port", type=int, default=0, help="0 picks a free port")
    start.add_argument(
        "--no-token-auth", action="store_true", help="disable token auth (local tests only)"
    )
    start.add_argument("--token-expiration-min", type=int, default=60)
    start.add_argument("--log-level", default="WARN", choices=("DEBUG", "INFO", "WARN", "ERROR"))
    start.add_argument("--timeout-s", type=_seconds, default=180.0, help="wait for READY workers")
    start.add_argument("--no-wait", action="store_true")
    start.set_defaults(handler=_start)

    stop = verbs.add_parser("stop", help="stop the TorchServe started from --workdir")
    stop.add_argument("--workdir", type=Path, required=True)
    stop.add_argument("--timeout-s", type=_seconds, default=30.0)
    stop.set_defaults(handler=_stop)

    status = verbs.add_parser("status", help="pid, addresses and key file of a server")
    status.add_argument("--workdir", type=Path, required=True)
    status.set_defaults(handler=_status)


def _seconds(text: str) -> float:
    """A wait in seconds: finite and > 0 (NaN or inf would make the wait endless)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _package(args: argparse.Namespace) -> int:
    from nautilus_ai.extras import require_extra

    require_extra("serve", "nautilus-ai serve package")
    from nautilus_ai.serving import ArchiveError, build_archive

    options: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--option must be KEY=JSON, was {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value  # a bare string
    try:
        mar = build_archive(
            args.source,
            kind=args.kind,
            model_name=args.name,
            export_dir=args.store,
            version=args.version,
            batch_size=args.batch_size,
            max_batch_delay_ms=args.max_batch_delay_ms,
            workers=args.workers,
            response_timeout_s=args.response_timeout_s,
            options=options,
        )
    except ArchiveError as exc:
        raise CliError(str(exc)) from exc
    print(mar)
    return 0


def _start(args: argparse.Namespace) -> int:
    from nautilus_ai.extras import require_extra

    require_extra("serve", "nautilus-ai serve start")
    from nautilus_ai.serving import TorchServeError, TorchServeProcess, TorchServeSettings

    if args.host not in _LOOPBACK and not args.allow_non_loopback:
        raise CliError(
            f"--host {args.host} is not loopback; TorchServe 0.12 gets no security fixes. "
            "Put an authenticated proxy in front, then pass --allow-non-loopback."
        )
    if not args.store.is_dir():
        raise CliError(f"--store {args.store} is not a folder")
    try:
        settings = TorchServeSettings(
            model_store=args.store,
            workdir=args.workdir,
            models=tuple(args.model),
            host=args.host,
            inference_port=args.inference_port,
            management_port=args.management_port,
            metrics_port=args.metrics_port,
            grpc_inference_port=args.grpc_inference_port,
            grpc_management_port=args.grpc_management_port,
            token_auth=not args.no_token_auth,
            token_expiration_min=args.token_expiration_min,
            log_level=args.log_level,
        )
        server = TorchServeProcess(settings)
        server.start()
        if not args.no_wait:
            names = [m.split("=", 1)[0] if "=" in m else Path(m).stem for m in args.model]
            try:
                server.wait_ready(names, timeout_s=args.timeout_s)
            except BaseException:  # not ready, or Ctrl-C: never leave it running unseen
                server.stop()
                raise
    except (TorchServeError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    _print_status(server)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from nautilus_ai.serving import TorchServeError, TorchServeProcess

    try:
        server = TorchServeProcess.from_workdir(args.workdir)
        was = server.pid()
        server.stop(timeout_s=args.timeout_s)
    except TorchServeError as exc:
        raise CliError(str(exc)) from exc
    print(f"stopped pid {was}" if was else "not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from nautilus_ai.serving import TorchServeError, TorchServeProcess

    try:
        server = TorchServeProcess.from_workdir(args.workdir)
    except TorchServeError as exc:
        raise CliError(str(exc)) from exc
    _print_status(server)
    return 0 if server.pid() is not None else 1


def _print_status(server: Any) -> None:
    print(
        json.dumps(
            {
                "pid": server.pid(),
                "inference_url": server.inference_url,
                "management_url": server.management_url,
                "metrics_url": server.metrics_url,
                "key_file": str(server.key_file) if server.settings.token_auth else None,
                "logs": str(server.log_dir),
            },
            indent=2,
        )
    )
