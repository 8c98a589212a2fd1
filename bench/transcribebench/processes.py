"""The processes the bench starts and stops itself: its own redis-server, and real `rq worker` processes.

Each is started in its own session (process group) and stopped by its id: SIGTERM, a deadline,
then SIGKILL of that group only. Nothing else on the machine is touched.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis

from hotline.config.settings import REPO_ROOT
from tooling.system.assembly import command

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, wait up to ``grace`` s, then SIGKILL the process's own group (it leads it)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)     # the process and what it forked (RQ's scheduler)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class RedisServer:
    """A redis-server of the bench's own on a free port of 127.0.0.1, nothing kept on disk."""

    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def start(self, timeout: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.workdir), "--logfile", str(self.log_path)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}):\n{tail(self.log_path)}")
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout:g} s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=5.0)
            self.proc = None


@dataclass
class WorkerProcess:
    """One `rq worker --with-scheduler --worker-class HotlineWorker` process: ``tooling.system.assembly.command``, what
    `hotline up` runs (``python -m rq.cli worker ...``), with a name of the bench's."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    started: float                       # time.monotonic() at spawn
    ready_s: float | None = None         # spawn -> registered in Redis (model loaded)
    last_memory: dict[str, int] = field(default_factory=dict)

    @classmethod
    def spawn(cls, name: str, redis_url: str, queue: str, env: Mapping[str, str], logdir: Path) -> WorkerProcess:
        log_path = logdir / f"{name}.log"
        cmd = [*command("worker", redis_url, queue), "--name", name]     # what `hotline up` runs, named
        with log_path.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        return cls(name, proc, log_path, time.monotonic())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited ({self.proc.returncode}); its log:\n{tail(self.log_path)}")

    def cpu_seconds(self) -> float:
        """utime + stime of the worker process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def minor_faults(self) -> int:
        """Minor page faults so far (first touches and copy-on-write copies of pages)."""
        return int(Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[7])

    def memory(self) -> dict[str, int]:
        """kB: the worker's VmHWM (peak resident), VmRSS and Pss, and its forked children's (RQ's scheduler)."""
        found = _status_kb(self.pid)
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        facts = [_status_kb(pid) for pid in kids]
        found["children_hwm_kb"] = sum(f.get("hwm_kb", 0) for f in facts)
        found["children_pss_kb"] = sum(f.get("pss_kb", 0) for f in facts)
        found["children"] = len(kids)
        self.last_memory = found
        return found

    def stop(self) -> None:
        stop_process(self.proc, grace=15.0)


def _status_kb(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS (status), and Pss (smaps_rollup: shared pages split between their users)."""
    found: dict[str, int] = {}
    for name, wanted in (("status", {"VmHWM": "hwm_kb", "VmRSS": "rss_kb"}), ("smaps_rollup", {"Pss": "pss_kb"})):
        try:
            text = Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue
        found |= {wanted[k]: int(v.split()[0]) for k, _, v in (line.partition(":") for line in text.splitlines())
                  if k in wanted}
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat), for telling others' load apart."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


def own_cpu_seconds() -> float:
    """This process's CPU time plus its children's that have been waited for (the stopped workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def wait_registered(workers: list[WorkerProcess], connection: redis.Redis, timeout: float) -> None:
    """Until each worker is registered in Redis (RQ does so after HotlineWorker.__init__ loaded the model)."""
    from rq.worker import Worker
    deadline = time.monotonic() + timeout
    pending = {w.name: w for w in workers}
    while pending:
        for w in pending.values():
            w.check_alive()
        names = {x.name for x in Worker.all(connection=connection) if x.get_state() in ("idle", "busy")}
        for name in names & set(pending):
            ready = pending.pop(name)
            ready.ready_s = time.monotonic() - ready.started
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"workers {sorted(pending)} not ready within {timeout:g} s")
        time.sleep(0.05)
