"""One load run: SIPp places the calls, the observer times them, /proc gives the CPU spent."""
from __future__ import annotations

import os
import re
import resource
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ari_app.audio import wav_complete
from tooling.sipp.runner import run_load
from tooling.sipp.scenario import CallerScript

from .asterisk_log import LogWindow, analyse
from .instance import BASELINE_NUMBER, BenchInstance
from .observer import Observer

PATHS = {"app": "1022", "baseline": BASELINE_NUMBER}
PROMPT_P95_MS = 100.0      # the target for answer -> first prompt
RATE_TOLERANCE = 0.95      # a run "held" its rate when SIPp achieved at least this share of it
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class RunSpec:
    path: str               # "app" or "baseline"
    rate: float             # new calls per second asked of SIPp
    calls: int
    hold: float             # seconds each caller stays after the answer
    limit: int = 120        # most calls at once

    @property
    def name(self) -> str:
        return f"{self.path}-{self.rate:g}cps-{self.calls}"


@dataclass
class RunResult:
    spec: RunSpec
    wall_s: float
    placed: int
    completed: int                       # ended by the caller's own BYE after the whole script
    outcomes: dict[str, int]
    sipp_failed: int
    setup_rate: float | None             # answered calls per second, first to last answer
    invite_200_ms: dict[str, float | None]
    answer_prompt_ms: dict[str, float | None]
    stasis_prompt_ms: dict[str, float | None]
    no_prompt: int                       # answered channels that never got a prompt
    channels_seen: int
    peak_channels: int
    held_s: float | None                 # mean answer -> hangup, from Asterisk's events
    recordings: int                      # complete WAV files written during the run
    cpu_s: dict[str, float]              # CPU seconds spent during the run, per process
    asterisk_log: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.spec.calls - self.completed

    @property
    def passed(self) -> bool:
        """Zero failed calls, every call heard a prompt, p95 answer -> prompt under target, rate held."""
        p95 = self.answer_prompt_ms.get("p95")
        return (self.failed == 0 and self.no_prompt == 0 and p95 is not None and p95 < PROMPT_P95_MS
                and (self.setup_rate or 0) >= RATE_TOLERANCE * self.spec.rate)

    def cpu_per_call(self, proc: str) -> float | None:
        return self.cpu_s[proc] / self.spec.calls if proc in self.cpu_s and self.spec.calls else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(name=self.spec.name, failed=self.failed, passed=self.passed,
                    cpu_per_call_s={p: self.cpu_per_call(p) for p in self.cpu_s})
        return data


def run(instance: BenchInstance, observer: Observer, spec: RunSpec, script: CallerScript,
        log: Any) -> RunResult:
    """Place the calls of ``spec`` and measure them; returns once Asterisk and the app are idle."""
    stack = instance.stack
    s = stack.ctx.settings
    wait_idle(observer, 60)
    workdir = instance.base / "sipp" / spec.name
    recordings_before = count_recordings(instance, spec.path)
    messages = LogWindow(stack.state / "log" / "messages.log")
    with measured(instance, observer, spec.name) as took:
        log(f"run {spec.name}: {spec.calls} calls at {spec.rate:g}/s, {spec.hold:g} s each")
        load = run_load(s.sip.bind, s.sip.port, PATHS[spec.path], script, rate_per_s=spec.rate,
                        limit_concurrent=spec.limit, total_calls=spec.calls,
                        timeout=spec.calls / spec.rate + spec.hold + 90, workdir=workdir)
    outcomes = Counter(line.split()[1] for line in _log_lines(workdir) if line.startswith("OUTCOME "))
    times = observer.of_run(spec.name)
    answered = [t for t in times if t.up is not None]
    held = [t.destroyed - t.up for t in answered if t.destroyed is not None and t.up is not None]
    return RunResult(
        spec=spec, wall_s=took.wall_s, placed=load.stats.outgoing, completed=outcomes.get("local_bye", 0),
        outcomes=dict(outcomes), sipp_failed=load.stats.failed, setup_rate=setup_rate(workdir),
        invite_200_ms=summary(load.answer_ms, (95, 99)),
        answer_prompt_ms=summary([m for t in answered if (m := t.answer_to_prompt_ms()) is not None]),
        stasis_prompt_ms=summary([m for t in answered if (m := t.stasis_to_prompt_ms()) is not None]),
        no_prompt=sum(1 for t in answered if t.first_prompt is None), channels_seen=len(times),
        peak_channels=observer.peak(spec.name), held_s=statistics.fmean(held) if held else None,
        recordings=count_recordings(instance, spec.path) - recordings_before, cpu_s=took.cpu_s(),
        asterisk_log=analyse(messages.read()), problems=_problems(workdir))


