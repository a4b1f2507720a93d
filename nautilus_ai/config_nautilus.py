"""What the strict config checker (:mod:`nautilus_ai.config_check`) needs to know about Nautilus.

* **Custom leaf types** (identifiers, bar types, enums, ``type``) are decoded the way Nautilus
  decodes them, after a grammar check of our own: several Nautilus 1.221 parsers abort the whole
  process (a Rust panic, no exception) on a malformed string - ``oms_type: NETTNG``,
  ``log_level: ERRORR``, a ``TraderId`` without a hyphen, a bar step of 0 - so a typo must be
  refused before Nautilus sees it.
* **Plain string fields with a meaning** (``starting_balances``, ``base_currency``,
  ``bar_types``, ``log_level``, ``data_cls``...) are checked by field name, in any config class,
  because Nautilus types them as ``str`` and would fail late (or abort) on a bad one.
* **Importable paths** (``strategy_path``, ``actor_path``, ``fee_model_path``...) must import;
  each ``config`` dict is checked against the class its ``config_path`` names.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd
from nautilus_trader.cache.config import CacheConfig
from nautilus_trader.common.config import DatabaseConfig, MessageBusConfig, msgspec_decoding_hook
from nautilus_trader.model.data import BarSpecification, BarType
from nautilus_trader.model.enums import (
    AccountType,
    AggregationSource,
    BarAggregation,
    BookType,
    OmsType,
    PriceType,
    TriggerType,
)
from nautilus_trader.model.identifiers import InstrumentId, TraderId, Venue
from nautilus_trader.model.objects import MONEY_MAX, Currency

from nautilus_ai.config_check import ConfigFieldError, FieldCheck, Hooks, import_object, nearest

__all__ = [
    "LOG_LEVELS",
    "NAUTILUS_HOOKS",
    "check_bar_spec",
    "check_bar_type",
    "check_currency",
    "check_instrument_id",
    "check_money",
    "check_trader_id",
    "decode_nautilus",
]

#: Level names Nautilus' logger accepts (any case); anything else aborts the process in 1.221.
LOG_LEVELS: Final = ("OFF", "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR")
_STEP = re.compile(r"^[1-9][0-9]*$")
_NAME_ENUMS: Final = (OmsType, AccountType, BookType, TriggerType)
IMPORTABLE_FIELDS: Final = (
    "strategy_path",
    "actor_path",
    "controller_path",
    "exec_algorithm_path",
    "fee_model_path",
    "fill_model_path",
    "latency_model_path",
    "data_cls",
)


def _names(enum: Any) -> list[str]:
    return [member.name for member in enum]


def _one_of(value: str, options: Iterable[str], what: str, *, exact: bool = False) -> str:
    """``value`` if it is one of ``options`` (any case unless ``exact``), else an error with the
    nearest option."""
    pool = list(options)
    if value in pool or (not exact and value.upper() in pool):
        return value.upper()
    hint = nearest(value.upper(), pool)
    raise ConfigFieldError(
        (), f"not a {what}; expected one of {', '.join(pool)}", received=value, suggestion=hint
    )


def check_bar_spec(text: str) -> BarSpecification:
    """``"1-MINUTE-BID"`` -> ``BarSpecification`` (grammar checked before Nautilus parses it)."""
    parts = text.split("-")
    if len(parts) != 3 or not _STEP.match(parts[0]):
        raise ValueError(
            f"not a bar specification STEP-AGGREGATION-PRICE ('1-MINUTE-BID'): {text!r}"
        )
    _one_of(parts[1], _names(BarAggregation), "bar aggregation")
    _one_of(parts[2], _names(PriceType), "price type")
    return BarSpecification.from_str(text)


def check_bar_type(text: str) -> BarType:
    """``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"`` -> ``BarType`` (grammar checked first)."""
    if not isinstance(text, str):
        raise TypeError(f"a bar type is text, was {type(text).__name__}")
    standard = text.split("@", 1)[0]
    parts = standard.rsplit("-", 4)
    if len(parts) != 5 or not parts[0] or not _STEP.match(parts[1]):
        raise ValueError(
            f"not a bar type INSTRUMENT-STEP-AGGREGATION-PRICE-SOURCE "
            f"('EUR/USD.SIM-1-MINUTE-BID-EXTERNAL'): {text!r}"
        )
    check_instrument_id(parts[0])
    _one_of(parts[2], _names(BarAggregation), "bar aggregation")
    _one_of(parts[3], _names(PriceType), "price type")
    _one_of(parts[4], _names(AggregationSource), "aggregation source")
    if "@" in text:
        composite = text.split("@", 1)[1].split("-")
        if len(composite) != 3 or not _STEP.match(composite[0]):
            raise ValueError(f"not a composite bar type ('...@1-MINUTE-EXTERNAL'): {text!r}")
        _one_of(composite[1], _names(BarAggregation), "bar aggregation")
        _one_of(composite[2], _names(AggregationSource), "aggregation source")
    return BarType.from_str(text)


