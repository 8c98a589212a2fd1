"""Run SIPp as a child process: ports, command line, log files, and never a process left behind.

SIPp quirks handled here: without ``-p`` a UAC binds port 5060 when it is free
(Asterisk's port), every instance binds a UDP control port (8888 by default)
and two media ports (``-mp`` and ``-mp`` + 2), so all of them are picked free.
``-nostdin`` keeps it from reading a terminal that CI does not have.
``play_pcap_audio`` sends through a raw socket: SIPp must run as root or with
CAP_NET_RAW, or the call aborts with "Can't create raw IPv4 socket".
The ``<log>`` lines (``-log_file``) are written as they happen, so a test can
wait on them while the call is going on; the statistics CSV only every second.
"""
from __future__ import annotations

import atexit
import csv
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

_LIVE: set[SippProcess] = set()  # terminated at interpreter exit


def sipp_binary() -> str:
    """The SIPp to run: ``$HOTLINE_SIPP`` or ``sipp`` on the PATH."""
    return os.environ.get("HOTLINE_SIPP", "sipp")


def udp_port_free(port: int, host: str = "0.0.0.0") -> bool:
    """True if a UDP socket can bind ``port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_udp_port(*, also_free: tuple[int, ...] = (), even: bool = False) -> int:
    """A UDP port the system calls free now, with ``port + n`` free too for each n in ``also_free``."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("0.0.0.0", 0))
            port = sock.getsockname()[1]
        if even and port % 2:
            port -= 1
        if port > 1024 and all(udp_port_free(port + n) for n in (0, *also_free) if port + n < 65536):
            return port
    raise RuntimeError("no free UDP port found")


def free_media_port() -> int:
    """An even RTP port with port + 2 (SIPp's video socket) free as well."""
    return free_udp_port(also_free=(1, 2, 3), even=True)


def local_ip_for(host: str) -> str:
    """The local address the system would use to reach ``host`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((socket.gethostbyname(host), 9))
        return str(sock.getsockname()[0])


@dataclass
class SippFiles:
    """Where one SIPp run writes: all under its working directory."""

    workdir: Path
    name: str
    messages: bool = True  # -trace_msg: every SIP message (too much for load runs)

    def path(self, suffix: str) -> Path:
        """A file of this run, e.g. ``path("logs.log")``."""
        return self.workdir / f"{self.name}_{suffix}"

    def options(self) -> list[str]:
        """The tracing options that put SIPp's files here."""
        options = ["-trace_logs", "-log_file", str(self.path("logs.log")),
                   "-trace_err", "-error_file", str(self.path("errors.log")),
                   "-trace_stat", "-stf", str(self.path("stats.csv")), "-fd", "1",
                   "-trace_screen", "-screen_file", str(self.path("screen.log"))]
        if self.messages:
            options += ["-trace_msg", "-message_file", str(self.path("messages.log"))]
        return options


@dataclass
class SippStats:
    """SIPp's cumulative counters from its -trace_stat CSV."""

    successful: int = 0
    failed: int = 0
    incoming: int = 0
    outgoing: int = 0
    current: int = 0
    raw: dict[str, str] = field(default_factory=dict)


def read_stats(path: str | Path) -> SippStats:
    """The last row of a SIPp statistics CSV (zeros when it is missing or empty)."""
    try:
        with open(path, newline="", encoding="latin-1") as handle:
            rows = [row for row in csv.reader(handle, delimiter=";") if row]
    except FileNotFoundError:
        return SippStats()
    if len(rows) < 2:
        return SippStats()
    raw = dict(zip(rows[0], rows[-1], strict=False))

    def number(key: str) -> int:
        value = raw.get(key, "0").strip()
        return int(value) if value.isdigit() else 0

    return SippStats(number("SuccessfulCall(C)"), number("FailedCall(C)"), number("IncomingCall(C)"),
                     number("OutgoingCall(C)"), number("CurrentCall"), raw)


