"""A replay client config built in Python with a NaN or infinite number was taken (a NaN passes
``< 0``): ``speed=nan`` then replayed at full speed, ``max_gap_secs=nan`` slept NaN seconds. YAML
configs refuse such numbers before this; the config itself now refuses them too, naming the
field."""

from __future__ import annotations

import math

import pytest

from nautilus_ai.adapters.replay import ReplayDataClientConfig


@pytest.mark.parametrize("field", ["speed", "max_gap_secs", "start_delay_secs", "quote_size"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_each_number_must_be_finite_and_not_negative(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be"):
        ReplayDataClientConfig(
            catalog_path="catalogs/demo", instrument_id="EUR/USD.SIM",
            bar_types=["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"], **{field: value},
        )  # fmt: skip


def test_finite_values_are_taken() -> None:
    config = ReplayDataClientConfig(
        catalog_path="catalogs/demo", instrument_id="EUR/USD.SIM",
        bar_types=["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"], speed=60.0, max_gap_secs=0.0,
    )  # fmt: skip
    assert (config.speed, config.max_gap_secs) == (60.0, 0.0)
