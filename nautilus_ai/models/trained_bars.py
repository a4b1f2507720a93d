"""Which bars a stored model was trained on, checked against the bars a strategy runs it on.

A model card records the bar type its model was trained on (``metrics["data"]["bar_type"]``,
written by ``nautilus-ai train``). A model of another bar period reads other time spans: its
ATRs, returns and regimes are of 1-minute bars while the strategy feeds it hour bars, and its
label horizon was counted in the other bars; it answers, and the answers mean nothing. So:

* **period** (step and aggregation: ``1-MINUTE`` vs ``1-HOUR``; ``60-MINUTE`` is ``1-HOUR``):
  must match, else :class:`BarTypeMismatchError` naming both bar types;
* **instrument**: may differ (running a EUR/USD model on GBP/USD is a user's choice; the
  features are scale-free), with a warning that its figures were measured on the other one;
* **price type** (BID / ASK / MID / LAST) and **source**: may differ (a spread apart), with a
  note.

A model of decision ticks (``nautilus-ai train --ticks``) records their cadence
(``tick_mode``: every n-th quote tick, at most one per k ms); its label horizon counts decision
ticks, so a strategy whose ``tick_mode`` decides at another cadence is refused too.

A pattern store records the bar period it was cut from (``bar_ns``): a strategy of another
period is refused at start too (its predictor also refuses such bars when it sees them).

A card written before it recorded the bar type cannot be checked: a warning says so. The
cards that record it: the MLP's and LightGBM's (``nautilus-ai train``) and a fine-tuned
adapter's (``finetune_card.json``, the transformers backend).

A predictor says what it was trained on by implementing :class:`KnowsTrainedBars`; a predictor
that nests others (fallback, ensemble, cached, delayed, switchable) lists them in ``members``
(:class:`WrapsPredictors`), and :func:`check_bar_type` walks them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from nautilus_ai.bar_types import BarTypeParts, format_period, parse_bar_type
from nautilus_ai.models.base import Predictor, WrapsPredictors, nested_predictors

__all__ = [
    "BarTypeCheck",
    "BarTypeMismatchError",
    "KnowsTrainedBars",
    "TickCadence",
    "TrainedBars",
    "WrapsPredictors",
    "card_bar_type",
    "check_bar_type",
    "check_predictor_bars",
    "tick_cadence_of",
    "trained_bars_of",
    "trained_bars_of_card",
]


class BarTypeMismatchError(ValueError):
    """A model trained on bars of one period is asked to run on bars of another."""


#: A tick model's decision cadence: ``(every_ticks, every_ms)`` of its ``tick_mode``.
TickCadence = tuple[int, float | None]


@dataclass(frozen=True, slots=True)
class TrainedBars:
    """What a stored model was trained on: ``bar_type`` as its card records it (``None``: the
    card is older than the record) and, for a model of decision ticks, their cadence."""

    model_id: str
    bar_type: str | None
    tick_cadence: TickCadence | None = None
    #: The bar period (ns) of a model that records only that (a pattern store), else ``None``.
    period_ns: int | None = None

    @classmethod
    def from_card(cls, model_id: str, metrics: Mapping[str, object]) -> TrainedBars:
        """What a card's ``metrics["data"]`` records (``bar_type``, ``tick_mode``)."""
        data = metrics.get("data")
        tick_mode = data.get("tick_mode") if isinstance(data, Mapping) else None
        cadence = tick_cadence_of(tick_mode) if isinstance(tick_mode, Mapping) else None
        return cls(model_id, card_bar_type(metrics), cadence)


@runtime_checkable
class KnowsTrainedBars(Protocol):
    """A predictor whose artifact records the bars it was trained on."""

    @property
    def trained_bars(self) -> TrainedBars | None:
        """The bar type of its training data (from the artifact); ``None``: it was not trained
        on bars (a base language model without a fine-tuned adapter)."""
        ...


@dataclass(frozen=True, slots=True)
class BarTypeCheck:
    """What :func:`check_bar_type` found that does not stop the model: ``warnings`` (an
    instrument the model was not trained on, a card without the record) and ``notes``
    (another price type)."""

    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def card_bar_type(metrics: Mapping[str, object]) -> str | None:
    """The bar type a card's ``metrics`` record under ``data.bar_type`` (``None``: not recorded)."""
    data = metrics.get("data")
    bar_type = data.get("bar_type") if isinstance(data, Mapping) else None
    return bar_type if isinstance(bar_type, str) and bar_type else None


class _Card(Protocol):
    @property
    def train_window(self) -> object: ...

    @property
    def metrics(self) -> Mapping[str, object]: ...


def trained_bars_of_card(model_id: str, card: _Card) -> TrainedBars | None:
    """What a model card records (:meth:`TrainedBars.from_card`); ``None`` for a card with no
    training window and no data record (a random model for tests and demos: nothing to check,
    nothing to warn about)."""
    if card.train_window is None and card_bar_type(card.metrics) is None:
        return None
    return TrainedBars.from_card(model_id, card.metrics)


