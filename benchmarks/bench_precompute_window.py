"""A window backtest on the precomputed path: what reading to the run's end saves.

A backtest of a window inside a long catalog used to precompute (read, decode, compute
features for, hold) every bar from the window's start to the catalog's end. Now the strategy's
``precompute_end_time``, which the runner fills from the run file's data ``end_time``, bounds
it. Per window, in rounds (``noop, run's end, catalog's end, incremental``; every other round
the two precomputed variants swap places), one process, the demo's real EUR/USD bars:

- ``noop``: the engine's own cost;
- ``observe/precomputed, to the run's end``: the default;
- ``observe/precomputed, to the catalog's end``: ``precompute_end_time`` set far ahead (the old
  behaviour);
- ``observe/incremental``: features bar by bar.

Printed: the engine's wall time (``BacktestNode.run``) and the CPU time of the whole
``run_backtest`` call (preflight, precompute, run, collecting the results), medians over
``--repeat`` rounds, each as a ratio to the no-op. Every AI variant must make the same
decisions, or it stops.

Run: ``python -m benchmarks.bench_precompute_window [--catalog C] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import yaml

from benchmarks.bench_strategy import REPO, _ai, _TimedNode, _variant

#: (label, first day, day after the last): a week at the demo catalog's start, and the pattern
#: memory's May window (the catalog ends 30 June).
WINDOWS = (
    ("2-8 Jan 2017", "2017-01-02", "2017-01-09"),
    ("1-11 May 2017", "2017-05-01", "2017-05-12"),
)
FAR_AHEAD = "2100-01-01T00:00:00Z"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_precompute_window")
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import scipy.signal  # noqa: F401  - paid up front, not by the first variant

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(args.catalog)
    _TimedNode.install()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for label, start, end in WINDOWS:
        base = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
        data = base["run"]["data"][0]
        data.update(catalog_path=str(catalog), start_time=f"{start}T00:00:00Z",
                    end_time=f"{end}T00:00:00Z")  # fmt: skip
        ai = dict(base["run"]["engine"]["strategies"][0]["config"], catalog_path=str(catalog))
        variants: dict[str, dict[str, Any]] = {
            "noop": {
                "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
                "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
                "config": {"bar_type": ai["bar_type"]},
            },
            "precomputed, to the run's end": _ai(
                ai, observe_only=True, feature_source="precomputed"
            ),
            "precomputed, to the catalog's end": _ai(
                ai, observe_only=True, feature_source="precomputed", precompute_end_time=FAR_AHEAD
            ),
            "incremental": _ai(ai, observe_only=True, feature_source="incremental"),
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        decided: dict[str, list[tuple[Any, ...]]] = {}
        bars = 0
        for round_ in range(args.repeat + 1):  # round 0 warms up and is not kept
            order = list(variants)
            if round_ % 2:
                order[1], order[2] = order[2], order[1]
            for name in order:
                run_file = parse_run_file(_variant(base, name, variants[name]), REPO / "benchmarks")
                cpu = time.process_time()
                outcome = run_backtest(run_file, write=False)
                cpu = time.process_time() - cpu
                if outcome.status != "ok":
                    raise SystemExit(f"{label} {name}: {outcome.status}: {outcome.reasons}")
                bars = outcome.summary.bars
                if name != "noop":
                    rows = [(d.ts_event, d.action, d.intent, d.quantity) for d in outcome.decisions]
                    first = decided.setdefault(name, rows)
                    if rows != first or rows != next(iter(decided.values())):
                        raise SystemExit(f"{label} {name}: other decisions than the first variant")
                if round_:
                    times[name].append((_TimedNode.wall, cpu))
        wall0 = statistics.median(t[0] for t in times["noop"])
        cpu0 = statistics.median(t[1] for t in times["noop"])
        print(f"\n{label}: {bars:,} bars, {len(next(iter(decided.values()))):,} decisions each")
        print(f"  {'variant':36s} {'engine s':>9s} {'ratio':>6s} {'call CPU s':>11s} {'ratio':>6s}")
        for name in variants:
            wall = statistics.median(t[0] for t in times[name])
            cpu = statistics.median(t[1] for t in times[name])
            print(f"  {name:36s} {wall:9.3f} {wall0 / wall:6.2f} {cpu:11.3f} {cpu0 / cpu:6.2f}")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
