"""What both runs of bench/transcribe share: exit codes, progress lines, the machine's description, signals."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol

from hotline.config.settings import REPO_ROOT

EXIT_PASS, EXIT_TARGET_FAILED, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130


class CannotRun(Exception):
    """The bench cannot run here (not root, a tool or a model missing): said on stderr, exit status 2."""


def log(message: str) -> None:
    """A progress line on stderr (stdout is the table or the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM"


def commit() -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (out.stdout.strip() or "?") + (" (with uncommitted changes)" if dirty else "")


def run_identity() -> dict[str, str]:
    """The first lines of a run's header: when, on what machine, at which commit."""
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
            "commit": commit()}


def require_tools(tools: tuple[str, ...], how_to_install: str) -> None:
    """Raise CannotRun naming the ``tools`` not on PATH, and ``how_to_install`` them."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise CannotRun(f"missing: {', '.join(missing)} ({how_to_install})")


def _interrupt(signum: int, _frame: Any) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def catch_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt, so that everything started is stopped."""
    signal.signal(signal.SIGINT, signal.default_int_handler)    # also when started in the background
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)


def ignore_signals() -> None:
    """While cleaning up: a second Ctrl-C must not leave processes or mounts behind."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Started(Protocol):
    """What a run started in its temporary directory: its logs, and a way to stop it all."""

    base: Path

    def logs_hint(self) -> str: ...

    def close(self, keep: bool) -> None: ...


def run_then_close(started: Started, keep: bool, stopping: str, body: Callable[[], int]) -> int:
    """``body()``'s exit status; Ctrl-C or an error said on stderr; then everything ``started`` stopped and its
    directory deleted unless ``keep``. ``stopping``: what an interrupt stops, for the progress line."""
    try:
        return body()
    except KeyboardInterrupt:
        log(f"interrupted: stopping {stopping}")
        return EXIT_INTERRUPTED
    except Exception:   # noqa: BLE001 - reported, then everything is stopped all the same
        traceback.print_exc()
        kept = "" if keep else " (deleted at exit; --keep keeps them)"
        log(f"the bench could not finish; logs in {started.logs_hint()}{kept}")
        return EXIT_CANNOT_RUN
    finally:
        ignore_signals()
        started.close(keep=keep)
        log(f"stopped; {'kept ' + str(started.base) if keep else 'temporary files deleted'}")
