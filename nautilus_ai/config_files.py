"""Reading the config files users write (run files, live configs, experiments): YAML
(``.yaml`` / ``.yml``) or else JSON, strict about what YAML and JSON let through silently.

A key given twice in one mapping (YAML) or object (JSON) keeps only its last value in both
parsers; a user who pasted a block twice or edited the wrong copy would run on a value they did
not mean, with ``--check`` saying OK. Both are refused, naming the key and, for YAML, both lines.
YAML merge keys (``<<: *defaults``) still work: the keys they bring may be overridden.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["read_config_file"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML itself keeps the
    last value and drops the other without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults`: keys it brings may be overridden
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = first_line.get(key)
            except TypeError:  # an unhashable key: construct_mapping names it
                continue
            first_line.setdefault(key, line)
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"line {line}: key {key!r} is given twice in one mapping (first on line "
                    f"{first}); only one value can hold",
                )  # fmt: skip
        return super().construct_mapping(node, deep=deep)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: refuse a key given twice in one object (JSON keeps the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} is given twice in one object; only one value can hold")
        out[key] = value
    return out


def read_config_file(path: Path, what: str, error: type[ValueError]) -> Any:
    """The parsed content of a YAML (``.yaml`` / ``.yml``) or else JSON config file.

    Raises
    ------
    error
        For an unreadable file (``cannot read <what> <path>: ...``), one that does not parse, or
        an empty one.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a text file ({exc.reason})") from None
    is_yaml = path.suffix in (".yaml", ".yml")
    try:
        if is_yaml:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
        else:
            data = json.loads(text, object_pairs_hook=_unique_keys)
    except (yaml.YAMLError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        detail = " ".join(str(exc).split())
        raise error(f"{path}: not valid {'YAML' if is_yaml else 'JSON'}: {detail}") from exc
    if data is None:
        raise error(f"{path}: the {what} is empty")
    return data
