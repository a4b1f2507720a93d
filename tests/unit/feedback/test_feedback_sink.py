"""FeedbackSink (pure): links entries to decisions by client order id, routes outcomes to the
deciding model only, counts every miss, and never raises into the caller."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.feedback import FeedbackConfig, FeedbackSink
from nautilus_ai.models import Action, Prediction, TradeOutcome
from nautilus_ai.models.testing import ScriptedPredictor


@dataclass(frozen=True)
class Trade:
    ts_opened: int = 20
    ts_closed: int = 30
    side: str = "long"
    quantity: float = 1000.0
    avg_px_open: float = 1.05
    avg_px_close: float = 1.06
    realized_pnl: float = 10.0
    exit_reason: str = "take_profit"


class Learner(ScriptedPredictor):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(name="learner/1")
        self.taken: list[TradeOutcome] = []
        self.fail_feedback = fail

    def feedback(self, outcome: TradeOutcome) -> bool:
        if self.fail_feedback:
            raise RuntimeError("boom")
        self.taken.append(outcome)
        return True


def prediction(model: str = "learner/1") -> Prediction:
    return Prediction(Action.BUY, 0.8, 0.2, model)


def test_outcome_is_linked_by_client_order_id_and_goes_to_the_model() -> None:
    model = Learner()
    sink = FeedbackSink(FeedbackConfig(), "EUR/USD.SIM", lambda: model)
    sink.entered("O-1", 10, prediction())
    sink.decided(10, np.array([0.5, 0.25]), prediction(), "enter", 1000.0, True)
    outcome = sink.closed("O-1", Trade())
    assert outcome is not None and model.taken == [outcome]
    assert (outcome.decision_ts, outcome.features, outcome.side) == (10, (0.5, 0.25), 1)
    assert sink.closed("O-1", Trade()) is None  # each entry closes once
    assert sink.closed("O-unknown", Trade()) is None
    status = sink.status()
    assert (status["outcomes"], status["to_model"], status["unlinked"]) == (1, 1, 2)
    assert status["http"] is None


def test_a_switched_or_failing_or_non_learning_model_is_counted_not_raised() -> None:
    current: list[Any] = [Learner()]
    sink = FeedbackSink(FeedbackConfig(), "EUR/USD.SIM", lambda: current[0])
    sink.entered("O-1", 10, prediction("old/1"))  # decided by a model no longer in use
    sink.closed("O-1", Trade())
    current[0] = Learner(fail=True)
    sink.entered("O-2", 10, prediction())
    sink.closed("O-2", Trade())
    current[0] = ScriptedPredictor(name="learner/1")  # same id, cannot learn
    sink.entered("O-3", 10, prediction())
    sink.closed("O-3", Trade(side="short"))
    status = sink.status()
    assert (status["model_declined"], status["model_errors"], status["model_not_learning"]) == (
        1, 1, 1,
    )  # fmt: skip
    assert "boom" in status["last_error"]
    assert [o.side for o in sink.outcomes] == [1, 1, -1]


def test_remember_bounds_open_entries() -> None:
    sink = FeedbackSink(FeedbackConfig(remember=2), "EUR/USD.SIM", lambda: None)
    for i in range(3):
        sink.entered(f"O-{i}", 10, prediction())
    assert sink.closed("O-0", Trade()) is None and sink.status()["open_entries"] == 2


def test_config_is_strict_and_a_url_needs_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="urll"):
        FeedbackConfig.model_validate({"urll": "http://x"})
    config = FeedbackConfig(url="http://127.0.0.1:9/feedback", token_env="NO_SUCH_TOKEN_VAR")
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_TOKEN_VAR"):
        FeedbackSink.from_config(config, "EUR/USD.SIM", lambda: None)


def test_strategy_config_checks_the_feedback_dict() -> None:
    from nautilus_ai.strategies.ai_pattern import AIPatternConfig

    base = {"instrument_id": "EUR/USD.SIM", "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"}
    AIPatternConfig(**base, feedback={"to_model": True})
    with pytest.raises(ValueError, match="feedback"):
        AIPatternConfig(**base, feedback={"queue_sise": 10})


def test_a_dead_endpoint_costs_the_caller_nothing() -> None:
    from nautilus_ai.models.feedback_http import FeedbackSender

    sender = FeedbackSender("http://127.0.0.1:9/feedback", "t", queue_size=2,
                            connect_timeout_s=0.2, read_timeout_s=0.2)  # fmt: skip
    outcome = TradeOutcome("O", "X", "m/1", 1, (), "buy", 0.5, 1, 1.0, 1.0, 1.0, 0.0, 1, 2, "x")
    import time

    start = time.perf_counter()
    offered = [sender.offer(outcome) for _ in range(100)]
    assert time.perf_counter() - start < 0.05  # never waits for the network
    status = sender.close(timeout_s=5)
    assert status["failed"] == offered.count(True) and status["dropped"] == offered.count(False)


_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.lists(st.floats(), max_size=3), st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)  # fmt: skip
_FIELDS = list(TradeOutcome("O", "X", "m/1", 1, (), "buy", 0.5, 1, 1.0, 1.0, 1.0, 0.0, 1, 2,
                            "x").to_dict())  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_FIELDS), _values))
def test_outcome_parser_never_crashes_on_junk(data: dict[str, Any]) -> None:
    """What the endpoint receives from the wire: an outcome or one ValueError, nothing else."""
    try:
        outcome = TradeOutcome.from_dict(data)
    except ValueError:
        return
    again = TradeOutcome.from_dict(outcome.to_dict())
    assert json.dumps(again.to_dict()) == json.dumps(outcome.to_dict())  # NaN-safe equality


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("confidence", float("nan")),
        ("confidence", 1.5),
        ("realized_pnl", float("inf")),
        ("avg_px_open", float("nan")),
        ("quantity", -1000.0),
        ("action", "moon"),
        ("features", [1.0, float("nan")]),
    ],
)
def test_an_outcome_from_the_wire_with_impossible_values_is_refused(
    field: str, value: object
) -> None:
    # The feedback endpoint appended such outcomes to the file a model's trainer reads (NaN is
    # not even JSON): garbage in the training data, answered 200.
    data = TradeOutcome(
        "O", "X", "m/1", 1, (0.5,), "buy", 0.5, 1, 1000.0, 1.05, 1.06, 10.0, 1, 2, "take_profit"
    ).to_dict()
    data[field] = value
    with pytest.raises(ValueError, match=field):
        TradeOutcome.from_dict(data)


def test_the_endpoint_refuses_an_out_file_it_cannot_write_before_listening(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # It printed "listening on ..." and then failed every POST (the connection dropped without
    # an answer): every outcome was lost while it looked healthy.
    from nautilus_ai.serving import feedback_endpoint

    def served(*args: object, **kwargs: object) -> None:
        raise AssertionError("the endpoint started serving")

    monkeypatch.setattr(feedback_endpoint.FeedbackEndpoint, "serve_forever", served)
    monkeypatch.setenv("NAUTILUS_AI_FEEDBACK_TOKEN", "t" * 20)
    out = tmp_path / "no-such-folder" / "feedback.jsonl"
    assert feedback_endpoint.main(["--port", "0", "--out", str(out)]) == 2
    assert "no-such-folder" in capsys.readouterr().err
