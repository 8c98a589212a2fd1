"""The overload run (``--overload``): twice the sustainable rate, then probes until the IVR is normal again.

The sustainable rate is what admission control lets in for good: ``[capacity] max_calls`` callers
staying ``hold`` seconds each, max_calls / hold new calls per second. For ``seconds`` the bench places
``factor`` times that; past max_calls the dialplan turns callers away with the spoken busy message
([hotline-busy]). Once the burst has been placed, one probe caller a second (a number of its own)
shows when a new caller is admitted again with a fast first prompt.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from hotline.adapters.prompts import prompt_duration
from tooling.sipp.runner import LoadResult, run_load

from .asterisk_log import LogWindow, analyse
from .callers import caller_script
from .instance import BenchInstance
from .observer import ChannelTimes, Observer
from .runs import PROMPT_P95_MS, cpu_seconds, summary, wait_idle

PROBE_PREFIX = "0968"          # the probes' numbers: 0968000001...; the burst's callers are 0912345678
PROBE_HOLD = 5.0               # a probe stays this long: long enough for its first prompt
NORMAL_WITHIN_S = 60.0         # the target: normal again within 60 s of the burst
HEARD_MARGIN_S = 0.5           # a turned-away caller heard the message if their channel outlived it by this less


@dataclass
class OverloadSpec:
    max_calls: int
    hold: float
    factor: float = 2.0
    seconds: float = 60.0
    probe_seconds: float = 40.0

    @property
    def sustainable_rate(self) -> float:
        return self.max_calls / self.hold

    @property
    def rate(self) -> float:
        return self.factor * self.sustainable_rate

    @property
    def calls(self) -> int:
        return round(self.rate * self.seconds)

    @property
    def name(self) -> str:
        return f"overload-{self.rate:g}cps-{self.calls}"


@dataclass
class OverloadResult:
    spec: OverloadSpec
    wall_s: float
    outcomes: dict[str, int]                 # the burst's callers, by SIPp outcome (rejected:<code>)
    admitted: int                            # answered (Up) burst channels
    admitted_failed: int                     # answered but not ended by the caller's own BYE
    admitted_no_prompt: int
    answer_prompt_ms: dict[str, float | None]
    turned_away: int                         # burst channels that started the busy message
    heard_busy: int                          # ... and stayed until it ended
    refused_silently: int                    # neither admitted nor the busy message (maxcalls, errors)
    rows_turned_away: int                    # the call log's turned_away rows written during the run
    peak_channels: int
    probes: list[dict[str, Any]] = field(default_factory=list)
    normal_after_s: float | None = None      # burst placed -> the first probe from which on all were normal
    cpu_s: dict[str, float] = field(default_factory=dict)
    asterisk_log: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        p95 = self.answer_prompt_ms.get("p95")
        return (self.admitted_failed == 0 and self.admitted_no_prompt == 0 and p95 is not None
                and p95 < PROMPT_P95_MS and self.turned_away > 0 and self.heard_busy == self.turned_away
                and self.refused_silently == 0 and self.normal_after_s is not None
                and self.normal_after_s <= NORMAL_WITHIN_S)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.spec.name, "passed": self.passed,
                "sustainable_rate": self.spec.sustainable_rate, "rate": self.spec.rate, "calls": self.spec.calls}


def run_overload(instance: BenchInstance, observer: Observer, spec: OverloadSpec, key_at: float,
                 log: Any) -> OverloadResult:
    """Place the burst, then the probes; measure both from Asterisk's events and the call log."""
    stack = instance.stack
    s = stack.ctx.settings
    wait_idle(observer, 60)
    busy_s = prompt_duration(s.paths.state_dir / "prompts" / "all_lines_busy.wav")
    burst_script = caller_script(instance.base / "overload-callers", key_at=key_at, hold=spec.hold)
    probe_script = caller_script(instance.base / "overload-probes", key_at=key_at, hold=PROBE_HOLD)
    rows_before = _turned_away_rows(instance)
    messages = LogWindow(stack.state / "log" / "messages.log")
    cpu_before = cpu_seconds(instance)
    limit = max(s.capacity.asterisk_max_calls, 2 * spec.max_calls)
    log(f"run {spec.name}: {spec.calls} calls at {spec.rate:g}/s for {spec.seconds:g} s (max_calls "
        f"{spec.max_calls}, {spec.hold:g} s each: sustainable {spec.sustainable_rate:g}/s), then a probe a second")
    observer.label = spec.name
    started = time.monotonic()
    probes: dict[str, Any] = {}
    prober = threading.Timer(spec.seconds, lambda: probes.update(load=_probe(instance, spec, probe_script)))
    prober.start()
    try:
        load = run_load(s.sip.bind, s.sip.port, "1022", burst_script, rate_per_s=spec.rate, limit_concurrent=limit,
                        total_calls=spec.calls, timeout=spec.seconds + spec.hold + 90,
                        workdir=instance.base / "sipp" / spec.name)
        prober.join()
        wait_idle(observer, 60)
    finally:
        prober.cancel()
        observer.label = None
    burst_end = max((t.created for t in observer.of_run(spec.name) if not t.caller.startswith(PROBE_PREFIX)),
                    default=None)
    return _result(instance, observer, spec, load, busy_s, rows_before, time.monotonic() - started,
                   cpu_before, messages, burst_end)