def check_instrument_id(text: str) -> InstrumentId:
    """``"EUR/USD.SIM"`` -> ``InstrumentId``."""
    if not isinstance(text, str):
        raise TypeError(f"an instrument id is text, was {type(text).__name__}")
    return InstrumentId.from_str(text)


def check_trader_id(text: str) -> TraderId:
    """``"PAPER-001"`` -> ``TraderId`` (Nautilus aborts on one without a hyphen)."""
    name, sep, tag = str(text).rpartition("-")
    if not sep or not name or not tag or not text.isascii() or any(c.isspace() for c in text):
        raise ValueError(f"a trader id is NAME-TAG, e.g. 'TRADER-001' (was {text!r})")
    return TraderId(text)


def check_currency(code: str) -> Currency:
    """A currency Nautilus knows (``Currency.from_str`` invents one for any unknown code)."""
    currency = Currency.from_str(code, strict=True) if isinstance(code, str) else None
    if currency is None:
        raise ValueError(f"unknown currency {code!r}")
    return currency


def check_money(text: str) -> None:
    """``"100000 USD"``: a finite amount >= 0 and a known currency."""
    parts = str(text).split()
    if len(parts) != 2:
        raise ValueError(f"a balance is 'AMOUNT CURRENCY', e.g. '100000 USD' (was {text!r})")
    try:
        amount = decimal.Decimal(parts[0])
    except decimal.InvalidOperation:
        raise ValueError(f"amount {parts[0]!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"amount must be a finite number >= 0 (was {parts[0]!r})")
    if amount > decimal.Decimal(str(MONEY_MAX)):  # Nautilus refused it when building the engine
        raise ValueError(
            f"amount must be at most {MONEY_MAX:,.0f}, Nautilus' largest (was {parts[0]!r})"
        )
    check_currency(parts[1])


def _enum_name(enum: Any) -> FieldCheck:
    def run(value: Any) -> None:
        if not isinstance(value, enum):
            _one_of(str(value), _names(enum), enum.__name__, exact=True)

    return run


def _log_level(value: str) -> None:
    _one_of(value, LOG_LEVELS, "log level")


def _positive(value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"must be > 0 (was {value!r})")


def _positive_or_none(value: float | None) -> None:
    if value is not None:
        _positive(value)


def _non_negative_or_none(value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"must be >= 0 (was {value!r})")


def _port(value: int | None) -> None:
    if value is not None and not 0 < value < 65536:
        raise ValueError(f"a port is 1..65535 (was {value!r})")


def _leverages(value: Mapping[str, float]) -> None:
    for instrument, leverage in value.items():
        check_instrument_id(instrument)
        if not (isinstance(leverage, int | float) and math.isfinite(leverage) and leverage > 0):
            raise ConfigFieldError((instrument,), "must be > 0", received=leverage)


# An integer timestamp is UNIX nanoseconds: anything before 1973 (1e17 ns) is taken for a unit
# mistake (seconds or milliseconds), not for market data from 1970.
_MIN_NS = 10**17


def _timestamp(value: str | int) -> None:
    if isinstance(value, int):
        if value < _MIN_NS:
            raise ValueError(
                "an integer timestamp is UNIX nanoseconds (1493596800 s is 1493596800000000000);"
                " this one is before 1973"
            )
        return
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"not a timestamp (ISO 8601, e.g. '2017-03-01T00:00:00Z'): {exc}"
        ) from None
    if stamp is pd.NaT:
        raise ValueError("not a timestamp")


