"""The plan: trials x folds x seeds, keys that change exactly when a run's inputs change, and the
validation-chosen threshold."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.experiments.config import parse_experiment
from nautilus_ai.experiments.plan import (
    baseline_runs,
    canonical_hash,
    grid_trials,
    runs_for_trials,
    seeds_for,
)
from nautilus_ai.experiments.tasks import hold_key, threshold_for_rate

BAR = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
DOC: dict[str, Any] = {
    "name": "plan",
    "data": {"catalog": "catalogs/demo", "instruments": ["EUR/USD.SIM"], "bar_types": [BAR],
             "start": "2017-01-02", "end": "2017-07-01"},
    "walk_forward": {"train": "6w", "validation": "2w", "test": "2w", "max_folds": 4},
    "families": [{"family": "mlp", "params": {"hidden": [[16], [32, 16]]}},
                 {"family": "rule"}],
    "strategy": {"min_confidence": [{"signal_rate": 0.02}, {"signal_rate": 0.05}],
                 "stop_loss_atr": [2.0, 3.0]},
    "seeds": [7, 8, 9],
}  # fmt: skip
BASE_RUN = {"run": {"venues": [{"name": "SIM"}], "engine": {"strategies": [{"config": {}}]}}}


def _plan(doc: dict[str, Any], *, data: str = "d1", code: str = "c1", catalog: str | None = None):
    doc = copy.deepcopy(doc)
    if catalog is not None:
        doc["data"]["catalog"] = catalog
    experiment = parse_experiment(doc)
    trials = grid_trials(experiment)
    runs = runs_for_trials(experiment, trials, BASE_RUN, {BAR: data}, code)
    return experiment, trials, runs, baseline_runs(experiment, BASE_RUN, {BAR: data}, code)


def test_a_grid_runs_every_trial_on_every_fold_and_seed() -> None:
    _, trials, runs, baselines = _plan(DOC)
    assert len(trials) == 2 * 4 + 4  # mlp: 2 widths x 4 strategy settings; rule: 4 settings
    assert [t.label for t in trials[:2]] == ["mlp#00", "mlp#01"]
    assert len(runs) == 8 * 4 * 3 + 4 * 4 * 1  # the rule is deterministic: one run per fold
    assert len(baselines) == 4 and {b.role for b in baselines} == {"baseline"}
    assert len({r.key for r in runs + baselines}) == len(runs) + len(baselines)
    assert seeds_for("lightgbm", [1, 2]) == [1, 2] and seeds_for("pattern_memory", [1, 2]) == [None]


def test_runs_that_differ_only_in_the_strategy_share_their_fold_model() -> None:
    _, _, runs, _ = _plan(DOC)
    mlp = [r for r in runs if r.family == "mlp"]
    models = {r.model.key for r in mlp if r.model is not None}
    assert len(models) == 2 * 4 * 3  # widths x folds x seeds, shared by the 4 strategy settings
    for r in mlp:
        assert r.model is not None and r.model.signal_rates == (0.02, 0.05)
        assert r.model.fold is r.fold


def test_keys_change_with_the_data_the_code_and_the_settings_not_the_catalog_path() -> None:
    _, _, runs, baselines = _plan(DOC)
    keys = [r.key for r in runs + baselines]
    again = _plan(DOC)
    assert keys == [r.key for r in again[2] + again[3]]  # stable
    moved = _plan(DOC, catalog="/elsewhere/demo")
    assert keys == [r.key for r in moved[2] + moved[3]]
    for changed in (_plan(DOC, data="d2"), _plan(DOC, code="c2")):
        assert not set(keys) & {r.key for r in changed[2] + changed[3]}
    other = copy.deepcopy(DOC)
    other["strategy"]["stop_loss_atr"] = [2.0, 2.5]
    changed_keys = {r.key for r in _plan(other)[2]}
    assert {r.key for r in runs if r.strategy_params["stop_loss_atr"] == 2.0} <= changed_keys
    assert not {r.key for r in runs if r.strategy_params["stop_loss_atr"] == 3.0} & changed_keys
    assert len({hold_key(k) for k in keys} | set(keys)) == 2 * len(keys)


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.floats(allow_nan=False)))
def test_canonical_hash_ignores_key_order(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_hash(value) == canonical_hash(reordered)


@given(
    st.lists(st.tuples(st.sampled_from([-1, 0, 1]), st.floats(0.0, 1.0)), min_size=1,
             max_size=200),
    st.floats(0.001, 1.0),
)  # fmt: skip
def test_the_threshold_lets_through_at_least_the_signal_rate(rows: list[Any], rate: float) -> None:
    actions = np.array([a for a, _ in rows], dtype=np.int8)
    confidence = np.array([c for _, c in rows])
    threshold = threshold_for_rate(actions, confidence, rate)
    acting = actions != 0
    if not acting.any():
        assert threshold == 1.0
        return
    assert threshold in set(confidence[acting].tolist())
    passed = int((acting & (confidence >= threshold)).sum())
    assert passed >= min(int(acting.sum()), int(np.ceil(rate * actions.size)))
    assert threshold_for_rate(actions, confidence, min(1.0, rate * 2)) <= threshold
