"""Control plane: command sent -> effect visible on the loop, and a 10,000-command storm.

Targets (loopback): p50 <= 5 ms, p99 <= 50 ms from ``XADD`` to the stand-in strategy's state
changing on its event loop; a storm of 10,000 commands (90 % rejected) must not stall bar
handling (the worst bar lateness during the storm is reported next to a quiet baseline).

Hand-over modes compared (same run, same Redis):

* ``call_soon_threadsafe``: the listener wakes the loop (what ``RemoteController`` uses);
* ``loop poll 1 ms / 5 ms``: an asyncio task on the loop drains the inbox every N ms;
* ``LiveClock timer 1 ms``: Nautilus' live timer drains it - shown for the record only: its
  callback runs on a Rust runtime thread, **not** the loop (the ``off-loop`` column says how
  often), so it would mutate strategy state from another thread.

Run: ``python -m benchmarks.bench_control [--commands 1000] [--storm 10000]``.
The storm is also run against a live TradingNode (replay data client, Sandbox fills,
RemoteController listening) with real EUR/USD bars flowing every few milliseconds: the figure is
the delay from a bar's emission by the data client to the strategy's ``on_bar``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from nautilus_ai.control import (
    ControlClient,
    ControlPlane,
    LocalRedisServer,
    RedisSettings,
    StreamNames,
    connect,
    parse_command,
    seal,
)

TRADER = "BENCH-001"
STRATEGY = "Bench-001"
SECRET = b"bench-secret-0123456789abcdef0123"


class StandIn:
    """A stand-in strategy: records when (perf_counter_ns) and on which thread it was paused."""

    def __init__(self) -> None:
        self.paused = False
        self.effect_ns = 0
        self.effect = threading.Event()
        self.loop_thread = 0
        self.off_loop = 0

    def _mark(self) -> None:
        self.effect_ns = time.perf_counter_ns()
        if threading.get_ident() != self.loop_thread:
            self.off_loop += 1
        self.effect.set()

    def pause_trading(self, reason: str) -> None:
        self.paused = True
        self._mark()

    def resume_trading(self) -> None:
        self.paused = False
        self._mark()

    def flatten(self, reason: str) -> None:
        self.paused = True

    def set_risk(self, *args: float | None) -> None:
        pass

    def switch_model(self, config: dict[str, Any]) -> None:
        pass

    def control_status(self) -> dict[str, Any]:
        return {"paused": self.paused}


class Loop:
    """An asyncio loop in a thread owning the stand-in; optional simulated bars."""

    def __init__(self, strategy: StandIn) -> None:
        self.loop = asyncio.new_event_loop()
        self.strategy = strategy
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()
        self.lateness_ns: list[int] = []
        self.bar_work = np.random.default_rng(1).standard_normal(2_000)
        self._bars_on = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.strategy.loop_thread = threading.get_ident()
        self.loop.call_soon(self.ready.set)
        self.loop.run_forever()

    def start(self) -> Loop:
        self.thread.start()
        self.ready.wait(5)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def start_bars(self, period_s: float) -> None:
        """Schedule a bar every ``period_s`` on absolute times and record each one's lateness."""

        def first() -> None:
            self._bars_on = True
            start = self.loop.time()
            self._bar(start, period_s)

        self.loop.call_soon_threadsafe(first)

    def stop_bars(self) -> None:
        self._bars_on = False

    def _bar(self, due: float, period_s: float) -> None:
        if not self._bars_on:
            return
        self.lateness_ns.append(int((self.loop.time() - due) * 1e9))
        float(np.tanh(self.bar_work).sum())  # ~20-50 us of per-bar work
        nxt = due + period_s
        self.loop.call_at(nxt, self._bar, nxt, period_s)


def _pct(values: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) / 1e6


def _plane(url: str) -> ControlPlane:
    """The node side for the stand-in strategy, on its own Redis client (not started)."""
    return ControlPlane(
        connect(RedisSettings(url), extra_socket_timeout=1.0),
        StreamNames(TRADER),
        SECRET,
        strategy_ids=[STRATEGY],
        block_ms=500,
    )


