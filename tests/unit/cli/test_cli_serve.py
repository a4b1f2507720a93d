"""``nautilus-ai serve``: its waits are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.cli import main


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5"])
@pytest.mark.parametrize("verb", ["start", "stop"])
def test_a_wait_that_would_never_end_is_refused(
    verb: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --timeout-s nan (or inf) was taken: 'serve start' then waited for ever on a model whose
    # workers never became READY (a NaN deadline is never passed), 'serve stop' on a server
    # that ignored SIGTERM. 0 / -5 gave up before the first look.
    argv = ["serve", verb, "--workdir", str(tmp_path), "--timeout-s", value]
    if verb == "start":
        argv += ["--store", str(tmp_path)]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"argument --timeout-s: expected seconds > 0, got '{value}'" in line
