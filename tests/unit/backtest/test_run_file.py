from __future__ import annotations

from pathlib import Path

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
    ],
)
def test_bad_run_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_run_file(path)
    assert str(path) in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read run file"):
        load_run_file("/nonexistent/run.yaml")