def tick_cadence_of(tick_mode: Mapping[str, object]) -> TickCadence | None:
    """``(every_ticks, every_ms)`` of a tick mode config mapping (defaults 1 and None), or
    ``None`` when they are not numbers (the config's own check names them)."""
    every, every_ms = tick_mode.get("every_ticks", 1), tick_mode.get("every_ms")
    if not isinstance(every, int | float) or not isinstance(every_ms, int | float | None):
        return None
    return int(every), None if every_ms is None else float(every_ms)


def _cadence(cadence: TickCadence) -> str:
    every, every_ms = cadence
    text = "every quote tick" if every == 1 else f"every {every} quote ticks"
    return text if every_ms is None else f"{text}, at most one per {every_ms:g} ms"


def trained_bars_of(predictor: Predictor) -> Iterator[TrainedBars]:
    """What each stored model in ``predictor`` (itself, or nested at any depth) was trained on."""
    for item in nested_predictors(predictor):
        trained = item.trained_bars if isinstance(item, KnowsTrainedBars) else None
        if trained is not None:
            yield trained


def check_bar_type(
    predictor: Predictor, bar_type: str, tick_cadence: TickCadence | None = None
) -> BarTypeCheck:
    """Check every stored model in ``predictor`` against the strategy's ``bar_type`` and, in
    tick mode, its decision cadence ``tick_cadence``.

    Raises
    ------
    BarTypeMismatchError
        A model was trained on bars of another period (the message names both bar types), or
        on decision ticks of another cadence (its label horizon counts decision ticks).
    """
    strategy = parse_bar_type(bar_type)
    warnings: list[str] = []
    notes: list[str] = []
    for trained in trained_bars_of(predictor):
        model = f"model {trained.model_id}"
        cadence = trained.tick_cadence
        if cadence is not None and tick_cadence is not None and cadence != tick_cadence:
            raise BarTypeMismatchError(
                f"{model} was trained on decisions {_cadence(cadence)}, the strategy's tick_mode "
                f"decides {_cadence(tick_cadence)}: its label horizon counts decision ticks, so "
                "it would span another time; set the strategy's tick_mode to the model's, or "
                f"train one with this cadence (nautilus-ai train --ticks ... --every-ticks "
                f"{tick_cadence[0]})"
            )
        if trained.bar_type is None and trained.period_ns is not None:
            _check_period(model, trained.period_ns, bar_type, strategy)
            continue
        if trained.bar_type is None:
            warnings.append(
                f"{model}: its card records no bar type (written before cards recorded it); "
                f"whether it was trained on bars like {bar_type} cannot be checked"
            )
            continue
        card = parse_bar_type(trained.bar_type)
        if card is None or strategy is None:
            if trained.bar_type != bar_type:
                warnings.append(
                    f"{model} was trained on {trained.bar_type} bars, the strategy's bar type "
                    f"is {bar_type}; one of them cannot be read, so their periods were not "
                    "compared"
                )
            continue
        same_period = (
            card.period_ns == strategy.period_ns
            if card.period_ns is not None or strategy.period_ns is not None
            else (card.step, card.aggregation) == (strategy.step, strategy.aggregation)
        )
        if not same_period:
            raise BarTypeMismatchError(
                f"{model} was trained on {trained.bar_type} bars ({card.period}), the "
                f"strategy's bar type is {bar_type} ({strategy.period}): a model of another "
                "bar period reads other time spans (its features and label horizon were "
                "counted in its own bars); train one on this bar type (nautilus-ai train "
                f"--bar-type {bar_type})"
            )
        if card.instrument_id != strategy.instrument_id:
            warnings.append(
                f"{model} was trained on {card.instrument_id} bars ({trained.bar_type}) and "
                f"runs on {strategy.instrument_id} ({bar_type}): allowed (same bar period, "
                "scale-free features), but its figures were measured on the other instrument"
            )
        elif (card.price_type, card.source) != (strategy.price_type, strategy.source):
            notes.append(
                f"{model} was trained on {trained.bar_type} bars and runs on {bar_type}: "
                "same instrument and period, another price type or source (allowed)"
            )
    return BarTypeCheck(tuple(warnings), tuple(notes))


def _check_period(model: str, period_ns: int, bar_type: str, strategy: BarTypeParts | None) -> None:
    """Refuse a model built from bars ``period_ns`` apart for the strategy's ``bar_type``."""
    period = None if strategy is None else strategy.period_ns
    if period is not None and period != period_ns:
        assert strategy is not None
        raise BarTypeMismatchError(
            f"{model} was built from bars {format_period(period_ns)} apart, the strategy's bar "
            f"type is {bar_type} ({strategy.period}): patterns of another bar period compare "
            "other time spans; build a store from this bar type (nautilus-ai patterns build "
            f"--bar-type {bar_type})"
        )


def check_predictor_bars(
    predictor: Predictor, bar_type: str, tick_mode: Mapping[str, object] | None = None
) -> BarTypeCheck:
    """:func:`check_bar_type` for a strategy of ``bar_type`` and ``tick_mode`` (its config
    mapping, ``None``: bar mode); a refused ``predictor`` is closed before the error is raised."""
    cadence = None if tick_mode is None else tick_cadence_of(tick_mode)
    try:
        return check_bar_type(predictor, bar_type, cadence)
    except BarTypeMismatchError:
        predictor.close()
        raise
