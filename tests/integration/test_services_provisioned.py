"""`make test` is hermetic: every program the tests start comes from the project's own wheels
(the ``dev`` extra) or an explicit override, never from whatever happens to be on PATH.

The fixtures' side of it (the redis-server, the JVM and the node that actually ran are the ones
located here) is checked beside each fixture: ``control/test_provisioned_redis.py``,
``backends/test_torchserve_provisioned_java.py``, ``pine/test_pinets_provisioned_node.py``.
"""

from __future__ import annotations

import os

import pytest

from nautilus_ai.services import SERVICES, locate, probe_version, require


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_comes_from_the_project_wheels_or_an_override(name: str) -> None:
    location = require(name)  # found, runs, and is new enough
    assert location.source in ("package", "env"), (
        f"{location.describe()}: the tests must not depend on PATH; `make venv` installs "
        f"{SERVICES[name].distribution} (set ${SERVICES[name].env_var} to test another build)"
    )
    if location.source == "package":
        assert location.origin.startswith(SERVICES[name].distribution + " ")
    assert probe_version(location).numbers >= SERVICES[name].minimum


def test_the_lookup_does_not_fall_back_to_path_when_the_wheels_are_there() -> None:
    # With PATH emptied, every service is still found: nothing of the suite needs apt or root.
    empty = {**os.environ, "PATH": ""}
    for name in SERVICES:
        location = locate(name, empty)
        assert location.found, location.describe()
