"""What the core install costs against the torch extra: disk, and the strategy module's import.

1. **Install size**: two fresh venvs of one Python, ``pip install .`` (the core) and
   ``pip install torch==2.13.0 '.[torch]'`` (the local CPU wheel; any other torch spec pulls
   gigabytes of CUDA wheels), each measured with ``du`` (the venv's own pip / setuptools count in
   both). Skipped with ``--no-install`` (it takes minutes).
2. **Import time** of ``nautilus_ai.strategies.ai_pattern`` in fresh interpreters of the running
   Python: the module alone (what the core pays, torch installed or not: the strategy never
   imports it) against the module plus ``import torch`` (what a torch-importing core would pay).
   Interleaved, ``--repeat`` runs each, medians; the ratio comes from one run.

Run: ``python -m benchmarks.bench_install [--repeat 7] [--no-install] [--python python3.11]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STRATEGY = "import nautilus_ai.strategies.ai_pattern"


def _du_mib(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 2**20


def _venv_size(python: str, packages: list[str]) -> tuple[float, float]:
    """(MiB installed, seconds) of a fresh venv with ``packages`` pip-installed."""
    with tempfile.TemporaryDirectory() as work:
        venv = Path(work) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        started = time.perf_counter()
        subprocess.run([*pip, *packages], check=True, cwd=REPO)
        return _du_mib(venv), time.perf_counter() - started


def _import_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_install")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-install", action="store_true", help="only the import timings")
    parser.add_argument("--python", default="python3.11", help="interpreter for the venvs")
    args = parser.parse_args(argv)

    torch_here = importlib.util.find_spec("torch") is not None
    variants = {"strategy module": STRATEGY}
    if torch_here:
        variants["import torch + strategy module"] = f"import torch; {STRATEGY}"
    times: dict[str, list[float]] = {name: [] for name in variants}
    _import_seconds(STRATEGY)  # warm the file cache once
    for _ in range(args.repeat):
        for name, code in variants.items():
            times[name].append(_import_seconds(code))
    base = statistics.median(times["strategy module"])
    print(f"import time, median of {args.repeat} fresh interpreters ({sys.version.split()[0]}):")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<32} {median:6.2f} s   x{median / base:.2f}")

    if not args.no_install:
        python = shutil.which(args.python) or args.python
        core, core_s = _venv_size(python, ["."])
        full, full_s = _venv_size(python, ["torch==2.13.0", ".[torch]"])
        print(f"fresh venv, {args.python}:")
        print(f"  pip install .                            {core:8.0f} MiB  ({core_s:.0f} s)")
        print(
            f"  pip install torch==2.13.0 '.[torch]'     {full:8.0f} MiB  ({full_s:.0f} s)  "
            f"x{full / core:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
