"""The feature log's cost alone: the demo's trading run (precomputed) with and without
``feature_log``, alternating in one process (``plain log``, then ``log plain``, ...), CPU and
wall time of the engine run, after one warm-up pair; every run must make the demo's decisions
and orders.

Run: ``python -m benchmarks.bench_feature_log [--catalog C] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
from typing import Any

import yaml

from benchmarks.bench_strategy import (
    ISSUE12_DECISIONS,
    ISSUE12_ORDERS,
    REPO,
    _ai,
    _TimedNode,
    _variant,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_feature_log")
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs")
    args = parser.parse_args(argv)

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(args.catalog)
    _TimedNode.install()
    base = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    base["run"]["data"][0]["catalog_path"] = str(catalog)
    config = dict(base["run"]["engine"]["strategies"][0]["config"], catalog_path=str(catalog))
    scratch = tempfile.mkdtemp(prefix="bench-feature-log-")
    variants: dict[str, dict[str, Any]] = {
        "plain": _ai(config, feature_source="precomputed"),
        "log": _ai(config, feature_source="precomputed",
                   feature_log={"catalog_path": scratch, "fsync": False}),
    }  # fmt: skip
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    overheads: list[float] = []
    for round_ in range(-1, args.repeat):  # round -1 warms up (first-run costs), not counted
        times: dict[str, tuple[float, float]] = {}
        for name in ["plain", "log"] if round_ % 2 == 0 else ["log", "plain"]:
            gc.collect()
            run_file = parse_run_file(_variant(base, name, variants[name]), REPO / "benchmarks")
            outcome = run_backtest(run_file, write=False)
            if (
                len(outcome.decisions) != ISSUE12_DECISIONS
                or outcome.summary.orders != ISSUE12_ORDERS
            ):
                raise SystemExit(f"bench_feature_log: the {name} run is not the demo's run")
            times[name] = (_TimedNode.wall, _TimedNode.cpu)
        if round_ < 0:
            continue
        (plain_wall, plain_cpu), (log_wall, log_cpu) = times["plain"], times["log"]
        overheads.append(log_cpu / plain_cpu - 1)
        print(f"round {round_ + 1}: CPU plain {plain_cpu:.2f} s, logged {log_cpu:.2f} s "
              f"({log_cpu / plain_cpu - 1:+.1%}); wall {plain_wall:.2f} s, {log_wall:.2f} s "
              f"({log_wall / plain_wall - 1:+.1%})", flush=True)  # fmt: skip
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"feature-log overhead (CPU): median {statistics.median(overheads):+.1%}, "
          f"mean {statistics.fmean(overheads):+.1%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
