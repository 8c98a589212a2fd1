"""Running commands and waiting on conditions, with errors a person can act on."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from hotline.domain.errors import HotlineError

Progress = Callable[[str], None]
T = TypeVar("T")


class SetupError(HotlineError):
    """Set-up or start-up could not do something; the message says what to do."""


def quiet(_message: str) -> None:
    """A progress callback that says nothing."""


def run(argv: Sequence[str | Path], what: str, hint: str = "", timeout: float | None = None,
        env: Mapping[str, str] | None = None, input_text: str | None = None) -> str:
    """Run a command and return its standard output; on failure raise SetupError.

    Args:
        argv: the command.
        what: what it does, for the error ("install Debian packages").
        hint: what the person can do when it fails.
        timeout: seconds before it is stopped.
        env: variables added to this process's environment.
        input_text: text sent on standard input (otherwise none).
    """
    args = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env else None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=full_env,
                              input=input_text, stdin=None if input_text is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise SetupError(f"Cannot {what}: the program {args[0]!r} is not installed. "
                         f"{hint or 'Run scripts/bootstrap to install what is missing.'}") from None
    except subprocess.TimeoutExpired:
        raise SetupError(f"Cannot {what}: `{' '.join(args)}` did not finish within {timeout:.0f} s. "
                         f"{hint}".strip()) from None
    if done.returncode != 0:
        raise SetupError(f"Cannot {what}: `{' '.join(args)}` failed (exit {done.returncode}):\n"
                         f"{tail(done.stderr or done.stdout)}\n{hint}".rstrip())
    return done.stdout


def tail(text: str, lines: int = 15) -> str:
    """The last lines of a command's output, indented for an error message."""
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join("    " + line for line in kept)


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
