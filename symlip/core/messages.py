"""Messages: how errors are shown in one line (the CLI's ``symlip: error: ...``)."""
from __future__ import annotations

__all__ = ["first_line"]


def first_line(exc: BaseException) -> str:
    """An exception's message on one line (its first line; the type name when empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
