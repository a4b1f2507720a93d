"""A core install meeting an optional library deep inside a command: one line naming the extra
(exit 2), never ``ModuleNotFoundError: No module named 'pynescript'`` through the catch-all
(exit 1, after the work before it was done).

The full leg has every extra, so "not installed" is simulated: an import hook refuses the
module as Python does when it is absent, and the metadata stand-in says its distribution is
missing. The core leg runs the same tests.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from nautilus_ai.cli import main


class _Absent(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".", 1)[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def absent(monkeypatch: pytest.MonkeyPatch, *modules: str, distributions: Sequence[str]) -> None:
    import nautilus_ai.extras as extras

    for name in list(sys.modules):
        if name.split(".", 1)[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Absent(set(modules)), *sys.meta_path])
    installed = extras._distribution_installed
    monkeypatch.setattr(
        extras,
        "_distribution_installed",
        lambda name: name not in distributions and installed(name),
    )


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_export_pine_check_without_the_pine_extra_stops_before_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    absent(monkeypatch, "pynescript", distributions=["pynescript"])
    out = tmp_path / "rule.pine"
    code = main(["export-pine", "--model", "rule", "--out", str(out), "--check"])
    line = one_error_line(capsys)
    assert code == 2, line
    assert line == (
        "nautilus-ai: error: nautilus-ai export-pine --check needs the 'pine' extra (pynescript "
        "not installed): pip install 'nautilus-ai[pine]'"
    )
    assert not out.exists()  # refused before the export, not after it


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("pynescript.ast", "pine"),
        ("faiss", "patterns"),
        ("lightgbm", "gbt"),
        ("ray", "experiments"),
    ],
)
def test_any_command_meeting_a_missing_extra_module_names_the_extra(
    module: str,
    extra: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    top = module.split(".", 1)[0]
    absent(monkeypatch, top, distributions=[])
    import nautilus_ai.cli.doctor as doctor

    def needs_it(args: object) -> int:
        __import__(module)
        return 0

    monkeypatch.setattr(doctor, "_doctor", needs_it)
    code = main(["doctor"])
    line = one_error_line(capsys)
    assert code == 2, line
    assert line == (
        f"nautilus-ai: error: nautilus-ai doctor needs the {extra!r} extra ({top} not "
        f"installed): pip install 'nautilus-ai[{extra}]'"
    )


def test_a_missing_module_of_no_extra_is_still_the_unexpected_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nautilus_ai.cli.doctor as doctor

    def broken(args: object) -> int:
        raise ModuleNotFoundError("No module named 'no_such_module'", name="no_such_module")

    monkeypatch.setattr(doctor, "_doctor", broken)
    assert main(["doctor"]) == 1
    assert one_error_line(capsys).startswith("nautilus-ai: error: ModuleNotFoundError: ")


def test_a_library_line_for_a_missing_extra_is_printed_as_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # nautilus_ai.patterns raises its own ImportError ("... needs faiss: pip install
    # 'nautilus-ai[patterns]' (or use index mode 'exact')") from the missing faiss: it went
    # through the catch-all ("ImportError: ... (run with --debug for the traceback)", exit 1).
    absent(monkeypatch, "faiss", distributions=["faiss-cpu"])
    import nautilus_ai.cli.doctor as doctor

    def needs_faiss(args: object) -> int:
        try:
            import faiss  # noqa: F401
        except ImportError:
            raise ImportError(
                "the IVF index needs faiss: pip install 'nautilus-ai[patterns]'"
            ) from None
        return 0

    monkeypatch.setattr(doctor, "_doctor", needs_faiss)
    code = main(["doctor"])
    line = one_error_line(capsys)
    assert (code, line) == (
        2,
        "nautilus-ai: error: the IVF index needs faiss: pip install 'nautilus-ai[patterns]'",
    )


def test_an_import_error_of_no_missing_extra_is_still_the_unexpected_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nautilus_ai.cli.doctor as doctor

    def broken(args: object) -> int:
        raise ImportError("cannot import name 'x' from 'nautilus_ai'")

    monkeypatch.setattr(doctor, "_doctor", broken)
    assert main(["doctor"]) == 1
    assert one_error_line(capsys).startswith("nautilus-ai: error: ImportError: cannot import")
