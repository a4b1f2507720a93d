"""A replay data client whose feed fails after the start checks (a catalog file unreadable by
then) stops the run, which fails naming the client and the error.

Before, the replay task logged its error and ended without its "finished" message: a node with
``stop_after_replay`` waited for it without end (the strategy saw no bar), and, stopped by hand
or by ``max_runtime_secs``, the run said ``status ok``, exit 0.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fixtures.live_configs import live_config
from fixtures.replay_catalog import BID

from nautilus_ai.live import load_live_config, run_live


def test_a_replay_that_fails_mid_start_stops_and_fails_the_run(
    tmp_path: Path, replay_catalog: Path
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(replay_catalog, catalog)
    path = live_config(tmp_path, catalog, speed=0, run={"max_runtime_secs": 30.0})
    run_file = load_live_config(path, env={})

    def spoil(node: object) -> None:  # after the start checks, before the feed reads the bars
        for part in (catalog / "data" / "bar" / BID.replace("/", "")).glob("*.parquet"):
            part.write_bytes(b"not a parquet file")

    outcome = run_live(run_file, on_built=spoil)
    assert outcome.stopped_by == "replay REPLAY failed"
    assert outcome.seconds < 20
    assert outcome.status == "failed"
    assert len(outcome.reasons) == 1 and outcome.reasons[0].startswith(
        "replay data client REPLAY failed: "
    ), outcome.reasons
