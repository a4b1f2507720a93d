"""``nr.bars`` arguments a notebook user gets wrong: one ResearchInputError line each, before
any catalog is read (no traceback from os.path, no bound silently rounded)."""

from __future__ import annotations

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
