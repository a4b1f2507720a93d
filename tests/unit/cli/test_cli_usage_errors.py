"""Usage errors are one line that names the command given, and a 'did you mean' only ever
suggests an option of that command (never the very word typed, taken from another command)."""

from __future__ import annotations

import pytest

from nautilus_ai.cli import main


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_option_of_another_command_is_not_suggested_to_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 'experiment run' has no --check (backtest and export-pine do): it read
    # "unrecognized arguments: --check; did you mean '--check'? (see 'nautilus-ai --help')".
    line = usage_error(["experiment", "run", "backtests/experiment_demo.yaml", "--check"], capsys)
    assert line == (
        "nautilus-ai: error: experiment run: unrecognized arguments: --check "
        "(see 'nautilus-ai experiment run --help')"
    )


def test_a_misspelt_option_is_matched_within_the_command_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = usage_error(["experiment", "run", "x.yaml", "--chek"], capsys)
    assert "did you mean" not in line  # --check belongs to other commands
    line = usage_error(["backtest", "backtests/demo.yaml", "--chek"], capsys)
    assert line == (
        "nautilus-ai: error: backtest: unrecognized arguments: --chek; did you mean '--check'? "
        "(see 'nautilus-ai backtest --help')"
    )
    line = usage_error(["data", "import", "histdata-m1", "f.csv", "--ask-sprad-pips", "1"], capsys)
    assert "did you mean '--ask-spread-pips'?" in line
    assert line.endswith("(see 'nautilus-ai data import --help')")


def test_a_misspelt_command_is_still_matched(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean 'backtest'?" in usage_error(["backtets", "x"], capsys)
    assert "did you mean 'pause'?" in usage_error(["control", "pausee"], capsys)


def test_a_value_starting_with_a_dash_is_shown_how_to_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The README's FXCM clock typed as '--clock -05:00' read "argument --clock: expected one
    # argument": argparse takes '-05:00' for an option, and nothing said what to type.
    line = usage_error(["data", "validate", "lean", "x.zip", "--clock", "-05:00"], capsys)
    assert line == (
        "nautilus-ai: error: data validate: argument --clock: expected one argument; a value "
        "starting with '-' goes after '=': --clock=-05:00 (see 'nautilus-ai data validate "
        "--help')"
    )


def test_an_error_message_of_several_lines_is_printed_as_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command's error wrapping a library's message of several lines (a tokenizer's is five)
    # was printed as it was: the CLI's one error line spanned five.
    from nautilus_ai.cli import CliError
    from nautilus_ai.cli import serve as serve_cli

    def fails(args: object) -> int:
        raise CliError("cannot load it: first line\n(1) second line,\n  (2) third line")

    monkeypatch.setattr(serve_cli, "_stop", fails)
    assert main(["serve", "stop", "--workdir", "nowhere"]) == 2
    assert capsys.readouterr().err == (
        "nautilus-ai: error: cannot load it: first line (1) second line, (2) third line\n"
    )
