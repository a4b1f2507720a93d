"""The decision core's tick entry points: decide_quiet logs decide's answer for a flat quiet
tick, and the precomputed tick path's row numbers read back as those records."""

from __future__ import annotations

from fixtures.accounts import FlatAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.decision import DecisionCore, DecisionRecord, RiskControls
from nautilus_ai.policy import PolicyConfig
from nautilus_ai.sizing import SizingConfig


def core(paused: bool = False) -> DecisionCore:
    return DecisionCore(
        PolicyConfig(), SizingConfig(), RiskControls(min_confidence=0.55, paused=paused),
        stop_loss_atr=2.0, take_profit_atr=3.0,
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([-1, 0, 1]),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.text(max_size=5),
    st.none() | st.just("RuntimeError: boom"),
    st.booleans(),
)
def test_decide_quiet_logs_decides_record_for_a_flat_quiet_tick(
    sign: int, confidence: float, risk: float, reason: str, error: str | None, paused: bool
) -> None:
    full, quick = core(paused), core(paused)
    decision = full.decide(
        7, 1.1, 1e-4, 0.0, sign, confidence, risk, "m/1", reason, FlatAccount(), error=error,
        on_tick=True,
    )  # fmt: skip
    logged = quick.decide_quiet(
        7, sign, confidence, risk, "m/1", reason, False, error=error, on_tick=True
    )
    if sign != 0 and confidence >= 0.55:  # a signal: not quiet, nothing logged (decide runs)
        assert not logged and list(quick.tick_decisions) == []
        return
    assert logged
    record = quick.last_decision
    assert record == decision.record and not decision.send
    assert list(quick.tick_decisions) == list(full.tick_decisions) == [record]
    assert list(quick.decisions) == [] and quick.last_decision == record


class Rows:
    def hold_record(self, row: int) -> DecisionRecord:
        return DecisionRecord(row, "hold", 0.0, 0.5, "m/1", "none", 0.0, False, "r", None, True)


def test_tick_rows_read_back_as_records_and_the_last_decision() -> None:
    decisions = core()
    decisions.use_tick_source(Rows())
    decisions.hold_tick_row(3)
    decisions.hold_tick_row(4)
    assert decisions.last_decision == Rows().hold_record(4)
    entry = decisions.decide(
        9, 1.1, 1e-4, 0.0, 1, 0.9, 0.1, "m/1", "buy", FlatAccount(), on_tick=True
    ).record
    assert decisions.last_decision == entry and entry.on_tick
    decisions.use_tick_source(None)  # rows become records
    assert list(decisions.tick_decisions) == [Rows().hold_record(3), Rows().hold_record(4), entry]
