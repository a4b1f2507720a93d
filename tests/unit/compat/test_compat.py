"""nautilus_ai.compat: each Nautilus 1.221 / 1.231 difference, both ends checked here."""

from __future__ import annotations

import importlib.metadata

import pytest

from nautilus_ai.compat import (
    NAUTILUS_RANGE,
    nautilus_version,
    node_config_dict,
    parse_version,
    query_bar_types,
    range_warning,
)


def test_installed_nautilus_is_in_the_supported_range() -> None:
    assert NAUTILUS_RANGE[0] <= nautilus_version() <= NAUTILUS_RANGE[1]
    assert nautilus_version() == parse_version(importlib.metadata.version("nautilus_trader"))


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.221.0", (1, 221, 0)),
        ("1.231.0", (1, 231, 0)),
        ("1.231.1rc2", (1, 231, 1)),
        ("2", (2, 0, 0)),
    ],
)
def test_parse_version(text: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(text) == parsed


NODE = {
    "trader_id": "T-001",
    "cache": {"database": {"type": "redis", "host": "127.0.0.1", "timeout": 2}, "encoding": "json"},
    "message_bus": {"database": {"type": "redis", "timeout": 3}},
}


def test_database_timeout_is_split_on_1_231_only() -> None:
    old = node_config_dict(NODE, (1, 221, 0))
    assert old == NODE
    new = node_config_dict(NODE, (1, 231, 0))
    assert new["cache"]["database"] == {
        "type": "redis",
        "host": "127.0.0.1",
        "connection_timeout": 2,
        "response_timeout": 2,
    }
    assert new["cache"]["encoding"] == "json"
    assert new["message_bus"]["database"]["response_timeout"] == 3
    assert NODE["cache"]["database"]["timeout"] == 2  # the input is not modified


@pytest.mark.parametrize(
    ("version", "split"),
    [((1, 222, 0), False), ((1, 225, 0), False), ((1, 226, 0), True), ((1, 230, 0), True)],
)
def test_database_timeout_follows_the_release_that_split_it(
    version: tuple[int, int, int], split: bool
) -> None:
    # pip lets any release in the range be installed: 1.226.0 made the split (its
    # DatabaseConfig has no `timeout`), so a live config's `timeout: 2` must be rewritten on
    # 1.226 - 1.230 too, not only on the tested end 1.231 (it was refused as an unknown key).
    database = node_config_dict(NODE, version)["cache"]["database"]
    if split:
        assert "timeout" not in database
        assert database["connection_timeout"] == database["response_timeout"] == 2
    else:
        assert database == NODE["cache"]["database"]


def test_explicit_new_timeouts_win_over_the_old_one() -> None:
    node = {"cache": {"database": {"timeout": 2, "response_timeout": 9}}}
    database = node_config_dict(node, (1, 231, 0))["cache"]["database"]
    assert database == {"connection_timeout": 2, "response_timeout": 9}


def test_the_installed_release_decodes_our_live_database_spelling() -> None:
    from nautilus_trader.config import TradingNodeConfig

    config = TradingNodeConfig.parse(_json(node_config_dict(NODE)))
    assert config.cache is not None and config.cache.database is not None
    fields = {"timeout", "connection_timeout"} & set(type(config.cache.database).__struct_fields__)
    assert len(fields) == 1  # one spelling or the other, never both
    assert getattr(config.cache.database, fields.pop()) == 2


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def test_query_bar_types_reads_both_releases_queries() -> None:
    import pyarrow.compute as pc

    bid, ask = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"
    old = {"identifiers": ["EUR/USD.SIM"], "filter_expr": (pc.field("bar_type") == bid)
           | (pc.field("bar_type") == ask)}  # fmt: skip
    new = {"identifiers": [bid, ask], "filter_expr": None}
    assert query_bar_types(old) == query_bar_types(new) == {bid, ask}


@pytest.mark.parametrize("bad", [0, -1, "2", True, 1.5])
def test_an_invalid_timeout_is_left_for_the_strict_checker_to_name(bad: object) -> None:
    node = {"cache": {"database": {"timeout": bad}}}
    assert node_config_dict(node, (1, 231, 0)) == node


@pytest.mark.parametrize("version", [(1, 220, 0), (1, 232, 0), (2, 0, 0)])
def test_a_release_outside_the_range_is_named_in_one_line(version: tuple[int, int, int]) -> None:
    text = range_warning(version)
    assert text is not None and "\n" not in text
    assert text.startswith("nautilus_trader {}.{}.{} is outside".format(*version))
    assert text.endswith("pip install 'nautilus_trader>=1.221.0,<=1.231.0'")


@pytest.mark.parametrize("version", [(1, 221, 0), (1, 226, 0), (1, 231, 0)])
def test_a_release_inside_the_range_is_not_warned(version: tuple[int, int, int]) -> None:
    assert range_warning(version) is None


def test_every_command_warns_once_on_an_unsupported_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pip installs nautilus_trader 1.232 over nautilus-ai with one warning at install time;
    # every command then ran on it without a word (doctor only said so when asked).
    import nautilus_ai.compat as compat
    from nautilus_ai.cli import main

    assert main(["doctor", "--no-probe", "--json"]) == 0
    assert "warning" not in capsys.readouterr().err
    monkeypatch.setattr(compat, "nautilus_version", lambda: (1, 232, 0))
    assert main(["doctor", "--no-probe", "--json"]) == 0  # it still runs
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nautilus-ai: warning: {range_warning((1, 232, 0))}"]
