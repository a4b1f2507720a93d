"""The config fuzzer: every packaged config, every key misspelt (at every depth), every value
given a wrong type, every bounded value given an out-of-range value -> exit 2 with the key path,
one line, never a traceback, never exit 0 with a changed meaning.

The full sweep runs through the CLI's in-process entry point (``main([...])`` with ``--check``:
everything a real start checks, nothing run); a sample runs through the real CLI in a
subprocess, without ``--check``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from nautilus_ai.cli import main
from nautilus_ai.config_check import format_path
from nautilus_ai.data.generic_csv import CSV_PRESETS, CsvSpec
from nautilus_ai.paths import shared_data_dir

REPO = Path(__file__).resolve().parents[3]
# Experiment files (backtests/experiment_*.yaml) are not run files: `nautilus-ai experiment`
# reads them with their own strict schema (tests/unit/experiments/test_experiment_config.py).
PACKAGED_RUN_FILES = sorted(
    p for p in (REPO / "backtests").glob("*.yaml") if not p.name.startswith("experiment_")
)
PACKAGED_LIVE = sorted((REPO / "live").glob("*.yaml"))
LIVE_ENV = {
    "NAUTILUS_AI_CONTROL_SECRET": "fuzz-secret-" + "0123456789abcdef" * 2,
    "NAUTILUS_AI_LIVE_TRADING_ACK": "yes",
    "IB_GATEWAY_HOST": "127.0.0.1",
    "IB_GATEWAY_PORT": "4002",
    "IB_ACCOUNT_ID": "DU1234567",
}
# Mappings whose keys the user names (a variable, a client): a changed key is not a typo.
FREE_KEYS = {("environment",), ("data_clients",), ("exec_clients",)}
# Every numeric or enumerated value in a packaged config, by key name: a value outside its range.
# A packaged config that gains a bounded key must add it here (test_every_bounded_key_is_listed).
OUT_OF_RANGE: dict[str, list[Any]] = {
    "default_leverage": [0, -30],
    "bps": [-1, 100],
    "top_size": [0, -5],
    "depth_ticks": [0],
    "levels": [0, -1],
    "min_confidence": [1.5, -0.1, 1.0],
    "stop_loss_atr": [0, -3.0],
    "take_profit_atr": [0, -4.5],
    "max_holding_bars": [0, -240],
    "base_fraction": [0, -0.5, 4.0],
    "full_fraction": [0, -3.0],
    "max_position": [0, -20000],
    "timeout_connection": [0, -1],
    "timeout_post_stop": [0],
    "timeout_disconnection": [-5],
    "timeout": [0, -2],
    "port": [0, 70000, "${NAUTILUS_AI_REDIS_PORT:-6379x}"],
    "buffer_interval_ms": [0, -100],
    "autotrim_mins": [-1],
    "speed": [-600],
    "max_gap_secs": [-0.5],
    "max_bar_age_secs": [0, -60],
    "bar_seconds": [0, -60],
    "every_ticks": [0, -5],
    "entry_atr": [0, -1.0],
    "max_spread_atr": [0, -0.5],
    "starting_balances": [["-100000 USD"], ["100000 USDX"], [], ["100000"], ["1e20 USD"]],
    "log_level": ["LOUD", "ERRORR"],
    "oms_type": ["NETTNG", "netting"],
    "account_type": ["MARGINN"],
    "sample": ["insample"],
    "kind": ["rulee", "sandboxx", "replai"],
    "trader_id": ["PAPER001", "DEMO 001"],
    "bar_type": ["EUR/USD.SIM-0-MINUTE-BID-EXTERNAL", "EUR/USD.SIM-1-MINUTEX-BID-EXTERNAL"],
    "bar_types": [["EUR/USD.SIM-1-MINUTE-BID"], ["EUR/USD.SIM-0-MINUTE-BID-EXTERNAL"]],
    "instrument_id": ["EURUSD"],
    "reconciliation_lookback_mins": [-1],
    "ibg_port": [-4002, "${IB_GATEWAY_PORT}x"],
    "ibg_client_id": ["${IB_CLIENT_ID:-one}"],
    "timestamp_format": ["%Y-%m-%d %f", "seconds"],
    "delimiter": [";;", ""],
    "clock": ["Mars/Olympus"],
    "k": [0, 1001],
    "context_bars": [-1],
    "risk_weight": [1.5, -0.5],
    "start_time": [123, 1493596800, "2017-13-01"],
    "end_time": [1493596800000, "yesterday"],
}
# Numeric values with no range (any number means what it says).
UNBOUNDED = {"random_seed"}


def _walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), item
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index), item
            yield from _walk(item, (*path, index))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _typo(key: str) -> str:
    middle = len(key) // 2
    return key[:middle] + key[middle] + key[middle:]  # a doubled letter: "min_confiidence"


def _wrong_types(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return ["maybe", 1, [True]]
    if isinstance(value, int | float):
        return ["not-a-number", [value], {"value": value}, True, math.nan, math.inf]
    if isinstance(value, str) and "${" in value:  # stands for a number, a flag or text
        return [[value], {"value": value}]
    if isinstance(value, str):
        return [123, [value], {"value": value}]
    if isinstance(value, list):
        return ["text", {"value": 1}, 5]
    if isinstance(value, dict):
        return ["text", [1, 2], 5]
    return []


def mutations(config: Any) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """``(what, path, mutated config)`` for every key and value of ``config``."""
    for path, value in _walk(config):
        key = path[-1]
        if isinstance(key, str) and path[:-1] not in FREE_KEYS:
            mutated = copy.deepcopy(config)
            parent = _parent(mutated, path)
            parent[_typo(key)] = parent.pop(key)
            yield "typo", (*path[:-1], _typo(key)), mutated
        if path[0] == "environment":
            continue  # purposes are free text; names are the user's
        for wrong in _wrong_types(value):
            mutated = copy.deepcopy(config)
            _parent(mutated, path)[key] = wrong
            yield f"type {wrong!r}", path, mutated
        if isinstance(key, str) and key in OUT_OF_RANGE:
            for bad in OUT_OF_RANGE[key]:
                mutated = copy.deepcopy(config)
                _parent(mutated, path)[key] = bad
                yield f"range {bad!r}", path, mutated


def _assert_refused(
    code: int, err: str, out: str, where: str, path: tuple[Any, ...], what: str
) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    key_path = format_path(path)
    context = f"{where} {key_path} {what}: exit {code}, stderr {err!r}, stdout {out[-300:]!r}"
    assert code == 2, context
    assert len(lines) == 1, context
    assert "Traceback" not in err, context
    assert lines[0].startswith("nautilus-ai: error: "), context
    assert f": {key_path}" in lines[0], context


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch, demo_catalog: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(LIVE_ENV, NAUTILUS_AI_CATALOG=str(demo_catalog), NAUTILUS_AI_REPORTS=str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _sweep(
    config: Any,
    argv: list[str],
    target: Path,
    capsys: pytest.CaptureFixture[str],
    dump: Any,
) -> int:
    count = 0
    for what, path, mutated in mutations(config):
        target.write_text(dump(mutated))
        code = main(argv)
        captured = capsys.readouterr()
        _assert_refused(code, captured.err, captured.out, target.name, path, what)
        count += 1
    return count


@pytest.mark.slow
@pytest.mark.parametrize("source", PACKAGED_RUN_FILES, ids=lambda p: p.name)
def test_every_run_file_mutation_is_refused(
    source: Path,
    live_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = yaml.safe_load(source.read_text())
    target = tmp_path / source.name
    target.write_text(source.read_text())
    if source.name == "ticks.yaml":  # quote ticks and MID bars: a few hours of Dukascopy data
        ticks = tmp_path / "ticks"
        hours = sorted((shared_data_dir() / "dukascopy/EURUSD/2019/01/04").glob("0[0-2]h_*"))
        argv = ["data", "import", "dukascopy", *map(str, hours), "--bars", "60:MID"]
        assert main([*argv, "--catalog", str(ticks), "-q"]) == 0
        monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(ticks))
    if source.name == "patterns.yaml":  # --check builds the pattern memory it names: a small one
        import os
        import shutil

        catalog = tmp_path / "catalog"
        shutil.copytree(live_env["NAUTILUS_AI_CATALOG"], catalog, copy_function=os.link)
        argv = ["patterns", "build", "--catalog", str(catalog), "--name", "eurusd-m1-train",
                "--bar-type", "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", "--start", "2017-03-20",
                "--end", "2017-04-10"]  # fmt: skip
        assert main(argv) == 0
        monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(catalog))
    assert main(["backtest", str(target), "--check"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    count = _sweep(config, ["backtest", str(target), "--check"], target, capsys, yaml.safe_dump)
    assert count > 200


@pytest.mark.slow
@pytest.mark.parametrize("source", PACKAGED_LIVE, ids=lambda p: p.name)
def test_every_live_config_mutation_is_refused(
    source: Path,
    live_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = yaml.safe_load(source.read_text())
    target = tmp_path / source.name
    target.write_text(source.read_text())
    assert main(["live", str(target), "--check"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    count = _sweep(config, ["live", str(target), "--check"], target, capsys, yaml.safe_dump)
    assert count > 200


@pytest.mark.parametrize("name", sorted(CSV_PRESETS))
def test_every_csv_preset_mutation_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {k: v for k, v in dataclasses.asdict(CSV_PRESETS[name]).items() if v is not None}
    assert CsvSpec.from_dict(spec) == CSV_PRESETS[name]
    target = tmp_path / "spec.json"
    source = tmp_path / "empty.csv"
    source.write_text("")
    argv = ["data", "import", "csv", str(source), "--instrument-id", "EUR/USD.SIM", "--spec",
            str(target),
            "--catalog", str(tmp_path / "catalog")]  # fmt: skip
    count = _sweep(spec, argv, target, capsys, json.dumps)
    assert count > 20
    assert not (tmp_path / "catalog").exists()


def test_every_bounded_key_is_listed() -> None:
    """Each numeric / enumerated value of a packaged config has out-of-range cases above."""
    configs = [yaml.safe_load(p.read_text()) for p in (*PACKAGED_RUN_FILES, *PACKAGED_LIVE)]
    configs += [dataclasses.asdict(spec) for spec in CSV_PRESETS.values()]
    missing = set()
    for config in configs:
        for path, value in _walk(config):
            key = path[-1]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            listed = key in OUT_OF_RANGE or key in UNBOUNDED
            if isinstance(key, str) and numeric and not listed and path[0] != "environment":
                missing.add(key)
    assert not missing, f"add out-of-range cases for {sorted(missing)}"


# -- a sample through the real CLI, without --check (what a user runs) --------------------------


def _real_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", *args],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.mark.slow
def test_a_sample_through_the_real_cli(demo_catalog: Path, tmp_path: Path) -> None:
    env = dict(LIVE_ENV, NAUTILUS_AI_CATALOG=str(demo_catalog), NAUTILUS_AI_REPORTS=str(tmp_path))
    demo = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    live = yaml.safe_load((REPO / "live" / "paper_replay_eurusd.yaml").read_text())
    picked = [m for i, m in enumerate(mutations(demo)) if i % 37 == 0]
    picked += [m for i, m in enumerate(mutations(live)) if i % 53 == 0]
    assert len(picked) > 10
    for index, (what, path, mutated) in enumerate(picked):
        is_live = "node" in mutated
        target = tmp_path / f"sample-{index}.yaml"
        target.write_text(yaml.safe_dump(mutated))
        args = ["live", str(target), "--max-runtime", "1"] if is_live else ["backtest", str(target)]
        result = _real_cli(args, env, tmp_path)
        _assert_refused(result.returncode, result.stderr, result.stdout, target.name, path, what)


def test_packaged_names_resolve_to_the_files_swept() -> None:
    packaged = {p.name for p in resources.files("nautilus_ai.backtests").iterdir()}
    assert {p.name for p in PACKAGED_RUN_FILES} <= packaged


# -- the classes of bad input the fuzzer does not generate -----------------------------------------


def _strategy(config: dict[str, Any]) -> dict[str, Any]:
    run = config["node"] if "node" in config else config["run"]["engine"]
    out: dict[str, Any] = run["strategies"][0]["config"]
    return out


OTHER_BAD: list[tuple[str, Any, str]] = [
    ("empty file", "", "the {what} is empty"),
    ("a list at the top level", "- run\n- name\n", "the top level must be a mapping"),
    ("not YAML", "run: [1, 2\n", "not valid YAML"),
    ("a dict where a list is expected",
     lambda c: _strategy(c).update(predictor=[{"kind": "rule"}]), "predictor: expected a mapping"),
    ("None for a required value",
     lambda c: _strategy(c).update(instrument_id=None), "instrument_id: expected text"),
    ("NaN", lambda c: _strategy(c).update(min_confidence=math.nan), "must be a finite number"),
    ("a negative size",
     lambda c: _strategy(c).setdefault("sizing", {}).update(max_position=-5.0),
     "sizing.max_position: SizingConfig.max_position must be > 0"),
    ("an unknown predictor kind",
     lambda c: _strategy(c).update(predictor={"kind": "lstm"}), "predictor.kind: unknown backend"),
    ("a misspelt placeholder (no colon)",
     lambda c: _strategy(c).update(bar_type="${BAR_TYPE-EUR/USD.SIM-1-MINUTE-BID-EXTERNAL}"),
     "bar_type: malformed environment placeholder"),
    ("a placeholder without braces",
     lambda c: _strategy(c).update(catalog_path="$NAUTILUS_AI_CATALOG"),
     "catalog_path: malformed environment placeholder"),
    ("a misspelt variable with a set twin",
     lambda c: _strategy(c).update(catalog_path="${NAUTILUS_AI_CATALG:-catalogs/demo}"),
     "catalog_path: environment variable NAUTILUS_AI_CATALG is not set"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "edit", "message"), OTHER_BAD, ids=[b[0] for b in OTHER_BAD])
@pytest.mark.parametrize("kind", ["backtest", "live"])
def test_other_bad_inputs_are_refused(
    kind: str,
    what: str,
    edit: Any,
    message: str,
    live_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = REPO / (
        "backtests/demo.yaml" if kind == "backtest" else "live/paper_replay_eurusd.yaml"
    )
    target = tmp_path / "config.yaml"
    if isinstance(edit, str):
        target.write_text(edit)
    else:
        config = yaml.safe_load(source.read_text())
        edit(config)
        target.write_text(yaml.safe_dump(config))
    assert main([kind, str(target), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    expected = message.format(what="run file" if kind == "backtest" else "live config")
    assert err.startswith(f"nautilus-ai: error: {target}: "), err
    assert expected in err and len(err.splitlines()) == 1, err


def test_debug_shows_the_traceback_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bad.yaml"
    target.write_text("run: {venues: 3}\n")
    assert main(["backtest", str(target)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "backtest", str(target)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("run.venues: expected a list (received 3)")
