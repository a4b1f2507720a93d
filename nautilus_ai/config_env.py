"""``${VAR}`` / ``${VAR:-default}`` in config files: find, check and substitute them.

Every config file (backtest run files, live configs) takes secrets, endpoints and folders from
the environment with this one syntax. Substituted strings become
:class:`~nautilus_ai.config_check.EnvText`, so the strict checker may read ``"6379"`` as the
port number it stands for (the environment only holds text) while a literal ``"6379"`` written
in the file stays text.

Mistakes that would otherwise change a config's meaning silently are refused, with the key
path: a malformed placeholder (``${NAUTILUS_AI_CATALOG``, ``$HOME/x``, ``${1X}``), and a
placeholder whose variable is unset, so its default is used, while a variable with a nearly
identical name *is* set (``${NAUTILUS_AI_CATALG:-catalogs/demo}``: a typo).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from nautilus_ai.config_check import ConfigFieldError, EnvText, KeyPath

__all__ = [
    "ENV_PLACEHOLDER",
    "Placeholder",
    "find_placeholders",
    "missing_variables",
    "substitute",
]

#: ``${VAR}`` or ``${VAR:-default}``: group 1 the name, group 2 the default (None when absent).
ENV_PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# What is left of a string once the valid placeholders are taken out must not look like one:
# "${" (unclosed, bad name, "${X-default}") or "$NAME" written shell-style without braces.
_LEFTOVER: Final = re.compile(r"\$\{|\$[A-Z_][A-Z0-9_]*\b")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``${NAME}`` / ``${NAME:-default}`` found at ``path``."""

    name: str
    default: str | None
    path: KeyPath


def find_placeholders(value: Any, path: KeyPath = ()) -> list[Placeholder]:
    """Every placeholder in a nested structure (keys are not substituted).

    Raises
    ------
    ConfigFieldError
        For a string holding a malformed placeholder.
    """
    found: list[Placeholder] = []
    for where, text in _strings(value, path):
        leftover = ENV_PLACEHOLDER.sub("", text)
        bad = _LEFTOVER.search(leftover)
        if bad is not None:
            raise ConfigFieldError(
                where,
                f"malformed environment placeholder near {leftover[bad.start() :][:24]!r} "
                "(write ${NAME} or ${NAME:-default})",
                received=text,
            )
        for match in ENV_PLACEHOLDER.finditer(text):
            found.append(Placeholder(match.group(1), match.group(2), where))
    return found


def missing_variables(value: Any, env: Mapping[str, str]) -> dict[str, KeyPath]:
    """Variables used without a default that ``env`` lacks, each with its first path."""
    missing: dict[str, KeyPath] = {}
    for placeholder in find_placeholders(value):
        if placeholder.default is None and placeholder.name not in env:
            missing.setdefault(placeholder.name, placeholder.path)
    return missing


def substitute(value: Any, env: Mapping[str, str], path: KeyPath = ()) -> Any:
    """``value`` with every placeholder replaced from ``env``.

    A string that is exactly ``${VAR:-}`` with ``VAR`` unset or empty becomes ``None`` (an
    optional password); any other string holding a placeholder becomes an
    :class:`~nautilus_ai.config_check.EnvText`.

    Raises
    ------
    ConfigFieldError
        A malformed placeholder, an unset variable without a default, or an unset variable
        whose name is one typo away from a set one.
    """
    placeholders = find_placeholders(value, path)
    for placeholder in placeholders:
        if placeholder.name in env:
            continue
        if placeholder.default is None:
            raise ConfigFieldError(
                placeholder.path, f"environment variable {placeholder.name} is not set"
            )
        twin = _set_twin(placeholder.name, env)
        if twin is not None:
            raise ConfigFieldError(
                placeholder.path,
                f"environment variable {placeholder.name} is not set, so its default "
                f"{placeholder.default!r} would be used, but {twin} is set (a typo?)",
                suggestion=f"${{{twin}}}",
            )
    return _replace(value, env)


def _set_twin(name: str, env: Mapping[str, str]) -> str | None:
    """A set variable one typo away from ``name`` (a letter dropped, added, changed or two
    swapped), for names long enough that such a neighbour is no coincidence."""
    if len(name) < 6:
        return None
    twins = sorted(k for k in env if k != name and _one_typo_apart(name, k))
    return twins[0] if len(twins) == 1 else None


def _one_typo_apart(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):  # one letter added
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:  # one letter changed
        return True
    return a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]  # two swapped


def _replace(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, EnvText):
        return value
    if isinstance(value, str):
        if not ENV_PLACEHOLDER.search(value):
            return value
        whole = ENV_PLACEHOLDER.fullmatch(value)
        if whole is not None and whole.group(2) == "" and not env.get(whole.group(1)):
            return None
        text = ENV_PLACEHOLDER.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
        return EnvText(text, value)
    if isinstance(value, Mapping):
        return {key: _replace(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, env) for item in value]
    return value


def _strings(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, EnvText):
        return  # substituted already (a config re-parsed after an edit): not a template
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
