"""Experiments on Ray: worker scaling, Ray's overhead per run, a worker's memory, and the
6-fold x 8-parameter x 2-family walk-forward experiment on the demo data.

1. **Scaling.** The same runs (``--runs`` rule backtests, one per 2-week fold of the demo
   data) on a local Ray with 1 worker, then 2, alternately ``--repeat`` times; runs/s measured
   from the first submission to the last stored result, each into a fresh results library.
   Ray is started (and its workers warmed: one task per worker imports the backtest stack and
   runs the first backtest once, as the loop's own warm-up run) before the
   clock starts; the start-up costs are reported apart.
2. **Overhead.** The same runs in a plain in-process loop (``--in-process``: no Ray, same
   functions, same storing) against Ray with 1 warm worker: extra seconds per run.
3. **Memory.** 20 runs in one worker: its RSS after each (``/proc/self/statm``).
4. **The experiment.** ``backtests/experiment_walk_forward.yaml`` (6 folds x 8 strategy
   settings x MLP and LightGBM, 96 runs + 6 baseline runs + 12 trainings) with 2 workers,
   its wall time and per-run costs, and from those the estimated wall time on a 32-core
   machine and on a 10-node cluster (on paper).

The load average is printed with every figure: the box is shared, ratios in one run are what
to compare. Run: ``python -m benchmarks.bench_experiments [--runs N] [--repeat N]
[--catalog PATH] [--skip-experiment]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any


def _load() -> str:
    one, five = os.getloadavg()[:2]
    return f"load {one:.1f}/{five:.1f}"


def _burn(seconds: float) -> int:
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        count += 1
    return count


def free_cores(seconds: float = 1.0) -> float:
    """How many cores two busy processes get right now (2.0 on an idle 2-core box): the
    other helpers' load, measured, not guessed from the load average."""
    import multiprocessing

    alone = _burn(seconds)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pair = pool.map(_burn, [seconds, seconds])
    return sum(pair) / alone


def _rule_runs(catalog: Path, store: Path, runs: int) -> tuple[Any, list[Any], dict[str, str]]:
    from nautilus_ai.experiments.config import parse_experiment
    from nautilus_ai.experiments.plan import baseline_runs, data_fingerprint
    from nautilus_ai.experiments.runner import load_base_run

    experiment = parse_experiment({
        "name": "bench", "store": str(store),
        "data": {"catalog": str(catalog), "instruments": ["EUR/USD.SIM"],
                 "bar_types": ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"],
                 "start": "2017-01-02", "end": "2017-07-01"},
        "walk_forward": {"train": "3d", "validation": "1d", "test": "7d", "step": "7d",
                         "max_folds": runs},
        "families": [{"family": "rule"}],
    })  # fmt: skip
    bar_type = experiment.markets[0].bar_type
    data = {bar_type: data_fingerprint(catalog, bar_type, experiment.end_ns)}
    specs = baseline_runs(experiment, load_base_run("demo"), data, "bench")
    return experiment, specs, data


def _warm(session: Any, workers: int, spec: Any = None) -> None:
    """Import the backtest stack in every worker before the clock starts, and with ``spec``
    run that backtest once in each, as the in-process loop's warm-up run does (a worker's first
    run pays one-off imports and caches, ~0.4 s here)."""

    def warm(_: int) -> int:
        import importlib

        for module in ("nautilus_ai.backtest.runner", "nautilus_ai.experiments.tasks"):
            importlib.import_module(module)
        if spec is not None:
            from nautilus_ai.experiments.tasks import run_backtest_task

            run_backtest_task(spec, None)
        time.sleep(1.0)  # hold the worker so the next task lands on another one
        return os.getpid()

    remote = session.ray.remote(num_cpus=1)(warm)
    pids = set(session.ray.get([remote.remote(i) for i in range(workers)]))
    assert len(pids) == workers, pids


