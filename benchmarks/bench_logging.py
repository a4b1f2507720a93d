"""Feature logging: its cost inside the demo backtest, and the logger's own throughput.

1. The demo backtest (``backtests/demo.yaml``: rule model, 186k real EUR/USD bars, BacktestNode)
   run in turn (ABC CBA ...) without ``feature_log``, with it (synchronous writes, the default)
   and with the background writer thread, in one process; the overhead is
   ``(with - without) / without`` on the median run time (``node.run``), on the wall time of the
   whole ``run_backtest`` call (which includes the final flush at dispose) and on process CPU
   time (all threads; the least disturbed by other load on a shared box).
2. ``FeatureLogger.record`` per row (28 features, fsync on), flushes included.
3. ``PartWriter`` alone: rows/s for a 100k-row part (Arrow table -> Parquet -> fsync -> link).

Run: ``python -m benchmarks.bench_logging [--repeat N] [--catalog PATH]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _backtest_overhead(catalog: Path, repeat: int, scratch: Path) -> dict[str, Any]:
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.workflows.oos import packaged_run_file, window_run_file

    base = packaged_run_file("demo")
    variants = ("without", "with", "with/thread")
    timings: dict[str, dict[str, list[float]]] = {
        v: {"run": [], "wall": [], "cpu": []} for v in variants
    }
    rows = 0
    for i in range(repeat):
        # ABC then CBA: a slow drift of the machine (other load, heap growth) hits every
        # variant alike instead of always the one that runs last.
        for variant in variants if i % 2 == 0 else variants[::-1]:
            overrides: dict[str, Any] = {}
            if variant != "without":
                overrides["feature_log"] = {
                    "catalog_path": str(scratch),
                    "run_id": f"bench-{i}-{variant.replace('/', '-')}",
                    "background": variant == "with/thread",
                }
            run_file = window_run_file(
                base, name=f"bench-{variant}", sample="in-sample", catalog_path=catalog,
                report_dir=scratch / "reports", strategy_overrides=overrides,
            )  # fmt: skip
            wall0, cpu0 = time.perf_counter(), time.process_time()
            outcome = run_backtest(run_file, write=False)
            timings[variant]["wall"].append(time.perf_counter() - wall0)
            timings[variant]["cpu"].append(time.process_time() - cpu0)
            timings[variant]["run"].append(outcome.summary.elapsed_s)
            if variant == "with":
                rows = len(outcome.decisions)
            print(
                f"  run {i + 1}/{repeat} {variant:<11} logging: node.run "
                f"{outcome.summary.elapsed_s:6.2f} s  wall {timings[variant]['wall'][-1]:6.2f} s"
                f"  cpu {timings[variant]['cpu'][-1]:6.2f} s",
                flush=True,
            )
    result: dict[str, Any] = {"rows_logged": rows}
    for key in ("run", "wall", "cpu"):
        for stat in (statistics.median, min):
            without = stat(timings["without"][key])
            for variant in variants[1:]:
                with_log = stat(timings[variant][key])
                pct = 100.0 * (with_log - without) / without
                result[(key, variant, stat.__name__)] = (without, with_log, pct)
    return result


def _record_cost(scratch: Path, rows: int) -> float:
    from nautilus_ai.catalog import FeatureLogConfig, FeatureLogger
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models import Action, Prediction

    spec = FeatureSpec()
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(scratch), run_id="record-cost"),
        spec=spec, instrument_id="EUR/USD.SIM", bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
    )  # fmt: skip
    prediction = Prediction(Action.BUY, 0.7, 0.3, "rule/1", 2e-6, "trend")
    x = np.random.default_rng(0).random(len(spec.names))
    t0 = 1_483_340_460_000_000_000
    start = time.perf_counter()
    for i in range(rows):
        logger.record(t0 + i * 60_000_000_000, x, prediction, "enter", 1000.0, True)
    logger.close()
    return (time.perf_counter() - start) / rows


def _writer_rows_per_s(scratch: Path, rows: int) -> float:
    from nautilus_ai.catalog import SNAPSHOT_SCHEMA, FeatureLogConfig, FeatureLogger, PartWriter
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models import Action, Prediction

    spec = FeatureSpec()
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(scratch), run_id="table", flush_rows=rows),
        spec=spec, instrument_id="EUR/USD.SIM", bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
    )  # fmt: skip
    prediction = Prediction(Action.BUY, 0.7, 0.3, "rule/1", 2e-6, "trend")
    x = np.random.default_rng(0).random(len(spec.names))
    for i in range(rows - 1):  # fill the buffer without triggering the flush
        logger.record(1_483_340_460_000_000_000 + i, x, prediction, "enter", 1000.0, True)
    table = logger._snapshot_table()
    writer = PartWriter(scratch, "custom_feature_snapshot", "writer-only", SNAPSHOT_SCHEMA)
    start = time.perf_counter()
    writer.write(table)
    return table.num_rows / (time.perf_counter() - start)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_logging")
    parser.add_argument("--repeat", type=int, default=4, help="backtests per variant (median)")
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--skip-backtest", action="store_true")
    args = parser.parse_args(argv)

    from nautilus_ai.workflows.demo import ensure_demo_catalog

    scratch = Path(tempfile.mkdtemp(prefix="bench-logging-"))
    try:
        print(f"record(): {1e6 * _record_cost(scratch, 200_000):.2f} us/row "
              "(28 features, 50k-row parts, fsync on, flushes included)")  # fmt: skip
        print(f"PartWriter alone: {_writer_rows_per_s(scratch, 100_000):,.0f} rows/s "
              "(one 100k-row part, fsync on)")  # fmt: skip
        if not args.skip_backtest:
            catalog, _ = ensure_demo_catalog(args.catalog)
            print(f"demo backtest (186k bars, BacktestNode), {args.repeat} run(s) per variant:")
            result = _backtest_overhead(Path(catalog), args.repeat, scratch)
            print(f"  rows logged per run: {result['rows_logged']:,}")
            for key, what in (
                ("run", "node.run"),
                ("wall", "run_backtest wall"),
                ("cpu", "process CPU"),
            ):
                for variant in ("with", "with/thread"):
                    for stat in ("median", "min"):
                        without, with_log, pct = result[(key, variant, stat)]
                        print(
                            f"  {what:<18} {stat:<6} without {without:7.2f} s  {variant:<11} "
                            f"{with_log:7.2f} s  overhead {pct:+5.1f}%  (target <= 10%)"
                        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
