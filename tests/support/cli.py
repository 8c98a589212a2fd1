"""The hotline command line as the tests run it: on the stack's settings and its current clock; and
``hotline console`` alone (waitress, as served in production) on a test's own state directory, SQLite database
and clock, with no Asterisk and no Redis: AMI on a port nothing listens on, Redis unreachable (the sign-in
limits use their in-memory fallback)."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.domain.clock import fake_clock_env

from .ports import Phone
from .stack import ROOT, Stack, wait_for


def hotline(stack: Stack, *args: str) -> str:
    """Run ``hotline ARGS`` on the stack's current clock; fail the test on a non-zero exit."""
    done = subprocess.run([sys.executable, "-c", "from hotline.cli.main import main; main()", *args], cwd=ROOT,
                          env=stack.app_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def add_operator(stack: Stack, phone: Phone, full_name: str) -> None:
    """``hotline operators add``: the operator ``phone.name`` reached at the SIPp phone's contact."""
    hotline(stack, "operators", "add", phone.name, "--name", full_name, "--contact", phone.contact)


def free_port() -> int:
    """A port nothing listens on now (AMI there is refused at once, never another stack's Asterisk)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The console's settings under ``tmp``: SQLite, no Redis, no AMI, the clock at 09:00 on Wed 25 Nov 2026."""
    return {"HOTLINE_STATE_DIR": str(tmp / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp / "rec"),
            "HOTLINE_DATABASE_URL": f"sqlite:///{tmp}/hotline.db", "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0",
            "HOTLINE_AMI_PORT": str(free_port()),
            **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00")), **extra}


def console_services(env: dict[str, str]) -> Any:
    """The console's services on ``env``'s database, made as the console makes it (to add users, tickets)."""
    from hotline.context import load_context
    from operator_console import create_app
    return create_app(load_context(env=env)).extensions["hotline"]


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/login")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


@contextmanager
def running_console(env: dict[str, str], timeout: float = 30) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``hotline console`` on a free port of 127.0.0.1; yields its URL and process, stops it at the end."""
    port = free_port()
    console = subprocess.Popen([sys.executable, "-c", "from hotline.cli.main import main; main()", "console",
                                "--port", str(port)], cwd=ROOT, env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: console.poll() is not None or _answers(port), timeout, "the console to answer")
        assert console.poll() is None, console.stdout.read().decode() if console.stdout else ""
        yield f"http://127.0.0.1:{port}", console
    finally:
        console.terminate()
        console.wait(10)
