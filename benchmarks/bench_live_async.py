"""Live replay with a slow model: worst event-handling delay in a TradingNode (issue 15).

Target: with a 200 ms model and ``async_predictions``, the worst event-handling delay is <= 5 ms
at 1,000 events/s. A real ``TradingNode`` replays real EUR/USD 1-minute bars (HistData, January
2017; a quote and a BID and an ASK bar per timestamp) through the replay client at a speed that
gives ~1,000 events/s; :class:`~nautilus_ai.adapters.event_delay.EventDelayProbe` records, for
every event, the clock minus its emission (``ts_init``), and the replay client how late after its
due time it emitted each timestamp (the loop it shares was busy). The delay from due time to
handling is at most the sum of the two worsts. Variants, same run, same bars:

* ``rule inline``: the rule model on the loop (~30 us a bar): the node's own floor;
* ``200 ms async``: a 200 ms model (``{"kind": "delayed", ...}``) with ``async_predictions``;
* ``200 ms inline``: the same model on the loop, what async avoids (fewer bars: it is slow).

Run: ``python -m benchmarks.bench_live_async [--bars 3000] [--events-per-s 1000]``. It prints
``uptime``'s load first: on a shared box the node stalls now and then whatever the model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_control import _write_node_catalog

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"
RULE = {"kind": "rule"}
SLOW = {"kind": "delayed", "backend": RULE, "min_ms": 200, "max_ms": 200}


def _config(catalog: Path, predictor: dict[str, Any], asynchronous: bool, limit: int,
            speed: float, trader: str) -> dict[str, Any]:  # fmt: skip
    return {
        "name": "bench-live-async",
        "node": {
            "trader_id": trader,
            "logging": {"log_level": "ERROR"},
            "timeout_post_stop": 0.5,
            "timeout_disconnection": 2,
            "strategies": [
                {
                    "strategy_path": "nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
                    "config_path": "nautilus_ai.strategies.ai_pattern:AIPatternConfig",
                    "config": {
                        "order_id_tag": "001",
                        "instrument_id": "EUR/USD.SIM",
                        "bar_type": BID,
                        "predictor": predictor,
                        "observe_only": True,
                        "async_predictions": asynchronous,
                        "decision_deadline_ms": 1000.0,
                    },
                }
            ],
            "actors": [
                {
                    "actor_path": "nautilus_ai.adapters.event_delay:EventDelayProbe",
                    "config_path": "nautilus_ai.adapters.event_delay:EventDelayProbeConfig",
                    "config": {"instrument_id": "EUR/USD.SIM", "bar_types": [BID, ASK]},
                }
            ],
        },
        "data_clients": {
            "REPLAY": {
                "kind": "replay",
                "config": {
                    "catalog_path": str(catalog),
                    "instrument_id": "EUR/USD.SIM",
                    "bar_types": [BID, ASK],
                    "speed": speed,
                    "max_gap_secs": 0.05,
                    "start_delay_secs": 0.2,
                    "limit": limit,
                },
            }
        },
        "exec_clients": {
            "SIM": {
                "kind": "sandbox",
                "config": {
                    "venue": "SIM",
                    "starting_balances": ["100000 USD"],
                    "base_currency": "USD",
                    "default_leverage": 30,
                },
            }
        },
        "run": {"stop_after_replay": True, "replay_grace_secs": 0.5},
    }


def run_variant(folder: Path, catalog: Path, name: str, config: dict[str, Any]) -> dict[str, Any]:
    import yaml

    from nautilus_ai.adapters.event_delay import EventDelayProbe
    from nautilus_ai.live import load_live_config, run_live

    path = folder / f"{name.replace(' ', '_')}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    seen: dict[str, Any] = {}

    def on_built(node: Any) -> None:
        (seen["probe"],) = [a for a in node.trader.actors() if isinstance(a, EventDelayProbe)]
        seen["strategy"] = node.trader.strategies()[0]

    outcome = run_live(load_live_config(path), on_built=on_built)
    probe = seen["probe"]
    summary = probe.summary()
    delays = np.frombuffer(probe.delays_ns, dtype=np.int64) / 1e6
    summary["over_5ms"] = float((delays > 5.0).mean()) if delays.size else 0.0
    summary["decisions"] = len(seen["strategy"].decisions)
    summary["seconds"] = outcome.seconds
    summary["late_max_ms"] = float(outcome.replay["REPLAY"]["late_max_ms"])
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_live_async")
    parser.add_argument("--bars", type=int, default=3000)
    parser.add_argument("--events-per-s", type=float, default=1000.0)
    parser.add_argument("--inline-bars", type=int, default=200)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"load average (uptime): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"cpus {os.cpu_count()}")  # fmt: skip
    speed = 60.0 * args.events_per_s / 3.0  # 3 events (quote, BID, ASK) per 1-minute timestamp
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog = _write_node_catalog(folder / "catalog", args.bars)
        variants = [
            ("rule inline", RULE, False, args.bars),
            ("200 ms async", SLOW, True, args.bars),
            ("200 ms inline", SLOW, False, args.inline_bars),
        ]
        rows = []
        for i, (name, predictor, asynchronous, limit) in enumerate(variants):
            config = _config(catalog, predictor, asynchronous, limit, speed, f"BENCH-00{i + 1}")
            rows.append((name, run_variant(folder, catalog, name, config)))
            print(f"{name}: {rows[-1][1]}", flush=True)
    base = rows[0][1]["max_ms"] or 1.0
    print()
    print(
        "| variant | events | events/s | p50 ms | p99 ms | worst ms | > 5 ms | worst / rule "
        "| replay worst late ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in rows:
        print(
            f"| {name} | {s['events']:,} | {s['events_per_s']:,.0f} | {s['p50_ms']:.2f} | "
            f"{s['p99_ms']:.2f} | {s['max_ms']:.1f} | {s['over_5ms']:.1%} | "
            f"{s['max_ms'] / base:.2f} | {s['late_max_ms']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
