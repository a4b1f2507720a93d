"""``nautilus-ai finetune`` end to end on the demo catalog and a tiny MiniCPM-V 4.6, then the
stored adapter served by AIPatternStrategy in a real BacktestNode run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nautilus_ai.cli import main
from nautilus_ai.finetune import finetuned_predictor_config, read_finetune_card

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


@pytest.fixture(scope="module")
def cli_run(
    demo_catalog: Path, tiny_vlm_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("finetune-cli")
    command = [
        sys.executable, "-m", "nautilus_ai.cli", "finetune",
        "--model-dir", str(tiny_vlm_dir), "--catalog", str(demo_catalog), "--bar-type", BID,
        "--train", "2017-01-02", "2017-01-05", "--validation", "2017-01-05", "2017-01-06",
        "--stride", "15", "--hold-keep", "0.3",
        "--chart-bars", "32", "--prompt-bars", "8", "--chart-size", "112",
        "--rank", "4", "--dropout", "0", "--steps", "4", "--micro-batch", "2", "--grad-accum", "2",
        "--lr", "5e-3", "--schedule", "constant", "--eval-examples", "6", "--log-every", "1",
        "--threads", "1", "--device", "cpu", "--out", str(out), "--name", "tiny-vlm", "--json",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=out)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "json": json.loads(result.stdout), "stderr": result.stderr}


def test_cli_writes_a_versioned_adapter(cli_run: dict[str, Any], tiny_vlm_dir: Path) -> None:
    summary = cli_run["json"]
    folder = Path(summary["adapter"])
    assert folder == cli_run["out"] / "tiny-vlm" / "v1"
    assert summary["model_id"] == "tiny-vlm/1"
    assert len(summary["metrics"]["loss_history"]) == 4
    balance = summary["class_balance"]
    assert set(balance) == {"labelled", "train", "validation"}
    assert balance["train"]["hold"] < balance["labelled"]["hold"]
    stderr = cli_run["stderr"]
    for expected in ("step     1/4", "epoch 1 done", "validation before:", "validation after:",
                     "labelled", "adapter written to"):  # fmt: skip
        assert expected in stderr
    card = read_finetune_card(folder)
    assert card.bar_type == BID and card.context_bars == 32
    assert card.label["horizon"] == 30 and card.label["buy_threshold"] == 1.5
    assert card.windows["train"] == {"start": "2017-01-02T00:00:00Z", "end": "2017-01-05T00:00:00Z"}
    assert card.data["feature_source"] == "bars" and card.data["bars"] > 0
    assert card.base_model.model_type == "minicpmv4_6" and card.base_model.image_text


def test_the_adapter_trades_in_a_backtest(cli_run: dict[str, Any], demo_catalog: Path) -> None:
    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest

    folder = Path(cli_run["json"]["adapter"])
    predictor = finetuned_predictor_config(folder, device="cpu").model_dump(mode="json")
    card = read_finetune_card(folder)
    raw = {
        "name": "finetuned-tiny-vlm",
        "sample": "out-of-sample",  # after the train / validation windows
        "run": {
            "venues": [{
                "name": "SIM", "oms_type": "NETTING", "account_type": "MARGIN",
                "base_currency": "USD", "starting_balances": ["100000 USD"],
                "default_leverage": 30.0,
            }],
            "data": [{
                "catalog_path": str(demo_catalog), "data_cls": "nautilus_trader.model.data:Bar",
                "instrument_id": "EUR/USD.SIM", "bar_types": [BID, ASK],
                "start_time": "2017-01-10T08:00:00Z", "end_time": "2017-01-10T12:00:00Z",
            }],
            "engine": {
                "trader_id": "FINETUNE-001",
                "logging": {"log_level": "ERROR"},
                "strategies": [{
                    "strategy_path": "nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
                    "config_path": "nautilus_ai.strategies.ai_pattern:AIPatternConfig",
                    "config": {
                        "instrument_id": "EUR/USD.SIM", "bar_type": BID,
                        "predictor": predictor, "context_bars": card.context_bars,
                        "min_confidence": 0.0, "max_holding_bars": 30,
                    },
                }],
            },
        },
    }  # fmt: skip
    outcome = run_backtest(parse_run_file(raw, Path("finetuned.yaml")), write=False)
    decisions = outcome.decisions
    assert len(decisions) > 100  # 4 h of bars after the 114-bar warm-up
    assert {d.model_id for d in decisions} == {"tiny-vlm/1"}
    assert {d.action for d in decisions} <= {"buy", "sell", "hold"}
    assert outcome.strategy_stats["predictor_errors"] == 0
    assert not [d for d in decisions if d.reason.startswith("predictor error")]


def test_cli_errors_are_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", "--model-dir", str(tmp_path), "--train", "2017-01-02",
                 "2017-01-03"]) == 2  # fmt: skip
    assert "has no config.json" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    assert main(["finetune", "--model-dir", str(tmp_path), "--train", "2017-01-03",
                 "2017-01-02"]) == 2  # fmt: skip
    assert "must be before end" in capsys.readouterr().err
    assert main(["finetune", "--model-dir", str(tmp_path), "--train", "2017-01-02",
                 "2017-01-03", "--rank", "0"]) == 2  # fmt: skip
    assert "--rank: Input should be greater than 0 (received 0)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["finetune", "--model-dir", str(tmp_path), "--train", "2017-01-02", "2017-01-03",
              "--steps", "3", "--epochs", "1"])  # fmt: skip