@dataclass
class Took:
    """What a run took: its wall time, and the CPU seconds of each process (``cpu_s``, once the run is over)."""

    cpu_before: dict[str, float]
    children_before: float
    started: float = field(default_factory=time.monotonic)
    wall_s: float = 0.0
    cpu_after: dict[str, float] = field(default_factory=dict)

    def cpu_s(self) -> dict[str, float]:
        """Asterisk's and each app process's CPU seconds, and SIPp's (the children reaped by now) as "sipp"."""
        cpu = {proc: self.cpu_after[proc] - self.cpu_before.get(proc, 0.0) for proc in self.cpu_after}
        cpu["sipp"] = _children_cpu() - self.children_before
        return cpu


@contextmanager
def measured(instance: BenchInstance, observer: Observer, name: str) -> Iterator[Took]:
    """The block's calls labelled ``name`` for the observer, then until Asterisk and the app are idle: timed."""
    took = Took(cpu_seconds(instance), _children_cpu())
    observer.label = name
    took.started = time.monotonic()
    try:
        yield took
        wait_idle(observer, 60)
        settle(instance)
    finally:
        observer.label = None
    took.wall_s = time.monotonic() - took.started
    took.cpu_after = cpu_seconds(instance)


def summary(values: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[str, float | None]:
    """Percentiles (inclusive method) and the maximum; None without values."""
    out: dict[str, float | None] = {"n": float(len(values))}
    for p in points:
        out[f"p{p}"] = percentile(values, p)
    out["max"] = max(values) if values else None
    return out


def percentile(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[p - 1]


def setup_rate(workdir: Path) -> float | None:
    """Answered calls per second: SIPp's -trace_rtt stamps (ms since its start), first to last."""
    stamps = []
    for path in workdir.glob("*_rtt.csv"):
        for line in path.read_text(encoding="latin-1").splitlines()[1:]:
            cells = line.split(";")
            if len(cells) >= 2 and cells[0].strip().isdigit():
                stamps.append(int(cells[0]))
    if len(stamps) < 2 or max(stamps) == min(stamps):
        return None
    return (len(stamps) - 1) / ((max(stamps) - min(stamps)) / 1000)


def wait_idle(observer: Observer, timeout: float) -> None:
    """Until Asterisk has no channel (seen twice in a row), or the deadline passes."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        quiet = quiet + 1 if observer.live() == 0 else 0
        time.sleep(observer.interval)


def settle(instance: BenchInstance, timeout: float = 20.0) -> None:
    """Until the ARI app stops using CPU (its calls' log writes and recording checks are done)."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(instance).get("ari_app", 0.0)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(instance).get("ari_app", 0.0)
        if now - last < 0.01:
            return
        last = now


def cpu_seconds(instance: BenchInstance) -> dict[str, float]:
    """utime + stime of Asterisk and of each app process (ari_app, agi, monitor), all threads, in seconds."""
    stack = instance.stack
    pids = {name: proc.pid for name, proc in stack.procs.items()}
    pids["asterisk"] = stack.asterisk.pid if stack.asterisk is not None else None
    out = {}
    for name, pid in pids.items():
        if pid is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = (int(fields[11]) + int(fields[12])) / TICK   # fields 14 and 15 of proc(5)
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_recordings(instance: BenchInstance, path: str) -> int:
    """Complete WAV recordings of the path's calls (the baseline's are under bench-baseline/)."""
    root = instance.stack.recordings
    if path == "baseline":
        files = (root / "bench-baseline").rglob("*.wav")
    else:
        files = (p for p in root.rglob("*.wav")
                 if "bench-baseline" not in p.parts and not p.name.endswith(".voicemail.wav"))
    return sum(1 for p in files if wav_complete(p))


def _log_lines(workdir: Path) -> list[str]:
    lines: list[str] = []
    for path in workdir.glob("*_logs.log"):
        lines += path.read_text(encoding="latin-1").splitlines()
    return lines


def _problems(workdir: Path, limit: int = 5) -> list[str]:
    """SIPp's unplanned errors, grouped (its planned receive timeouts end every wait)."""
    found: Counter[str] = Counter()
    for path in workdir.glob("*_errors.log"):
        text = path.read_text(encoding="latin-1")
        for event in re.split(r"\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: ", text)[1:]:
            if "jumping to label" in event or "hotline_failed" in event or not event.strip():
                continue
            found[re.sub(r"Call-Id: \S+,? ?", "", event.strip().splitlines()[0])[:160]] += 1
    return [f"{n}x {text}" for text, n in found.most_common(limit)]
