"""The hotline as its IT staff start it (`hotline up`, `hotline cluster up`), for the tests and the benchmarks: a
directory of its own (state, recordings, the command's log), an environment without the caller's overrides, the
command run until it says it answers, then stopped with SIGTERM and its logs copied to the artifacts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from hotline.config.settings import ENV_OVERRIDES
from hotline.context import load_context
from tests.support.stack import ROOT, wait_for
from tooling.system.asterisk import AsteriskInstall

HOTLINE = [sys.executable, "-c", "from hotline.cli.main import main; main()"]


def integration_logs(name: str) -> Path:
    """Where a test keeps the logs of what it ran (test-artifacts/integration-logs/<name>, README: Tests)."""
    return Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "integration-logs" / name


def clean_env(base: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any HOTLINE_ override or fake clock, then the hotline's own folders under
    ``base`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("HOTLINE_FAKE")}
    env.update({"HOTLINE_STATE_DIR": str(base / "state"), "HOTLINE_RECORDINGS_ROOT": str(base / "recordings"),
                "PYTHONUNBUFFERED": "1", **extra})
    return env


@dataclass
class Running:
    """A running `hotline … up`: its environment, its folder, its process and the log of its output."""
    env: dict[str, str]
    base: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def state(self) -> Path:
        return self.base / "state"

    def text(self, since: int = 0) -> str:
        """The command's output from byte ``since`` on."""
        with self.log.open("rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    @cached_property
    def ctx(self) -> Any:
        return load_context(env=self.env)

    @cached_property
    def sessions(self) -> Any:
        return self.ctx.sessions()

    def hotline(self, *args: str, timeout: float = 60) -> str:
        """A `hotline` command on this hotline's settings, as its IT staff would type it; its output (it must
        succeed)."""
        done = subprocess.run([*HOTLINE, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
        return done.stdout

    def rx(self, conf: Path, command: str) -> str:
        """A command on the console of the Asterisk run from ``conf`` (``asterisk -rx``); its output, empty if it
        failed (then said on the test's output, so that an Asterisk that stopped answering shows with its cause)."""
        root = Path(self.ctx.settings.asterisk.root)
        argv = AsteriskInstall(root=root if root.is_dir() else None).command("-C", str(conf), "-rx", command)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            print(f"{conf}: `{command}` failed ({done.returncode}): {(done.stderr or done.stdout)[-300:]}")
        return done.stdout if done.returncode == 0 else ""


@contextmanager
def running(base: Path, env: dict[str, str], args: Sequence[str], *, log: str, ready: str, timeout: float,
            artifacts: Path | None, copied: Mapping[str, str] | None = None,
            stop_timeout: float = 60) -> Iterator[Running]:
    """``hotline *args`` run in ``base`` with ``env``, its output in ``base/log``; yields once the output says
    ``ready`` (failing with the output's end if the command exits first). On the way out: SIGTERM, the Redis it
    started for itself stopped, the log and ``copied`` (a path under ``base`` -> its name there) copied into the
    folder ``artifacts``."""
    log_path = base / log
    out = log_path.open("wb")
    process = subprocess.Popen([*HOTLINE, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    found = Running(env, base, process, log_path)
    try:
        wait_for(lambda: ready in found.text() or process.poll() is not None, timeout, f"hotline {args[0]} up to "
                 "answer calls")
        assert process.poll() is None, found.text()[-3000:]
        yield found
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=stop_timeout)
        finally:
            out.close()
            stop_own_redis(base / "state")
            if artifacts is not None:
                artifacts.mkdir(parents=True, exist_ok=True)
                for source, name in {log: log, **(copied or {})}.items():
                    subprocess.run(["cp", "-r", str(base / source), str(artifacts / name)], check=False,
                                   capture_output=True)


def stop_own_redis(state: Path) -> None:
    """The hotline's own Redis outlives `hotline up` by design (a service keeping its data); the test's and the
    bench's, on a port of their own, goes with them."""
    from tooling.system.shell import terminate
    pid_file = state / "redis" / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
            # waited for: Redis saves on SIGTERM, and one whose folder the caller deletes meanwhile fails to save
            # and refuses to exit (one was left running per test run)
            terminate(pid, timeout=10)
    except (OSError, ValueError):
        pass