def _plane_on_loop(url: str, loop: Loop, strategy: StandIn) -> ControlPlane:
    """A started plane that wakes ``loop`` (call_soon_threadsafe) to apply each command."""
    plane = _plane(url)
    plane.start(lambda: loop.loop.call_soon_threadsafe(plane.apply_pending, lambda _s: strategy))
    plane.listener.wait_connected(5)
    return plane


def _latency_run(url: str, mode: str, commands: int, warmup: int = 20) -> tuple[list[int], int]:
    """Send ``commands`` pause/resume commands one at a time; latency XADD -> effect (ns)."""
    strategy = StandIn()
    loop = Loop(strategy).start()
    client_redis = connect(RedisSettings(url), extra_socket_timeout=1.0)
    client = ControlClient(client_redis, StreamNames(TRADER), SECRET)
    plane = _plane(url)

    def apply() -> None:
        plane.apply_pending(lambda _sid: strategy)

    stop_poll = threading.Event()
    clock_ref: list[Any] = []
    if mode == "call_soon_threadsafe":
        plane.start(lambda: loop.loop.call_soon_threadsafe(apply))
    elif mode.startswith("loop poll"):
        interval = float(mode.split()[-1].rstrip("ms")) / 1000.0

        async def poll() -> None:
            while not stop_poll.is_set():
                apply()
                await asyncio.sleep(interval)

        plane.start(lambda: None)
        asyncio.run_coroutine_threadsafe(poll(), loop.loop)
    elif mode == "LiveClock timer 1ms":
        from datetime import timedelta

        from nautilus_trader.common.component import LiveClock

        plane.start(lambda: None)

        def make_clock() -> None:
            clock = LiveClock()
            clock.set_timer("drain", timedelta(milliseconds=1), callback=lambda _e: apply())
            clock_ref.append(clock)

        loop.loop.call_soon_threadsafe(make_clock)
    else:
        raise ValueError(mode)
    plane.listener.wait_connected(5)
    latencies: list[int] = []
    try:
        for i in range(commands + warmup):
            strategy.effect.clear()
            command = client.command("pause" if i % 2 == 0 else "resume", STRATEGY)
            start = time.perf_counter_ns()
            client.send(command)
            if not strategy.effect.wait(5):
                raise RuntimeError(f"{mode}: command {i} had no effect in 5 s")
            if i >= warmup:
                latencies.append(strategy.effect_ns - start)
    finally:
        stop_poll.set()
        for clock in clock_ref:
            clock.cancel_timers()
        plane.stop(2)
        plane.close()
        client_redis.close()
        loop.stop()
    return latencies, strategy.off_loop


def _round_trip(url: str, commands: int) -> list[int]:
    """Full request -> reply round trips (client-visible), call_soon_threadsafe mode."""
    strategy = StandIn()
    loop = Loop(strategy).start()
    plane = _plane_on_loop(url, loop, strategy)
    client_redis = connect(RedisSettings(url), extra_socket_timeout=1.0)
    client = ControlClient(client_redis, StreamNames(TRADER), SECRET, poll_ms=1000)
    out = []
    try:
        for i in range(commands):
            command = client.command("status", STRATEGY)
            start = time.perf_counter_ns()
            reply = client.request(command, timeout=5)
            out.append(time.perf_counter_ns() - start)
            if not reply.ok:
                raise RuntimeError(f"status {i}: {reply.reason}")
    finally:
        plane.stop(2)
        plane.close()
        client_redis.close()
        loop.stop()
    return out