def _each(check: FieldCheck) -> FieldCheck:
    def run(values: Iterable[Any]) -> None:
        for index, item in enumerate(values):
            try:
                check(item)
            except ConfigFieldError as exc:
                raise exc.under((index,)) from None
            except (ValueError, TypeError) as exc:
                raise ConfigFieldError((index,), str(exc), received=item) from None

    return run


def _non_empty_each(check: FieldCheck) -> FieldCheck:
    each = _each(check)

    def run(values: list[Any]) -> None:
        if not values:
            raise ValueError("must not be empty")
        each(values)

    return run


def _importable(path: str) -> None:
    import_object(path)


def _in(options: tuple[str, ...]) -> FieldCheck:
    def run(value: str) -> None:
        if value not in options:
            raise ConfigFieldError(
                (),
                f"must be one of {', '.join(options)}",
                received=value,
                suggestion=nearest(value, options),
            )

    return run


def decode_nautilus(cls: type, value: Any) -> Any:
    """Decode a custom leaf as Nautilus does, refusing what would abort the process first."""
    if cls is type:
        if not isinstance(value, str):
            raise TypeError("expected 'package.module:Class'")
        return import_object(value)
    if cls in _NAME_ENUMS:
        if isinstance(value, cls):
            return value
        return getattr(cls, _one_of(str(value), _names(cls), cls.__name__, exact=True))
    if cls is TraderId:
        return check_trader_id(value)
    if cls is BarType:
        return check_bar_type(value)
    if cls is BarSpecification:
        return check_bar_spec(value)
    if cls is Venue and not str(value):
        raise ValueError("a venue name must not be empty")
    if cls in (pd.Timestamp, pd.Timedelta, decimal.Decimal) and isinstance(value, bool):
        raise TypeError(f"expected a {cls.__name__}")
    return msgspec_decoding_hook(cls, value)


_FIELD_CHECKS: Final[Mapping[tuple[type | None, str], FieldCheck]] = {
    (None, "bar_type"): check_bar_type,
    (None, "bar_types"): _each(check_bar_type),
    (None, "bar_spec"): check_bar_spec,
    (None, "instrument_id"): check_instrument_id,
    (None, "instrument_ids"): _each(check_instrument_id),
    (None, "trader_id"): check_trader_id,
    (None, "log_level"): _log_level,
    (None, "log_level_file"): _log_level,
    (None, "starting_balances"): _non_empty_each(check_money),
    (None, "base_currency"): check_currency,
    (None, "default_leverage"): _positive,
    (None, "leverages"): _leverages,
    (None, "data_cls"): _importable,
    (None, "oms_type"): _enum_name(OmsType),
    (None, "account_type"): _enum_name(AccountType),
    (None, "book_type"): _enum_name(BookType),
    (None, "start_time"): _timestamp,
    (None, "end_time"): _timestamp,
    (CacheConfig, "encoding"): _in(("msgpack", "json")),
    (MessageBusConfig, "encoding"): _in(("msgpack", "json")),
    (DatabaseConfig, "type"): _in(("redis",)),
    (DatabaseConfig, "timeout"): _positive_or_none,
    (None, "port"): _port,
    (None, "ibg_port"): _port,
    (MessageBusConfig, "autotrim_mins"): _non_negative_or_none,
}

#: Hooks for checking any Nautilus config tree (run files, live configs, strategy configs).
NAUTILUS_HOOKS: Final = Hooks(
    decode=decode_nautilus,
    field_checks=_FIELD_CHECKS,
    importable=IMPORTABLE_FIELDS,
)
