"""Every difference between the NautilusTrader releases we support, in one place.

Supported: ``nautilus_trader>=1.221.0,<=1.231.0``; CI runs both ends (1.221.0 on Python 3.11,
the newest for it; 1.231.0 on Python 3.12). Each difference below has a comment saying what
changed and how we bridge it, through public names only (no ``_private`` Nautilus import
anywhere in the tree: ``tests/unit/compat`` checks). Code elsewhere calls these functions
instead of testing the version itself.

Found by running the whole test suite on both ends (see ``tests/unit/compat``). Checked and NOT
different, so nothing to bridge: the catalog's folder layout and file names, Bar / QuoteTick
Arrow schemas and ``catalog.query``, ``@customdataclass`` custom data, BacktestNode /
BacktestRunConfig, the indicators we use, the Sandbox execution client. The bar execution of both
releases makes a market only from a BID and an ASK bar with the same ``ts_init``
(``OrderMatchingEngine._process_quote_ticks_from_bar``); 1.231 only sizes the synthetic quotes
with integer arithmetic (``compute_bar_quarter_sizes``) where 1.221 used ``max(volume / 4,
size_increment)``, which gives the same sizes for our bars.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DATABASE_TIMEOUT_SPLIT",
    "NAUTILUS_RANGE",
    "PANDAS_UTCNOW_WARNING",
    "nautilus_version",
    "node_config_dict",
    "parse_version",
    "query_bar_types",
    "range_warning",
]

#: The supported range (pyproject.toml's ``nautilus_trader`` requirement), both ends tested.
NAUTILUS_RANGE = ((1, 221, 0), (1, 231, 0))

#: 1.231's ``BacktestEngine._run`` stamps the run with ``pd.Timestamp.utcnow()``, which pandas 3
#: (the pandas that Python 3.12+ gets) deprecates with a ``Pandas4Warning``. Harmless (a wall-clock
#: stamp), and not ours to fix: the test suite, which turns warnings into errors, ignores exactly
#: this message (pyproject.toml ``filterwarnings``).
PANDAS_UTCNOW_WARNING = "Timestamp.utcnow is deprecated"


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.231.0"`` -> ``(1, 231, 0)`` (a pre-release / local suffix is ignored)."""
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def nautilus_version() -> tuple[int, int, int]:
    """The installed ``nautilus_trader`` version (from its metadata: no import)."""
    return parse_version(importlib.metadata.version("nautilus_trader"))


def range_warning(version: tuple[int, int, int] | None = None) -> str | None:
    """One line when the installed ``nautilus_trader`` is outside :data:`NAUTILUS_RANGE`
    (pip warns once at install and installs it anyway; nothing here is checked against it),
    else None. ``version`` for tests; an absent distribution is not this check's to report."""
    if version is None:
        try:
            version = nautilus_version()
        except importlib.metadata.PackageNotFoundError:
            return None
    low, high = NAUTILUS_RANGE
    if low <= version <= high:
        return None
    wanted = ">={}.{}.{},<={}.{}.{}".format(*low, *high)
    return (
        "nautilus_trader {}.{}.{} is outside the supported range {}; the differences between "
        "releases are bridged only inside it (nautilus_ai/compat.py): "
        "pip install 'nautilus_trader{}'".format(*version, wanted, wanted)
    )


# -- 1. DatabaseConfig: `timeout` (1.221) became `connection_timeout` + `response_timeout` ------
# 1.226.0 split the one Redis timeout into a connect and a response timeout and added retry
# settings (number_of_retries, exponent_base, max_delay, factor); `timeout` is an unknown field
# from there on (1.226 - 1.231), and the new names are unknown fields up to 1.225 (read in each
# release's nautilus_trader/common/config.py). Our live configs write the old spelling
# `timeout: <s>`; from 1.226 it becomes both new timeouts. The new-only names are refused by
# older releases' own strict decoding (the key path is named).

#: The first release with ``DatabaseConfig.connection_timeout`` / ``response_timeout``.
DATABASE_TIMEOUT_SPLIT = (1, 226, 0)

_DATABASE_SECTIONS = ("cache", "message_bus")


def _database_dict(raw: Mapping[str, Any], version: tuple[int, int, int]) -> dict[str, Any]:
    database = dict(raw)
    seconds = database.get("timeout")
    # Only a valid timeout (a whole number of seconds > 0, as 1.221 requires) is rewritten:
    # anything else stays `timeout`, so the strict checker refuses it naming the key written.
    valid = isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0
    if version >= DATABASE_TIMEOUT_SPLIT and valid:
        del database["timeout"]
        database.setdefault("connection_timeout", seconds)
        database.setdefault("response_timeout", seconds)
    return database


def node_config_dict(
    raw: Mapping[str, Any], version: tuple[int, int, int] | None = None
) -> dict[str, Any]:
    """A ``TradingNodeConfig`` / ``BacktestEngineConfig`` mapping (plain JSON values) with the
    fields that changed name rewritten for the installed release (``version`` for tests).

    Only ``cache.database`` and ``message_bus.database`` differ (see difference 1); everything
    else is returned as given. The input is not modified.
    """
    version = version or nautilus_version()
    node = dict(raw)
    for section in _DATABASE_SECTIONS:
        value = node.get(section)
        if isinstance(value, Mapping) and isinstance(value.get("database"), Mapping):
            node[section] = {**value, "database": _database_dict(value["database"], version)}
    return node


# -- 2. BacktestDataConfig.query: how a Bar data config selects its bar types -------------------
# 1.221 reads the instrument's bar folders and keeps the configured bar types with a pyarrow
# `filter_expr` (bar_type == ... or ...); 1.231 passes the bar types themselves as
# `identifiers` (one folder each) and sets no filter_expr. Both load exactly those bar types.

_FILTER_BAR_TYPE = re.compile(r'bar_type\s*==\s*"([^"]+)"')


def query_bar_types(query: Mapping[str, Any]) -> set[str]:
    """The bar types a ``BacktestDataConfig.query`` selects, on either release."""
    expression = query.get("filter_expr")
    if expression is not None:
        return set(_FILTER_BAR_TYPE.findall(str(expression)))
    return {
        str(identifier) for identifier in query.get("identifiers") or [] if "-" in str(identifier)
    }
