"""Syntax check of a Pine script with ``pynescript`` (LGPL; the ``pine`` extra).

``pynescript`` parses Pine v5/v6 with an ANTLR grammar and reports the line and column of the
first syntax error. It checks syntax only: types, undeclared names and argument lists are left to
the semantic check (PineTS) and to TradingView's compiler.

The first parse in a process is slow (10-25 s here: ANTLR deserialises its grammar tables and
fills its DFA cache, both held at class level), later parses take milliseconds. Create one
:class:`PineSyntaxChecker` and keep it (a session fixture in the tests).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["PineSyntaxChecker", "SyntaxReport"]

_WARM_UP = '//@version=6\nindicator("warm-up")\nx = ta.ema(close, 3)\nplot(x)\n'


@dataclass(frozen=True)
class SyntaxReport:
    """Outcome of one syntax check.

    Parameters
    ----------
    ok : bool
        The script parsed.
    seconds : float
        Parse time.
    line, column : int or None
        1-based position of the first error.
    message : str
        The parser's message.
    text : str
        The offending source line.
    """

    ok: bool
    seconds: float
    line: int | None = None
    column: int | None = None
    message: str = ""
    text: str = ""

    def describe(self) -> str:
        """``"ok (0.04 s)"`` or ``"line 12, column 5: <message>\\n    <line>"``."""
        if self.ok:
            return f"syntax ok ({self.seconds:.2f} s, pynescript)"
        where = f"line {self.line}, column {self.column}" if self.line else "unknown position"
        snippet = f"\n    {self.text.rstrip()}" if self.text.strip() else ""
        return f"syntax error at {where}: {self.message}{snippet}"


class PineSyntaxChecker:
    """Parses Pine scripts with ``pynescript``; keep one per process (see module doc).

    Parameters
    ----------
    warm_up : bool
        Parse a tiny script now, so the slow first parse happens at construction.
    """

    def __init__(self, *, warm_up: bool = True) -> None:
        from pynescript.ast import parse  # the `pine` extra; imported on first use

        self._parse = parse
        self.warm_up_seconds = 0.0
        if warm_up:
            start = time.perf_counter()
            parse(_WARM_UP)
            self.warm_up_seconds = time.perf_counter() - start

    def check(self, script: str, filename: str = "<pine export>") -> SyntaxReport:
        """Parse ``script``; never raises for a bad script (the report says what is wrong)."""
        from pynescript.ast.error import SyntaxError as PineSyntaxError

        start = time.perf_counter()
        try:
            self._parse(script, filename=filename)
        except PineSyntaxError as exc:
            details = getattr(exc, "details", None)
            line = int(details.lineno) if details is not None else None
            column = int(details.offset) + 1 if details is not None else None
            lines = script.splitlines()
            text = lines[line - 1] if line is not None and 0 < line <= len(lines) else ""
            return SyntaxReport(
                ok=False,
                seconds=time.perf_counter() - start,
                line=line,
                column=column,
                message=str(exc.message),
                text=text,
            )
        except RecursionError:
            return SyntaxReport(
                ok=False,
                seconds=time.perf_counter() - start,
                message="expression nesting too deep for the parser",
            )
        return SyntaxReport(ok=True, seconds=time.perf_counter() - start)
