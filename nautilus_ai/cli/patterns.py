"""``nautilus-ai patterns build|query|stats``: the pattern memory from the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    patterns = subparsers.add_parser(
        "patterns",
        help="pattern memory: build a store from bars or a decision log, query it, describe it",
        description="Past windows with their outcomes (forward return, triple barrier, MFE/MAE), "
        "stored in the catalog under patterns/<feature spec hash>/<name>/ with an ANN index "
        "beside them. A query at time t only sees patterns whose outcome was known before t.",
    )
    verbs = patterns.add_subparsers(dest="patterns_command", metavar="VERB")

    build = verbs.add_parser("build", help="build (or rebuild) a store and its index")
    build.add_argument("--catalog", required=True, help="catalog path")
    build.add_argument("--name", required=True, help="store name (a folder name)")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--bar-type", help="build from these bars")
    source.add_argument("--run-id", help="build from this logged run (FeatureSnapshots)")
    build.add_argument("--start", help="first bar (UTC, inclusive)")
    build.add_argument("--end", help="end (UTC, exclusive): outcomes past it are left out")
    build.add_argument("--shape-bars", type=int, default=32)
    build.add_argument("--horizon", type=int, default=30, help="outcome bars (default: 30)")
    build.add_argument("--barrier-atr", type=float, default=3.0)
    build.add_argument("--spread-pips", type=float, default=0.3)
    build.add_argument("--index-mode", choices=("ivf", "exact"), default="ivf")
    build.add_argument("--json", action="store_true")
    build.set_defaults(handler=_build)

    query = verbs.add_parser("query", help="the k past windows most like a bar, and what followed")
    _store_arguments(query)
    query.add_argument("--bar-type", required=True, help="bars of the query")
    query.add_argument("--at", help="query bar (UTC; default: the last bar)")
    query.add_argument("--k", type=int, default=10)
    query.add_argument("--plot", help="write the picture to this PNG")
    query.add_argument("--json", action="store_true")
    query.set_defaults(handler=_query)

    stats = verbs.add_parser("stats", help="what a store holds")
    _store_arguments(stats)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)
    patterns.set_defaults(handler=lambda _args: _usage(patterns))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", required=True, help="catalog path")
    parser.add_argument("--name", required=True, help="store name")
    parser.add_argument("--spec-hash", help="feature spec hash (default: the only one present)")


def _ns(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    import numpy as np

    try:
        return int(np.datetime64(text.replace("Z", ""), "ns").astype(np.int64))
    except ValueError:
        raise CliError(f"{what}: not a date/time: {text!r}") from None


def _folder(args: argparse.Namespace) -> Path:
    root = Path(args.catalog) / "patterns"
    if args.spec_hash:
        folder = root / str(args.spec_hash) / str(args.name)
    else:
        found = sorted(root.glob(f"*/{args.name}")) if root.is_dir() else []
        if len(found) != 1:
            hashes = ", ".join(p.parent.name for p in found) or "none"
            raise CliError(
                f"{root}: {len(found)} stores named {args.name!r} (spec hashes: {hashes}); "
                "pass --spec-hash or run `nautilus-ai patterns build`"
            )
        folder = Path(found[0])
    if not folder.is_dir():
        raise CliError(f"{folder}: no pattern store (run `nautilus-ai patterns build`)")
    return folder


def _open(args: argparse.Namespace) -> Any:
    from nautilus_ai.patterns import IndexMismatchError, PatternStoreError, load_memory

    try:
        return load_memory(_folder(args))
    except (IndexMismatchError, PatternStoreError) as exc:
        raise CliError(str(exc)) from None


def _build(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.models.card import describe_errors
    from nautilus_ai.patterns import (
        IndexConfig,
        PatternMemory,
        PatternSpec,
        PatternStoreError,
        build_from_catalog,
        build_from_decision_log,
        save_memory,
        store_dir,
    )

    try:
        spec = PatternSpec(
            shape_bars=args.shape_bars,
            horizon=args.horizon,
            barrier_atr=args.barrier_atr,
            spread_pips=args.spread_pips,
        )
    except ValidationError as exc:
        raise CliError(f"pattern spec: {describe_errors(exc)}") from None
    started = time.perf_counter()
    try:
        if args.bar_type:
            patterns = build_from_catalog(
                args.catalog,
                args.bar_type,
                pattern_spec=spec,
                start_ns=_ns(args.start, "--start"),
                end_ns=_ns(args.end, "--end"),
            )
        else:
            if args.start or args.end:
                raise CliError("--start / --end apply to --bar-type builds only")
            patterns = build_from_decision_log(args.catalog, args.run_id, pattern_spec=spec)
    except (CatalogReadError, PatternStoreError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    if len(patterns) == 0:
        raise CliError("no pattern could be built: not enough warm bars with a known outcome")
    built = time.perf_counter() - started
    memory = PatternMemory(patterns, index_config=IndexConfig(mode=args.index_mode))
    try:
        folder = store_dir(args.catalog, patterns.spec_hash, args.name)
    except PatternStoreError as exc:
        raise CliError(str(exc)) from None
    store, index = save_memory(memory, folder)
    summary = {
        "store": str(store),
        "index": str(index),
        "patterns": len(patterns),
        "spec_hash": patterns.spec_hash,
        "dims": patterns.dims,
        "source": patterns.source,
        "first": _iso(int(patterns.ts_event.min())),
        "last": _iso(int(patterns.ts_event.max())),
        "build_s": round(built, 3),
        "index_epochs": list(memory.index.epoch_rows),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"built {summary['patterns']:,} patterns ({summary['dims']} dims, "
            f"{summary['first']} .. {summary['last']}) in {built:.2f} s; index epochs "
            f"{summary['index_epochs'] or 'none (exact)'}\n  store {store}\n  index {index}"
        )
    return 0


def _query(args: argparse.Namespace) -> int:
    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.patterns import similar_windows

    if args.k < 1:
        raise CliError(f"--k must be >= 1, was {args.k}")
    memory = _open(args)
    try:
        found = similar_windows(
            memory, args.catalog, args.bar_type, at_ns=_ns(args.at, "--at"), k=args.k
        )
    except (CatalogReadError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if not found.rows.size:
        raise CliError(f"no pattern was known before {_iso(found.ts_event)}")
    if args.plot:
        found.plot(args.plot)
    if args.json:
        print(json.dumps({"ts_event": found.ts_event, "eligible": found.eligible,
                          "neighbours": found.records(), "plot": args.plot}, indent=2))  # fmt: skip
    else:
        print(found.to_text())
        if args.plot:
            print(f"picture: {args.plot}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    import numpy as np

    memory = _open(args)
    labels = np.bincount(memory.label.astype(np.int64) + 1, minlength=3)
    returns = memory.column("forward_return")
    vectors = memory.vectors
    summary = {
        "patterns": len(memory),
        "spec_hash": memory.feature_spec.hash,
        "pattern_spec": memory.pattern_spec.model_dump(),
        "dims": int(vectors.shape[1]),
        "instruments": sorted(set(memory.instrument_id)),
        "first": _iso(int(memory.ts_event.min())) if len(memory) else None,
        "last": _iso(int(memory.ts_event.max())) if len(memory) else None,
        "outcomes": {"sell": int(labels[0]), "hold": int(labels[1]), "buy": int(labels[2])},
        "forward_return_atr": {
            "mean": float(returns.mean()) if returns.size else None,
            "std": float(returns.std()) if returns.size else None,
        },
        "index": memory.index.config.model_dump(),
        "index_epochs": list(memory.index.epoch_rows),
        "bytes_per_pattern": _bytes_per_pattern(memory),
        "store_checksum": memory.store_checksum,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    o = summary["outcomes"]
    print(
        f"{summary['patterns']:,} patterns of {', '.join(summary['instruments'])}, "
        f"{summary['first']} .. {summary['last']}, {summary['dims']} dims, feature spec "
        f"{summary['spec_hash']}\n"
        f"outcomes: buy {o['buy']:,} / hold {o['hold']:,} / sell {o['sell']:,}; forward return "
        f"mean {summary['forward_return_atr']['mean']:+.3f} ATR\n"
        f"index: {summary['index']['mode']}, epochs {summary['index_epochs']}, "
        f"~{summary['bytes_per_pattern']:,.0f} bytes per pattern in memory"
    )
    return 0


def _bytes_per_pattern(memory: Any) -> float:
    n = max(1, len(memory))
    columns = n * (8 + 8 + 1 + 5 * 8) + memory.vectors.nbytes
    index_bytes = sum(len(b) for b in memory.index.to_bytes())
    return float(columns + index_bytes) / n


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M")
