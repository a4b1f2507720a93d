"""Optuna search: per family and market, a seeded TPE study asks for trials in batches, the
batch runs (every fold and seed of each trial, on Ray), and the stitched out-of-sample metric
is told back.

Why Optuna: a maintained library whose ask-and-tell interface lets our executor (Ray) run the
trials, with seeded samplers (the same experiment proposes the same trials: a resumed run finds
them stored and tells the same values) and categorical, integer, float and log ranges. Optuna
is in the ``experiments`` extra, imported only for ``search.method: optuna``.

Selection by out-of-sample results is selection all the same: the report deflates the best
trial's Sharpe ratio by the number of trials tried and estimates the probability of backtest
overfitting; read those before the leaderboard.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nautilus_ai.experiments.config import Experiment, FamilySpace, Market, ParamRange
from nautilus_ai.experiments.plan import Trial

__all__ = ["optuna_search", "require_optuna", "suggest"]

Evaluate = Callable[[list[Trial]], Mapping[str, float | None]]


def require_optuna() -> Any:
    """Import and return ``optuna`` (one line naming the extra when it is missing)."""
    from nautilus_ai.experiments.execution import MissingExtraError

    try:
        import optuna
    except ImportError:
        raise MissingExtraError(
            "search.method optuna needs the optional 'experiments' extra: "
            "pip install 'nautilus-ai[experiments]' (optuna is not installed)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def suggest(trial: Any, name: str, space: Sequence[Any] | ParamRange) -> Any:
    """One value of ``name`` from an Optuna trial: a list is categorical (lists and dicts go
    through JSON: Optuna's choices must be plain scalars), a range is an int or float range."""
    if isinstance(space, ParamRange):
        integral = (
            float(space.low).is_integer()
            and float(space.high).is_integer()
            and (space.step is None or float(space.step).is_integer())
        )
        if integral and _declared_int(space):  # a log range of ints stays ints (no step)
            step = int(space.step) if space.step is not None else 1
            return trial.suggest_int(
                name, int(space.low), int(space.high), step=step, log=space.log
            )
        return trial.suggest_float(name, space.low, space.high, log=space.log, step=space.step)
    encoded = [json.dumps(v, sort_keys=True) for v in space]
    choice = trial.suggest_categorical(name, encoded)
    return json.loads(choice)


def _declared_int(space: ParamRange) -> bool:
    return isinstance(space.low, int) and isinstance(space.high, int)


def optuna_search(
    experiment: Experiment,
    evaluate: Evaluate,
    *,
    batch_size: int,
    progress: Callable[[str], None] = print,
) -> list[Trial]:
    """Run ``search.trials`` trials per family and market; returns every trial asked for."""
    optuna = require_optuna()
    trials: list[Trial] = []
    budget = experiment.search.trials or 0
    for f_index, family in enumerate(experiment.families):
        for m_index, market in enumerate(experiment.markets):
            seed = experiment.search.seed + 1000 * f_index + m_index
            study = optuna.create_study(
                direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
            )
            done = 0
            while done < budget:
                size = min(batch_size, budget - done)
                asked = [study.ask() for _ in range(size)]
                batch = [_trial(family, market, t, experiment) for t in asked]
                values = evaluate(batch)
                for asked_trial, trial in zip(asked, batch, strict=True):
                    value = values.get(trial.trial_id)
                    if value is None or not math.isfinite(value):
                        study.tell(asked_trial, state=optuna.trial.TrialState.FAIL)
                    else:
                        study.tell(asked_trial, value)
                trials += batch
                done += size
                best = _best_value(study)
                progress(
                    f"      optuna {family.family} on {market.label}: {done}/{budget} trials, "
                    f"best {experiment.search.metric} so far {best}"
                )
    return trials


def _best_value(study: Any) -> str:
    try:
        return f"{study.best_value:.3f}"
    except ValueError:
        return "n/a"


def _trial(family: FamilySpace, market: Market, asked: Any, experiment: Experiment) -> Trial:
    model = {name: suggest(asked, name, space) for name, space in sorted(family.space.items())}
    strategy = {
        name: suggest(asked, f"strategy.{name}", space)
        for name, space in sorted(experiment.strategy_space.items())
    }
    return Trial(family.family, int(asked.number), model, strategy, market)
