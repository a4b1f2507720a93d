"""``--address``: the same experiment on a running Ray cluster (a head started here with
``ray start --head`` on a free loopback port, in its own session, killed by pid at the end)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.fixtures.experiments import write_experiment
from tests.integration.experiments.test_experiment_faults import _kill_session

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_experiment_runs_on_a_cluster_given_its_address(
    tmp_path: Path, demo_catalog: Path
) -> None:
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli is not None, "the experiments extra installs the ray command"
    port = _free_port()
    ray_dir = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths must fit 107 bytes
    with (tmp_path / "head.log").open("wb") as log:
        head = subprocess.Popen(
            [ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
             "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
             "--block", "--temp-dir", ray_dir],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert head.poll() is None, (tmp_path / "head.log").read_text()[-3000:]
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        store = tmp_path / "results"
        experiment = write_experiment(tmp_path / "cluster.yaml", catalog=demo_catalog,
                                      store=store, name="cluster", stops=[2.0],
                                      folds=1)  # fmt: skip
        command = [sys.executable, "-m", "nautilus_ai.cli", "experiment", "run",
                   str(experiment), "--address", address, "--no-report"]  # fmt: skip
        no_address = [*command[:-3], "--no-report"]
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
        # Ray 2.60 sends its token only when told to for an explicit address: one line says so
        # (the address given as Ray's RAY_ADDRESS, the same path as --address)
        refused = subprocess.run(no_address, capture_output=True, text=True, timeout=300,
                                 env={**env, "RAY_ADDRESS": address})  # fmt: skip
        assert refused.returncode == 2
        assert refused.stderr.startswith(f"nautilus-ai: error: cannot join the Ray cluster at "
                                         f"{address}")  # fmt: skip
        assert "needs RAY_AUTH_MODE=token" in refused.stderr and refused.stderr.count("\n") == 1
        result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                env={**env, "RAY_AUTH_MODE": "token"})  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"on Ray (2 CPUs, {address})" in result.stdout
        assert "(0 already stored, 3 run, 0 failed)" in result.stdout
        assert ds.dataset(store / "runs" / "cluster").count_rows() == 4  # + the buy & hold row
        assert head.poll() is None  # the driver left the cluster running

        # With no address the experiment starts a Ray of its own, even where ray.init() would
        # join another one (Ray's address file, here under RAY_TMPDIR, names the running head)
        (Path(ray_dir) / "ray").mkdir()
        (Path(ray_dir) / "ray" / "ray_current_cluster").write_text(address)
        local = subprocess.run(no_address, capture_output=True, text=True,
                               timeout=600, env={**env, "RAY_TMPDIR": ray_dir})  # fmt: skip
        assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
        assert "(3 already stored, 0 run, 0 failed) on Ray (2 CPUs, local)" in local.stdout
        assert head.poll() is None
    finally:
        _kill_session(head.pid)
        head.wait(timeout=30)
        shutil.rmtree(ray_dir, ignore_errors=True)


def test_an_address_where_nothing_listens_is_refused_in_seconds(
    tmp_path: Path, demo_catalog: Path
) -> None:
    """Ray itself retries such an address for many minutes with its output held (a silent
    hang); the run refuses it in one line naming the address, before Ray is asked."""
    experiment = write_experiment(tmp_path / "nowhere.yaml", catalog=demo_catalog,
                                  store=tmp_path / "results")  # fmt: skip
    address = f"127.0.0.1:{_free_port()}"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "experiment", "run", str(experiment),
         "--address", address, "--no-report"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert time.perf_counter() - started < 60
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().startswith(
        f"nautilus-ai: error: cannot join the Ray cluster at {address}: no connection to "
        f"{address} (Connection refused; 15 s timeout)"
    ), result.stderr[-2000:]
