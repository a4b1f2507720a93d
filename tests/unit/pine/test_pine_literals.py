"""Pine literals read back exactly."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.pine.literals import pine_float, pine_identifier, pine_string

# Pine float literal: digits, a dot, digits, optional exponent (sign handled as unary minus).
_FLOAT = re.compile(r"^-?\d+\.\d+(e-?\d+)?$")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_pine_float_round_trips_exactly(value: float) -> None:
    text = pine_float(value)
    assert _FLOAT.match(text), text
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2.0"), (0.1, "0.1"), (1e-9, "1.0e-9"), (1.5e-05, "1.5e-5"), (1e22, "1.0e22"),
     (-3.0, "-3.0"), (1048576.0, "1048576.0")],
)  # fmt: skip
def test_pine_float_forms(value: float, text: str) -> None:
    assert pine_float(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_pine_float_rejects_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="Pine float literal"):
        pine_float(value)


def test_pine_string_escapes() -> None:
    assert pine_string('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c d"'


def test_pine_identifier() -> None:
    assert pine_identifier("quick-mlp/1") == "quick_mlp_1"
    assert pine_identifier("1abc") == "_1abc"
