"""Errors a province's IT staff can act on: which file, which line, what to write instead."""
from __future__ import annotations

from pathlib import Path


class HotlineError(Exception):
    """Base class of every error the hotline reports to a person.

    The message (English) is for the command line and the logs, read by IT staff; ``vi`` says the
    same in Vietnamese for the console's operators and supervisors (``for_people``).
    """

    def __init__(self, *args: object, vi: str | None = None) -> None:
        super().__init__(*args)
        self.vi = vi


#: What the console says when an error has no Vietnamese wording of its own.
GENERAL_VI = "Hệ thống chưa làm được việc này. Hãy thử lại; nếu vẫn không được, báo bộ phận kỹ thuật"


def for_people(exc: BaseException) -> str:
    """The Vietnamese sentence the console shows for ``exc`` (the English detail only as a last resort)."""
    vi = getattr(exc, "vi", None)
    return str(vi) if vi else f"{GENERAL_VI} (chi tiết kỹ thuật: {exc})."


class ConfigError(HotlineError):
    """A settings, directory or flow file is wrong.

    Rendered as ``file:line: what is wrong — what to write instead`` so that
    start-up stops with a message a person can act on.
    """

    def __init__(self, file: str | Path | None, line: int | None, message: str, hint: str = "") -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.message = message
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<settings>"
        if self.line:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text


class ConfigErrors(HotlineError):
    """Several configuration errors found in one pass (all are reported, not just the first)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