def _execute(specs: list[Any], data: dict[str, str], session: Any, store: Path) -> float:
    """Seconds to run and store ``specs`` into a fresh library at ``store``."""
    from nautilus_ai.experiments.execution import execute_runs
    from nautilus_ai.experiments.store import ResultsStore

    specs = [dataclasses.replace(s, experiment=store.name) for s in specs]
    start = time.perf_counter()
    stats = execute_runs(specs, ResultsStore(store), data=data, code="bench", session=session,
                         progress=lambda _line: None)  # fmt: skip
    seconds = time.perf_counter() - start
    assert stats.ran == len(specs) and stats.failed == 0, stats
    return seconds


def scaling_and_overhead(catalog: Path, runs: int, repeat: int, root: Path) -> dict[str, Any]:
    from nautilus_ai.experiments.execution import RaySession
    from nautilus_ai.experiments.tasks import run_backtest_task

    _, specs, data = _rule_runs(catalog, root / "plan", runs)
    n = len(specs)
    run_backtest_task(specs[0], None)  # the in-process loop gets its imports and caches warm too
    timings: dict[str, list[float]] = {"loop": [], "ray1": [], "ray2": []}
    startup: dict[str, float] = {}
    for i in range(repeat):
        for name in ("loop", "ray1", "ray2"):
            store = root / f"{name}-{i}"
            if name == "loop":
                timings[name].append(_execute(specs, data, None, store))
            else:
                workers = int(name[-1])
                start = time.perf_counter()
                with RaySession(workers=workers) as session:
                    started = time.perf_counter()
                    _warm(session, workers, specs[0])
                    warmed = time.perf_counter()
                    timings[name].append(_execute(specs, data, session, store))
                startup[f"{name} ray.init"] = started - start
                startup[f"{name} warm-up"] = warmed - started
            print(f"  round {i + 1} {name:>5}: {n} runs in {timings[name][-1]:6.1f} s "
                  f"({n / timings[name][-1]:.2f} runs/s)  [{_load()}, free cores "
                  f"{free_cores():.2f}]", flush=True)  # fmt: skip
    med = {k: statistics.median(v) for k, v in timings.items()}
    out = {
        "runs": n,
        "seconds": med,
        "runs_per_s": {k: n / v for k, v in med.items()},
        "speedup_2_vs_1": med["ray1"] / med["ray2"],
        "speedups": [a / b for a, b in zip(timings["ray1"], timings["ray2"], strict=True)],
        "overhead_per_run_s": (med["ray1"] - med["loop"]) / n,
        "overhead_pct": 100.0 * (med["ray1"] - med["loop"]) / med["loop"],
        "overheads_pct": [
            100.0 * (r - lp) / lp for r, lp in zip(timings["ray1"], timings["loop"], strict=True)
        ],
        "startup": startup,
    }
    print(
        f"  speedup 2 workers vs 1: {out['speedup_2_vs_1']:.2f}x (rounds: "
        + ", ".join(f"{s:.2f}" for s in out["speedups"])
        + ")"
    )
    print(f"  Ray (1 warm worker) vs in-process loop: {out['overhead_per_run_s']*1000:+.0f} ms "
          f"a run, {out['overhead_pct']:+.1f}% (rounds: "
          + ", ".join(f"{s:+.1f}%" for s in out["overheads_pct"]) + ")")  # fmt: skip
    print("  start-up: " + ", ".join(f"{k} {v:.1f} s" for k, v in startup.items()))
    return out


def worker_memory(catalog: Path, root: Path, runs: int = 20) -> list[float]:
    from nautilus_ai.experiments.execution import RaySession
    from nautilus_ai.experiments.tasks import run_backtest_task

    _, specs, _ = _rule_runs(catalog, root / "memory", runs)

    def measure(spec: Any) -> tuple[int, float]:
        run_backtest_task(spec, None)
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return os.getpid(), pages * os.sysconf("SC_PAGE_SIZE") / 1e6

    with RaySession(workers=1) as session:
        remote = session.ray.remote(num_cpus=1)(measure)
        measured = [session.ray.get(remote.remote(s)) for s in specs[:runs]]
    assert len({pid for pid, _ in measured}) == 1
    rss = [r for _, r in measured]
    print(
        f"  one worker, {runs} runs: RSS after run 2 {rss[1]:.0f} MB, after run {runs} "
        f"{rss[-1]:.0f} MB ({rss[-1] - rss[1]:+.1f} MB)  [{_load()}]"
    )
    print("  RSS by run (MB): " + " ".join(f"{r:.0f}" for r in rss))
    return rss


