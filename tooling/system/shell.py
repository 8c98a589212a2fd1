"""Running commands and waiting on conditions, with errors a person can act on."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hotline.adapters.programs import Progress, SetupError, run, tail

T = TypeVar("T")
#: The runner and its error are the product's (it renders prompts with them); set-up imports them from here too.
__all__ = ["Progress", "SetupError", "is_alive", "quiet", "run", "tail", "tail_file", "terminate", "wait_until"]


def quiet(_message: str) -> None:
    """A progress callback that says nothing."""


def tail_file(path: Path, lines: int = 15) -> str:
    """The last lines of a log file (empty if it cannot be read)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            return tail(handle.read().decode("utf-8", "replace"), lines)
    except OSError:
        return ""


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2,
               hint: str = "") -> T:
    """Poll ``check`` until it returns something other than None/False; raise SetupError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise SetupError(f"Gave up waiting for {what} after {timeout:.0f} s. {hint}".strip())
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def terminate(pid: int, timeout: float = 10, group: bool = False) -> None:
    """SIGTERM a process (or its process group), SIGKILL after ``timeout``; return once it is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig) if group else os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.1)


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