class SippProcess:
    """One running SIPp: wait for it, watch its log lines, stop it."""

    def __init__(self, command: list[str], files: SippFiles, *, role: str) -> None:
        self.command = command
        self.files = files
        self.role = role
        self.stdout_path = files.path("stdout.txt")
        self.stderr_path = files.path("stderr.txt")
        self.log_path = files.path("logs.log")
        self.stats_path = files.path("stats.csv")
        self.errors_path = files.path("errors.log")
        self.messages_path = files.path("messages.log")
        self.started = time.monotonic()
        self.ended: float | None = None
        files.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(command, cwd=files.workdir, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err, start_new_session=True)
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        """The SIPp process id."""
        return self.popen.pid

    @property
    def running(self) -> bool:
        """True while SIPp has not exited."""
        return self.popen.poll() is None

    @property
    def elapsed(self) -> float:
        """Seconds since start, until exit."""
        return (self.ended or time.monotonic()) - self.started

    def wait(self, timeout: float | None = None) -> int:
        """Wait for SIPp to exit and return its exit code; raises TimeoutError (SIPp keeps running)."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"sipp ({self.role}) still running after {timeout}s") from exc
        self.ended = self.ended or time.monotonic()
        _LIVE.discard(self)
        return code

    def terminate(self, grace: float = 3.0) -> int:
        """Stop SIPp (SIGTERM, then SIGKILL after ``grace`` seconds) and return its exit code."""
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.wait(grace)
            except TimeoutError:
                self.popen.kill()
        return self.wait(grace)

    def log_lines(self) -> list[str]:
        """The scenario's <log> lines written so far."""
        try:
            return self.log_path.read_text(encoding="latin-1").splitlines()
        except FileNotFoundError:
            return []

    def events(self, name: str) -> list[str]:
        """Log lines whose first word is ``name`` (e.g. ``INVITE``, ``ANSWERED``, ``OUTCOME``)."""
        return [line for line in self.log_lines() if line.split(" ", 1)[0] == name]

    def count(self, name: str) -> int:
        """How many log lines start with ``name``: ``count("ANSWERED")`` is the calls answered."""
        return len(self.events(name))

    def wait_for(self, pattern: str, timeout: float, *, count: int = 1, poll: float = 0.05) -> list[str]:
        """Wait until ``count`` log lines match the regular expression ``pattern``; TimeoutError if not."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.log_lines() if regex.search(line)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"sipp ({self.role}): {pattern!r} seen {len(found)}/{count} times "
                                   f"in {timeout}s; log: {self.log_path}")
            if not self.running and len(found) < count:
                raise RuntimeError(f"sipp ({self.role}) exited with {self.popen.returncode} before "
                                   f"{pattern!r}; see {self.errors_path} and {self.stderr_path}")
            time.sleep(poll)

    def problems(self) -> list[str]:
        """What SIPp reported as going wrong, with a hint where one is known.

        Leaves out the receive timeouts that end each interruptible wait and the
        check that marks a rejected call failed: both are planned.
        """
        found = []
        events = re.split(r"\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: ", _read(self.errors_path))[1:]
        for event in events:
            if "jumping to label" not in event and "hotline_failed" not in event and event.strip():
                found.append(event.strip().splitlines()[0])
        if not events:  # fatal start-up errors (bad option, port in use) reach only stderr
            skip = ("In pcap", "max pkt length", "base port", "Resolving remote host")
            found = [line.strip() for line in _read(self.stderr_path).splitlines()
                     if line.strip() and not line.startswith(skip)]
        if any("raw IPv4 socket" in line for line in found):
            found.append("hint: play_pcap_audio sends through a raw socket: run as root or "
                         "`setcap cap_net_raw+ep $(command -v sipp)`")
        return found

    def stats(self) -> SippStats:
        """SIPp's counters as last dumped (every second while running, and at exit)."""
        return read_stats(self.stats_path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.terminate()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="latin-1")
    except FileNotFoundError:
        return ""


@atexit.register
def _terminate_all() -> None:
    for process in list(_LIVE):
        try:
            process.terminate(grace=1.0)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


def base_command(scenario: Path, files: SippFiles, *, local_ip: str, local_port: int,
                 media_port: int, timeout: float | None) -> list[str]:
    """The options every run shares: scenario, addresses and ports, tracing, safety timeout."""
    command = [sipp_binary(), "-sf", str(scenario), "-i", local_ip, "-mi", local_ip,
               "-p", str(local_port), "-mp", str(media_port), "-cp", str(free_udp_port()),
               "-nostdin", "-f", "5", *files.options()]
    if timeout:
        command += ["-timeout", f"{max(int(timeout), 1)}s", "-timeout_error"]
    return command
