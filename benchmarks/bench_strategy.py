"""The spine's speed figures: AI strategy vs a no-op strategy on the same engine and bars.

All variants run through the same ``BacktestNode`` set-up on the demo's 186k real EUR/USD bars
(bid + ask), one after another in one process, so the ratios compare like with like:

- ``noop``: subscribes to bars and does nothing (the engine's own cost);
- ``observe/precomputed``: features + predictions by the vectorised twin, checked per bar,
  sizing and the decision recorded, no orders;
- ``observe/incremental``: the same with features and predictions computed bar by bar;
- ``trade/precomputed``: the demo as it runs (orders, fills, brackets).

Run: ``python -m benchmarks.bench_strategy [--predictor rule|torch] [--repeat N]``.
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