def _probe(instance: BenchInstance, spec: OverloadSpec, script: Any) -> LoadResult:
    s = instance.stack.ctx.settings
    count = int(spec.probe_seconds)
    numbers = [f"{PROBE_PREFIX}{n:06d}" for n in range(1, count + 1)]
    return run_load(s.sip.bind, s.sip.port, "1022", script, rate_per_s=1.0, limit_concurrent=count,
                    total_calls=count, callers=numbers, timeout=spec.probe_seconds + PROBE_HOLD + 60,
                    workdir=instance.base / "sipp" / f"{spec.name}-probes")


def _result(instance: BenchInstance, observer: Observer, spec: OverloadSpec, load: LoadResult, busy_s: float,
            rows_before: int, wall: float, cpu_before: dict[str, float], messages: LogWindow,
            burst_end: float | None) -> OverloadResult:
    times = observer.of_run(spec.name)
    burst = [t for t in times if not t.caller.startswith(PROBE_PREFIX)]
    admitted = [t for t in burst if t.up is not None]
    away = [t for t in burst if t.busy is not None]
    heard = [t for t in away if t.busy is not None and t.destroyed is not None
             and t.destroyed - t.busy >= busy_s - HEARD_MARGIN_S]
    outcomes = Counter(_outcomes(load))
    cpu_after = cpu_seconds(instance)
    probes = sorted((t for t in times if t.caller.startswith(PROBE_PREFIX)), key=lambda t: t.created)
    return OverloadResult(
        spec=spec, wall_s=wall, outcomes=dict(outcomes), admitted=len(admitted),
        admitted_failed=max(0, len(admitted) - outcomes.get("local_bye", 0)),
        admitted_no_prompt=sum(1 for t in admitted if t.first_prompt is None),
        answer_prompt_ms=summary([m for t in admitted if (m := t.answer_to_prompt_ms()) is not None]),
        turned_away=len(away), heard_busy=len(heard),
        refused_silently=sum(1 for t in burst if t.up is None and t.busy is None),
        rows_turned_away=_turned_away_rows(instance) - rows_before, peak_channels=observer.peak(spec.name),
        probes=[_probe_row(t, burst_end) for t in probes], normal_after_s=_normal_after(probes, burst_end),
        cpu_s={p: cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after},
        asterisk_log=analyse(messages.read()))


def _normal(t: ChannelTimes) -> bool:
    ms = t.answer_to_prompt_ms()
    return t.up is not None and ms is not None and ms < PROMPT_P95_MS


def _normal_after(probes: list[ChannelTimes], burst_end: float | None) -> float | None:
    """Seconds from the burst's end to the first probe from which on every probe was admitted, fast."""
    if burst_end is None or not probes or not _normal(probes[-1]):
        return None
    first = len(probes)
    while first > 0 and _normal(probes[first - 1]):
        first -= 1
    return max(0.0, probes[first].created - burst_end)


