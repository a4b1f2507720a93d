"""``nautilus-ai live CONFIG``: run a live TradingNode from a YAML / JSON config.

``nautilus-ai live CONFIG --check`` runs every check a real start runs, up to the point where
the start would connect (see :func:`nautilus_ai.live.runner.prepare_live`): the environment
(every missing variable with its purpose), the whole config's schema, each strategy built with
its predictor, the control plane's secret and Redis URL, the trade log's folder, each replay
client's catalog, and the venues. The real start runs the same checks first.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError
from nautilus_ai.cli.backtest import resolve_packaged

__all__ = ["register"]

EXIT_SIGTERM = 143
"""Exit status of a start cut short by SIGTERM (128 + 15, as a shell reports a kill by it)."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM before the node's own handlers were installed: unwinds like Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def register(subparsers: Any) -> None:
    live = subparsers.add_parser(
        "live",
        help="run a live TradingNode from a config file (paper, replay or a real venue)",
        description="Run a live node from a YAML/JSON config: TradingNodeConfig fields, data and "
        "execution clients, the control plane and a trade log. Secrets and endpoints come from "
        "the environment (${VAR}); a missing variable is named before anything connects. "
        "Packaged configs: paper_replay_eurusd, paper_ib_eurusd, ib_idealpro_eurusd.",
    )
    live.add_argument("config", help="config file (.yaml/.yml/.json) or a packaged config name")
    live.add_argument(
        "--check",
        action="store_true",
        help="run every check a real start runs (config, environment, strategies and their "
        "predictors, control plane settings, catalogs, venues), connect nothing, then exit",
    )
    live.add_argument(
        "--max-runtime",
        type=float,
        help="stop after this many seconds (overrides run.max_runtime_secs)",
    )
    live.add_argument("--json", action="store_true", help="print the outcome as JSON")
    live.set_defaults(handler=_live)


def resolve_live_config(name: str) -> Path:
    """A path as given, or a config packaged in ``nautilus_ai.live``."""
    return resolve_packaged(name, "nautilus_ai.live", "live config")


def _live(args: argparse.Namespace) -> int:
    import dataclasses

    from nautilus_ai.live.config import LiveConfigError, load_live_config
    from nautilus_ai.live.runner import prepare_live, run_live

    try:
        run_file = load_live_config(resolve_live_config(args.config))
        checked = prepare_live(run_file)
    except LiveConfigError as exc:
        raise CliError(str(exc)) from None
    if args.max_runtime is not None:
        if not 0 < args.max_runtime < math.inf:  # nan fired at once, inf never
            raise CliError(f"--max-runtime must be a finite number > 0, was {args.max_runtime}")
        run_file = dataclasses.replace(
            run_file, run=dataclasses.replace(run_file.run, max_runtime_secs=args.max_runtime)
        )
    if args.check:
        clients = {**run_file.data_clients, **run_file.exec_clients}
        print(
            f"{run_file.path}: OK - trader {run_file.node.trader_id}, "
            f"{len(run_file.node.strategies)} strategy(ies), clients: "
            f"{', '.join(clients) or 'none'}; environment complete"
        )
        for line in checked:
            print(f"  checked {line}")
        print("  not checked: anything that needs a connection (Redis, the venue, the feed)")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Until the node's own handlers take over (once its loop is built), SIGTERM unwinds the
    # start as Ctrl-C does: the trader claims taken so far are released. Its default action
    # killed the process there, leaving the claim to lapse (a restart elsewhere refused 15 s).
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        outcome = run_live(run_file)
    except LiveConfigError as exc:  # a check failed between --check and the start
        raise CliError(str(exc)) from None
    except _Terminated:
        print("nautilus-ai: terminated (SIGTERM) while the node started", file=sys.stderr)
        return EXIT_SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(outcome.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        print(f"{outcome.name}: stopped by {outcome.stopped_by} after {outcome.seconds:.1f} s")
        for strategy_id, status in outcome.strategies.items():
            print(f"  {strategy_id}: {json.dumps(status, default=str, sort_keys=True)}")
        applied = sum(1 for reply in outcome.control if reply["status"] == "applied")
        print(f"  control: {len(outcome.control)} command(s), {applied} applied")
        if outcome.trade_log:
            print(f"  trade log: {outcome.trade_log}")
    if outcome.status != "ok":
        print(f"nautilus-ai: live run failed: {'; '.join(outcome.reasons)}", file=sys.stderr)
        return 1
    return 0
