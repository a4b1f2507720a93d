"""Which failed runs are retried: a failure the run's inputs decide is reported at once (a retry
gives the same error after as long again); a fault of the machine or the files is retried."""

from __future__ import annotations

from functools import partial
from typing import Any

import pyarrow as pa
import pytest

from nautilus_ai.experiments import execution
from nautilus_ai.experiments.execution import NOT_RETRIED, _attempts, backtest_entry, prepare_entry


@pytest.mark.parametrize(
    ("error", "calls", "ends"),
    [
        (
            ValueError("fold 0: the embargo (500 bars) is longer than the validation window"),
            1,
            NOT_RETRIED,
        ),
        (KeyError("signal_rate"), 1, NOT_RETRIED),
        (ZeroDivisionError("float division by zero"), 1, NOT_RETRIED),
        (OSError("No space left on device"), 2, "(after 2 attempts)"),
        (RuntimeError("worker lost its GPU"), 2, "(after 2 attempts)"),
        (
            pa.ArrowInvalid("Parquet magic bytes not found (a file being written)"),
            2,
            "(after 2 attempts)",
        ),
        (
            execution.RunTimeoutError("took longer than execution.run_timeout_s"),
            2,
            "(after 2 attempts)",
        ),
    ],
)
@pytest.mark.parametrize("entry", ["prepare", "backtest"])
def test_a_failure_its_inputs_decide_is_not_retried(
    monkeypatch: pytest.MonkeyPatch, error: Exception, calls: int, ends: str, entry: str
) -> None:
    made: list[int] = []

    def fail(*_args: Any) -> Any:
        made.append(1)
        raise error

    if entry == "prepare":
        monkeypatch.setattr(execution, "prepare_model", fail)
        call = partial(prepare_entry, object(), None)
    else:
        monkeypatch.setattr(execution, "run_backtest_task", fail)
        call = partial(backtest_entry, object(), None, None)
    value, reason = _attempts(call, retries=1)
    assert value is None
    assert len(made) == calls
    assert reason.startswith(type(error).__name__) and reason.endswith(ends)