def storm_fields(count: int, secret: bytes, trader: str, strategy: str) -> list[dict[str, str]]:
    """``count`` entries: 10 % valid status commands, the rest bad in assorted ways."""
    rng = np.random.default_rng(7)
    now = time.time_ns()
    run_tag = os.urandom(4).hex()  # fresh nonces and ids per run: reruns must not be replays
    out: list[dict[str, str]] = []
    valid_template: dict[str, Any] = {
        "type": "status",
        "trader_id": trader,
        "strategy_id": strategy,
        "timestamp_ns": now,
    }
    for i in range(count):
        body = dict(
            valid_template, command_id=f"storm-{run_tag}-{i}", nonce=f"storm-{run_tag}-{i:010d}"
        )
        kind = i % 10
        if kind == 0:  # valid
            out.append(seal(parse_command(body), secret).to_fields())
        elif kind in (1, 2, 3):  # wrong secret
            out.append(seal(parse_command(body), b"wrong-secret-000000000").to_fields())
        elif kind == 4:  # unsigned
            fields = seal(parse_command(body), secret).to_fields()
            del fields["sig"]
            out.append(fields)
        elif kind == 5:  # junk
            out.append({"junk": rng.bytes(16).hex()})
        elif kind == 6:  # expired
            old = dict(body, timestamp_ns=now - 3600 * 10**9)
            out.append(seal(parse_command(old), secret).to_fields())
        elif kind == 7:  # replay of the last valid one
            out.append(dict(out[i - 7]))
        elif kind == 8:  # signed, unknown strategy
            other = dict(body, strategy_id="Nobody-999")
            out.append(seal(parse_command(other), secret).to_fields())
        else:  # bad signature, right length
            fields = seal(parse_command(body), secret).to_fields()
            fields["sig"] = "0" * 64
            out.append(fields)
    return out


def _storm_sender(url: str, count: int, trader: str, strategy: str) -> int:
    """Subprocess entry: push the storm as fast as Redis takes it (pipelines of 200)."""
    client = connect(RedisSettings(url, socket_timeout=10.0))
    names = StreamNames(trader)
    entries = storm_fields(count, SECRET, trader, strategy)
    print("ready", flush=True)
    sys.stdin.readline()  # wait for "go": keep start-up and signing out of the measured window
    start = time.perf_counter()
    for offset in range(0, count, 200):
        pipe = client.pipeline(transaction=False)
        for fields in entries[offset : offset + 200]:
            pipe.xadd(names.commands, fields, maxlen=50_000, approximate=True)
        pipe.execute()
    print(json.dumps({"sent": count, "seconds": time.perf_counter() - start}), flush=True)
    return 0


def run_storm_sender(url: str, count: int, trader: str, strategy: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_control",
            "--storm-sender",
            url,
            "--storm",
            str(count),
            "--trader",
            trader,
            "--strategy",
            strategy,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )


def _storm(url: str, count: int) -> dict[str, float]:
    strategy = StandIn()
    loop = Loop(strategy).start()
    plane = _plane_on_loop(url, loop, strategy)
    period = 0.001  # a bar every ms: far denser than any live FX feed
    sender = run_storm_sender(url, count, TRADER, STRATEGY)
    try:
        assert sender.stdout is not None and sender.stdin is not None
        if sender.stdout.readline().strip() != "ready":
            raise RuntimeError("storm sender did not start")
        loop.start_bars(period)
        time.sleep(2.0)
        baseline = list(loop.lateness_ns)
        loop.lateness_ns.clear()
        start = time.perf_counter()
        sender.stdin.write("go\n")
        sender.stdin.flush()
        deadline = time.monotonic() + 120
        while plane.listener.stats.replies_written < count and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        sender.wait(30)
        during = list(loop.lateness_ns)
        loop.stop_bars()
    finally:
        plane.stop(2)
        plane.close()
        loop.stop()
    stats = plane.listener.stats
    return {
        "commands": count,
        "accepted": stats.accepted,
        "rejected": stats.rejected,
        "replies": stats.replies_written,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "bars_baseline": len(baseline),
        "lateness_baseline_p50_ms": _pct(baseline, 50),
        "lateness_baseline_p99_ms": _pct(baseline, 99),
        "lateness_baseline_max_ms": max(baseline) / 1e6,
        "bars_storm": len(during),
        "lateness_storm_p50_ms": _pct(during, 50),
        "lateness_storm_p99_ms": _pct(during, 99),
        "lateness_storm_max_ms": max(during) / 1e6,
    }


