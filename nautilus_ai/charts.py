"""Deterministic candlestick charts of the last N bars, for vision-language models.

A chart is drawn with PIL's ``ImageDraw`` on integer pixel coordinates computed with numpy: no
anti-aliasing, no fonts, no timestamps in the image and no metadata in the PNG, so the same bars
always give byte-identical pixels and PNG bytes (a prediction cache can key on them). Drawing a
64-bar chart takes well under a millisecond; matplotlib / mplfinance take 60-150 ms, too slow to
call on every bar of a backtest.

Input is the ``MarketContext.recent_bars`` layout: an ``(n, 6)`` float64 array with columns
``ts_event_ns, open, high, low, close, volume``, oldest first.
"""

from __future__ import annotations

import io
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

__all__ = [
    "ChartStyle",
    "chart_array",
    "chart_png",
    "render_chart",
]

_RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class ChartStyle:
    """How a chart looks. Frozen: a style plus bars fully determine the image.

    Parameters
    ----------
    width, height : int
        Image size in pixels (each at least 32).
    volume_fraction : float
        Share of the height given to the volume panel, in [0, 0.5]; 0 draws no volume panel.
    margin : int
        Empty pixels around the plot area.
    background, up_color, down_color, volume_color : tuple of int
        RGB colours. Up candles (close >= open) use ``up_color``, down candles ``down_color``.
    """

    width: int = 448
    height: int = 448
    volume_fraction: float = 0.2
    margin: int = 4
    background: _RGB = (255, 255, 255)
    up_color: _RGB = (38, 166, 91)
    down_color: _RGB = (214, 48, 49)
    volume_color: _RGB = (130, 130, 160)

    def __post_init__(self) -> None:
        for name in ("width", "height", "margin"):  # a float failed later, in the drawing
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an int (pixels), was {value!r}")
        fraction = self.volume_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
            raise ValueError(f"volume_fraction must be a number, was {fraction!r}")
        if self.width < 32 or self.height < 32:
            raise ValueError(f"width and height must be >= 32, were {self.width}x{self.height}")
        if not (0.0 <= self.volume_fraction <= 0.5):
            raise ValueError(f"volume_fraction must be in [0, 0.5], was {self.volume_fraction!r}")
        if not (0 <= self.margin < min(self.width, self.height) // 4):
            raise ValueError(f"margin must be in [0, min(width, height) / 4), was {self.margin!r}")
        for name in ("background", "up_color", "down_color", "volume_color"):
            colour = getattr(self, name)
            ok = (
                isinstance(colour, tuple | list)
                and len(colour) == 3
                and all(
                    isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= c <= 255
                    for c in colour
                )
            )
            if not ok:  # floats were truncated by int() or drawn in the wrong colour
                raise ValueError(f"{name} must be an RGB triple of ints 0..255, was {colour!r}")


DEFAULT_STYLE = ChartStyle()


def _check_bars(bars: NDArray[np.float64]) -> NDArray[np.float64]:
    array = np.asarray(bars, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 6:
        raise ValueError(
            "bars must have shape (n, 6) with columns ts_event_ns, open, high, low, close, volume; "
            f"got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError("bars is empty: a chart needs at least one bar")
    prices = array[:, 1:5]
    if not np.isfinite(prices).all():
        row = int(np.argwhere(~np.isfinite(prices))[0, 0])
        raise ValueError(f"bars row {row} has a non-finite price: {array[row, 1:5].tolist()}")
    bad = np.flatnonzero(array[:, 2] < array[:, 3])
    if bad.size:
        row = int(bad[0])
        raise ValueError(f"bars row {row} has high < low: {array[row, 2]!r} < {array[row, 3]!r}")
    return array


# Palette indices: charts are drawn in palette ("P") mode, which PNG-encodes ~10x faster than RGB.
_BACKGROUND, _UP, _DOWN, _VOLUME = 0, 1, 2, 3


def render_chart(bars: NDArray[np.float64], style: ChartStyle = DEFAULT_STYLE) -> Image.Image:
    """Draw a candlestick (+ volume) chart of ``bars`` as an RGB image.

    Parameters
    ----------
    bars : ndarray, shape (n, 6)
        ``ts_event_ns, open, high, low, close, volume`` rows, oldest first. Time stamps are not
        drawn: the bars are laid out evenly left to right.
    style : ChartStyle
        Size and colours.

    Returns
    -------
    PIL.Image.Image
        An RGB image of ``style.width x style.height`` pixels.

    Raises
    ------
    ValueError
        If ``bars`` has the wrong shape, is empty, has a non-finite price or a high below its low.
    """
    return _render_palette(_check_bars(bars), style).convert("RGB")


def _render_palette(array: NDArray[np.float64], style: ChartStyle) -> Image.Image:
    n = array.shape[0]
    image = Image.new("P", (style.width, style.height), _BACKGROUND)
    palette = [*style.background, *style.up_color, *style.down_color, *style.volume_color]
    image.putpalette(palette, rawmode="RGB")
    draw = ImageDraw.Draw(image)

    left, right = style.margin, style.width - style.margin
    top, bottom = style.margin, style.height - style.margin
    volume_height = int((bottom - top) * style.volume_fraction)
    price_bottom = bottom - volume_height - (style.margin if volume_height else 0)

    # Candle slots: each bar gets an equal slot; the body is ~70% of it, at least 1 pixel.
    slot = (right - left) / n
    centres = (left + slot * (np.arange(n) + 0.5)).astype(np.int64)
    half_body = max(0, int(slot * 0.35))

    opens, highs, lows, closes = array[:, 1], array[:, 2], array[:, 3], array[:, 4]
    low_price, high_price = float(lows.min()), float(highs.max())
    span = high_price - low_price
    scale = (price_bottom - top) / span if span > 0 else 0.0
    mid = (top + price_bottom) / 2.0

    def to_y(values: NDArray[np.float64]) -> NDArray[np.int64]:
        if scale == 0.0:
            return np.full(values.shape, int(mid), dtype=np.int64)
        return np.rint(price_bottom - (values - low_price) * scale).astype(np.int64)

    y_high, y_low, y_open, y_close = to_y(highs), to_y(lows), to_y(opens), to_y(closes)
    up = closes >= opens
    body_top = np.minimum(y_open, y_close)
    body_bottom = np.maximum(y_open, y_close)

    # .tolist() once: PIL wants Python ints and per-element numpy scalar conversion is slow.
    for x, yh, yl, bt, bb, is_up in zip(
        centres.tolist(),
        y_high.tolist(),
        y_low.tolist(),
        body_top.tolist(),
        body_bottom.tolist(),
        up.tolist(),
        strict=True,
    ):
        colour = _UP if is_up else _DOWN
        draw.line((x, yh, x, yl), fill=colour)
        draw.rectangle((x - half_body, bt, x + half_body, bb), fill=colour)

    if volume_height:
        volumes = np.nan_to_num(array[:, 5], nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
        v_max = float(volumes.max())
        if v_max > 0:
            heights = np.rint(volumes / v_max * volume_height).astype(np.int64)
            for x, h in zip(centres.tolist(), heights.tolist(), strict=True):
                if h > 0:
                    draw.rectangle((x - half_body, bottom - h, x + half_body, bottom), fill=_VOLUME)
    return image


def chart_array(bars: NDArray[np.float64], style: ChartStyle = DEFAULT_STYLE) -> NDArray[np.uint8]:
    """The chart as a ``(height, width, 3)`` uint8 array (see :func:`render_chart`)."""
    return np.asarray(render_chart(bars, style), dtype=np.uint8)


def chart_png(
    bars: NDArray[np.float64], style: ChartStyle = DEFAULT_STYLE, compress_level: int = 1
) -> bytes:
    """The chart as PNG bytes, byte-identical for identical input (no metadata is written).

    ``compress_level`` trades size for time (1 = fastest, what the per-bar path wants).
    """
    if not (0 <= compress_level <= 9):
        raise ValueError(f"compress_level must be in 0..9, was {compress_level!r}")
    buffer = io.BytesIO()
    image = _render_palette(_check_bars(bars), style)
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
