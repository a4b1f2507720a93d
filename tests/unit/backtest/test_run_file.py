from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nautilus_trader.model.data import Bar

from nautilus_ai.backtest.config import ConfigError, load_run_file, substitute_env
from nautilus_ai.compat import query_bar_types

REPO = Path(__file__).resolve().parents[3]


def test_env_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NA_TEST_X", "abc")
    monkeypatch.delenv("NA_TEST_MISSING", raising=False)
    data = {"a": "${NA_TEST_X}/y", "b": ["${NA_TEST_MISSING:-dflt}", 3], "c": {"d": "$plain"}}
    assert substitute_env(data) == {"a": "abc/y", "b": ["dflt", 3], "c": {"d": "$plain"}}
    with pytest.raises(ConfigError, match=r"b\[0\].*NA_TEST_MISSING"):
        substitute_env({"b": ["${NA_TEST_MISSING}"]})


def test_demo_run_file_loads_with_safe_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", "/tmp/some-catalog")
    run_file = load_run_file(REPO / "backtests" / "demo.yaml")
    assert run_file.sample == "in-sample"
    assert run_file.run.raise_exception is True
    assert run_file.run.dispose_on_completion is False
    data = run_file.run.data[0]
    assert data.catalog_path == "/tmp/some-catalog"
    # Nautilus only filters bar types when data_cls *is* Bar (not the dotted string)
    assert data.data_cls is Bar
    assert query_bar_types(data.query) == {
        "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
        "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL",
    }
    strategy = run_file.run.engine.strategies[0]
    assert strategy.config["catalog_path"] == "/tmp/some-catalog"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("run: [1, 2", "not valid YAML"),
        ("name: x\n", "run: missing required key"),
        ("run: {}\nbogus: 1\n", "bogus: unknown key"),
        ("sample: sometimes\nrun: {}\n", "sample: must be one of"),
        ("run: {venues: 3}\n", r"run.venues: expected a list \(received 3\)"),
        ("", "the run file is empty"),
        ("- run\n- name\n", "the top level must be a mapping"),
        # passed the check, and Nautilus refused it while building the engine
        (
            "run: {venues: [{name: SIM, oms_type: NETTING, account_type: MARGIN, "
            "starting_balances: ['1e20 USD']}]}\n",
            r"run.venues\[0\].starting_balances\[0\]: amount must be at most 17,014,118,346,046",
        ),
    ],
)
def test_bad_run_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_run_file(path)
    assert str(path) in str(info.value)


def test_a_key_given_twice_is_refused_naming_it_and_its_lines(tmp_path: Path) -> None:
    # YAML and JSON keep the last of two equal keys and drop the other without a word: a
    # strategy's `min_confidence` given twice ran with the second, and --check said OK.
    demo = (REPO / "backtests" / "demo.yaml").read_text()
    twice = demo.replace(
        "min_confidence: 0.6", "min_confidence: 0.6\n" + " " * 10 + "min_confidence: 0.9"
    )
    line = 1 + demo.splitlines().index("          min_confidence: 0.6")
    path = tmp_path / "twice.yaml"
    path.write_text(twice)
    with pytest.raises(ConfigError) as info:
        load_run_file(path)
    assert str(info.value) == (
        f"{path}: not valid YAML: line {line + 1}: key 'min_confidence' is given twice in one "
        f"mapping (first on line {line}); only one value can hold"
    )
    path.write_text("name: x\nsample: {a: 1, a: 2}\n")  # one line, one flow mapping
    with pytest.raises(ConfigError, match="line 2: key 'a' is given twice"):
        load_run_file(path)
    path = tmp_path / "twice.json"
    path.write_text('{"name": "a", "run": {}, "name": "b"}')
    with pytest.raises(ConfigError, match="not valid JSON: key 'name' is given twice in one obj"):
        load_run_file(path)
    # A merge key's values may be overridden: that is not a repeat.
    path = tmp_path / "merge.yaml"
    from nautilus_ai.backtest.config import read_config_file

    path.write_text("a: &d {x: 1, y: 2}\nb:\n  <<: *d\n  x: 3\n")
    assert read_config_file(path, "file", ConfigError) == {
        "a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 2}
    }  # fmt: skip


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read run file"):
        load_run_file("/nonexistent/run.yaml")


def _patterns_raw(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import yaml

    monkeypatch.setenv("NAUTILUS_AI_CATALOG", "/tmp/some-catalog")
    return dict(yaml.safe_load((REPO / "backtests" / "patterns.yaml").read_text()))


def test_the_runs_data_end_bounds_the_precompute(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1-12 May: the strategy precomputes to 12 May (the data end, as Nautilus reads it), not to
    # the catalog's end; a value the file sets is kept; an open-ended data config fills nothing.
    from nautilus_ai.backtest.config import parse_run_file

    raw = _patterns_raw(monkeypatch)
    run_file = parse_run_file(raw, Path("p.yaml"))
    config = run_file.run.engine.strategies[0].config
    assert config["precompute_end_time"] == 1_494_547_200_000_000_000  # 2017-05-12T00:00Z
    assert "precompute_end_time" not in raw["run"]["engine"]["strategies"][0]["config"]

    raw = _patterns_raw(monkeypatch)
    raw["run"]["data"][0]["end_time"] = "2017-05-12T02:00:00+02:00"
    raw["run"]["data"].append({**raw["run"]["data"][0], "end_time": 1_494_600_000_000_000_000})
    strategies = raw["run"]["engine"]["strategies"]
    strategies.append({**strategies[0], "config": {**strategies[0]["config"]}})
    strategies[1]["config"].update(precompute_end_time="2017-05-03T00:00:00Z", order_id_tag="002")
    strategies.append({
        "strategy_path": "nautilus_ai.strategies.noop:NoOpStrategy",
        "config_path": "nautilus_ai.strategies.noop:NoOpConfig",
        "config": {"bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"},
    })  # fmt: skip
    configs = [s.config for s in parse_run_file(raw, Path("p.yaml")).run.engine.strategies]
    assert configs[0]["precompute_end_time"] == 1_494_600_000_000_000_000  # the latest end
    assert configs[1]["precompute_end_time"] == "2017-05-03T00:00:00Z"
    assert "precompute_end_time" not in configs[2]

    raw = _patterns_raw(monkeypatch)
    del raw["run"]["data"][0]["end_time"]
    config = parse_run_file(raw, Path("p.yaml")).run.engine.strategies[0].config
    assert "precompute_end_time" not in config


@pytest.mark.parametrize("value", ["yesterday", "2017-13-01", -5])
def test_a_bad_precompute_end_time_is_named(monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    from nautilus_ai.backtest.config import parse_run_file

    raw = _patterns_raw(monkeypatch)
    raw["run"]["engine"]["strategies"][0]["config"]["precompute_end_time"] = value
    with pytest.raises(ConfigError, match=r"p.yaml: .*precompute_end_time: must be an ISO 8601"):
        parse_run_file(raw, Path("p.yaml"))