def _print_result(title: str, result: dict[str, float]) -> None:
    print(f"\n{title}:")
    for key, value in result.items():
        print(
            f"  {key:<28}{value:12.3f}" if isinstance(value, float) else f"  {key:<28}{value:12d}"
        )


# -- storm against a live TradingNode ----------------------------------------------------------

NODE_BAR_MS = 2.0
NODE_STRATEGY = "BarTimingStrategy-001"


def _timing_strategy_module() -> Any:
    """Define the bar-timing strategy lazily (keeps Nautilus out of the import of this module)."""
    from nautilus_trader.config import StrategyConfig
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.trading.strategy import Strategy

    class BarTimingConfig(StrategyConfig, frozen=True, kw_only=True):
        bar_type: str

    class BarTimingStrategy(Strategy):
        """Records, per bar, (wall ns when handled, ns since the data client emitted it)."""

        def __init__(self, config: BarTimingConfig) -> None:
            super().__init__(config)
            self.timings: list[tuple[int, int]] = []
            self.paused = False

        def on_start(self) -> None:
            self.subscribe_bars(BarType.from_str(self.config.bar_type))

        def on_bar(self, bar: Bar) -> None:
            now = time.time_ns()
            self.timings.append((now, now - bar.ts_init))

        def pause_trading(self, reason: str) -> None:
            self.paused = True

        def resume_trading(self) -> None:
            self.paused = False

        def flatten(self, reason: str) -> None:
            self.paused = True

        def set_risk(self, *args: float | None) -> None:
            pass

        def switch_model(self, config: dict[str, Any]) -> None:
            pass

        def control_status(self) -> dict[str, Any]:
            return {"paused": self.paused, "bars": len(self.timings)}

    # Register on the importable module (under ``python -m`` this file runs as __main__).
    module = importlib.import_module("benchmarks.bench_control")
    module.BarTimingConfig = BarTimingConfig  # type: ignore[attr-defined]
    module.BarTimingStrategy = BarTimingStrategy  # type: ignore[attr-defined]
    return module


def _write_node_catalog(folder: Path, rows: int) -> Path:
    """Real EUR/USD M1 BID bars (HistData) + an ASK side at 0.3 pip, as a catalog."""
    from datetime import UTC, datetime, timedelta

    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.persistence.catalog import ParquetDataCatalog
    from nautilus_trader.test_kit.providers import TestInstrumentProvider

    from nautilus_ai.paths import shared_data_dir

    source = shared_data_dir() / "histdata" / "DAT_ASCII_EURUSD_M1_201701.csv"
    table = []
    with source.open() as handle:
        for line in handle:
            stamp, o, h, low, c, _v = line.strip().split(";")
            opened = datetime.strptime(stamp, "%Y%m%d %H%M%S").replace(tzinfo=UTC)
            closed = opened + timedelta(hours=5, minutes=1)  # EST, bar close time
            table.append(
                (int(closed.timestamp()) * 10**9, float(o), float(h), float(low), float(c))
            )
            if len(table) >= rows:
                break
    array = np.asarray(table)
    ts = array[:, 0].astype(np.int64).astype(np.uint64)
    catalog = ParquetDataCatalog(str(folder))
    catalog.write_data([TestInstrumentProvider.default_fx_ccy("EUR/USD", Venue("SIM"))])
    for side, shift in (("BID", 0.0), ("ASK", 0.00003)):
        o, h, low, c = (np.round(array[:, k] + shift, 5) for k in range(1, 5))
        bar_type = BarType.from_str(f"EUR/USD.SIM-1-MINUTE-{side}-EXTERNAL")
        volume = np.full(len(ts), 1_000_000.0)
        catalog.write_data(
            Bar.from_raw_arrays_to_list(bar_type, 5, 0, o, h, low, c, volume, ts, ts)
        )
    return folder


