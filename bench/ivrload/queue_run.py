"""The queue scenario: callers press 0 at the main menu and wait in app_queue for SIPp operator phones.

Each operator is a SIPp phone (``start_uas``) on a fixed contact, added and logged in with the
operator service as `hotline operators add --contact … / login` do. The phones ring 0-1 s (phone
i of n rings i/(n-1) s), answer, talk ``talk`` s and hang up (the operator hangs up first). The
callers then hear the post-call survey and do not rate: after the question has been asked twice
(6 s each) the app hangs up. Every call is recorded (MixMonitor from the answer, as always).

What is measured comes from the phones' own SIP traces (``-trace_msg``: SIPp's wall-clock
stamps of every message) and from the observer (Asterisk's timestamps of each caller entering
app_queue and being bridged to an operator):

* **free -> ring**: for each call an operator phone ends (the BYE it sends), the time until the
  next INVITE it receives, minus the configured wrap-up, counted only when the operator was
  *needed* at that instant: more callers were waiting (in app_queue, not yet bridged) than
  phones were already ringing for them plus other operators already idle. Otherwise the next
  INVITE waits for a new caller to arrive, which is not the queue's delay.
* **lost**: callers whose number never reached an operator phone that answered (rejected, timed
  out after the queue's max wait and sent to voicemail, cut off, ...).
"""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.domain.vocabulary import OperatorState
from hotline.services.operators import apply_endpoints
from tooling.sipp.process import udp_port_free
from tooling.sipp.runner import DeskProcess, run_load, start_uas

from .asterisk_log import LogWindow, analyse
from .callers import queue_caller_script
from .instance import QUEUE_SETTINGS, BenchInstance
from .observer import Observer
from .runs import _log_lines, _problems, count_recordings, measured, summary, wait_idle

FREE_RING_P95_MS = 200.0     # the target: operator free -> their phone ringing, p95
OPERATOR_PORT = 5171         # operator phone i listens on OPERATOR_PORT + i (the tests use 15xxx)
OPERATOR_PREFIX = "bench-op-"
CALLER_PREFIX = "0969"       # callers 0969000001... (the From user the operator phones see)
SURVEY_S = 2 * (6 + 6)       # no key: the survey question (about 6 s) and 6 s of silence, twice


@dataclass
class QueueSpec:
    callers: int = 50
    operators: int = 10
    rate: float = 5.0          # new callers per second
    talk: float = 10.0         # seconds an operator talks before hanging up
    ring_max: float = 1.0      # phone i of n rings ring_max * i / (n - 1) seconds

    @property
    def name(self) -> str:
        return f"queue-{self.callers}x{self.operators}"


@dataclass
class PhoneCall:
    """One call as an operator phone's trace shows it (epoch seconds)."""

    phone: str
    call_id: str
    caller: str
    invite: float
    answered: float | None = None
    cancelled: float | None = None
    bye_sent: float | None = None

    @property
    def ringing(self) -> tuple[float, float]:
        end = self.answered or self.cancelled
        return self.invite, end if end is not None else float("inf")


@dataclass
class FreeMoment:
    phone: str
    at: float                  # the phone's BYE
    next_invite: float | None  # the next INVITE the phone received
    waiting: int               # callers waiting in app_queue, not bridged
    ringing: int               # other phones ringing
    idle: int                  # other operators free and not yet rung again
    needed: bool

    @property
    def gap_ms(self) -> float | None:
        return None if self.next_invite is None else (self.next_invite - self.at - WRAPUP_S) * 1000


WRAPUP_S = float(QUEUE_SETTINGS[("queue", "wrapup_seconds")])


@dataclass
class QueueResult:
    spec: QueueSpec
    wall_s: float
    wrapup_s: float
    placed: int
    outcomes: dict[str, int]                   # the callers' SIPp outcomes
    answered_callers: int                      # distinct callers an operator phone answered
    lost: list[str]                            # callers no operator answered
    free_ring_ms: dict[str, float | None]
    free_moments: int                          # operator hang-ups seen
    needed_moments: int                        # ... at which a caller was waiting unserved
    needed_not_rung: int                       # ... after which the phone never rang again
    wait_s: dict[str, float | None]            # queued -> bridged (Asterisk's stamps), answered callers
    calls_per_operator: dict[str, int]
    app_outcomes: dict[str, int]               # the app's call log: queue_outcome of the callers' rows
    peak_channels: int
    recordings: int
    cpu_s: dict[str, float]
    asterisk_log: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    worst: list[dict[str, Any]] = field(default_factory=list)   # the slowest needed free -> ring moments
    moments: list[dict[str, Any]] = field(default_factory=list)  # every operator hang-up (JSON only)
    announcements: dict[str, int] = field(default_factory=dict)  # app_queue's, from Asterisk's log
    wakes: dict[str, int] = field(default_factory=dict)          # the monitor's (monitor/waker.py), its log

    @property
    def passed(self) -> bool:
        p95 = self.free_ring_ms.get("p95")
        return not self.lost and p95 is not None and p95 < FREE_RING_P95_MS and not self.needed_not_rung

    def cpu_per_call(self, proc: str) -> float | None:
        return self.cpu_s[proc] / self.spec.callers if proc in self.cpu_s and self.spec.callers else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(name=self.spec.name, passed=self.passed, lost_count=len(self.lost),
                    cpu_per_call_s={p: self.cpu_per_call(p) for p in self.cpu_s})
        return data


