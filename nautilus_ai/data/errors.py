"""Errors raised by the data readers: each names the file (and line or period) at fault."""

from __future__ import annotations

__all__ = ["DataFormatError"]


class DataFormatError(ValueError):
    """Malformed input: ``source`` is the file (or ``archive.zip:member``), ``line`` 1-based.

    ``line`` is ``None`` when the fault is not in one line (a truncated compressed file, say);
    then ``message`` names the period or part at fault.
    """

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