def node_storm(url: str, count: int, folder: Path, trader: str) -> dict[str, float]:
    """Run a live node on replayed bars; storm its control plane; compare bar delays."""
    import yaml

    from nautilus_ai.live import load_live_config, run_live

    _timing_strategy_module()
    folder.mkdir(parents=True)
    bars = 8_000
    catalog = _write_node_catalog(folder / "catalog", bars)
    bid, ask = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"
    config = {
        "name": "storm",
        "node": {
            "trader_id": trader,
            "logging": {"log_level": "ERROR"},
            "timeout_post_stop": 0.5,
            "timeout_disconnection": 2,
            "strategies": [
                {
                    "strategy_path": "benchmarks.bench_control:BarTimingStrategy",
                    "config_path": "benchmarks.bench_control:BarTimingConfig",
                    "config": {"bar_type": bid, "order_id_tag": "001"},
                }
            ],
        },
        "data_clients": {
            "REPLAY": {
                "kind": "replay",
                "config": {
                    "catalog_path": str(catalog),
                    "instrument_id": "EUR/USD.SIM",
                    "bar_types": [bid, ask],
                    "speed": 60_000 / NODE_BAR_MS,
                    "max_gap_secs": NODE_BAR_MS / 1000,
                    "start_delay_secs": 0.2,
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
                },
            }
        },
        "control": {"listen": True, "redis_url": url, "block_ms": 200},
        "run": {"stop_after_replay": True, "replay_grace_secs": 0.2},
    }
    path = folder / "storm.yaml"
    path.write_text(yaml.safe_dump(config))
    os.environ.setdefault("NAUTILUS_AI_CONTROL_SECRET", SECRET.decode())
    if os.environ["NAUTILUS_AI_CONTROL_SECRET"] != SECRET.decode():
        raise RuntimeError("NAUTILUS_AI_CONTROL_SECRET is set to another value; unset it")
    run_file = load_live_config(path)
    sender = run_storm_sender(url, count, trader, NODE_STRATEGY)
    phases: dict[str, float] = {}
    reader = connect(RedisSettings(url))
    replies_key = StreamNames(trader).replies

    captured: dict[str, Any] = {}
    round_trips: list[int] = []

    def drive(node: Any) -> None:
        strategy = node.trader.strategies()[0]
        captured["strategy"] = strategy
        try:
            assert sender.stdout is not None and sender.stdin is not None
            sender.stdout.readline()  # "ready": signed and waiting
            deadline = time.monotonic() + 30
            while len(strategy.timings) < 500 and time.monotonic() < deadline:
                time.sleep(0.01)
            # Round trips while bars flow: client XADD -> applied on the node's loop -> reply.
            client = ControlClient(
                connect(RedisSettings(url), extra_socket_timeout=1.0),
                StreamNames(trader),
                SECRET,
                poll_ms=1000,
            )
            for _ in range(200):
                begin = time.perf_counter_ns()
                client.request(client.command("status", NODE_STRATEGY), timeout=5)
                round_trips.append(time.perf_counter_ns() - begin)
            phases["storm_start"] = time.time_ns()
            sender.stdin.write("go\n")
            sender.stdin.flush()
            while reader.xlen(replies_key) < count and time.monotonic() < deadline + 60:
                time.sleep(0.01)
            phases["storm_end"] = time.time_ns()
        finally:
            sender.wait(30)

    def on_built(node: Any) -> None:
        threading.Thread(target=drive, args=(node,), daemon=True).start()

    outcome = run_live(run_file, on_built=on_built)
    statuses = [fields["status"] for _id, fields in reader.xrange(replies_key)]
    reader.close()
    timings = captured["strategy"].timings
    start, end = phases["storm_start"], phases["storm_end"]
    baseline = [delay for handled, delay in timings if handled < start]
    during = [delay for handled, delay in timings if start <= handled <= end]
    # Gaps between consecutive on_bar calls: a stalled loop also delays the replay itself.
    handled_ns = np.asarray([handled for handled, _delay in timings], dtype=np.int64)
    gaps = np.diff(handled_ns)
    in_storm = (handled_ns[1:] >= start) & (handled_ns[1:] <= end)
    before = handled_ns[1:] < start
    return {
        "bars_total": len(timings),
        "replayed": int(outcome.replay["REPLAY"]["bars"]),
        "commands": count,
        "applied": statuses.count("applied"),
        "rejected": statuses.count("rejected"),
        "seconds": (end - start) / 1e9,
        "per_second": count / ((end - start) / 1e9),
        "status_round_trip_p50_ms": _pct(round_trips, 50),
        "status_round_trip_p99_ms": _pct(round_trips, 99),
        "bars_baseline": len(baseline),
        "delay_baseline_p50_ms": _pct(baseline, 50),
        "delay_baseline_p99_ms": _pct(baseline, 99),
        "delay_baseline_max_ms": max(baseline) / 1e6,
        "bars_storm": len(during),
        "delay_storm_p50_ms": _pct(during, 50),
        "delay_storm_p99_ms": _pct(during, 99),
        "delay_storm_max_ms": max(during) / 1e6,
        "gap_baseline_max_ms": float(gaps[before].max()) / 1e6,
        "gap_storm_p99_ms": float(np.percentile(gaps[in_storm], 99)) / 1e6,
        "gap_storm_max_ms": float(gaps[in_storm].max()) / 1e6,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_control")
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--storm", type=int, default=10_000)
    parser.add_argument(
        "--modes", default="call_soon_threadsafe,loop poll 1ms,loop poll 5ms,LiveClock timer 1ms"
    )
    parser.add_argument("--repeats", type=int, default=3, help="storm repetitions")
    parser.add_argument("--no-node", action="store_true", help="skip the live TradingNode storm")
    parser.add_argument("--storm-sender", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--trader", default=TRADER, help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default=STRATEGY, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.getLogger("nautilus_ai.control").setLevel(logging.ERROR)  # 9,000 rejections
    if args.storm_sender:
        return _storm_sender(args.storm_sender, args.storm, args.trader, args.strategy)

    with tempfile.TemporaryDirectory() as tmp, LocalRedisServer(Path(tmp)) as server:
        print(f"redis-server {server.url} (pid {server.pid}); {os.cpu_count()} cores")
        print(f"\nsend -> effect on the loop, {args.commands} commands each (ms)")
        print(f"{'mode':<24}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  off-loop")
        for mode in args.modes.split(","):
            latencies, off_loop = _latency_run(server.url, mode, args.commands)
            print(
                f"{mode:<24}{_pct(latencies, 50):8.3f}{_pct(latencies, 90):8.3f}"
                f"{_pct(latencies, 99):8.3f}{max(latencies) / 1e6:8.3f}  {off_loop}"
            )
        trips = _round_trip(server.url, min(args.commands, 500))
        print(
            f"\nclient request -> reply (status), {len(trips)}: p50 {_pct(trips, 50):.3f} ms, "
            f"p99 {_pct(trips, 99):.3f} ms"
        )
        for rep in range(args.repeats):
            result = _storm(server.url, args.storm)
            _print_result(
                f"storm {rep + 1}/{args.repeats}, stand-in loop, a bar every 1 ms", result
            )
        if not args.no_node:
            for rep in range(args.repeats):
                result = node_storm(
                    server.url, args.storm, Path(tmp) / f"node{rep}", f"STORM-{rep + 1:03d}"
                )
                _print_result(
                    f"storm {rep + 1}/{args.repeats}, live TradingNode, replayed bars every "
                    f"{NODE_BAR_MS:g} ms (delay = on_bar time - bar emitted)",
                    result,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
