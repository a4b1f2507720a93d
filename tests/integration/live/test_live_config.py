"""Live config files: environment checks that name what is missing, client kinds, errors."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.live_configs import live_config

from nautilus_ai.cli import main
from nautilus_ai.live import (
    LiveConfigError,
    MissingEnvironmentError,
    check_environment,
    load_live_config,
)

PACKAGED = resources.files("nautilus_ai.live")
DRILL = {
    "strategy_path": "fixtures.drill_strategy:DrillStrategy",
    "config_path": "fixtures.drill_strategy:DrillConfig",
    "config": {
        "instrument_id": "EUR/USD.IDEALPRO",
        "order_id_tag": "001",
        "bar_type": "EUR/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL",
    },
}


def packaged(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PACKAGED / f"{name}.yaml").read_text())
    return data


def test_real_venue_config_names_every_missing_variable() -> None:
    missing = check_environment(packaged("ib_idealpro_eurusd"), env={})
    assert sorted(missing) == [
        "IB_ACCOUNT_ID",
        "IB_GATEWAY_HOST",
        "IB_GATEWAY_PORT",
        "NAUTILUS_AI_CONTROL_SECRET",
        "NAUTILUS_AI_LIVE_TRADING_ACK",
    ]
    assert "account orders go to" in missing["IB_ACCOUNT_ID"]
    assert "API port" in missing["IB_GATEWAY_PORT"]
    # The acknowledgement must say yes, not just exist.
    env = {
        "IB_ACCOUNT_ID": "DU123",
        "IB_GATEWAY_HOST": "127.0.0.1",
        "IB_GATEWAY_PORT": "4002",
        "NAUTILUS_AI_CONTROL_SECRET": "s" * 32,
        "NAUTILUS_AI_LIVE_TRADING_ACK": "sure",
    }
    assert list(check_environment(packaged("ib_idealpro_eurusd"), env)) == [
        "NAUTILUS_AI_LIVE_TRADING_ACK"
    ]
    assert (
        check_environment(
            packaged("ib_idealpro_eurusd"), dict(env, NAUTILUS_AI_LIVE_TRADING_ACK="yes")
        )
        == {}
    )


def test_paper_configs_name_their_variables() -> None:
    assert sorted(check_environment(packaged("paper_ib_eurusd"), env={})) == [
        "IB_GATEWAY_HOST",
        "IB_GATEWAY_PORT",
        "NAUTILUS_AI_CONTROL_SECRET",
    ]
    assert list(check_environment(packaged("paper_replay_eurusd"), env={})) == [
        "NAUTILUS_AI_CONTROL_SECRET"
    ]


def test_missing_environment_stops_loading_before_anything_is_built(tmp_path: Path) -> None:
    path = tmp_path / "ib.yaml"
    path.write_text((PACKAGED / "ib_idealpro_eurusd.yaml").read_text())
    with pytest.raises(MissingEnvironmentError) as info:
        load_live_config(path, env={"IB_GATEWAY_HOST": "127.0.0.1"})
    message = str(info.value)
    assert "4 environment variable(s) not set" in message
    for name in (
        "IB_ACCOUNT_ID",
        "IB_GATEWAY_PORT",
        "NAUTILUS_AI_CONTROL_SECRET",
        "NAUTILUS_AI_LIVE_TRADING_ACK",
    ):
        assert name in message
    assert "IB_GATEWAY_HOST" not in message


def test_cli_check_names_missing_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "IB_ACCOUNT_ID",
        "IB_GATEWAY_HOST",
        "IB_GATEWAY_PORT",
        "NAUTILUS_AI_CONTROL_SECRET",
        "NAUTILUS_AI_LIVE_TRADING_ACK",
    ):
        monkeypatch.delenv(name, raising=False)
    assert main(["live", "ib_idealpro_eurusd", "--check"]) == 2
    err = capsys.readouterr().err
    assert "IB_ACCOUNT_ID: the IB account orders go to" in err
    assert main(["live", "no_such_config"]) == 2
    assert "not found" in capsys.readouterr().err


def test_real_venue_clients_are_built_from_the_environment(tmp_path: Path) -> None:
    # The packaged IB config with a stand-in strategy: every IB setting comes from the env.
    data = packaged("ib_idealpro_eurusd")
    data["node"]["strategies"] = [DRILL]
    data["run"]["trade_log"] = str(tmp_path / "trades.jsonl")
    path = tmp_path / "ib.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {
        "IB_ACCOUNT_ID": "DU1234567",
        "IB_GATEWAY_HOST": "10.0.0.5",
        "IB_GATEWAY_PORT": "4002",
        "NAUTILUS_AI_CONTROL_SECRET": "s" * 32,
        "NAUTILUS_AI_LIVE_TRADING_ACK": "yes",
        "NAUTILUS_AI_REDIS_PASSWORD": "hunter2",
    }
    run_file = load_live_config(path, env=env)
    data_config = run_file.data_clients["IB"].config
    exec_config = run_file.exec_clients["IB"].config
    assert type(data_config).__name__ == "InteractiveBrokersDataClientConfig"
    assert (data_config.ibg_host, data_config.ibg_port, data_config.ibg_client_id) == (
        "10.0.0.5",
        4002,
        1,
    )
    assert exec_config.account_id == "DU1234567"
    assert [str(i) for i in exec_config.instrument_provider.load_ids] == ["EUR/USD.IDEALPRO"]
    node = run_file.node
    assert node.trader_id.value == "IB-001"
    assert node.cache.database.password == "hunter2"
    assert node.cache.database.username is None  # ${NAUTILUS_AI_REDIS_USERNAME:-} -> null
    assert node.cache.database.ssl is False
    assert node.message_bus.types_filter[0].__name__ == "QuoteTick"
    assert node.controller.controller_path.endswith("controller:RemoteController")
    assert node.actors[-1].actor_path.endswith("trade_log:TradeLogActor")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(extra=1), r"live.yaml: extra: unknown key \(received 1\)"),
        (
            lambda c: c["data_clients"]["REPLAY"].update(kind="carrier_pigeon"),
            r"data_clients.REPLAY.kind: unknown data client kind.*'carrier_pigeon'",
        ),
        (
            lambda c: c["data_clients"]["REPLAY"]["config"].update(speed=-1),
            "speed must be a finite number >= 0",
        ),
        (
            lambda c: c["data_clients"]["REPLAY"]["config"].update(quotes="ticks"),
            r"data_clients.REPLAY.config.*quotes must be 'bars' or 'catalog', was 'ticks'",
        ),
        (
            lambda c: c["data_clients"]["REPLAY"]["config"].update(
                bar_types=["EUR/USD.SIM-1-MINUTE-BID-INTERNAL"]
            ),
            "must be EXTERNAL",
        ),
        (
            lambda c: c["exec_clients"]["SIM"]["config"].pop("starting_balances"),
            "starting_balances",
        ),
        (
            lambda c: c["node"].update(data_clients={}),
            "node.data_clients: put clients under the top",
        ),
        (
            lambda c: c["node"].update(
                controller={"controller_path": "a:b", "config_path": "a:b", "config": {}}
            ),
            "not both",
        ),
        (
            lambda c: c["node"]["strategies"][0]["config"].update(bar_type="nope"),
            r"node.strategies\[0\]",
        ),
        (lambda c: c["run"].update(max_runtime_secs=0), r"run.max_runtime_secs: must be > 0"),
        (  # was read as no trade log at all, and --check said OK
            lambda c: c["run"].update(trade_log=" "),
            r"run.trade_log: is empty: give a file path, or leave the key out",
        ),
        (lambda c: c["control"].update(max_age_secs=-1), "control"),
    ],
)
def test_bad_configs_name_the_field(
    tmp_path: Path, replay_catalog: Path, edit: Any, message: str
) -> None:
    path = live_config(tmp_path, replay_catalog, control={"listen": False})
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LiveConfigError, match=message):
        load_live_config(path, env={})


FULL_ENV = {
    "NAUTILUS_AI_CONTROL_SECRET": "s" * 32,
    "NAUTILUS_AI_LIVE_TRADING_ACK": "yes",
    "IB_GATEWAY_HOST": "127.0.0.1",
    "IB_GATEWAY_PORT": "4002",
    "IB_ACCOUNT_ID": "DU1234567",
}


@pytest.mark.parametrize("name", ["paper_replay_eurusd", "paper_ib_eurusd", "ib_idealpro_eurusd"])
def test_packaged_configs_build_with_the_real_strategy(name: str) -> None:
    # Everything is built and checked (AIPatternStrategy, controller, clients); nothing connects.
    run_file = load_live_config(Path(str(PACKAGED / f"{name}.yaml")), env=FULL_ENV)
    strategy = run_file.node.strategies[0]
    assert strategy.strategy_path == "nautilus_ai.strategies.ai_pattern:AIPatternStrategy"
    assert run_file.node.controller is not None
    assert run_file.node.load_state and run_file.node.save_state
    assert run_file.node.cache.database.type == "redis"
    roles = {type(spec.config).__name__ for spec in run_file.exec_clients.values()}
    expected = {
        "paper_replay_eurusd": {"SandboxExecutionClientConfig"},
        "paper_ib_eurusd": {"SandboxExecutionClientConfig"},
        "ib_idealpro_eurusd": {"InteractiveBrokersExecClientConfig"},
    }
    assert roles == expected[name]
