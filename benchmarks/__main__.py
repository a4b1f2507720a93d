"""``make bench``: run every ``benchmarks/bench_*.py`` in turn (or the ones named on the line).

Each module has a ``main(argv) -> int`` and prints its figures; run one alone with
``python -m benchmarks.bench_features`` etc. Quiet the machine first: figures are noisy.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks


def main(argv: list[str]) -> int:
    names = argv or sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
    )
    failed = []
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        status = module.main([])
        print(f"=== {name}: exit {status}, {time.perf_counter() - start:.1f} s ===", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
