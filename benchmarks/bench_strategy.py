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
same trading run with ``feature_log`` (its overhead); each variant once, interleaved in one
process, with the machine's load average before and after.

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


def _issue12(base: dict[str, Any], ai_config: dict[str, Any], bar_type: str, repeat: int) -> int:
    import os
    import tempfile

    import torch  # noqa: F401  - paid up front, not by the MLP variant

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest

    mlp = {"kind": "torch_random", "seed": 7, "hidden": [64]}
    scratch = Path(tempfile.mkdtemp(prefix="bench-issue12-"))
    variants = {
        "noop": {
            "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
            "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
            "config": {"bar_type": bar_type},
        },
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
    print(f"load before: {os.getloadavg()}", flush=True)
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, strategy in variants.items():
            run_file = parse_run_file(_variant(base, name, strategy), REPO / "benchmarks")
            outcome = run_backtest(run_file, write=False)
            seconds[name].append(outcome.summary.bars / outcome.summary.bars_per_s)
            print(f"{name:30s} {outcome.summary.bars_per_s:>9,.0f} bars/s  orders "
                  f"{outcome.summary.orders:>6,}  decisions {len(outcome.decisions):>7,}",
                  flush=True)  # fmt: skip
    print(f"load after: {os.getloadavg()}")
    time_of = {name: statistics.median(values) for name, values in seconds.items()}
    noop = time_of["noop"]
    print("\n| variant | ratio to no-op |\n|---|---:|")
    for name in variants:
        if name != "trade rule precomputed + log":
            print(f"| {name} | {noop / time_of[name]:.2f} |")
    overhead = time_of["trade rule precomputed + log"] / time_of["trade rule precomputed"] - 1
    print(f"| feature-logging overhead on the trading run | {overhead:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
