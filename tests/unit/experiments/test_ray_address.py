"""``--address`` / ``RAY_ADDRESS`` is checked before Ray is asked: a malformed address is one
line naming it (the CLI's exit 2), not Ray's ``ValueError`` (a crash line, exit 1)."""

from __future__ import annotations

import socket

import pytest

from nautilus_ai.experiments.execution import _check_reachable


@pytest.mark.parametrize(
    "address", ["foo", "127.0.0.1:99999", "127.0.0.1:0", "host:", ":6379", "ray://host:port"]
)
def test_a_malformed_address_is_refused_in_one_line_naming_it(address: str) -> None:
    with pytest.raises(ConnectionError) as caught:
        _check_reachable(address, 1.0)
    assert str(caught.value) == (
        f"cannot join the Ray cluster at {address}: not an address (expected host:port with a "
        "port in 1-65535, ray://host:port, or auto)"
    )


@pytest.mark.parametrize("address", ["auto", "local"])
def test_the_named_forms_are_left_to_ray(address: str) -> None:
    _check_reachable(address, 1.0)


def test_a_listening_address_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        _check_reachable(f"127.0.0.1:{port}", 1.0)
        _check_reachable(f"ray://127.0.0.1:{port}", 1.0)
