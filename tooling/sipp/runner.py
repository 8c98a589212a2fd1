"""Place test calls, stand in for desks, and run load with SIPp: the API tests and tools use."""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tooling.sipp.desk_scenario import DeskHangup, write_desk_scenario
from tooling.sipp.pcap import RtpSequencer
from tooling.sipp.process import (
    SippFiles,
    SippProcess,
    SippStats,
    base_command,
    free_media_port,
    free_udp_port,
    local_ip_for,
    udp_port_free,
)
from tooling.sipp.scenario import AwaitHangup, CallerScript, Keys, Speak, Wait, write_caller_scenario

OUTCOMES = ("remote_bye", "local_bye", "rejected", "no_answer", "no_response", "error")


def _workdir(workdir: str | Path | None, prefix: str) -> Path:
    path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"hotline-sipp-{prefix}-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class CallResult:
    """How one SIPp call went."""

    exit_code: int
    outcome: str             # one of OUTCOMES
    call_id: str | None
    answered: bool
    status_code: int | None  # the rejecting SIP status, if rejected
    steps: list[str]
    stats: SippStats
    elapsed: float
    workdir: Path
    stdout_path: Path
    stderr_path: Path
    log_path: Path
    errors_path: Path
    messages_path: Path
    hold_expired: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """SIPp counted the call successful and it ended by a BYE from either side."""
        return self.exit_code == 0 and self.outcome in ("remote_bye", "local_bye")

    @property
    def ended_by_remote(self) -> bool:
        """The far end (Asterisk or the desk) sent the BYE."""
        return self.outcome == "remote_bye"


class CallerProcess(SippProcess):
    """A SIPp caller placing one call; :meth:`result` reads how it went once it exits."""

    def result(self, timeout: float | None = None) -> CallResult:
        """Wait for the call to end and collect its result (TimeoutError if it is still going)."""
        code = self.wait(timeout)
        outcome, call_id, status = "error", None, None
        for line in self.events("OUTCOME"):
            words = line.split()
            outcome, call_id = words[1], words[-1]
            status = int(words[2]) if outcome == "rejected" else None
        answered = self.events("ANSWERED")
        call_id = call_id or (answered[0].split()[-1] if answered else None)
        return CallResult(code, outcome, call_id, bool(answered), status,
                          [line.split(" ", 2)[-1] for line in self.events("STEP")], self.stats(),
                          self.elapsed, self.files.workdir, self.stdout_path, self.stderr_path,
                          self.log_path, self.errors_path, self.messages_path,
                          hold_expired=bool(self.events("HOLD_EXPIRED")), problems=self.problems())


def _script_seconds(script: CallerScript) -> float:
    total = 0.0
    for step in script.normalized():
        if isinstance(step, Wait):
            total += step.seconds
        elif isinstance(step, AwaitHangup):
            total += step.max_seconds
        elif isinstance(step, Keys):
            total += len(step.keys) * (0.2 + step.gap_ms / 1000)
        elif isinstance(step, Speak):
            total += 60.0
    return total


def start_caller(target_host: str, target_port: int, dialled: str, script: CallerScript, *,
                 caller: str = "0912345678", local_port: int | None = None,
                 media_port: int | None = None, timeout: float | None = None,
                 answer_timeout: float = 60.0, workdir: str | Path | None = None,
                 sequencer: RtpSequencer | None = None) -> CallerProcess:
    """Start one call in the background: dial ``dialled`` at target_host:target_port and run ``script``.

    ``timeout`` (default: the script's length plus a margin) makes SIPp give up and fail.
    """
    work = _workdir(workdir, "call")
    scenario = write_caller_scenario(script, work, caller=caller, answer_timeout=answer_timeout,
                                     sequencer=sequencer)
    timeout = timeout or answer_timeout + _script_seconds(script) + 30
    command = base_command(scenario, SippFiles(work, "caller"), local_ip=local_ip_for(target_host),
                           local_port=local_port or free_udp_port(),
                           media_port=media_port or free_media_port(), timeout=timeout)
    command += ["-s", dialled, "-m", "1", "-l", "1", f"{target_host}:{target_port}"]
    return CallerProcess(command, SippFiles(work, "caller"), role=f"caller {caller}->{dialled}")


def run_caller(target_host: str, target_port: int, dialled: str, script: CallerScript, *,
               caller: str = "0912345678", local_port: int | None = None, media_port: int | None = None,
               timeout: float | None = None, answer_timeout: float = 60.0,
               workdir: str | Path | None = None) -> CallResult:
    """Place one call, wait for it to end, and return how it went."""
    process = start_caller(target_host, target_port, dialled, script, caller=caller, local_port=local_port,
                           media_port=media_port, timeout=timeout, answer_timeout=answer_timeout,
                           workdir=workdir)
    try:
        return process.result()
    finally:
        process.terminate()


