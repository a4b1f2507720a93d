"""Pine literals that read back exactly: floats in shortest round-trip form, quoted strings."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["pine_float", "pine_float_list", "pine_identifier", "pine_string", "pine_timeframe"]


def pine_float(value: float) -> str:
    """``value`` as a Pine float literal that parses back to the same double.

    Python's ``repr`` is the shortest string that round-trips, and Pine (like JavaScript) parses
    decimal literals to the nearest double, so the script carries the exact number.

    Raises
    ------
    ValueError
        For NaN or infinity (Pine has no literal for them).
    """
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"cannot write {number!r} as a Pine float literal")
    text = repr(number)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{int(exponent)}"
    return text if "." in text else text + ".0"


def pine_float_list(values: Iterable[float]) -> str:
    """Comma-separated :func:`pine_float` literals."""
    return ", ".join(pine_float(v) for v in values)


def pine_string(value: str) -> str:
    """A double-quoted Pine string literal (backslashes, quotes and newlines escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
    return f'"{escaped}"'


def pine_identifier(name: str) -> str:
    """``name`` made into a Pine identifier (letters, digits, ``_``; not starting with a digit)."""
    out = "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in name)
    if not out or out[0].isdigit():
        out = "_" + out
    return out


def pine_timeframe(seconds: int) -> str:
    """The Pine timeframe string of a bar length: ``"1"`` (1 min), ``"240"``, ``"1D"``,
    ``"30S"`` (what ``timeframe.period`` says and ``timeframe.in_seconds`` reads)."""
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}D"
    if seconds % 60 == 0:
        return str(seconds // 60)
    return f"{seconds}S"
