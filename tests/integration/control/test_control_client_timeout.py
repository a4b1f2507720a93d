"""A command nobody answers: the sender's timeout says whether a live node holds the trader
(its claim on the trader id), instead of asking whether one runs."""

from __future__ import annotations

import os
from typing import Any

import pytest
from fixtures.control_harness import STRATEGY, TRADER

from nautilus_ai.control import ControlClient, ReplyTimeoutError


def test_a_timeout_says_no_live_node_holds_the_trader(client: ControlClient) -> None:
    with pytest.raises(ReplyTimeoutError) as caught:
        client.request(client.command("status", STRATEGY), timeout=0.3)
    assert f"no live node holds trader {TRADER!r} on this Redis" in str(caught.value)


def test_a_timeout_names_the_node_that_holds_the_trader(
    plane_factory: Any, client: ControlClient
) -> None:
    plane = plane_factory()
    plane.start(lambda: None)  # accepts, never applies: a node whose loop is blocked
    assert plane.listener.wait_connected(5)
    with pytest.raises(ReplyTimeoutError) as caught:
        client.request(client.command("status", STRATEGY), timeout=0.5)
    message = str(caught.value)
    assert f"trader {TRADER!r} is held by a node on" in message
    assert f"(pid {os.getpid()}," in message and "did not answer in time" in message
