"""Every ``nautilus-ai VERB [SUBVERB]`` the README (and live/README.md) shows is a command the CLI
has: a reader who copies one must not get 'invalid choice' (the extras table once named a
``nautilus-ai pine check`` that never existed)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from nautilus_ai.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "live" / "README.md"]
#: `nautilus-ai <word>` and the word after it (not `nautilus-ai[extra]`, not `nautilus-ai: error`).
COMMAND = re.compile(r"nautilus-ai ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _mentions() -> list[tuple[str, int, str, str | None]]:
    found = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for match in COMMAND.finditer(line):
                found.append((doc.name, number, match.group(1), match.group(2)))
    return found


def test_the_readme_shows_commands() -> None:
    assert len(_mentions()) > 40


@pytest.mark.parametrize(
    ("doc", "line", "verb", "word"), _mentions(), ids=lambda v: str(v) if v else "-"
)
def test_each_command_the_readme_shows_exists(
    doc: str, line: int, verb: str, word: str | None
) -> None:
    verbs = _subcommands(build_parser())
    assert verb in verbs, f"{doc}:{line}: 'nautilus-ai {verb}' is no command ({sorted(verbs)})"
    subverbs = _subcommands(verbs[verb])
    if subverbs and word is not None:
        assert word in subverbs, (
            f"{doc}:{line}: 'nautilus-ai {verb} {word}': {verb} has {sorted(subverbs)}"
        )
