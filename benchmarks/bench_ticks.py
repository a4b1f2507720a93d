"""Tick mode's speed (issue 15): AIPatternStrategy deciding on every quote tick vs a no-op.

Both variants run the same ``BacktestNode`` set-up on the same real ticks: the 48 hours of
Dukascopy EUR/USD ticks in ../shared/data (266,219 quotes, 4-5 Feb 2019) and the 2,880 MID
minute bars built from them, imported with ``nautilus-ai data import dukascopy ... --bars
60:MID`` into a temporary catalog. After one untimed run of each variant (imports, caches),
runs alternate (noop, variant 1, variant 2, ..., noop, ...) so machine noise hits all; the
medians are compared. ``.../precomputed``: ``feature_source: precomputed`` (bar features read
once from the catalog and, the tick rule being batch-exact, every tick decision looked up;
the time includes that precomputation).

- ``noop``: subscribes to the quote ticks and the bars, does nothing (the engine's own cost);
- ``tick/observe/rule``: AIPatternStrategy, ``{"kind": "tick_rule"}`` predictor, observe-only,
  ``tick_mode`` ``{"every_ticks": 1}``: bar features per bar; on every tick the tick features,
  the predictor and the decision core (a recorded decision per tick);
- ``tick/trading/rule``: the same, trading (``backtests/ticks.yaml``'s model and exits, but on
  every tick): orders, fills, stop-loss / take-profit orders and closed positions as well.

Goal: tick/observe/rule >= 0.5 of noop's ticks/s (the trading figure is reported, no goal).

Run: ``python -m benchmarks.bench_ticks [--repeat N] [--json]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.strategy import Strategy

REPO = Path(__file__).resolve().parent.parent
TICKS = REPO.parent / "shared" / "data" / "dukascopy" / "EURUSD" / "2019" / "01"
INSTRUMENT = "EUR/USD.SIM"
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"


class TickNoOpConfig(StrategyConfig, frozen=True):
    instrument_id: str
    bar_type: str


class TickNoOp(Strategy):
    """Subscribes to quote ticks and bars; does nothing."""

    def __init__(self, config: TickNoOpConfig) -> None:
        super().__init__(config)

    def on_start(self) -> None:
        self.subscribe_bars(BarType.from_str(self.config.bar_type))
        self.subscribe_quote_ticks(InstrumentId.from_str(self.config.instrument_id))

    def on_quote_tick(self, tick: QuoteTick) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        pass


OBSERVE: dict[str, Any] = {"predictor": {"kind": "tick_rule"}, "observe_only": True}
TRADING: dict[str, Any] = {
    "predictor": {"kind": "tick_rule", "entry_atr": 1.0, "max_spread_atr": 0.5},
    "min_confidence": 0.6,
    "stop_loss_atr": 2.0,
    "take_profit_atr": 3.0,
    "max_holding_bars": 30,
    "sizing": {"base_fraction": 0.5, "full_fraction": 3.0},
}
PRECOMPUTED: dict[str, Any] = {"feature_source": "precomputed"}  # + catalog_path at run time
VARIANTS: dict[str, dict[str, Any]] = {
    "tick/observe/rule": OBSERVE,
    "tick/observe/rule/precomputed": {**OBSERVE, **PRECOMPUTED},
    "tick/trading/rule": TRADING,
    "tick/trading/rule/precomputed": {**TRADING, **PRECOMPUTED},
}


def _strategy(variant: str, catalog: Path) -> Any:
    from nautilus_trader.config import ImportableStrategyConfig

    if variant == "noop":
        return ImportableStrategyConfig(
            strategy_path="benchmarks.bench_ticks:TickNoOp",
            config_path="benchmarks.bench_ticks:TickNoOpConfig",
            config={"instrument_id": INSTRUMENT, "bar_type": BAR_TYPE},
        )
    return ImportableStrategyConfig(
        strategy_path="nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
        config_path="nautilus_ai.strategies.ai_pattern:AIPatternConfig",
        config={
            "instrument_id": INSTRUMENT,
            "bar_type": BAR_TYPE,
            "record_decisions": True,
            "tick_mode": {"every_ticks": 1},
            **VARIANTS[variant],
            **({"catalog_path": str(catalog)} if "precomputed" in variant else {}),
        },
    )


def _run(catalog: Path, variant: str) -> tuple[float, float, int, int, int, int]:
    """(wall s and CPU s in node.run(), ticks the strategy saw, tick decisions, orders,
    closed positions; -1 for the no-op's).

    CPU time is reported next to wall time: on a shared, loaded machine it is the steadier of
    the two (the run is one thread; other processes' load shows in wall time only).
    """
    from nautilus_trader.backtest.node import BacktestNode
    from nautilus_trader.config import (
        BacktestDataConfig,
        BacktestEngineConfig,
        BacktestRunConfig,
        BacktestVenueConfig,
        LoggingConfig,
    )

    run = BacktestRunConfig(
        venues=[
            BacktestVenueConfig(
                name="SIM",
                oms_type="NETTING",
                account_type="MARGIN",
                base_currency="USD",
                starting_balances=["100000 USD"],
                default_leverage=30.0,
            )
        ],
        data=[
            BacktestDataConfig(
                catalog_path=str(catalog),
                data_cls="nautilus_trader.model.data:QuoteTick",
                instrument_id=INSTRUMENT,
            ),
            BacktestDataConfig(
                catalog_path=str(catalog),
                data_cls="nautilus_trader.model.data:Bar",
                instrument_id=INSTRUMENT,
                bar_types=[BAR_TYPE],
            ),
        ],
        engine=BacktestEngineConfig(
            strategies=[_strategy(variant, catalog)], logging=LoggingConfig(log_level="ERROR")
        ),
        raise_exception=True,
        dispose_on_completion=False,
    )
    node = BacktestNode([run])
    node.build()
    engine = node.get_engine(run.id)
    start, cpu = time.perf_counter(), time.process_time()
    node.run()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    seen = decisions = orders = trades = -1
    strategy = engine.trader.strategies()[0]
    tick_mode = getattr(strategy, "tick_mode", None)
    if tick_mode is not None:
        seen, decisions = tick_mode.ticks_seen, len(strategy.tick_decisions)
        if "precomputed" in variant and tick_mode.precomputed is None:
            raise RuntimeError(f"{variant}: the tick decisions were not precomputed")
        orders = len(engine.cache.orders(strategy_id=strategy.id))
        trades = len(strategy.trades)
    node.dispose()
    return seconds, cpu, seen, decisions, orders, trades


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_ticks")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from nautilus_ai.cli import main as cli

    files = sorted(str(p) for p in TICKS.glob("0[45]/*_ticks.bi5"))
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog"
        code = cli(
            ["data", "import", "dukascopy", *files, "--bars", "60:MID", "--catalog", str(catalog)]
        )
        if code != 0:
            print(f"bench_ticks: import failed ({code})", file=sys.stderr)
            return 1
        from nautilus_ai.data.catalog import read_quotes

        n_ticks = int(read_quotes(catalog, INSTRUMENT).ts_event.size)
        names = ["noop", *VARIANTS]
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu_times: dict[str, list[float]] = {name: [] for name in names}
        counts: dict[str, tuple[int, int, int, int]] = {}
        for variant in names:  # warm-up: imports and first-run caches land on no timed run
            _run(catalog, variant)
        for _ in range(args.repeat):
            for variant in times:
                seconds, cpu, *count = _run(catalog, variant)
                times[variant].append(seconds)
                cpu_times[variant].append(cpu)
                if variant != "noop":
                    counts[variant] = (count[0], count[1], count[2], count[3])
    for variant, (seen, _, _, _) in counts.items():
        if seen != n_ticks:
            print(f"bench_ticks: {variant} saw {seen} of {n_ticks} ticks", file=sys.stderr)
            return 1
    for variant in ("tick/trading/rule", "tick/trading/rule/precomputed"):
        if counts[variant][3] <= 0:
            print(f"bench_ticks: {variant} closed no position", file=sys.stderr)
            return 1
    for a, b in (("tick/observe/rule", "tick/observe/rule/precomputed"),
                 ("tick/trading/rule", "tick/trading/rule/precomputed")):  # fmt: skip
        if counts[a] != counts[b]:
            print(f"bench_ticks: {a} and {b} differ: {counts[a]} != {counts[b]}", file=sys.stderr)
            return 1
    medians = {k: statistics.median(v) for k, v in times.items()}
    rates = {k: n_ticks / v for k, v in medians.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu_times.items()}
    cpu_rates = {k: n_ticks / v for k, v in cpu_medians.items()}
    ratios = {k: rates[k] / rates["noop"] for k in VARIANTS}
    cpu_ratios = {k: cpu_rates[k] / cpu_rates["noop"] for k in VARIANTS}
    result = {
        "ticks": n_ticks,
        "counts": {
            k: dict(zip(("seen", "decisions", "orders", "closed"), v, strict=True))
            for k, v in counts.items()
        },
        "repeat": args.repeat,
        "seconds": times,
        "cpu_seconds": cpu_times,
        "ticks_per_s": rates,
        "ticks_per_cpu_s": cpu_rates,
        "ratio_to_noop": ratios,
        "cpu_ratio_to_noop": cpu_ratios,
        "goal": {"tick/observe/rule": 0.5},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{n_ticks:,} real Dukascopy EUR/USD ticks, median of {args.repeat} run(s)")
        for name, rate in rates.items():
            ratio = (
                f"  ratio {ratios[name]:.2f} wall / {cpu_ratios[name]:.2f} CPU"
                if name in ratios
                else ""
            )
            print(
                f"  {name:<30} {rate:>9,.0f} ticks/s wall ({medians[name]:.2f} s), "
                f"{cpu_rates[name]:>9,.0f} ticks/CPU-s ({cpu_medians[name]:.2f} s){ratio}"
            )
        for name, (_, decisions, orders, closed) in counts.items():
            print(f"  {name:<30} {decisions:,} tick decisions, {orders:,} orders, "
                  f"{closed:,} positions closed")  # fmt: skip
        print("  goal: tick/observe/rule >= 0.5 of noop")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
