"""Keeps the hotline's Python processes running for ``hotline up``.

Each child logs to ``<state_dir>/log/<name>.log`` and has its pid in
``<state_dir>/pids/<name>.pid``, so that a child left running by a supervisor that was
killed is stopped before a new one starts. A child that exits while the
hotline is running is started again after a pause that doubles on each quick failure
(1 s, 2 s, 4 s ... at most 30 s) and resets once it has run for a minute.

A child whose spec has a ``heartbeat`` deadline is given a file to touch (``<state_dir>/heartbeat/<name>``,
named in its environment: hotline/heartbeat.py) and is killed, then restarted as above, once that file is
older than the deadline (a hung or stopped process); its first beat may take ``STARTUP_GRACE``.
"""
from __future__ import annotations

import logging
import os
import pwd
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from hotline.heartbeat import ENV as HEARTBEAT_ENV
from tooling.system.shell import terminate

log = logging.getLogger("hotline.supervisor")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0
STARTUP_GRACE = 60.0    # seconds a new child has for its first heartbeat (imports, database, a model)


@dataclass(frozen=True)
class ProcessSpec:
    """A child process: its name (for logs), command and extra environment; ``heartbeat``: the seconds it
    may go without touching its heartbeat file before it is restarted (None: it is not asked to beat);
    ``user``: the system user it runs as, in that user's group and ``groups`` alone (None: the supervisor's)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    heartbeat: float | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    started: float = 0.0
    backoff: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Starts, watches and stops child processes."""

    def __init__(self, state_dir: Path, poll_interval: float = 0.2, first_backoff: float = FIRST_BACKOFF,
                 max_backoff: float = MAX_BACKOFF, startup_grace: float = STARTUP_GRACE) -> None:
        self.first_backoff, self.max_backoff = first_backoff, max_backoff
        self.startup_grace = startup_grace
        self.log_dir = Path(state_dir) / "log"
        self.pid_dir = Path(state_dir) / "pids"
        self.heartbeat_dir = Path(state_dir) / "heartbeat"
        self.poll_interval = poll_interval
        self._children: list[_Child] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, specs: Sequence[ProcessSpec]) -> None:
        """Start the children and a thread that restarts them; returns at once."""
        if self._thread is not None:
            raise RuntimeError("the supervisor is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.heartbeat_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._children = [_Child(spec, backoff=self.first_backoff) for spec in specs]
        users = {spec.user for spec in specs if spec.user is not None}
        if len(users) > 1:
            raise ValueError(f"the children run as one user at most, not {sorted(users)}")
        if users:   # the children touch their beat there; the supervisor only reads the files' times
            account = pwd.getpwnam(users.pop())
            os.lchown(self.heartbeat_dir, account.pw_uid, account.pw_gid)
        for child in self._children:
            self._stop_leftover(child.spec)
            self._spawn(child)
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every child (SIGTERM, then SIGKILL after ``timeout``); safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            running = [c for c in self._children if c.proc is not None and c.proc.poll() is None]
            for child in running:
                _signal_group(child.proc, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for child in running:
                assert child.proc is not None
                try:
                    child.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %.0f s; killing it", child.spec.name, timeout)
                    _signal_group(child.proc, signal.SIGKILL)
                    child.proc.wait()
            for child in self._children:
                (self.pid_dir / f"{child.spec.name}.pid").unlink(missing_ok=True)
                if child.log_file is not None:
                    child.log_file.close()
                    child.log_file = None
        log.info("all processes stopped")

    def run(self, specs: Sequence[ProcessSpec], check: Callable[[], str | None] | None = None) -> int:
        """Run the children until SIGINT/SIGTERM (return 0) or until ``check`` reports a problem (return 1).

        Args:
            specs: the processes to run.
            check: called every poll; returns None while all is well, else what went wrong.
        """
        stop = threading.Event()
        problem: list[str] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start(specs)
            while not stop.wait(self.poll_interval):
                found = check() if check is not None else None
                if found:
                    log.error("%s; stopping", found)
                    problem.append(found)
                    break
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if problem else 0

    def pids(self) -> dict[str, int | None]:
        """The pid of each child now (None while it waits to be restarted)."""
        with self._lock:
            return {c.spec.name: (c.proc.pid if c.proc is not None and c.proc.poll() is None else None)
                    for c in self._children}

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {c.spec.name: c.restarts for c in self._children}

    def heartbeat_file(self, name: str) -> Path:
        return self.heartbeat_dir / name

    def _spawn(self, child: _Child) -> None:
        if child.log_file is None:     # Asterisk's group writes this folder too: never through a planted link
            fd = os.open(self.log_dir / f"{child.spec.name}.log",
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
            child.log_file = os.fdopen(fd, "ab")
        env = {**os.environ, **child.spec.env}
        if child.spec.heartbeat is not None:
            beat = self.heartbeat_file(child.spec.name)
            beat.unlink(missing_ok=True)    # an earlier run's beat proves nothing about this one
            env[HEARTBEAT_ENV] = str(beat)
        child.proc = subprocess.Popen(list(child.spec.argv), stdin=subprocess.DEVNULL, stdout=child.log_file,
                                      stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                      **_identity(child.spec, env))
        child.started = time.monotonic()
        child.restart_at = None
        (self.pid_dir / f"{child.spec.name}.pid").write_text(f"{child.proc.pid}\n")
        log.info("started %s (pid %d, log %s)", child.spec.name, child.proc.pid,
                 self.log_dir / f"{child.spec.name}.log")

    def _stop_leftover(self, spec: ProcessSpec) -> None:
        """Stop the same program left running by an earlier supervisor that died without stopping it."""
        try:
            pid = int((self.pid_dir / f"{spec.name}.pid").read_text().strip())
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except (OSError, ValueError):
            return
        if [a.decode("utf-8", "surrogateescape") for a in argv] != list(spec.argv):
            return
        log.warning("stopping %s left running by an earlier run (pid %d)", spec.name, pid)
        terminate(pid, group=True)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self._children:
                    self._check(child)

    def _check(self, child: _Child) -> None:
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
            return
        if child.proc is None:
            return
        if child.proc.poll() is None:
            self._check_heartbeat(child, now)
            return
        ran = now - child.started
        if ran >= STABLE_AFTER:
            child.backoff = self.first_backoff
        log.warning("%s exited with code %s after %.1f s; restarting in %.0f s (see %s)", child.spec.name,
                    child.proc.returncode, ran, child.backoff, self.log_dir / f"{child.spec.name}.log")
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, self.max_backoff)

    def _check_heartbeat(self, child: _Child, now: float) -> None:
        """Kill a child whose heartbeat is older than its deadline; its exit is then restarted as any other."""
        deadline = child.spec.heartbeat
        if deadline is None:
            return
        try:
            silent = time.time() - self.heartbeat_file(child.spec.name).stat().st_mtime
        except FileNotFoundError:   # no beat yet: it is still starting, within its grace
            silent = now - child.started - max(self.startup_grace - deadline, 0.0)
        if silent <= deadline:
            return
        assert child.proc is not None
        log.error("%s stopped its heartbeat (silent for %.1f s, deadline %.0f s); killing it (pid %d)",
                  child.spec.name, silent, deadline, child.proc.pid)
        _signal_group(child.proc, signal.SIGKILL)
        child.proc.wait()


def _identity(spec: ProcessSpec, env: dict[str, str]) -> dict[str, Any]:
    """Popen's arguments that run ``spec`` as its user (their home and name in ``env``); none for the
    supervisor's own user. The supplementary groups are always set: a child of root would keep root's."""
    if spec.user is None:
        return {}
    account = pwd.getpwnam(spec.user)
    env.update(HOME=account.pw_dir, USER=spec.user, LOGNAME=spec.user)
    # what it writes (the database, the spool, alerts) is its own and its group's, as under systemd (UMask=0027)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": list(spec.groups), "umask": 0o027}


def _signal_group(proc: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """Signal the child's whole process group (it was started in its own session)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
