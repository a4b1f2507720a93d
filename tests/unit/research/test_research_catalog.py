"""``nr.bars`` arguments a notebook user gets wrong: one ResearchInputError line each, before
any catalog is read (no traceback from os.path, no bound silently rounded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nautilus_ai.research as nr

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def refusal(*args: object, **kwargs: object) -> str:
    with pytest.raises(nr.ResearchInputError) as info:
        nr.bars(*args, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("catalog", [None, 5, b"/tmp", ["catalogs/demo"]])
def test_a_catalog_that_is_not_a_path_is_one_line(catalog: object) -> None:
    # None / an int failed with os.stat's TypeError ("stat: path should be string ...").
    message = refusal(catalog, BID)
    assert message.startswith("catalog: expected a folder path")
    assert type(catalog).__name__ in message


@pytest.mark.parametrize("bound", [1.5, 1.49e18, np.float64(1.49e18)])
@pytest.mark.parametrize("which", ["start", "end"])
def test_a_float_bound_is_refused_not_rounded(tmp_path: Path, bound: object, which: str) -> None:
    # pandas read start=1.5 as 1 ns (the fraction dropped without a word), and a float
    # nanosecond time is only as exact as a double; read_bars refuses floats, so does the facade.
    message = refusal(tmp_path, BID, **{which: bound})
    assert message.startswith(f"{which}: ") and "float" in message


def test_numpy_integer_bounds_are_nanoseconds(tmp_path: Path) -> None:
    # An np.int64 (what .asi8 / .value arithmetic in numpy gives) is read as ns like an int,
    # so the refusal is the empty catalog's, not the bound's.
    message = refusal(tmp_path, BID, start=np.int64(1_488_326_400_000_000_000))
    assert "no bars of type" in message


def test_a_float_plot_window_is_refused(tmp_path: Path) -> None:
    from nautilus_ai.models.testing import synthetic_bars

    raw = synthetic_bars(200, seed=1)
    index = pd.DatetimeIndex(pd.to_datetime(raw[:, 0].astype(np.int64), unit="ns", utc=True))
    bars = nr.as_bars(pd.DataFrame(raw[:, 1:], index=index, columns=list(nr.BAR_COLUMNS)))
    predictions = nr.predict(nr.features(bars), {"kind": "rule"})
    with pytest.raises(nr.ResearchInputError, match=r"start: .*float"):
        nr.plot_signals(bars, predictions, start=float(index[10].value))
