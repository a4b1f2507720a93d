"""Issue 15, part 4: every closed position becomes an outcome for the decision that opened it
(linked by the entry order's client order id), reaches a real token-protected HTTP endpoint
(started here on loopback, a free port, stopped by pid), and the decision log stores it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from fixtures.feedback_endpoint import (
    TOKEN,
    TOKEN_ENV,
    Endpoint,
    endpoint,
    listening_url,
    posted,
    start_endpoint,
    stop,
)

from nautilus_ai.catalog import decisions_with_outcomes, list_runs, read_outcomes
from nautilus_ai.models import TradeOutcome
from nautilus_ai.models.feedback_http import FeedbackSender
from nautilus_ai.paths import repo_root
from nautilus_ai.strategies.ai_pattern import AIPatternStrategy

RunStrategy = Any  # the run_strategy fixture (see conftest.py)

__all__ = ["endpoint"]


def test_closed_positions_reach_the_endpoint_and_the_decision_log(
    run_strategy: RunStrategy,
    endpoint: Endpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    log_catalog = tmp_path / "log"
    strategy, _engine = run_strategy(
        bar_limit=12_000,
        max_holding_bars=60,
        feature_log={"catalog_path": str(log_catalog), "flush_rows": 1000},
        feedback={"url": endpoint.url, "token_env": TOKEN_ENV, "queue_size": 100_000},
    )
    assert isinstance(strategy, AIPatternStrategy)
    sink = strategy.feedback
    assert sink is not None
    status = sink.close(timeout_s=30)  # send what is queued
    trades = strategy.trades
    assert len(trades) >= 5
    outcomes = sink.outcomes
    # One outcome per closed position, linked by client order id to the decision; the same
    # decision the entry order's tags name (two independent links agree).
    assert [o.decision_ts for o in outcomes] == [t.decision_ts for t in trades]
    assert len({o.client_order_id for o in outcomes}) == len(outcomes)
    assert all(len(o.features) == len(strategy.spec.names) for o in outcomes)
    decided = {d.ts_event: d for d in strategy.decisions}
    for outcome in outcomes:
        decision = decided[outcome.decision_ts]
        assert decision.order_sent and decision.intent in ("enter", "reverse")
        assert (outcome.action, outcome.model_id) == (decision.action, decision.model_id)
    assert status["outcomes"] == len(trades) and status["unlinked"] == 0
    assert status["model_not_learning"] == len(trades)  # the rule model does not learn
    http = status["http"]
    assert (http["sent"], http["dropped"], http["refused"], http["failed"]) == (
        len(trades), 0, 0, 0,
    )  # fmt: skip
    assert strategy.control_status()["feedback"]["http"]["sent"] == len(trades)
    # The endpoint holds every outcome, as sent.
    received = [TradeOutcome.from_dict(row) for row in posted(endpoint)]
    assert received == outcomes
    # The decision log stores the outcome rows, joined to the decisions that opened them.
    strategy.feature_logger.close()
    (run_id,) = list_runs(log_catalog, "outcomes")
    rows = read_outcomes(log_catalog, run_id)
    assert rows.column("decision_ts").to_pylist() == [o.decision_ts for o in outcomes]
    assert rows.column("realized_pnl").to_pylist() == pytest.approx(
        [o.realized_pnl for o in outcomes]
    )
    joined = decisions_with_outcomes(log_catalog, run_id)
    closed = joined.filter(joined.column("ts_closed").is_valid())
    assert sorted(closed.column("ts_event").to_pylist()) == sorted(o.decision_ts for o in outcomes)


def test_the_endpoint_refuses_outcomes_without_its_token(endpoint: Endpoint) -> None:
    outcome = TradeOutcome("O-1", "EUR/USD.SIM", "rule/1", 1, (0.1,), "buy", 0.7, 1, 1000.0,
                           1.05, 1.06, 10.0, 2, 3, "take_profit")  # fmt: skip
    assert requests.get(endpoint.url.replace("/feedback", "/health"), timeout=5).status_code == 200
    body = outcome.to_dict()
    assert requests.post(endpoint.url, json=body, timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.post(endpoint.url, json=body, headers=wrong, timeout=5).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    bad = requests.post(endpoint.url, json={**body, "side": 0}, headers=right, timeout=5)
    assert bad.status_code == 400 and "side" in bad.json()["error"]
    assert posted(endpoint) == []
    # The sender counts the refusals and never blocks the caller.
    refused = FeedbackSender(endpoint.url, "not-the-token", queue_size=4)
    assert refused.offer(outcome)
    status = refused.close(timeout_s=10)
    assert (status["refused"], status["sent"]) == (1, 0) and "401" in status["last_error"]
    accepted = FeedbackSender(endpoint.url, TOKEN, queue_size=1)
    offered = [accepted.offer(outcome) for _ in range(50)]  # a burst beyond the queue
    status = accepted.close(timeout_s=10)
    assert status["dropped"] == offered.count(False) > 0
    assert status["sent"] == offered.count(True) == len(posted(endpoint))


def readme_feedback_blocks() -> tuple[list[str], dict[str, Any]]:
    text = (repo_root() / "README.md").read_text()
    section = text.split("### Feedback from closed positions", 1)[1].split("\n#", 1)[0]
    (bash,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    (config,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    return bash.strip().splitlines(), yaml.safe_load(config)


def test_the_readme_feedback_lines_run(
    run_strategy: RunStrategy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's two lines, in order (port 8095 -> a free one), and its config snippet."""
    (export, serve), config = readme_feedback_blocks()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    shell = subprocess.run(
        ["bash", "-c", f'{export}\nprintf %s "$NAUTILUS_AI_FEEDBACK_TOKEN"'],
        capture_output=True, text=True, check=True, timeout=60, env={**os.environ, "PATH": path},
    )  # fmt: skip
    token = shell.stdout
    assert len(token) == 64
    argv = shlex.split(serve)
    assert argv[:3] == ["python", "-m", "nautilus_ai.serving.feedback_endpoint"]
    argv[0] = sys.executable
    argv[argv.index("--port") + 1] = "0"
    env = {**os.environ, "NAUTILUS_AI_FEEDBACK_TOKEN": token}
    process = start_endpoint(argv, env, tmp_path)
    try:
        url = listening_url(process)
        feedback = dict(config["feedback"])
        assert feedback["url"] == "http://127.0.0.1:8095/feedback"
        feedback["url"] = url
        monkeypatch.setenv("NAUTILUS_AI_FEEDBACK_TOKEN", token)
        strategy, _engine = run_strategy(bar_limit=6_000, max_holding_bars=60, feedback=feedback)
        status = strategy.feedback.close(timeout_s=30)
        stored = (tmp_path / "feedback.jsonl").read_text().splitlines()
        assert len(stored) == len(strategy.trades) == status["http"]["sent"] > 0
    finally:
        stop(process)


def test_a_missing_token_stops_the_strategy_at_start(
    run_strategy: RunStrategy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAUTILUS_AI_NO_SUCH_TOKEN", raising=False)
    feedback = {"url": "http://127.0.0.1:9/feedback", "token_env": "NAUTILUS_AI_NO_SUCH_TOKEN"}
    strategy, _engine = run_strategy(bar_limit=2_000, feedback=feedback)
    assert strategy.feedback is None and not strategy.decisions and not strategy.trades
    assert strategy.state.name == "STOPPED"
