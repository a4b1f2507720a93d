"""``nautilus-ai patterns build|query|stats``: the pattern memory from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError
from nautilus_ai.timefmt import utc_minute

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
    build.add_argument("--allow-open-run", action="store_true",
                       help="with --run-id: read a run that never closed (killed, or a live "
                       "node still running) as it is")  # fmt: skip
    build.add_argument("--start", help="first bar (UTC, inclusive)")
    build.add_argument("--end", help="end (UTC, exclusive): outcomes past it are left out")
    build.add_argument("--shape-bars", type=int, default=32)
    build.add_argument("--horizon", type=int, default=30, help="outcome bars (default: 30)")
    build.add_argument("--barrier-atr", type=float, default=3.0)
    build.add_argument("--spread-pips", type=float, default=0.3)
    build.add_argument("--index-mode", choices=("ivf", "exact"), default="ivf")
    build.add_argument("--chart-model", help="local vision model folder: add the chart "
                       "embedding block to every pattern (the hf extra)")  # fmt: skip
    build.add_argument("--chart-bars", type=int, help="bars in the chart window (with "
                       "--chart-model; default 32)")  # fmt: skip
    build.add_argument(
        "--replace",
        action="store_true",
        help="overwrite a stored memory of this name that holds other patterns",
    )
    build.add_argument("--json", action="store_true")
    build.set_defaults(handler=_build)

    query = verbs.add_parser("query", help="the k past windows most like a bar, and what followed")
    _store_arguments(query)
    query.add_argument("--bar-type", required=True, help="bars of the query")
    query.add_argument("--at", help="query bar (UTC; default: the last bar)")
    query.add_argument("--k", type=int, default=10)
    query.add_argument("--plot", help="write the picture to this PNG")
    query.add_argument("--chart-model", help="the store's vision model folder (chart stores)")
    query.add_argument("--json", action="store_true")
    query.set_defaults(handler=_query)

    evaluate = verbs.add_parser(
        "evaluate",
        help="out of sample: the memory (built on the training window) beside the MLP and the "
        "rule on the same test window, in BacktestNode runs",
    )
    evaluate.add_argument("--catalog", required=True, help="catalog path")
    evaluate.add_argument("--bar-type", default="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")
    evaluate.add_argument("--model", help="trained MLP artifact (`nautilus-ai train`); optional")
    evaluate.add_argument("--train", nargs=2, metavar=("START", "END"),
                          default=["2017-01-01", "2017-04-10"])  # fmt: skip
    evaluate.add_argument("--test", nargs=2, metavar=("START", "END"),
                          default=["2017-05-01", "2017-07-01"])  # fmt: skip
    evaluate.add_argument("--name", default="oos-train", help="store name of the memory")
    evaluate.add_argument(
        "--replace",
        action="store_true",
        help="overwrite a stored memory of this name that holds other patterns, and an "
        "earlier report in --out",
    )
    evaluate.add_argument("--min-confidence", type=float, default=0.5,
                          help="the memory's min_confidence (default 0.5)")  # fmt: skip
    evaluate.add_argument("--out", required=True, help="report folder")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=_evaluate)

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
    """An ISO date / datetime flag as UTC ns (naive = UTC, an offset is honoured), read like
    every other window flag (``datasets.to_ns``): no numpy words (``NaT`` read as "no bound",
    ``today``), no time a nanosecond clock cannot hold."""
    if text is None:
        return None
    from nautilus_ai.datasets import to_ns

    try:
        return to_ns(text)
    except ValueError as exc:
        raise CliError(f"{what} {text!r}: {exc}") from None


def _check_bar_type(text: str) -> None:
    from nautilus_trader.model.data import BarType

    try:
        BarType.from_str(text)
    except ValueError as exc:
        raise CliError(f"--bar-type {text!r}: {exc}") from None


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

    folder = _folder(args)
    try:
        memory = load_memory(folder)
    except (IndexMismatchError, PatternStoreError) as exc:
        raise CliError(str(exc)) from None
    # The folder's spec hash is what the strategy and backtests look a store up by: a store
    # copied under another hash's folder opened here and was reported as that spec's memory.
    if memory.feature_spec.hash != folder.parent.name:
        raise CliError(
            f"{folder}: holds patterns of feature spec {memory.feature_spec.hash} under the "
            f"folder of spec {folder.parent.name} (copied or moved by hand?): move it to "
            f"patterns/{memory.feature_spec.hash}/{folder.name} or rebuild it"
        )
    return memory


def _embedder(folder: str | None) -> Any:
    """The chart model of ``--chart-model`` (None without it)."""
    if folder is None:
        return None
    from nautilus_ai.patterns import ChartEmbedder

    try:
        return ChartEmbedder(folder)
    except (ValueError, OSError) as exc:
        raise CliError(f"--chart-model: {exc}") from None


def _build(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.patterns import (
        IndexConfig,
        PatternMemory,
        PatternSpec,
        PatternStoreError,
        build_from_catalog,
        build_from_decision_log,
        store_dir,
    )

    if args.chart_bars is not None and args.chart_model is None:
        raise CliError(
            f"--chart-bars {args.chart_bars} needs --chart-model (the chart block it sizes); "
            "without a chart model the patterns have no chart"
        )
    try:
        spec = PatternSpec(
            shape_bars=args.shape_bars,
            horizon=args.horizon,
            barrier_atr=args.barrier_atr,
            spread_pips=args.spread_pips,
        )
    except ValidationError as exc:
        raise CliError(_flag_errors(exc)) from None
    embedder = _embedder(args.chart_model)
    if embedder is not None:
        try:
            spec = spec.with_chart(embedder, bars=args.chart_bars)
        except ValidationError as exc:
            raise CliError(_flag_errors(exc)) from None
    if args.bar_type:
        _check_bar_type(args.bar_type)
        if args.allow_open_run:
            raise CliError("--allow-open-run applies to --run-id builds only")
    start_ns, end_ns = _ns(args.start, "--start"), _ns(args.end, "--end")
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise CliError(f"--end {args.end} must be after --start {args.start}")
    started = time.perf_counter()
    try:
        if args.bar_type:
            patterns = build_from_catalog(
                args.catalog,
                args.bar_type,
                pattern_spec=spec,
                start_ns=start_ns,
                end_ns=end_ns,
                chart_embedder=embedder,
            )
        else:
            if args.start or args.end:
                raise CliError("--start / --end apply to --bar-type builds only")
            patterns = build_from_decision_log(
                args.catalog,
                args.run_id,
                pattern_spec=spec,
                chart_embedder=embedder,
                allow_open_run=args.allow_open_run,
            )
    except (CatalogReadError, PatternStoreError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    if len(patterns) == 0:
        window = f" between {args.start or 'the first bar'} and {args.end or 'the last'}"
        source = args.bar_type or f"run {args.run_id}"
        raise CliError(
            f"no pattern could be built from {source}{window if args.bar_type else ''}: "
            "not enough warm bars with a known outcome"
        )
    built = time.perf_counter() - started
    memory = PatternMemory(patterns, index_config=IndexConfig(mode=args.index_mode))
    try:
        folder = store_dir(args.catalog, patterns.spec_hash, args.name)
    except PatternStoreError as exc:
        raise CliError(str(exc)) from None
    store, index = _save(memory, folder, patterns, args.replace)
    summary = {
        "store": str(store),
        "index": str(index),
        "patterns": len(patterns),
        "spec_hash": patterns.spec_hash,
        "dims": patterns.dims,
        "chart_model": spec.chart_model,
        "source": patterns.source,
        "first": utc_minute(int(patterns.ts_event.min())),
        "last": utc_minute(int(patterns.ts_event.max())),
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


#: The build flag of each PatternSpec field.
_SPEC_FLAGS = {
    "shape_bars": "--shape-bars",
    "horizon": "--horizon",
    "barrier_atr": "--barrier-atr",
    "spread_pips": "--spread-pips",
    "chart_bars": "--chart-bars",
}


def _flag_errors(exc: Any) -> str:
    """A PatternSpec refusal naming the flag: ``--horizon (PatternSpec.horizon): ...``."""
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"])
        flag = _SPEC_FLAGS.get(name)
        where = f"{flag} (PatternSpec.{name})" if flag else f"pattern spec field {name!r}"
        parts.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return "; ".join(parts)


def _query(args: argparse.Namespace) -> int:
    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.patterns import similar_windows

    if args.k < 1:
        raise CliError(f"--k must be >= 1, was {args.k}")
    if args.plot:
        from nautilus_ai.patterns.research import plot_target

        try:
            plot_target(args.plot)
        except ValueError as exc:
            raise CliError(f"--plot: {exc}") from None
    memory = _open(args)
    try:
        found = similar_windows(
            memory, args.catalog, args.bar_type, at_ns=_ns(args.at, "--at"), k=args.k,
            chart_embedder=_embedder(args.chart_model),
        )  # fmt: skip
    except (CatalogReadError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if not found.rows.size:
        raise CliError(f"no pattern was known before {utc_minute(found.ts_event)}")
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


def _evaluate(args: argparse.Namespace) -> int:
    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.datasets import Window

    try:
        train = Window.parse(*args.train)
        test = Window.parse(*args.test)
    except ValueError as exc:
        raise CliError(f"--train / --test: {exc}") from None
    if test.start_ns < train.end_ns:
        raise CliError(f"the test window {test} overlaps the training window {train}")
    if args.model and not Path(args.model).exists():
        raise CliError(f"--model {args.model}: no such artifact")
    try:
        result = evaluate_out_of_sample(
            args.catalog, args.out, bar_type=args.bar_type, train=train, test=test,
            model=args.model, name=args.name, min_confidence=args.min_confidence,
            replace=args.replace,
        )  # fmt: skip
    except (CatalogReadError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(Path(result["report"]).read_text())
    for failure in result["failures"]:
        print(f"nautilus-ai: error: out-of-sample backtest failed: {failure}", file=sys.stderr)
    return 1 if result["failures"] else 0


def evaluate_out_of_sample(
    catalog: str,
    out: str,
    *,
    bar_type: str,
    train: Any,
    test: Any,
    model: str | None = None,
    name: str = "oos-train",
    min_confidence: float = 0.5,
    replace: bool = False,
) -> dict[str, Any]:
    """Build the memory on ``train`` only, then backtest it, the MLP ``model`` (when given) and
    the rule model on ``test`` with the demo's venue, fees and fills (``BacktestNode``), plus buy
    & hold. Writes ``report.md``, ``equity.png`` and ``results.json`` to ``out``."""
    from nautilus_ai.catalog.reader import read_bars
    from nautilus_ai.patterns import PatternMemory, build_from_catalog, store_dir
    from nautilus_ai.workflows.oos import (
        InSampleWindowError,
        buy_and_hold,
        check_out_of_sample,
        compare_out_of_sample,
        packaged_run_file,
        run_window,
        suggested_min_confidence,
        window_run_file,
    )

    if model:  # before anything is built or written: an in-sample "out-of-sample" row
        try:
            check_out_of_sample(model, test)
        except InSampleWindowError as exc:
            raise CliError(str(exc)) from None
    folder = Path(out)
    if not replace:  # a second evaluation must not silently replace an earlier one's report
        for earlier in ("results.json", "report.md", "equity.png"):
            if (folder / earlier).exists():
                raise CliError(
                    f"{folder / earlier} holds an earlier evaluation: choose another --out, "
                    "or pass --replace to overwrite it"
                )
    # backtests on no bar "run", and buy & hold has no first price: refuse before writing
    if read_bars(catalog, bar_type, start_ns=test.start_ns, end_ns=test.end_ns)[0].size == 0:
        raise CliError(f"no {bar_type} bar in the test window {test} of {catalog}")
    folder.mkdir(parents=True, exist_ok=True)
    patterns = build_from_catalog(catalog, bar_type, start_ns=train.start_ns, end_ns=train.end_ns)
    if len(patterns) == 0:
        raise CliError(f"no pattern in the training window {train}")
    memory = PatternMemory(patterns)
    memory_folder = store_dir(catalog, patterns.spec_hash, name)
    _save(memory, memory_folder, patterns, replace)
    base = packaged_run_file("demo")
    runs: dict[str, Any] = {}
    if model:
        threshold = suggested_min_confidence(model)
        comparison = compare_out_of_sample(
            model, catalog, test, report_dir=folder, base=base, min_confidence=threshold,
            name_prefix="oos",
        )  # fmt: skip
        runs.update(comparison.runs)
    else:
        rule_file = window_run_file(
            base, name="oos-rule", sample="out-of-sample", catalog_path=catalog,
            report_dir=folder, window=test, predictor={"kind": "rule"},
        )  # fmt: skip
        runs["rule"] = run_window(rule_file, "rule model")
    memory_file = window_run_file(
        base,
        name="oos-pattern-memory",
        sample="out-of-sample",
        catalog_path=catalog,
        report_dir=folder,
        window=test,
        predictor={"kind": "pattern_memory", "catalog_path": str(catalog), "name": name, "k": 20},
        strategy_overrides={"context_bars": 64, "min_confidence": min_confidence},
        description="pattern memory built on the training window only",
    )
    runs["pattern_memory"] = run_window(memory_file, "pattern memory (k=20)")
    if "buy_and_hold" not in runs:
        first = runs["pattern_memory"].summary
        runs["buy_and_hold"] = buy_and_hold(
            catalog, bar_type, test, first.starting_equity, first.currency
        )
    rows = {}
    for key, run in runs.items():
        summary = run.summary
        rows[key] = {
            "label": run.label,
            "status": run.status,
            "trades": summary.trades,
            "win_rate": summary.win_rate,
            "pnl": summary.pnl,
            "return_pct": summary.return_pct,
            "sharpe": summary.sharpe,
            "max_drawdown_pct": summary.max_drawdown_pct,
        }
    picture = _plot_equity(runs, folder / "equity.png", test)
    report = folder / "report.md"
    report.write_text(_oos_report(rows, train, test, len(patterns), picture, runs))
    failures = [run.failure for run in runs.values() if run.failure is not None]
    result = {"train": str(train), "test": str(test), "patterns": len(patterns), "runs": rows,
              "report": str(report), "equity_png": str(picture), "failures": failures}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _plot_equity(runs: dict[str, Any], path: Path, test: Any) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(11, 5))
    for run in runs.values():
        when = np.asarray(run.bar_ts, dtype="datetime64[ns]")
        ax.plot(when, run.equity, lw=1.4, label=f"{run.label}: {run.summary.pnl:+,.0f}")
    ax.axhline(next(iter(runs.values())).summary.starting_equity, color="black", lw=0.8, ls=":")
    ax.set_title(f"Out of sample {test}: equity (USD), same venue, fees and fills", fontsize=10)
    ax.set_ylabel("equity (USD)")
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _save(memory: Any, folder: Path, patterns: Any, replace: bool) -> tuple[Path, Path]:
    """Check what ``folder`` holds (:func:`_may_write`) and write the memory there, holding the
    store's lock throughout: two builds at once both passed the check of an empty folder, then
    one wrote over the other (a store of both writers' bytes, both saying "built")."""
    from nautilus_ai.patterns import PatternStoreError, save_memory

    def may_write(path: Path) -> None:
        _may_write(path, patterns, replace)

    try:
        stored: tuple[Path, Path] = save_memory(memory, folder, may_write=may_write)
        return stored
    except PatternStoreError as exc:
        raise CliError(str(exc)) from None


def _may_write(folder: Path, patterns: Any, replace: bool) -> None:
    """Refuse (CliError) to overwrite a stored memory that holds other patterns than
    ``patterns`` unless ``replace``: a build under a name in use replaced it without a word.
    The same patterns (another index mode, a rebuild) may be written again."""
    from nautilus_ai.patterns import PatternStoreError
    from nautilus_ai.patterns.store import STORE_FILE, read_patterns

    path = folder / STORE_FILE
    if replace or not path.exists():
        return
    try:
        stored = read_patterns(path)
    except PatternStoreError as exc:
        raise CliError(f"{exc}; --replace to overwrite it") from None
    if stored.checksum() == patterns.checksum() and (
        stored.pattern_spec.hash == patterns.pattern_spec.hash
    ):
        return
    span = f"{utc_minute(int(stored.ts_event.min()))} .. {utc_minute(int(stored.ts_event.max()))}"
    raise CliError(
        f"{path}: the memory '{folder.name}' is stored there ({len(stored):,} patterns, {span}) "
        "and would be replaced by other patterns: --replace to overwrite it, or another --name"
    )


def _oos_report(
    rows: dict[str, dict[str, Any]],
    train: Any,
    test: Any,
    patterns: int,
    picture: Path,
    runs: dict[str, Any],
) -> str:
    lines = [
        "# Pattern memory out of sample",
        "",
        f"Memory built on {train} only ({patterns:,} patterns); every model below trades "
        f"{test}, which none of them saw, with the demo's venue, fees and fill model "
        "(`BacktestNode`). No proven edge: read the numbers, not the hopes.",
        "",
        "| model | trades | win rate | PnL (USD) | return | Sharpe | max DD |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        win = "n/a" if row["win_rate"] != row["win_rate"] else f"{100 * row['win_rate']:.1f}%"
        lines.append(
            f"| {row['label']}{' **FAILED**' if row['status'] != 'ok' else ''} | "
            f"{row['trades']} | {win} | {row['pnl']:+,.0f} | "
            f"{row['return_pct']:+.2f}% | {row['sharpe']:.2f} | {row['max_drawdown_pct']:.2f}% |"
        )
    failures = [run.failure for run in runs.values() if run.failure is not None]
    if failures:
        lines += ["", "**Failed runs** (their rows are not results):", ""]
        lines += [f"- {failure}" for failure in failures]
    lines += ["", f"![equity]({picture.name})", ""]
    return "\n".join(lines)


def _stats(args: argparse.Namespace) -> int:
    import numpy as np

    from nautilus_ai.patterns.store import format_period

    memory = _open(args)
    labels = np.bincount(memory.label.astype(np.int64) + 1, minlength=3)
    returns = memory.column("forward_return")
    vectors = memory.vectors
    summary = {
        "patterns": len(memory),
        "spec_hash": memory.feature_spec.hash,
        "pattern_spec": memory.pattern_spec.model_dump(),
        "dims": int(vectors.shape[1]),
        "bar_ns": memory.bar_ns,
        "instruments": sorted(set(memory.instrument_id)),
        "first": utc_minute(int(memory.ts_event.min())) if len(memory) else None,
        "last": utc_minute(int(memory.ts_event.max())) if len(memory) else None,
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
    bars = format_period(memory.bar_ns) if memory.bar_ns else "unrecorded period"
    print(
        f"{summary['patterns']:,} patterns of {', '.join(summary['instruments'])} "
        f"({bars} bars), "
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
