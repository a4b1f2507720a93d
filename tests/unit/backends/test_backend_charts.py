from __future__ import annotations

import io
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nautilus_ai.charts import ChartStyle, chart_array, chart_png, render_chart
from nautilus_ai.models.testing import synthetic_bars


def test_same_bars_give_byte_identical_png_and_pixels() -> None:
    bars = synthetic_bars(64, seed=3)
    assert chart_png(bars) == chart_png(bars.copy())
    np.testing.assert_array_equal(chart_array(bars), chart_array(bars.copy()))


def test_different_bars_give_different_images() -> None:
    bars = synthetic_bars(64, seed=3)
    other = bars.copy()
    other[-1, 4] += 5e-4  # last close moves
    assert chart_png(bars) != chart_png(other)


def test_png_decodes_to_the_same_pixels_as_the_array() -> None:
    bars = synthetic_bars(40, seed=1)
    style = ChartStyle(width=200, height=120)
    decoded = np.asarray(Image.open(io.BytesIO(chart_png(bars, style))).convert("RGB"))
    np.testing.assert_array_equal(decoded, chart_array(bars, style))
    assert decoded.shape == (120, 200, 3)


def test_colours_follow_candle_direction() -> None:
    style = ChartStyle(width=64, height=64, volume_fraction=0.0)
    up = np.array([[0, 1.0, 1.2, 0.9, 1.1, 1.0]])
    down = np.array([[0, 1.1, 1.2, 0.9, 1.0, 1.0]])
    up_pixels = chart_array(up, style).reshape(-1, 3)
    down_pixels = chart_array(down, style).reshape(-1, 3)
    assert (up_pixels == style.up_color).all(axis=1).any()
    assert not (up_pixels == style.down_color).all(axis=1).any()
    assert (down_pixels == style.down_color).all(axis=1).any()


def test_flat_prices_and_zero_volume_draw_without_error() -> None:
    bars = np.array([[i, 1.0, 1.0, 1.0, 1.0, 0.0] for i in range(10)], dtype=np.float64)
    image = render_chart(bars, ChartStyle(width=100, height=80))
    assert image.size == (100, 80)


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        (np.zeros((3, 5)), "shape"),
        (np.zeros((0, 6)), "empty"),
        (np.array([[0, 1.0, np.nan, 0.9, 1.0, 1.0]]), "row 0 has a non-finite price"),
        (np.array([[0, 1.0, 0.8, 0.9, 1.0, 1.0]]), "row 0 has high < low"),
    ],
)
def test_bad_bars_raise_naming_the_problem(bars: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_chart(bars)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"width": 10}, "width"),
        ({"volume_fraction": 0.9}, "volume_fraction"),
        ({"up_color": (300, 0, 0)}, "up_color"),
        ({"margin": 500}, "margin"),
        # wrong types: a float width was taken and failed in the drawing ("'float' object
        # cannot be interpreted as an integer"), a str one raised a bare TypeError, float
        # colours were truncated by int() without a word
        ({"width": 100.5}, "width must be an int"),
        ({"height": "100"}, "height must be an int"),
        ({"margin": 2.0}, "margin must be an int"),
        ({"volume_fraction": "0.2"}, "volume_fraction must be a number"),
        ({"up_color": (0.5, 1.2, 3.9)}, "up_color must be an RGB triple of ints"),
        ({"down_color": "red"}, "down_color must be an RGB triple of ints"),
        ({"background": (255, 255)}, "background must be an RGB triple"),
    ],
)
def test_style_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ChartStyle(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 200),
    seed=st.integers(0, 10_000),
    width=st.integers(32, 300),
    height=st.integers(32, 300),
    volume=st.floats(0.0, 0.5),
)
def test_any_valid_bars_render_at_the_requested_size(
    n: int, seed: int, width: int, height: int, volume: float
) -> None:
    style = ChartStyle(width=width, height=height, volume_fraction=volume)
    array = chart_array(synthetic_bars(n, seed=seed), style)
    assert array.shape == (height, width, 3)
    assert array.dtype == np.uint8


def test_render_is_fast_enough_for_a_bar_loop() -> None:
    # A loose guard (the benchmark measures it properly): 64-bar PNG well under 20 ms here.
    bars = synthetic_bars(64)
    chart_png(bars)
    start = time.perf_counter()
    for _ in range(20):
        chart_png(bars)
    assert (time.perf_counter() - start) / 20 < 0.02
