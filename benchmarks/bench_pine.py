"""Pine export and its checks: export time, pynescript parse (cold / warm), PineTS run time on a
month of real bars, the whole ``--check``, and a distilled tree's fit time and fidelity.

Run: ``.venv/bin/python -m benchmarks.bench_pine [--model ARTIFACT] [--repeat 5]``.
Targets: export <= 1 s; every feature within 1e-6 of Python; signals >= 99.5 %.
Input: HistData EUR/USD M1, January 2017 for the checks (31,500 accepted bars); without
``--model`` a 28 -> 32 -> 3 torch MLP is fitted in seconds on February-April 2017 features and
15-bar forward-return labels (``fit_quick_mlp`` of tests/integration/pine/pine_fixtures.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from nautilus_ai.data import histdata_m1_files, read_histdata_m1
from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.pine import (
    PineSyntaxChecker,
    StrategyOptions,
    check_export,
    ensure_pinets,
    export_distilled,
    export_mlp_artifact,
    export_rule,
)
from tests.integration.pine.pine_fixtures import accepted, fit_quick_mlp


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_pine")
    parser.add_argument("--model", help="MLP artifact (default: fit the quick model)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-confidence", type=float, default=0.40)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)

    files = histdata_m1_files(args.data_dir)
    month = accepted(read_histdata_m1(files[0]))
    fit = accepted(read_histdata_m1(files[1:4]))
    spec = FeatureSpec()
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            artifact = Path(args.model)
        else:
            start = time.perf_counter()
            artifact = fit_quick_mlp(
                fit,
                Path(tmp),
                created_at=datetime.now(UTC),
                description="fitted in seconds for the Pine benchmark; no edge",
            )
            print(f"fitted the quick MLP in {time.perf_counter() - start:.1f} s")
        options = StrategyOptions(min_confidence=args.min_confidence)

        export = export_mlp_artifact(artifact, options=options)
        exact = _best(lambda: export_mlp_artifact(artifact, options=options), args.repeat)
        rule = _best(lambda: export_rule(spec, options=options), args.repeat)
        out = Path(tmp) / "cli.pine"
        cli = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "nautilus_ai.cli", "export-pine", "--model",
                 str(artifact), "--out", str(out)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            cli.append(time.perf_counter() - start)
        print(f"export, exact MLP ({len(export.script):,} bytes): best {exact * 1e3:.1f} ms")
        print(f"export, rule: best {rule * 1e3:.1f} ms")
        print(f"`nautilus-ai export-pine` process, wall: median {statistics.median(cli):.2f} s")

        start = time.perf_counter()
        checker = PineSyntaxChecker()
        cold = time.perf_counter() - start
        first = checker.check(export.script)
        warm = _best(lambda: checker.check(export.script), 2)
        print(
            f"pynescript: checker start {cold:.1f} s, first parse of the export "
            f"{first.seconds:.1f} s, warm parse {warm:.2f} s ({'ok' if first.ok else 'ERROR'})"
        )

        modules = ensure_pinets()
        from nautilus_ai.models import TorchPredictor

        reference = TorchPredictor.from_artifact(artifact, spec=spec, device="cpu")
        report = check_export(export, month, reference, checker=checker, node_modules=str(modules))
        assert report.pinets is not None and report.parity is not None
        run = report.pinets
        print(
            f"PineTS {run.pinets_version}: {run.bars:,} bars in {run.run_seconds:.1f} s "
            f"({run.run_seconds / run.bars * 1e6:.0f} us/bar), node wall {run.wall_seconds:.1f} s"
        )
        print(report.parity.summary())
        print(f"whole check (parse + PineTS + python + compare): {report.seconds:.1f} s")

        x = compute_features(spec, fit.ts_event, fit.open, fit.high, fit.low, fit.close, fit.volume)
        start = time.perf_counter()
        distilled = export_distilled(reference, spec, x, options=options)
        print(f"distilled export: {time.perf_counter() - start:.1f} s, tree depth "
              f"{distilled.tree.depth}, {distilled.tree.node_count} nodes")  # type: ignore[union-attr]  # fmt: skip
        print(f"  at min confidence {args.min_confidence}: {distilled.distill_report.summary()}")  # type: ignore[union-attr]
        for threshold in (0.55, 0.0):
            other = export_distilled(
                reference, spec, x, options=StrategyOptions(min_confidence=threshold)
            )
            print(f"  at min confidence {threshold}: {other.distill_report.summary()}")  # type: ignore[union-attr]
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
