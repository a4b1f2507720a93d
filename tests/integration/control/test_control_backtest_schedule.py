"""In a backtest the same controller drives the same strategy methods from a schedule (clock
alerts in simulated time, no Redis)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.drill_strategy import DrillConfig, DrillStrategy
from fixtures.live_configs import ai_pattern_strategy
from fixtures.replay_catalog import ASK, BID, INSTRUMENT_ID, build_replay_catalog
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.config import BacktestEngineConfig, ImportableControllerConfig, LoggingConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.strategies.controller import RemoteController


def run_backtest(
    catalog: Path, schedule: list[dict[str, object]]
) -> tuple[DrillStrategy, RemoteController]:
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id="BACKTESTER-001",
            logging=LoggingConfig(log_level="ERROR"),
            controller=ImportableControllerConfig(
                controller_path="nautilus_ai.strategies.controller:RemoteController",
                config_path="nautilus_ai.strategies.controller:RemoteControllerConfig",
                config={"schedule": schedule},
            ),
        )
    )
    data = ParquetDataCatalog(str(catalog))
    engine.add_venue(
        Venue("SIM"),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(100_000, USD)],
        default_leverage=Decimal(30),
    )
    engine.add_instrument(data.instruments()[0])
    engine.add_data(data.bars(bar_types=[BID, ASK]))
    strategy = DrillStrategy(
        DrillConfig(instrument_id=INSTRUMENT_ID, bar_type=BID, order_id_tag="001")
    )
    engine.add_strategy(strategy)
    engine.run()
    controllers = [a for a in engine.trader.actors() if isinstance(a, RemoteController)]
    engine.dispose()
    return strategy, controllers[0]


def test_schedule_pauses_and_resumes_in_simulated_time(data_dir: Path, tmp_path: Path) -> None:
    catalog = build_replay_catalog(data_dir, tmp_path / "catalog", rows=600)
    bars = ParquetDataCatalog(str(catalog)).bars(bar_types=[BID])
    pause_at, switch_at, resume_at = bars[100].ts_event, bars[150].ts_event, bars[300].ts_event
    strategy, controller = run_backtest(
        catalog,
        [
            {"at": pause_at, "type": "pause", "strategy_id": "DrillStrategy-001", "reason": "news"},
            {
                "at": switch_at,
                "type": "switch_model",
                "strategy_id": "DrillStrategy-001",
                "config": {"kind": "mlp"},
            },
            {"at": resume_at, "type": "resume", "strategy_id": "DrillStrategy-001"},
            {"at": resume_at, "type": "status", "strategy_id": "Nobody-001"},
        ],
    )
    assert [(r.command_type, r.status.value) for r in controller.replies] == [
        ("pause", "applied"),
        ("switch_model", "applied"),
        ("resume", "applied"),
        ("status", "rejected"),
    ]
    entries = [ts for ts, _model in strategy.entries]
    assert entries and not [ts for ts in entries if pause_at < ts <= resume_at]
    after = [(ts, model) for ts, model in strategy.entries if ts > resume_at]
    assert after and all(model == "mlp/1" for _ts, model in after)
    assert all(model == "rule/1" for ts, model in strategy.entries if ts <= pause_at)


def test_bad_schedule_fails_fast() -> None:
    from nautilus_ai.strategies.controller import RemoteControllerConfig

    with pytest.raises(ValueError, match=r"schedule\[0\].*time zone"):
        RemoteControllerConfig(
            schedule=[{"at": "2017-01-03T10:00", "type": "pause", "strategy_id": "S-1"}]
        )


def schedule_run(catalog: Path, tmp_path: Path, schedule: list[dict[str, Any]]) -> Any:
    """``nautilus-ai backtest``'s path (a run file, BacktestNode): engine.controller carries the
    schedule; Jan 2-5 2017; returns the outcome."""
    from nautilus_ai.backtest.config import load_run_file
    from nautilus_ai.backtest.runner import run_backtest

    run = {
        "name": "schedule",
        "report_dir": str(tmp_path),
        "run": {
            "venues": [
                {
                    "name": "SIM",
                    "oms_type": "NETTING",
                    "account_type": "MARGIN",
                    "base_currency": "USD",
                    "starting_balances": ["100000 USD"],
                    "default_leverage": 30.0,
                }
            ],
            "data": [
                {
                    "catalog_path": str(catalog),
                    "data_cls": "nautilus_trader.model.data:Bar",
                    "instrument_id": INSTRUMENT_ID,
                    "bar_types": [BID, ASK],
                    "start_time": "2017-01-02T00:00:00Z",
                    "end_time": "2017-01-05T00:00:00Z",
                }
            ],
            "engine": {
                "trader_id": "BACKTESTER-002",
                "logging": {"log_level": "ERROR"},
                "controller": {
                    "controller_path": "nautilus_ai.strategies.controller:RemoteController",
                    "config_path": "nautilus_ai.strategies.controller:RemoteControllerConfig",
                    "config": {"schedule": schedule},
                },
                "strategies": [ai_pattern_strategy()],
            },
        },
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run))
    return run_backtest(load_run_file(path), write=False)


def test_schedule_in_a_backtest_run_file(demo_catalog: Path, tmp_path: Path) -> None:
    paused_from = 1_483_401_600_000_000_000  # 2017-01-03T00:00Z
    paused_to = paused_from + 12 * 3600 * 10**9
    schedule = [
        {"at": "2017-01-03T00:00:00Z", "type": "pause", "strategy_id": "AIPatternStrategy-001"},
        {"at": "2017-01-03T12:00:00Z", "type": "resume", "strategy_id": "AIPatternStrategy-001"},
    ]
    outcome = schedule_run(demo_catalog, tmp_path, schedule)
    assert outcome.status == "ok", outcome.reasons
    entered = [d.ts_event for d in outcome.decisions if d.intent in ("enter", "reverse")]
    assert [ts for ts in entered if ts <= paused_from] and [ts for ts in entered if ts > paused_to]
    assert not [ts for ts in entered if paused_from < ts <= paused_to]


def test_scheduled_commands_that_did_not_apply_fail_the_run(
    demo_catalog: Path, tmp_path: Path
) -> None:
    """A schedule entry for a mistyped strategy id, one the strategy refused and one due after
    the run ended: the run said ok (their warnings sit under the run file's ERROR log level)."""
    sid = "AIPatternStrategy-001"
    schedule = [
        {"at": "2017-01-03T00:00:00Z", "type": "pause", "strategy_id": "AIPatternStrategy-01"},
        {"at": "2071-01-03T12:00:00Z", "type": "resume", "strategy_id": sid},
        {"at": "2017-01-03T12:00:00Z", "type": "set_risk", "strategy_id": sid,
         "risk_multiplier": 5.0},
    ]  # fmt: skip
    outcome = schedule_run(demo_catalog, tmp_path, schedule)
    assert outcome.status == "failed"
    assert outcome.reasons == [
        "control schedule[0] (pause for AIPatternStrategy-01 at 2017-01-03T00:00:00Z) was "
        "rejected: no running strategy 'AIPatternStrategy-01' on this trader",
        "control schedule[2] (set_risk for AIPatternStrategy-001 at 2017-01-03T12:00:00Z) "
        "failed: ValueError: risk_multiplier must be in [0, 2.0] (sizing.max_risk_multiplier), "
        "was 5.0",
        "control schedule[1] (resume for AIPatternStrategy-001 at 2071-01-03T12:00:00Z) never "
        "ran: the run ended before it was due",
    ]
