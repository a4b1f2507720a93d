"""The one error a bad bar raises, with a machine-readable reason code."""

from __future__ import annotations

__all__ = [
    "REASONS",
    "REASON_CLOSE_OUTSIDE_RANGE",
    "REASON_HIGH_BELOW_LOW",
    "REASON_NEGATIVE_VOLUME",
    "REASON_NON_FINITE",
    "REASON_NON_INCREASING_TIMESTAMP",
    "REASON_NON_POSITIVE_PRICE",
    "REASON_NOT_A_NUMBER",
    "REASON_OPEN_OUTSIDE_RANGE",
    "REASON_PRICE_OUT_OF_RANGE",
    "REASON_TIMESTAMP_OUT_OF_RANGE",
    "REASON_TIMESTAMP_TYPE",
    "InvalidBarError",
]

# Reason codes, in the order the checks run (the first failing check names the reason).
REASON_TIMESTAMP_TYPE = "timestamp_not_integer"
REASON_TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
REASON_NOT_A_NUMBER = "not_a_number"  # a bool, str, Decimal, complex... where a float belongs
REASON_NON_FINITE = "non_finite"
REASON_NON_POSITIVE_PRICE = "non_positive_price"
REASON_PRICE_OUT_OF_RANGE = "price_out_of_range"  # outside [MIN_PRICE, MAX_PRICE]
REASON_HIGH_BELOW_LOW = "high_below_low"
REASON_OPEN_OUTSIDE_RANGE = "open_outside_range"
REASON_CLOSE_OUTSIDE_RANGE = "close_outside_range"
REASON_NEGATIVE_VOLUME = "negative_volume"
REASON_NON_INCREASING_TIMESTAMP = "non_increasing_timestamp"

REASONS: tuple[str, ...] = (
    REASON_TIMESTAMP_TYPE,
    REASON_TIMESTAMP_OUT_OF_RANGE,
    REASON_NOT_A_NUMBER,
    REASON_NON_FINITE,
    REASON_NON_POSITIVE_PRICE,
    REASON_PRICE_OUT_OF_RANGE,
    REASON_HIGH_BELOW_LOW,
    REASON_OPEN_OUTSIDE_RANGE,
    REASON_CLOSE_OUTSIDE_RANGE,
    REASON_NEGATIVE_VOLUME,
    REASON_NON_INCREASING_TIMESTAMP,
)


class InvalidBarError(ValueError):
    """A bar the feature engine refuses; nothing was changed by it.

    Parameters
    ----------
    reason : str
        One of :data:`REASONS` (a stable code callers can count or switch on).
    message : str
        Human-readable detail: the field and the value received.
    index : int or None
        Row index of the first bad bar when raised by the vectorised path, else ``None``.
    """

    def __init__(self, reason: str, message: str, index: int | None = None) -> None:
        where = "" if index is None else f"row {index}: "
        super().__init__(f"{where}invalid bar ({reason}): {message}")
        self.reason = reason
        self.detail = message
        self.index = index
