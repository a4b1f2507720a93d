"""The spine's speed figures: AI strategy vs a no-op strategy on the same engine and bars.

All variants run through the same ``BacktestNode`` set-up on the demo's 186k real EUR/USD bars
(bid + ask), one after another in one process, so the ratios compare like with like:

- ``noop``: subscribes to bars and does nothing (the engine's own cost);
- ``observe/precomputed``: features + predictions by the vectorised twin, checked per bar,
  sizing and the decision recorded, no orders;
- ``observe/incremental``: the same with features and predictions computed bar by bar;
- ``trade/precomputed``: the demo as it runs (orders, fills, brackets).

``--issue12`` runs the issue-12 table instead: no-op, observe-only rule precomputed and
incremental, observe-only MLP incremental (``torch_random``), trading rule precomputed, and the
same trading run with ``feature_log`` (its overhead), interleaved with no-op runs in one
process (``noop V1 noop V2 ...``): each ratio against the no-op runs beside it, in wall and
CPU time, medians over ``--repeat`` rounds, the load average before and after; every AI run must
make the demo's 186,235 decisions (and the trading runs its 4,170 orders).

Run: ``python -m benchmarks.bench_strategy [--predictor rule|torch] [--repeat N] [--issue12]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def _variant(base: dict[str, Any], name: str, strategy: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["name"] = name
    data["run"]["engine"]["strategies"] = [strategy]
    return data


def _ai(base_config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    config = dict(base_config)
    config.update(changes)
    return {
        "strategy_path": "nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
        "config_path": "nautilus_ai.strategies.ai_pattern:AIPatternConfig",
        "config": config,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_strategy")
    parser.add_argument("--predictor", choices=["rule", "torch"], default="rule")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (median kept)")
    parser.add_argument("--catalog", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--issue12", action="store_true", help="the issue-12 speed table")
    args = parser.parse_args(argv)

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    catalog, _ = ensure_demo_catalog(args.catalog)
    # One-off imports (scipy.signal ~0.8 s, torch ~3 s) would land on whichever variant runs
    # first: pay them up front so every variant measures its steady state.
    import scipy.signal  # noqa: F401

    if args.predictor == "torch":  # the core install (no torch) benchmarks the rule predictor
        import torch  # noqa: F401

    base = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    base["run"]["data"][0]["catalog_path"] = str(catalog)
    ai_config = dict(base["run"]["engine"]["strategies"][0]["config"])
    ai_config["catalog_path"] = str(catalog)
    if args.predictor == "torch":
        ai_config["predictor"] = {"kind": "torch_random", "seed": 7, "hidden": [64]}
    bar_type = ai_config["bar_type"]
    if args.issue12:
        return _issue12(base, ai_config, bar_type, args.repeat)
    variants = {
        "noop": {
            "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
            "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
            "config": {"bar_type": bar_type},
        },
        "observe/precomputed": _ai(ai_config, observe_only=True, feature_source="precomputed"),
        "observe/incremental": _ai(ai_config, observe_only=True, feature_source="incremental"),
        "trade/precomputed": _ai(ai_config, feature_source="precomputed"),
    }
    results: dict[str, dict[str, float]] = {}
    for name, strategy in variants.items():
        rates, orders, decisions = [], 0, 0
        for _ in range(args.repeat):
            run_file = parse_run_file(_variant(base, name, strategy), REPO / "benchmarks")
            outcome = run_backtest(run_file, write=False)
            rates.append(outcome.summary.bars_per_s)
            orders = outcome.summary.orders
            decisions = len(outcome.decisions)
        results[name] = {
            "bars_per_s": statistics.median(rates),
            "orders": orders,
            "decisions": decisions,
        }
        print(f"{name:22s} {results[name]['bars_per_s']:>10,.0f} bars/s  orders {orders:>6,}"
              f"  decisions {decisions:>7,}", flush=True)  # fmt: skip
    noop = results["noop"]["bars_per_s"]
    for name in variants:
        results[name]["ratio_to_noop"] = results[name]["bars_per_s"] / noop
    print("\nratio to no-op (target >= 0.5 for observe-only; long-term goal 0.8):")
    for name in variants:
        print(f"  {name:22s} {results[name]['ratio_to_noop']:.2f}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


#: What every issue-12 run must produce (the demo's decisions and, trading, its orders): a
#: faster run that decides differently measures nothing.
ISSUE12_DECISIONS = 186_235
ISSUE12_ORDERS = 4_170


class _TimedNode:
    """Wraps ``BacktestNode.run`` to read wall and CPU time of the engine run alone (what the
    runner's ``bars_per_s`` times), so the shared box's load shows as wall > CPU."""

    wall: float = 0.0
    cpu: float = 0.0

    @classmethod
    def install(cls) -> None:
        import time

        from nautilus_ai.backtest import runner

        base = runner.BacktestNode

        class Node(base):  # type: ignore[misc, valid-type]
            def run(self, *args: Any, **kwargs: Any) -> Any:
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    return super().run(*args, **kwargs)
                finally:
                    cls.wall = time.perf_counter() - wall
                    cls.cpu = time.process_time() - cpu

        runner.BacktestNode = Node  # type: ignore[misc]


def _issue12(base: dict[str, Any], ai_config: dict[str, Any], bar_type: str, repeat: int) -> int:
    """The issue-12 table, made to hold on a shared box.

    Each round runs ``noop V1 noop V2 noop V3 noop V4 V5 noop`` (V4 the trading run, V5 the
    same with ``feature_log``; odd rounds run V5 before V4); a variant's ratio is the mean of
    the no-op runs next to it over its own time, in wall and in CPU time, and the table keeps
    the median over rounds. The logging overhead compares V5 with V4 run back to back. Every
    AI run must make the demo's decisions (and the trading runs its orders), or it stops.
    """
    import gc
    import os
    import tempfile

    import torch  # noqa: F401  - paid up front, not by the MLP variant

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest

    _TimedNode.install()
    mlp = {"kind": "torch_random", "seed": 7, "hidden": [64]}
    scratch = Path(tempfile.mkdtemp(prefix="bench-issue12-"))
    noop = {
        "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
        "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
        "config": {"bar_type": bar_type},
    }
    variants = {
        "observe rule precomputed": _ai(ai_config, observe_only=True, feature_source="precomputed"),
        "observe rule incremental": _ai(ai_config, observe_only=True, feature_source="incremental"),
        "observe mlp incremental": _ai(
            ai_config, observe_only=True, feature_source="incremental", predictor=mlp
        ),
        "trade rule precomputed": _ai(ai_config, feature_source="precomputed"),
        "trade rule precomputed + log": _ai(
            ai_config, feature_source="precomputed",
            feature_log={"catalog_path": str(scratch), "fsync": False},
        ),
    }  # fmt: skip
    goals = {
        "observe rule precomputed": 0.85,
        "observe rule incremental": 0.65,
        "observe mlp incremental": 0.60,
        "trade rule precomputed": 0.55,
    }
    bars = 0

    def run(name: str, strategy: dict[str, Any]) -> tuple[float, float]:
        nonlocal bars
        gc.collect()  # every run starts from the same collector state, outside the timing
        run_file = parse_run_file(_variant(base, name, strategy), REPO / "benchmarks")
        outcome = run_backtest(run_file, write=False)
        bars = outcome.summary.bars
        wall, cpu = _TimedNode.wall, _TimedNode.cpu
        orders, decisions = outcome.summary.orders, len(outcome.decisions)
        print(f"  {name:30s} {bars / wall:>9,.0f} bars/s wall {bars / cpu:>9,.0f} bars/s CPU"
              f"  orders {orders:>6,}  decisions {decisions:>7,}", flush=True)  # fmt: skip
        if name != "noop":
            want_orders = 0 if strategy["config"].get("observe_only") else ISSUE12_ORDERS
            if decisions != ISSUE12_DECISIONS or orders != want_orders:
                raise SystemExit(
                    f"bench_strategy: {name} made {decisions:,} decisions / {orders:,} orders, "
                    f"expected {ISSUE12_DECISIONS:,} / {want_orders:,}: not the demo's run"
                )
        return wall, cpu

    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name in goals}
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in [*goals, "noop"]}
    overheads: list[tuple[float, float]] = []
    names = list(goals)
    for round_ in range(repeat):
        print(f"round {round_ + 1} of {repeat}", flush=True)
        noop_times = [run("noop", noop)]
        times: dict[str, tuple[float, float]] = {}
        for name in names[:3]:
            times[name] = run(name, variants[name])
            noop_times.append(run("noop", noop))
        pair = ["trade rule precomputed", "trade rule precomputed + log"]
        for name in pair if round_ % 2 == 0 else pair[::-1]:
            times[name] = run(name, variants[name])
        noop_times.append(run("noop", noop))
        for k, name in enumerate(names):
            before, after = noop_times[k], noop_times[k + 1]
            wall = (before[0] + after[0]) / 2 / times[name][0]
            cpu = (before[1] + after[1]) / 2 / times[name][1]
            ratios[name].append((wall, cpu))
            rates[name].append((bars / times[name][0], bars / times[name][1]))
        for wall, cpu in noop_times:
            rates["noop"].append((bars / wall, bars / cpu))
        log, plain = times["trade rule precomputed + log"], times["trade rule precomputed"]
        overheads.append((log[0] / plain[0] - 1, log[1] / plain[1] - 1))
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")

    def median(pairs: list[tuple[float, float]], k: int) -> float:
        return statistics.median(p[k] for p in pairs)

    print(f"\n{bars:,} bars; medians over {repeat} round(s); ratio = neighbouring no-op time / "
          "variant time\n")  # fmt: skip
    print("| variant | goal | ratio (wall) | ratio (CPU) | bars/s wall | bars/s CPU | per round "
          "(wall / CPU) |\n|---|---:|---:|---:|---:|---:|---|")  # fmt: skip
    n = rates["noop"]
    print(f"| no-op | - | 1.00 | 1.00 | {median(n, 0):,.0f} | {median(n, 1):,.0f} | - |")
    for name, goal in goals.items():
        r, b = ratios[name], rates[name]
        per_round = " ; ".join(f"{w:.2f} / {c:.2f}" for w, c in r)
        print(f"| {name} | >= {goal:.2f} | {median(r, 0):.2f} | {median(r, 1):.2f} "
              f"| {median(b, 0):,.0f} | {median(b, 1):,.0f} | {per_round} |")  # fmt: skip
    per_round = " ; ".join(f"{w:+.1%} / {c:+.1%}" for w, c in overheads)
    print(f"| feature-logging overhead on the trading run | <= +5% | {median(overheads, 0):+.1%} "
          f"| {median(overheads, 1):+.1%} | - | - | {per_round} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