# -- the run ------------------------------------------------------------------------------
def run_queue(instance: BenchInstance, observer: Observer, spec: QueueSpec, key_at: float, log: Any) -> QueueResult:
    stack = instance.stack
    s = stack.ctx.settings
    wait_idle(observer, 60)
    workdir = instance.base / "sipp" / spec.name
    names = [f"{OPERATOR_PREFIX}{i + 1:02d}" for i in range(spec.operators)]
    phones = start_phones(workdir, names, spec)
    try:
        log_in(instance, names)
        stay = s.queue.max_wait + spec.talk + spec.ring_max + SURVEY_S + 60
        script = queue_caller_script(workdir / "callers", key_at=key_at, stay=stay)
        callers = [f"{CALLER_PREFIX}{i + 1:06d}" for i in range(spec.callers)]
        recordings_before = count_recordings(instance, "app")
        messages = LogWindow(stack.state / "log" / "messages.log")
        monitor_log = LogWindow(stack.logs / "monitor.log")
        with measured(instance, observer, spec.name) as took:
            log(f"run {spec.name}: {spec.callers} callers at {spec.rate:g}/s press 0; {spec.operators} operator "
                f"phones ring 0-{spec.ring_max:g} s, talk {spec.talk:g} s and hang up; wrap-up {WRAPUP_S:g} s")
            load = run_load(s.sip.bind, s.sip.port, "1022", script, rate_per_s=spec.rate,
                            limit_concurrent=spec.callers, total_calls=spec.callers, callers=callers,
                            timeout=spec.callers / spec.rate + key_at + stay + 60, workdir=workdir / "load")
    finally:
        for phone in phones.values():
            phone.terminate()
        log_out(instance, names)
    cpu = took.cpu_s()      # after the phones ended: their SIPp's CPU counts
    calls = [c for name, phone in phones.items() for c in phone_calls(name, phone.messages_path)]
    times = observer.of_run(spec.name)
    waits = [w for t in times if (w := t.waiting()) is not None]
    moments = free_moments(calls, waits, names)
    needed = [m for m in moments if m.needed]
    answered = {c.caller for c in calls if c.answered is not None}
    per_op = Counter(c.phone for c in calls if c.answered is not None)
    waited = [t.bridged - t.queued for t in times if t.queued is not None and t.bridged is not None]
    worst = sorted((m for m in needed if m.gap_ms is not None), key=lambda m: -(m.gap_ms or 0))[:5]
    return QueueResult(
        spec=spec, wall_s=took.wall_s, wrapup_s=WRAPUP_S, placed=load.stats.outgoing,
        outcomes=dict(Counter(line.split()[1] for line in _log_lines(workdir / "load")
                              if line.startswith("OUTCOME "))),
        answered_callers=len(answered & set(callers)), lost=[c for c in callers if c not in answered],
        free_ring_ms=summary([m.gap_ms for m in needed if m.gap_ms is not None]),
        free_moments=len(moments), needed_moments=len(needed),
        needed_not_rung=sum(1 for m in needed if m.next_invite is None),
        wait_s=summary(waited), calls_per_operator={n: per_op.get(n, 0) for n in names},
        app_outcomes=app_outcomes(instance, set(callers)), peak_channels=observer.peak(spec.name),
        recordings=count_recordings(instance, "app") - recordings_before, cpu_s=cpu,
        asterisk_log=analyse(text := messages.read()), problems=_problems(workdir / "load"),
        announcements={"position/hold time": text.count("their queue position (which was"),
                       "periodic": text.count("Playing periodic announcement")},
        wakes={"callers woken": (woke := monitor_log.read()).count("monitor.waker INFO wake call="),
               "woken again": woke.count(" (again, ")},
        worst=[_moment(m) for m in worst], moments=[_moment(m) for m in moments])


def _moment(m: FreeMoment) -> dict[str, Any]:
    return {"phone": m.phone, "at": datetime.fromtimestamp(m.at).isoformat(timespec="milliseconds"),
            "gap_ms": None if m.gap_ms is None else round(m.gap_ms), "waiting": m.waiting, "ringing": m.ringing,
            "idle": m.idle, "needed": m.needed}


def start_phones(workdir: Path, names: list[str], spec: QueueSpec) -> dict[str, DeskProcess]:
    phones: dict[str, DeskProcess] = {}
    try:
        for i, name in enumerate(names):
            port = OPERATOR_PORT + i
            if not udp_port_free(port):
                raise RuntimeError(f"UDP port {port} (operator phone {name}) is taken")
            ring = spec.ring_max * i / (len(names) - 1) if len(names) > 1 else spec.ring_max
            phones[name] = start_uas(port, ring_seconds=ring, talk_seconds=spec.talk, hangup="local",
                                     workdir=workdir / name)
    except BaseException:
        for phone in phones.values():
            phone.terminate()
        raise
    return phones


