"""The pattern memory as a user runs it: the README's CLI sequence, the run file in a
BacktestNode (through ``nautilus-ai backtest``), and the predictor in a live TradingNode replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", *args],
        capture_output=True, text=True, timeout=600, env=env, cwd=cwd,
    )  # fmt: skip


@pytest.mark.slow
def test_readme_sequence_build_stats_query_then_backtest(
    demo_catalog: Path, tmp_path: Path
) -> None:
    catalog = str(demo_catalog)
    built = cli("patterns", "build", "--catalog", catalog, "--name", "eurusd-m1-train",
                "--bar-type", BAR_TYPE, "--end", "2017-04-10", "--json")  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    summary = json.loads(built.stdout)
    assert summary["patterns"] > 95_000 and summary["last"] < "2017-04-10"
    assert Path(summary["store"]).is_file() and Path(summary["index"]).is_file()
    assert summary["index_epochs"] == [16384, 65536]

    stats = cli("patterns", "stats", "--catalog", catalog, "--name", "eurusd-m1-train", "--json")
    assert stats.returncode == 0, stats.stderr
    described = json.loads(stats.stdout)
    assert described["patterns"] == summary["patterns"]
    assert described["bar_ns"] == 60_000_000_000  # the bars it was cut from: 1 minute
    assert sum(described["outcomes"].values()) == summary["patterns"]
    assert all(v > 1000 for v in described["outcomes"].values())

    picture = tmp_path / "now.png"
    query = cli("patterns", "query", "--catalog", catalog, "--name", "eurusd-m1-train",
                "--bar-type", BAR_TYPE, "--at", "2017-05-15T14:30", "--k", "10",
                "--plot", str(picture), "--json")  # fmt: skip
    assert query.returncode == 0, query.stderr
    answer = json.loads(query.stdout)
    assert len(answer["neighbours"]) == 10
    assert all(n["known_at"] < "2017-04-10" for n in answer["neighbours"])
    assert picture.stat().st_size > 20_000

    env = dict(os.environ, NAUTILUS_AI_CATALOG=catalog, NAUTILUS_AI_REPORTS=str(tmp_path))
    run = cli("backtest", str(REPO / "backtests" / "patterns.yaml"), "--json", env=env,
              cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["sample"] == "out-of-sample"
    assert result["bars"] > 12_000 and result["trades"] > 0


def test_query_of_a_missing_store_is_one_clean_line(tmp_path: Path) -> None:
    result = cli("patterns", "stats", "--catalog", str(tmp_path), "--name", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("nautilus-ai: error:") and "nope" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2017-03-04", "2017-03-05", "no pattern could be built from EUR/USD.SIM-1-MINUTE-BID-"
         "EXTERNAL between 2017-03-04 and 2017-03-05"),  # no bars in the window
        ("2017-01-10", "2017-01-03", "--end 2017-01-03 must be after --start 2017-01-10"),
        # numpy read 'NaT' as no bound: the build ran from the first bar, exit 0
        ("NaT", "2017-01-03", "--start 'NaT': not an ISO date / datetime: 'NaT'"),
        ("2017-01-02", "9999-12-31", "--end '9999-12-31': 9999-12-31T00:00:00+00:00 is outside "
         "the times a nanosecond clock holds"),
    ],
)  # fmt: skip
def test_a_build_window_without_patterns_is_one_clean_line(
    patterns_replay_catalog: Path, start: str, end: str, message: str
) -> None:
    result = cli("patterns", "build", "--catalog", str(patterns_replay_catalog), "--name",
                 "empty", "--bar-type", BAR_TYPE, "--start", start, "--end", end)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("nautilus-ai: error:") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert not list((patterns_replay_catalog / "patterns").glob("*/empty"))


def test_a_build_never_replaces_a_stored_memory_without_replace(
    data_dir: Path, tmp_path: Path
) -> None:
    # `patterns build --name m` over a stored memory 'm' of another window replaced it without a
    # word (exit 0): the memory a run file trades on was gone.
    from fixtures.replay_catalog import build_replay_catalog

    catalog = str(build_replay_catalog(data_dir, tmp_path / "catalog", rows=3000))

    def build(end: str, *extra: str) -> Any:
        return cli("patterns", "build", "--catalog", catalog, "--name", "m", "--bar-type",
                   BAR_TYPE, "--end", end, "--json", *extra)  # fmt: skip

    first = build("2017-01-03T12:00")
    assert first.returncode == 0, first.stderr
    store = Path(json.loads(first.stdout)["store"])
    kept = store.read_bytes()
    other = build("2017-01-03T20:00")
    assert other.returncode == 2 and other.stderr.count("\n") == 1, other.stderr
    assert other.stderr.startswith(f"nautilus-ai: error: {store}: the memory 'm' is stored there")
    assert "--replace to overwrite it, or another --name" in other.stderr
    assert store.read_bytes() == kept
    same = build("2017-01-03T12:00", "--index-mode", "exact")  # the same patterns: a rebuild
    assert same.returncode == 0, same.stderr
    replaced = build("2017-01-03T20:00", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(replaced.stdout)["patterns"] > json.loads(first.stdout)["patterns"]


def test_chart_bars_without_a_chart_model_is_refused(tmp_path: Path) -> None:
    # --chart-bars 24 without --chart-model built a store without any chart block, exit 0:
    # the flag was ignored without a word
    result = cli("patterns", "build", "--catalog", str(tmp_path), "--name", "x", "--bar-type",
                 BAR_TYPE, "--chart-bars", "24")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "nautilus-ai: error: --chart-bars 24 needs --chart-model (the chart block it sizes); "
        "without a chart model the patterns have no chart\n"
    )
    assert not (tmp_path / "patterns").exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--horizon", "0", "--horizon (PatternSpec.horizon): Input should be greater than or "
         "equal to 1 (got 0)"),
        ("--barrier-atr", "nan", "--barrier-atr (PatternSpec.barrier_atr): Input should be a "
         "finite number (got nan)"),
        ("--shape-bars", "1", "--shape-bars (PatternSpec.shape_bars): "),
        ("--spread-pips", "-1", "--spread-pips (PatternSpec.spread_pips): "),
    ],
)  # fmt: skip
def test_a_bad_build_flag_is_named_as_a_flag(
    tmp_path: Path, flag: str, value: str, message: str
) -> None:
    # it said "pattern spec: field 'horizon': ..." naming no flag of the command
    result = cli("patterns", "build", "--catalog", str(tmp_path), "--name", "x", "--bar-type",
                 BAR_TYPE, flag, value)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"nautilus-ai: error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1


def test_a_malformed_bar_type_is_one_clean_line(tmp_path: Path) -> None:
    result = cli("patterns", "build", "--catalog", str(tmp_path), "--name", "x", "--bar-type",
                 "EUR/USD.SIM-1-MINUTE-BIDD-EXTERNAL")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.startswith(
            "nautilus-ai: error: --bar-type 'EUR/USD.SIM-1-MINUTE-BIDD-EXTERNAL': "
        )
        and "BIDD" in result.stderr
    )
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_pattern_memory_trades_in_a_live_replay_and_learns(
    patterns_replay_catalog: Path, tmp_path: Path
) -> None:
    import yaml
    from fixtures.live_configs import keep_run_state, live_config, use_ai_pattern

    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.live import load_live_config, read_trade_log, run_live
    from nautilus_ai.patterns import PatternMemory, build_from_catalog, save_memory, store_dir

    catalog = patterns_replay_catalog
    patterns = build_from_catalog(catalog, BAR_TYPE)
    first_half = patterns.take(slice(0, len(patterns) // 2))
    save_memory(PatternMemory(first_half), store_dir(catalog, FeatureSpec().hash, "replay"))

    path = live_config(tmp_path, catalog, speed=0.0)
    use_ai_pattern(path)
    data = yaml.safe_load(path.read_text())
    strategy = data["node"]["strategies"][0]["config"]
    strategy["predictor"] = {"kind": "pattern_memory", "catalog_path": str(catalog),
                             "name": "replay"}  # fmt: skip
    strategy["context_bars"] = 64
    strategy["min_confidence"] = 0.45
    path.write_text(yaml.safe_dump(data))
    seen: dict[str, Any] = {}

    def on_built(node: Any) -> None:
        seen["strategy"] = node.trader.strategies()[0]
        keep_run_state(seen["strategy"], seen)

    outcome = run_live(load_live_config(path), on_built=on_built)
    strategy_obj = seen["strategy"]
    predictor = seen["predictor"]
    assert predictor is not None and predictor.model_id.startswith("pattern-memory/")
    # bars after the stored half matured live and joined the memory
    assert predictor.learned > 500
    assert len(predictor.memory) == len(first_half) + predictor.learned
    fills = [r for r in read_trade_log(tmp_path / "trades.jsonl") if r["event"] == "fill"]
    entries = [r for r in fills if any(t.startswith("model=pattern-memory/") for t in r["tags"])]
    assert entries, f"no pattern-memory entry filled ({len(fills)} fills; {outcome})"
    assert strategy_obj.predictor_errors == 0
