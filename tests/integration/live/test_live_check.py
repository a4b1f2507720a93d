"""``nautilus-ai live CONFIG --check`` runs every check the real start runs, short of connecting:
each thing the real start refused on main while ``--check`` said OK is now refused by both, with
the same one line naming the key path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nautilus_ai.cli import main
from nautilus_ai.live import LiveConfigError, load_live_config
from nautilus_ai.live.runner import prepare_live, run_live

REPO = Path(__file__).resolve().parents[3]
PAPER = yaml.safe_load((REPO / "live" / "paper_replay_eurusd.yaml").read_text())
SECRET = "check-secret-" + "0123456789abcdef" * 2


def strategy(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = config["node"]["strategies"][0]["config"]
    return out


def replay(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = config["data_clients"]["REPLAY"]["config"]
    return out


Edit = Callable[[dict[str, Any]], Any]
# (what the real start did on main, the edit, the key path and problem --check now names)
REFUSED: list[tuple[str, Edit, str]] = [
    (
        "ValueError traceback at start",
        lambda c: replay(c).update(catalog_path="/no/such/catalog"),
        "data_clients.REPLAY.config.catalog_path: no catalog at this path",
    ),
    (
        "ValueError traceback at start",
        lambda c: replay(c).update(
            instrument_id="GBP/USD.SIM",
            bar_types=["GBP/USD.SIM-1-MINUTE-BID-EXTERNAL", "GBP/USD.SIM-1-MINUTE-ASK-EXTERNAL"],
        ),
        "data_clients.REPLAY.config.instrument_id: not in the catalog",
    ),
    (
        "strategy stopped in on_start ('No usable predictor'), exit 0",
        lambda c: strategy(c).update(predictor={"kind": "torch", "path": "/no/such/model"}),
        "node.strategies[0].config.predictor: cannot be built: ArtifactError",
    ),
    (
        "TradeLogActor error on START, exit 1",
        lambda c: c["run"].update(trade_log="/proc/no-such-dir/trades.jsonl"),
        "run.trade_log: cannot be created",
    ),
    (
        "RemoteController error on START",
        lambda c: c["control"].update(redis_url="http://127.0.0.1:6379"),
        "control.redis_url: url must start with redis://",
    ),
    (
        "RemoteController error on START (ValueError traceback: the port), exit 1",
        lambda c: c["control"].update(redis_url="redis://127.0.0.1:6379x/0"),
        "control.redis_url: url 'redis://127.0.0.1:6379x/0': Port could not be cast",
    ),
    (
        "ran on Redis database 0 (the '/zero' dropped), commands sent to /0 only",
        lambda c: c["control"].update(redis_url="redis://127.0.0.1:6379/zero"),
        "control.redis_url: url 'redis://127.0.0.1:6379/zero': the database after the last",
    ),
    (
        "started; a Ctrl-C then waited up to 2,000,000 s for the listener (XREADGROUP BLOCK)",
        lambda c: c["control"].update(block_ms=1_000_000_000),
        "control.block_ms: block_ms must be in [1, 10000], was 1000000000",
    ),
    (
        "ran with a Sandbox venue no data client feeds, exit 0",
        lambda c: c["exec_clients"]["SIM"]["config"].update(venue="IDEALPRO"),
        "exec_clients.SIM.config.venue: no data client provides IDEALPRO instruments",
    ),
    (
        "replay client ERROR, the strategy saw 0 bars, exit 0",
        lambda c: replay(c).update(bar_types=["EUR/USD.SIM-5-MINUTE-BID-EXTERNAL"]),
        "data_clients.REPLAY.config.bar_types[0]: the catalog",
    ),
    (
        "replay client ERROR (no bars in the window), exit 0",
        lambda c: replay(c).update(start="2018-01-01T00:00:00Z"),
        "data_clients.REPLAY.config.start: no EUR/USD.SIM-1-MINUTE-BID-EXTERNAL bars",
    ),
    (
        "the replay task failed at once (a weekend window: no bars between start and end)",
        lambda c: replay(c).update(start="2017-06-24T00:00:00Z", end="2017-06-25T12:00:00Z"),
        "data_clients.REPLAY.config.start: the catalog",
    ),
    (
        "the replay task failed at start (no bars between start and end); the node waited",
        lambda c: replay(c).update(start="2017-06-01T00:00:00Z", end="2017-03-01T00:00:00Z"),
        "data_clients.REPLAY.config: end '2017-03-01T00:00:00Z' must be after start",
    ),
    (
        "ran; every order (19 from 2017-06-29) rejected 'no market', alerts 0, exit 0",
        lambda c: replay(c).update(bar_types=["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"]),
        "data_clients.REPLAY.config.bar_types: no quotes for the Sandbox venue SIM",
    ),
    (
        "ran; every order rejected 'no market', exit 0",
        lambda c: replay(c).update(emit_quotes=False),
        "data_clients.REPLAY.config.emit_quotes: no quotes for the Sandbox venue SIM",
    ),
    (
        "(quotes: catalog is new) the replay task failed at start: no quote ticks to replay",
        lambda c: replay(c).update(quotes="catalog"),
        "data_clients.REPLAY.config.quotes: the catalog",
    ),
    (
        "strategy stopped ('Instrument not in cache'), exit 0",
        lambda c: strategy(c).update(
            instrument_id="EUR/USD.IDEALPRO", bar_type="EUR/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL"
        ),
        "node.strategies[0].config.instrument_id: no execution client trades venue IDEALPRO",
    ),
    (
        "RuntimeError traceback (strategy id already registered)",
        lambda c: c["node"]["strategies"].append(copy.deepcopy(c["node"]["strategies"][0])),
        "node.strategies[1].config.order_id_tag: strategy id AIPatternStrategy-001 is already",
    ),
    (
        "started; every command for AIPatternStrategy-001 refused 'unknown strategy', exit 0",
        lambda c: c["control"].update(strategy_ids=["AIPatternStrategy-01"]),
        "control.strategy_ids[0]: no strategy of this node has that id",
    ),
    (
        "started; every command refused 'unknown strategy ...; this trader runs none', exit 0",
        lambda c: c["control"].update(strategy_ids=[]),
        "control.strategy_ids: strategy_ids must name at least one strategy",
    ),
    (
        "started; the scheduled pause was refused 'no running strategy', exit 0",
        lambda c: c["control"].update(
            schedule=[
                {
                    "at": "2030-01-02T00:00:00Z",
                    "type": "pause",
                    "strategy_id": "AIPatternStrategy-01",
                }
            ]
        ),
        "control.schedule[0].strategy_id: no strategy of this node has that id",
    ),
    (
        "OverflowError traceback out of the checks (a year 2300 'no end')",
        lambda c: replay(c).update(end="2300-01-01T00:00:00Z"),
        "data_clients.REPLAY.config.end: end '2300-01-01T00:00:00Z' is outside the times",
    ),
    (
        "replay failed at its first quote, after the start",
        lambda c: replay(c).update(quote_size=1e30),
        "data_clients.REPLAY.config.quote_size: not a size of EUR/USD.SIM: invalid `value`",
    ),
    (
        "replay failed at its first quote (size rounded to 0), after the start",
        lambda c: replay(c).update(quote_size=0.4),
        "data_clients.REPLAY.config.quote_size: not a size of EUR/USD.SIM: Invalid `value`",
    ),
    (
        "ValueError traceback (balance currency != base currency)",
        lambda c: c["exec_clients"]["SIM"]["config"].update(starting_balances=["100000 USDX"]),
        "exec_clients.SIM.config.starting_balances[0]: unknown currency 'USDX'",
    ),
]


def write(tmp_path: Path, catalog: Path, edit: Edit | None = None) -> Path:
    config = copy.deepcopy(PAPER)
    replay(config).update(catalog_path=str(catalog), start="2017-06-30T20:00:00Z", speed=0)
    config["run"]["trade_log"] = str(tmp_path / "trades.jsonl")
    if edit is not None:
        edit(config)
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CONTROL_SECRET", SECRET)


def test_check_passes_a_good_config_and_says_what_it_checked(
    env: None, demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["live", str(write(tmp_path, demo_catalog)), "--check"]) == 0
    out = capsys.readouterr().out
    for line in (
        "checked strategy AIPatternStrategy-001: built, predictor rule-trend-momentum/",
        "checked control: secret $NAUTILUS_AI_CONTROL_SECRET",
        "checked trade log:",
        "checked replay REPLAY: EUR/USD.SIM and 2 bar type(s)",
        "checked venues:",
    ):
        assert line in out


@pytest.mark.parametrize(("on_main", "edit", "message"), REFUSED, ids=[r[2][:40] for r in REFUSED])
def test_check_refuses_what_the_real_start_refuses(
    env: None,
    demo_catalog: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    on_main: str,
    edit: Edit,
    message: str,
) -> None:
    path = write(tmp_path, demo_catalog, edit)
    assert main(["live", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nautilus-ai: error: {path}: {message}"), err
    assert len(err.splitlines()) == 1
    # The real start runs the same checks first, and refuses before it connects anything.
    with pytest.raises(LiveConfigError) as refused:
        run_live(load_live_config(path))
    assert str(refused.value) == err.removeprefix("nautilus-ai: error: ")


def test_a_replay_window_in_a_gap_of_the_data_names_the_nearest_bars(
    env: None, demo_catalog: Path, tmp_path: Path
) -> None:
    weekend = {"start": "2017-06-24T00:00:00Z", "end": "2017-06-25T12:00:00Z"}
    path = write(tmp_path, demo_catalog, lambda c: replay(c).update(weekend))
    with pytest.raises(LiveConfigError) as refused:
        prepare_live(load_live_config(path))
    message = str(refused.value)
    assert "between 2017-06-24T00:00:00Z and 2017-06-25T12:00:00Z" in message
    # the Friday close and the Sunday open around it
    assert "nearest are at 2017-06-23 2" in message and "and 2017-06-25 2" in message, message


def test_a_short_control_secret_is_refused_before_start(
    monkeypatch: pytest.MonkeyPatch, demo_catalog: Path, tmp_path: Path
) -> None:
    # On main, --check said OK and the controller failed on START (MissingSecretError).
    monkeypatch.setenv("NAUTILUS_AI_CONTROL_SECRET", "short")
    run_file = load_live_config(write(tmp_path, demo_catalog))
    with pytest.raises(LiveConfigError, match=r"control.secret_env: \$NAUTILUS_AI_CONTROL_SECRET"):
        prepare_live(run_file)


def test_a_model_of_the_older_spec_passes_the_start_checks_as_the_strategy_adopts_it(
    env: None, demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A v1 model with no feature_spec: the strategy computes v1 for it and trades (README), but
    # the start's checks built it for the default spec and refused it, so `live` would not start.
    v1_model = REPO / "tests" / "fixtures" / "spec_v1" / "models" / "v1-mlp" / "v1"
    predictor = {"kind": "torch", "path": str(v1_model), "device": "cpu"}
    path = write(tmp_path, demo_catalog, lambda c: strategy(c).update(predictor=predictor))
    assert main(["live", str(path), "--check"]) == 0
    assert "built, predictor v1-mlp/1" in capsys.readouterr().out
    # Pinning another version is still refused, naming that setting.
    pinned = write(
        tmp_path, demo_catalog,
        lambda c: strategy(c).update(predictor=predictor, feature_spec={"version": 2}),
    )  # fmt: skip
    assert main(["live", str(pinned), "--check"]) == 2
    assert "set the strategy's feature_spec to the model's (version 1)" in capsys.readouterr().err


def test_a_model_of_another_bar_period_is_refused_before_start(
    env: None, demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An MLP whose card says hour bars passed `live --check` and traded minute bars live.
    from fixtures.stored_models import HOUR_BID, mlp_model

    model = {"kind": "torch", "device": "cpu", "path": str(mlp_model(tmp_path, "mlp", HOUR_BID))}
    path = write(tmp_path, demo_catalog, lambda c: strategy(c).update(predictor=model))
    assert main(["live", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"nautilus-ai: error: {path}: node.strategies[0].config.predictor: cannot be built: "
        f"BarTypeMismatchError: model mlp/1 was trained on {HOUR_BID} bars (1 h), the "
        "strategy's bar type is EUR/USD.SIM-1-MINUTE-BID-EXTERNAL (1 min)"
    ), err


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_a_non_finite_max_runtime_is_refused(
    env: None, demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """``--max-runtime nan`` passed the check and stopped a real run at once ("max runtime",
    the timer fires immediately); ``inf`` ran without the limit asked for."""
    path = write(tmp_path, demo_catalog)
    assert main(["live", str(path), "--check", "--max-runtime", value]) == 2
    err = capsys.readouterr().err.strip()
    expected = f"--max-runtime must be a finite number > 0, was {float(value)}"
    assert err == f"nautilus-ai: error: {expected}"
