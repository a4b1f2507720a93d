"""What every predictor loaded from a sealed model card (MLP, LightGBM) answers the same way:
its prediction-cache identity and the bars it was trained on."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import MarketContext
from nautilus_ai.models.card import card_digest
from nautilus_ai.models.prompting import input_fingerprint
from nautilus_ai.models.trained_bars import TrainedBars, trained_bars_of_card

__all__ = ["CardBackedPredictor"]


class CardBackedPredictor:
    """Mixin for a predictor holding its card in ``_card`` and its id in ``_model_id``."""

    _card: Any
    _model_id: str

    @functools.cached_property
    def _identity(self) -> str:
        return card_digest(self._card)  # seals the weights' SHA-256, temperature, classes...

    def prompt_hash(self, features: NDArray[np.float64], context: MarketContext) -> str:
        """Identifies this model's answer for the row (a prediction-cache key part): the card's
        digest and the features. Two artifacts of one ``name/version`` (another artifact root,
        a name retrained after its folder was deleted) never share cached answers."""
        return input_fingerprint(features, context, self._identity)

    @property
    def trained_bars(self) -> TrainedBars | None:
        """The bar type the card records (:mod:`~nautilus_ai.models.trained_bars`); ``None``
        for a model never trained on bars (no training window: a random one for tests)."""
        return trained_bars_of_card(self._model_id, self._card)
