"""Run a Pine script in PineTS (npm ``pinets``) on our own bars, as a separate node process.

PineTS is AGPL-3.0: it is a test-time tool here. :func:`ensure_pinets` installs the pinned
version (``harness/package.json`` + ``package-lock.json``, ``npm ci``) into a cache folder outside
the package, and :func:`run_pinets` runs ``harness/run_pinets.js`` with ``node``; nothing of PineTS
is bundled into or imported by nautilus-ai.

Bars go in as the close-time stamps the Python side uses: ``closeTime`` = ``ts_event`` (ms) and
``openTime`` = ``closeTime - bar_seconds``, so Pine's ``time_close`` is the bar close exactly like
the feature clock. Plots come back by title, one value per bar (``None`` for na -> NaN).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.paths import repo_root
from nautilus_ai.pine.literals import pine_timeframe
from nautilus_ai.services import ServiceNotFoundError, program_environment, require

__all__ = [
    "PINETS_DIR_ENV",
    "PINETS_VERSION",
    "PineTSError",
    "PineTSResult",
    "default_pinets_dir",
    "ensure_pinets",
    "harness_dir",
    "run_pinets",
]

#: The pinned PineTS version (``harness/package.json``; the lockfile pins its dependencies).
PINETS_VERSION = "0.9.34"
#: Environment variable naming the folder PineTS is installed into.
PINETS_DIR_ENV = "NAUTILUS_AI_PINETS_DIR"
_STAMP = ".nautilus-ai-lock.sha256"


class PineTSError(RuntimeError):
    """PineTS could not be installed or the script failed to run in it (message has node's
    stderr)."""


@dataclass(frozen=True)
class PineTSResult:
    """What one PineTS run returned.

    Parameters
    ----------
    plots : dict of str to ndarray
        Every ``plot()`` by title: float64, one value per bar, NaN for na.
    bars : int
        Bars the script ran on.
    run_seconds : float
        Time PineTS spent transpiling and running (inside node).
    wall_seconds : float
        Wall time of the whole call (node start, JSON both ways, run).
    pinets_version : str
        The PineTS version that ran.
    strategy : dict or None
        Strategy results when the script is a ``strategy()``: ``closed_trades`` / ``open_trades``
        (entry / exit bar index, price, comment, signed size, profit), ``netprofit``,
        ``position_size``.
    node : str
        The node binary that ran PineTS and its version (``"/path/to/node v24.19.0"``).
    """

    plots: dict[str, NDArray[np.float64]]
    bars: int
    run_seconds: float
    wall_seconds: float
    pinets_version: str
    strategy: dict[str, Any] | None = field(default=None, compare=False)
    node: str = field(default="", compare=False)


def harness_dir() -> Path:
    """The folder holding ``package.json``, ``package-lock.json`` and ``run_pinets.js``."""
    return Path(str(resources.files("nautilus_ai.pine") / "harness"))


def default_pinets_dir() -> Path:
    """``$NAUTILUS_AI_PINETS_DIR``, else ``<repo>/.cache/pinets`` (git-ignored)."""
    explicit = os.environ.get(PINETS_DIR_ENV)
    if explicit:
        return Path(explicit)
    return repo_root() / ".cache" / "pinets"


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((harness_dir() / name).read_bytes())
    return digest.hexdigest()


def ensure_pinets(
    install_dir: str | os.PathLike[str] | None = None, *, timeout: float = 300.0
) -> Path:
    """Install the pinned PineTS with ``npm ci`` unless already there; return its node_modules.

    The install is keyed by the SHA-256 of the harness's ``package.json`` + lockfile (a stamp
    file), so a version bump reinstalls. Needs ``node`` and ``npm``
    (:func:`nautilus_ai.services.require`: the ``pine`` extra's wheel, or ``PATH``) and the npm
    registry (or its cache).

    Raises
    ------
    PineTSError
        ``node``/``npm`` missing, or ``npm ci`` failed or timed out (its output is in the message).
    """
    folder = Path(install_dir) if install_dir is not None else default_pinets_dir()
    modules = folder / "node_modules"
    digest = _lock_digest()
    stamp = folder / _STAMP
    installed = (modules / "pinets" / "package.json").is_file() and stamp.is_file()
    if installed and stamp.read_text(encoding="utf-8").strip() == digest:
        return modules
    try:
        node = require("node")
        npm = require("npm")
    except ServiceNotFoundError as exc:
        raise PineTSError(f"PineTS needs node and npm: {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(harness_dir() / name, folder / name)
    command = [*npm.command, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    command.append("--loglevel=error")
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=program_environment(node),  # npm's own `#!/usr/bin/env node` finds this node
        )
    except subprocess.TimeoutExpired as exc:
        raise PineTSError(f"`npm ci` in {folder} timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise PineTSError(
            f"`npm ci` in {folder} failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    if not (modules / "pinets" / "package.json").is_file():
        raise PineTSError(f"`npm ci` in {folder} did not install pinets")
    stamp.write_text(digest + "\n", encoding="utf-8")
    return modules


def run_pinets(
    script: str,
    ts_event_ns: NDArray[np.int64],
    open: NDArray[np.float64],
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    close: NDArray[np.float64],
    volume: NDArray[np.float64],
    *,
    bar_seconds: int = 60,
    node_modules: str | os.PathLike[str] | None = None,
    timeout: float = 600.0,
) -> PineTSResult:
    """Run ``script`` in PineTS on the bars and return its plots.

    Parameters
    ----------
    script : str
        Pine Script v6 source (``indicator()`` or ``strategy()``).
    ts_event_ns : array of int
        Bar close times, UTC ns (``time_close`` in Pine).
    open, high, low, close, volume : array of float
        The bars.
    bar_seconds : int
        Bar length; ``time`` (the open) is ``time_close - bar_seconds``, and the chart's
        timeframe (``timeframe.in_seconds()``) is this.
    node_modules : path, optional
        Where PineTS is installed (:func:`ensure_pinets`, called when omitted).
    timeout : float
        Seconds before node is killed.

    Raises
    ------
    PineTSError
        node failed (the message carries its stderr) or timed out.
    """
    start = time.perf_counter()
    modules = (Path(node_modules) if node_modules is not None else ensure_pinets()).resolve()
    close_ms = np.asarray(ts_event_ns, dtype=np.int64) // 1_000_000
    bars = {
        "open": np.asarray(open, dtype=np.float64).tolist(),
        "high": np.asarray(high, dtype=np.float64).tolist(),
        "low": np.asarray(low, dtype=np.float64).tolist(),
        "close": np.asarray(close, dtype=np.float64).tolist(),
        "volume": np.asarray(volume, dtype=np.float64).tolist(),
        "open_time": (close_ms - bar_seconds * 1000).tolist(),
        "close_time": close_ms.tolist(),
    }
    lengths = {key: len(values) for key, values in bars.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"bar arrays differ in length: {lengths}")
    try:
        node = require("node")
    except ServiceNotFoundError as exc:
        raise PineTSError(f"PineTS needs node: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="nautilus-ai-pinets-") as tmp:
        request = Path(tmp) / "request.json"
        response = Path(tmp) / "response.json"
        # The chart's timeframe (``timeframe.period`` / ``in_seconds`` in the script): the
        # bars' own, so a script's timeframe guard runs as on TradingView.
        payload_in = {"script": script, "bars": bars, "timeframe": pine_timeframe(bar_seconds)}
        request.write_text(json.dumps(payload_in), encoding="utf-8")
        command = [
            *node.command,
            str(harness_dir() / "run_pinets.js"),
            str(modules),
            str(request),
            str(response),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PineTSError(f"PineTS run timed out after {timeout:.0f} s") from exc
        if done.returncode != 0 or not response.is_file():
            raise PineTSError(
                f"PineTS run failed (exit {done.returncode}): {done.stderr.strip()[-4000:]}"
            )
        payload = json.loads(response.read_text(encoding="utf-8"))
    plots = {
        str(title): np.array(values, dtype=np.float64)  # None (na) -> NaN
        for title, values in payload["plots"].items()
    }
    return PineTSResult(
        plots=plots,
        bars=int(payload["bars"]),
        run_seconds=float(payload["run_ms"]) / 1000.0,
        wall_seconds=time.perf_counter() - start,
        pinets_version=str(payload["pinets_version"]),
        strategy=payload.get("strategy"),
        node=f"{payload['node']['path']} {payload['node']['version']}",
    )