class DeskProcess(SippProcess):
    """A SIPp desk (UAS) answering calls until stopped."""

    def __init__(self, command: list[str], files: SippFiles, *, port: int) -> None:
        super().__init__(command, files, role=f"desk :{port}")
        self.port = port

    @property
    def invites(self) -> int:
        """Calls that reached the desk."""
        return self.count("INVITE")

    @property
    def answered(self) -> int:
        """Calls the desk answered."""
        return self.count("ANSWERED")

    def outcomes(self) -> list[str]:
        """How each finished call ended: remote_bye, local_bye, busy or cancelled."""
        return [line.split()[1] for line in self.events("OUTCOME")]


def start_uas(port: int, *, ring_seconds: float = 1.0, talk_seconds: float = 5.0,
              hangup: DeskHangup | str = DeskHangup.LOCAL, local_ip: str = "127.0.0.1",
              media_port: int | None = None, sdp_port: int | None = None,
              workdir: str | Path | None = None, speak: str | Path | None = None) -> DeskProcess:
    """Start a desk phone on ``port`` that answers every call as told (until terminated); ``speak``: a pcap of
    audio it sends once it has answered."""
    work = _workdir(workdir, "desk")
    scenario = write_desk_scenario(work, ring_seconds=ring_seconds, talk_seconds=talk_seconds,
                                   hangup=hangup, sdp_port=sdp_port, speak=speak)
    files = SippFiles(work, "desk")
    command = base_command(scenario, files, local_ip=local_ip, local_port=port,
                           media_port=media_port or free_media_port(), timeout=None)
    process = DeskProcess(command, files, port=port)
    _await_listening(process, port)
    return process


def _await_listening(process: SippProcess, port: int, timeout: float = 5.0) -> None:
    """Wait until SIPp has bound its SIP port (so a call placed next finds it)."""
    deadline = time.monotonic() + timeout
    while udp_port_free(port):
        if not process.running:
            raise RuntimeError(f"sipp ({process.role}) exited with {process.popen.returncode}: "
                               f"{process.stderr_path.read_text(errors='replace')[-500:]}")
        if time.monotonic() > deadline:
            process.terminate()
            raise TimeoutError(f"sipp ({process.role}) did not bind port {port} in {timeout}s")
        time.sleep(0.02)


@dataclass
class LoadResult:
    """SIPp's figures for a load run; INVITE→200 times in milliseconds."""

    exit_code: int
    stats: SippStats
    answer_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    workdir: Path = Path(".")

    def percentile(self, p: float) -> float | None:
        """The p-th percentile (0-100) of the answer times, or None without any."""
        if not self.answer_ms:
            return None
        if len(self.answer_ms) == 1:
            return self.answer_ms[0]
        return statistics.quantiles(self.answer_ms, n=100, method="inclusive")[min(max(int(p), 1), 99) - 1]


def read_rtt(path: Path) -> list[float]:
    """Response times from SIPp's -trace_rtt CSV (``date_ms;response_time_ms;rtd_no``)."""
    if not path.exists():
        return []
    times = []
    for line in path.read_text(encoding="latin-1").splitlines()[1:]:
        cells = line.split(";")
        if len(cells) >= 2:
            try:
                times.append(float(cells[1]))
            except ValueError:
                continue
    return times


def run_load(target_host: str, target_port: int, dialled: str, script: CallerScript, *,
             rate_per_s: float, limit_concurrent: int, total_calls: int,
             callers: list[str] | None = None, timeout: float = 600.0, answer_timeout: float = 60.0,
             workdir: str | Path | None = None) -> LoadResult:
    """Place ``total_calls`` calls at ``rate_per_s``, at most ``limit_concurrent`` at once."""
    work = _workdir(workdir, "load")
    caller = "0912345678"
    extra: list[str] = []
    if callers:
        inf = work / "callers.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(f"{number};\n" for number in callers), encoding="ascii")
        caller, extra = "[field0]", ["-inf", str(inf)]
    scenario = write_caller_scenario(script, work, caller=caller, answer_timeout=answer_timeout)
    files = SippFiles(work, "load", messages=False)
    command = base_command(scenario, files, local_ip=local_ip_for(target_host), local_port=free_udp_port(),
                           media_port=free_media_port(), timeout=timeout)
    command += ["-s", dialled, "-r", f"{rate_per_s:g}", "-l", str(limit_concurrent), "-m", str(total_calls),
                "-trace_rtt", "-rtt_freq", "1", *extra, f"{target_host}:{target_port}"]
    process = SippProcess(command, files, role=f"load ->{dialled}")
    try:
        code = process.wait(timeout + 30)
    finally:
        process.terminate()
    rtt = sorted(read_rtt(next(iter(sorted(work.glob("*_rtt.csv"))), work / "none")))
    return LoadResult(code, process.stats(), rtt, process.elapsed, work)
