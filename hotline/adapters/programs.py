"""Running an outside program (sox, espeak-ng, apt-get…) with errors a person can act on.

The product renders its prompts with these at set-up; tooling's set-up and supervision
(``tooling.system.shell``) use the same runner and error.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hotline.domain.errors import HotlineError

Progress = Callable[[str], None]


class SetupError(HotlineError):
    """Set-up or start-up could not do something; the message says what to do."""


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