def log_in(instance: BenchInstance, names: list[str], timeout: float = 15.0) -> None:
    """Add the operators with their phones' fixed contacts (one PJSIP reload), log them in, wait until free."""
    stack = instance.stack
    service = stack.operators
    known = {e.name for e in service.endpoints()}
    for i, name in enumerate(names):
        if name not in known:
            service.add(name, f"Tổng đài viên {i + 1}", f"sip:{name}@127.0.0.1:{OPERATOR_PORT + i}")
    apply_endpoints(stack.ctx, service)
    for name in names:
        service.login(name)
    deadline = time.monotonic() + timeout
    while True:
        states = {st.name: st for st in service.states() if st.name in names}
        free = [n for n in names if states.get(n) and states[n].state == OperatorState.AVAILABLE
                and states[n].device == "not_in_use"]
        if len(free) == len(names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"operators not free in the queue after {timeout:g} s: "
                               f"{[(n, states[n].state, states[n].device) for n in names if n in states]}")
        time.sleep(0.2)


def log_out(instance: BenchInstance, names: list[str]) -> None:
    for name in names:
        try:
            instance.stack.operators.logout(name)
        except Exception:   # noqa: BLE001 - best effort: the instance is thrown away after the bench
            pass


def app_outcomes(instance: BenchInstance, callers: set[str]) -> dict[str, int]:
    """queue_outcome of the callers' rows in the app's call log (its own view of the same calls)."""
    rows = [r for r in instance.stack.repo.latest(4 * len(callers) + 50) if r["caller"] in callers]
    return dict(Counter(str(r.get("queue_outcome")) for r in rows))


# -- the phones' traces -------------------------------------------------------------------
_HEADER = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$", re.M)


def phone_calls(phone: str, path: Path) -> list[PhoneCall]:
    """The calls an operator phone's ``-trace_msg`` file shows, in the order their INVITEs came."""
    text = path.read_text(encoding="latin-1") if path.exists() else ""
    parts = _HEADER.split(text)[1:]
    calls: dict[str, PhoneCall] = {}
    for stamp, body in zip(parts[::2], parts[1::2], strict=True):
        lines = [line.strip() for line in body.strip().splitlines()]
        if len(lines) < 3:
            continue
        sent = "sent" in lines[0]
        start = lines[2 if not lines[1] else 1]
        headers = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if sep and name.lower() in ("call-id", "cseq", "from") and name.lower() not in headers:
                headers[name.lower()] = value.strip()
        call_id, method = headers.get("call-id", ""), headers.get("cseq", "").split()[-1:] or [""]
        at = datetime.fromisoformat(stamp).timestamp()   # SIPp's local wall clock
        call = calls.get(call_id)
        if not sent and start.startswith("INVITE ") and call is None:
            user = re.search(r"sip:([^@>;]+)@", headers.get("from", ""))
            calls[call_id] = PhoneCall(phone, call_id, user.group(1) if user else "", at)
        elif call is None:
            continue
        elif sent and start.startswith("SIP/2.0 200") and method[0] == "INVITE" and call.answered is None:
            call.answered = at
        elif not sent and start.startswith("CANCEL ") and call.cancelled is None:
            call.cancelled = at
        elif sent and start.startswith("BYE ") and call.bye_sent is None:
            call.bye_sent = at
    return sorted(calls.values(), key=lambda c: c.invite)


def free_moments(calls: list[PhoneCall], waits: list[tuple[float, float]], phones: list[str]) -> list[FreeMoment]:
    """Every operator hang-up, the phone's next INVITE, and whether a caller was waiting for it."""
    by_phone: dict[str, list[PhoneCall]] = {name: [] for name in phones}
    for c in calls:
        by_phone.setdefault(c.phone, []).append(c)
    out = []
    for phone, mine in by_phone.items():
        for c in mine:
            if c.bye_sent is None:
                continue
            t = c.bye_sent
            nxt = next((o.invite for o in mine if o.invite > t), None)
            waiting = sum(1 for start, end in waits if start <= t < end)
            ringing = sum(1 for o in calls if o.phone != phone and o.ringing[0] <= t < o.ringing[1])
            idle = sum(1 for other, theirs in by_phone.items() if other != phone and _idle_at(theirs, t))
            out.append(FreeMoment(phone, t, nxt, waiting, ringing, idle, waiting - ringing > idle))
    return sorted(out, key=lambda m: m.at)


def _idle_at(calls: list[PhoneCall], t: float) -> bool:
    """The phone had hung up its last call before ``t`` and had not been rung again by ``t``."""
    before = [c for c in calls if c.invite <= t]
    if not before:
        return True
    last = before[-1]
    return last.bye_sent is not None and last.bye_sent <= t or last.ringing[1] <= t and last.answered is None