def _probe_row(t: ChannelTimes, burst_end: float | None) -> dict[str, Any]:
    return {"caller": t.caller, "after_s": None if burst_end is None else round(t.created - burst_end, 2),
            "admitted": t.up is not None, "busy": t.busy is not None, "answer_prompt_ms": t.answer_to_prompt_ms()}


def _outcomes(load: LoadResult) -> list[str]:
    out = []
    for path in load.workdir.glob("*_logs.log"):
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("OUTCOME "):
                words = line.split()
                out.append(f"rejected:{words[2]}" if words[1] == "rejected" else words[1])
    return out


def _turned_away_rows(instance: BenchInstance) -> int:
    from sqlalchemy import func, select

    from hotline.adapters.db.models import Call
    from hotline.domain.vocabulary import Disposition
    with instance.stack.repo.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Call)
                                  .where(Call.disposition == Disposition.TURNED_AWAY)) or 0)


def overload_targets(r: OverloadResult) -> list[dict[str, Any]]:
    p95 = r.answer_prompt_ms.get("p95")
    return [
        _target("calls over the limit hear the busy message and are counted",
                f"{r.heard_busy} of {r.turned_away} heard it whole, {r.rows_turned_away} turned_away rows, "
                f"{r.refused_silently} refused without it",
                r.turned_away > 0 and r.heard_busy == r.turned_away == r.rows_turned_away
                and r.refused_silently == 0),
        _target(f"admitted calls: answer->first prompt p95 < {PROMPT_P95_MS:g} ms",
                f"{'-' if p95 is None else format(p95, '.0f')} ms over {r.admitted} admitted",
                p95 is not None and p95 < PROMPT_P95_MS),
        _target("zero admitted calls fail", f"{r.admitted_failed} failed, {r.admitted_no_prompt} without a prompt",
                r.admitted_failed == 0 and r.admitted_no_prompt == 0),
        _target(f"normal within {NORMAL_WITHIN_S:g} s after the burst",
                "never (within the probes)" if r.normal_after_s is None else f"{r.normal_after_s:.1f} s",
                r.normal_after_s is not None and r.normal_after_s <= NORMAL_WITHIN_S),
    ]


def _target(name: str, figure: str, ok: bool) -> dict[str, Any]:
    return {"target": name, "figure": figure, "result": "PASS" if ok else "FAIL"}


def render_overload(r: OverloadResult) -> list[str]:
    p = r.answer_prompt_ms
    fmt = lambda v: "-" if v is None else format(v, ".0f")   # noqa: E731
    admitted_probes = sum(1 for x in r.probes if x["admitted"])
    return [
        f"overload: {r.spec.calls} calls at {r.spec.rate:g}/s for {r.spec.seconds:g} s = {r.spec.factor:g} x the "
        f"sustainable {r.spec.sustainable_rate:g}/s ([capacity] max_calls {r.spec.max_calls}, {r.spec.hold:g} s "
        f"calls); run {r.wall_s:.0f} s, peak {r.peak_channels} channels",
        f"admitted {r.admitted}: answer->prompt p50/p95/max {fmt(p.get('p50'))}/{fmt(p.get('p95'))}/"
        f"{fmt(p.get('max'))} ms, {r.admitted_failed} failed, {r.admitted_no_prompt} without a prompt",
        f"turned away {r.turned_away}: {r.heard_busy} heard the whole busy message, {r.rows_turned_away} "
        f"turned_away rows in the call log; refused without the message: {r.refused_silently}",
        f"callers' SIPp outcomes: {r.outcomes}",
        f"probes after the burst: {admitted_probes} of {len(r.probes)} admitted; normal "
        + ("never" if r.normal_after_s is None else f"{r.normal_after_s:.1f} s after the burst's last call"),
        f"CPU s over the run: {', '.join(f'{k} {v:.1f}' for k, v in sorted(r.cpu_s.items()))}",
        *[f"Asterisk, {r.spec.name}: {w}" for w in r.asterisk_log.get("other_warnings", [])],
    ]
