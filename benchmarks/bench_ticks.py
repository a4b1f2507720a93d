"""Tick mode's speed (issue 15): AIPatternStrategy deciding on every quote tick vs a no-op.

Both variants run the same ``BacktestNode`` set-up on the same real ticks: the 48 hours of
Dukascopy EUR/USD ticks in ../shared/data (266,219 quotes, 4-5 Feb 2019) and the 2,880 MID
minute bars built from them, imported with ``nautilus-ai data import dukascopy ... --bars
60:MID`` into a temporary catalog. Runs alternate (noop, tick, noop, tick, ...) so machine
noise hits both; the medians are compared.

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


VARIANTS: dict[str, dict[str, Any]] = {
    "tick/observe/rule": {"predictor": {"kind": "tick_rule"}, "observe_only": True},
    "tick/trading/rule": {
        "predictor": {"kind": "tick_rule", "entry_atr": 1.0, "max_spread_atr": 0.5},
        "min_confidence": 0.6,
        "stop_loss_atr": 2.0,
        "take_profit_atr": 3.0,
        "max_holding_bars": 30,
        "sizing": {"base_fraction": 0.5, "full_fraction": 3.0},
    },
}


def _strategy(variant: str) -> Any:
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
            strategies=[_strategy(variant)], logging=LoggingConfig(log_level="ERROR")
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
        seen, decisions = tick_mode.decider.ticks_seen, len(strategy.tick_decisions)
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
        _run(catalog, "noop")  # warm-up: imports and first-run caches land on no variant
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
    if counts["tick/trading/rule"][3] <= 0:
        print("bench_ticks: the trading variant closed no position", file=sys.stderr)
        return 1
    decisions = counts["tick/observe/rule"][1]
    medians = {k: statistics.median(v) for k, v in times.items()}
    rates = {k: n_ticks / v for k, v in medians.items()}
    ratio = rates["tick/observe/rule"] / rates["noop"]
    cpu_medians = {k: statistics.median(v) for k, v in cpu_times.items()}
    cpu_rates = {k: n_ticks / v for k, v in cpu_medians.items()}
    cpu_ratio = cpu_rates["tick/observe/rule"] / cpu_rates["noop"]
    trading = rates["tick/trading/rule"] / rates["noop"]
    trading_cpu = cpu_rates["tick/trading/rule"] / cpu_rates["noop"]
    orders, trades = counts["tick/trading/rule"][2:]
    result = {
        "ticks": n_ticks,
        "tick_decisions": decisions,
        "trading_orders": orders,
        "trading_positions_closed": trades,
        "ratio_trading_to_noop": trading,
        "cpu_ratio_trading_to_noop": trading_cpu,
        "repeat": args.repeat,
        "seconds": times,
        "ticks_per_s": rates,
        "ratio_tick_mode_to_noop": ratio,
        "cpu_seconds": cpu_times,
        "ticks_per_cpu_s": cpu_rates,
        "cpu_ratio_tick_mode_to_noop": cpu_ratio,
        "goal": 0.5,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{n_ticks:,} real Dukascopy EUR/USD ticks, median of {args.repeat} run(s)")
        for name, rate in rates.items():
            print(
                f"  {name:<20} {rate:>10,.0f} ticks/s wall ({medians[name]:.2f} s), "
                f"{cpu_rates[name]:>10,.0f} ticks/CPU-s ({cpu_medians[name]:.2f} s)"
            )
        print(f"  tick decisions: {decisions:,}")
        print(f"  ratio tick mode / noop: {ratio:.2f} wall, {cpu_ratio:.2f} CPU (goal >= 0.5)")
        print(
            f"  trading: {orders:,} orders, {trades:,} positions closed; ratio to noop "
            f"{trading:.2f} wall, {trading_cpu:.2f} CPU"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