def full_experiment(catalog: Path, root: Path, workers: int) -> dict[str, Any]:
    from nautilus_ai.experiments.config import load_experiment
    from nautilus_ai.experiments.runner import run_experiment

    path = Path(str(resources.files("nautilus_ai.backtests") / "experiment_walk_forward.yaml"))
    experiment = dataclasses.replace(load_experiment(path), catalog=catalog,
                                     store=root / "walk-forward")  # fmt: skip
    print(f"  {path.name}: {len(experiment.folds)} folds  [{_load()}]", flush=True)
    start = time.perf_counter()
    outcome = run_experiment(experiment, workers=workers, progress=lambda _line: None)
    wall = time.perf_counter() - start
    assert outcome.ok, outcome.summary_text()
    table = outcome.store.table(
        experiment.name, columns=["role", "family", "elapsed_s", "model_key", "model_seconds"]
    )
    rows = table.to_pylist()
    runs = [r for r in rows if r["family"] != "buy_and_hold"]
    run_seconds = [r["elapsed_s"] for r in runs]
    models = {r["model_key"]: r["model_seconds"] for r in runs if r["model_key"]}
    train_seconds = {
        f: [
            s
            for k, s in models.items()
            if any(r["model_key"] == k and r["family"] == f for r in runs)
        ]
        for f in ("mlp", "lightgbm")
    }
    cpu = sum(run_seconds) + sum(models.values())
    longest = max(models.values()) + max(run_seconds)
    out = {
        "wall_s": wall, "runs": len(runs), "trainings": len(models), "cpu_s": cpu,
        "run_s_mean": statistics.mean(run_seconds), "run_s_max": max(run_seconds),
        "train_s": {f: (statistics.mean(v), max(v)) for f, v in train_seconds.items() if v},
        "longest_chain_s": longest, "summary": outcome.summary_text(),
    }  # fmt: skip
    print(
        f"  wall {wall:.0f} s for {len(runs)} runs + {len(models)} trainings on {workers} "
        f"workers; task CPU time {cpu:.0f} s (runs {sum(run_seconds):.0f} s, mean "
        f"{out['run_s_mean']:.2f} s, max {out['run_s_max']:.2f} s; trainings "
        + ", ".join(f"{f} mean {m:.1f} s max {x:.1f} s" for f, (m, x) in out["train_s"].items())
        + ")"
    )
    # What the parallel work does not explain (Ray start, worker imports, waiting on a fold's
    # training, storing, the report) is kept as a fixed cost: conservative for larger machines.
    fixed = max(0.0, wall - cpu / workers)
    out["fixed_s"] = fixed
    for label, cores in (("32-core machine", 32), ("10-node cluster, 16 cores each", 160)):
        estimate = max(cpu / cores, longest) + fixed
        print(
            f"  estimate on a {label}: max(CPU {cpu:.0f} s / {cores}, longest chain "
            f"{longest:.1f} s) + fixed {fixed:.0f} s = {estimate:.0f} s"
        )
    print(outcome.summary_text())
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_experiments")
    parser.add_argument("--runs", type=int, default=16, help="runs for scaling / overhead")
    parser.add_argument("--repeat", type=int, default=2, help="alternating rounds")
    parser.add_argument("--catalog", help="the demo catalog (default: imported to a temp dir)")
    parser.add_argument("--skip-experiment", action="store_true")
    args = parser.parse_args(argv)
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    with tempfile.TemporaryDirectory(prefix="bench-experiments-") as tmp:
        root = Path(tmp)
        catalog = Path(args.catalog) if args.catalog else ensure_demo_catalog(root / "cat")[0]
        print(f"cores {os.cpu_count()}, {_load()}")
        print("1-2. scaling and Ray overhead")
        scaling_and_overhead(catalog, args.runs, args.repeat, root)
        print("3. worker memory")
        worker_memory(catalog, root)
        if not args.skip_experiment:
            print("4. the 6-fold x 8-parameter x 2-family experiment")
            full_experiment(catalog, root, workers=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
