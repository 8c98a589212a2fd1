"""Forwarding e-mail, reminders at 50 % and 80 % of the deadline and the escalation, end to end without Asterisk.

The real parts: a Redis server of the test's own on a free port, an SMTP server (aiosmtpd) that keeps
what it receives, and the real worker process (``rq worker --with-scheduler`` with HotlineWorker) on a
fake hotline clock shared through HOTLINE_FAKE_NOW / HOTLINE_FAKE_ANCHOR. The clock starts on a
working-day morning; tickets are received the evening before, so every instant is counted across a
night in working time. Not marked ``asterisk``: it runs in the normal suite.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from hotline.adapters.db.repository import AudioFacts, CallRepository
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env
from hotline.worker.runtime import Runtime
from tests.support.audio import write_tone
from tests.support.redis_server import redis_server
from tests.support.smtp import Received, SmtpSink, smtp_sink
from tests.support.stack import wait_for
from tooling.system.assembly import command

ROOT = Path(__file__).resolve().parents[2]
VN = ZoneInfo("Asia/Ho_Chi_Minh")
QUEUE = "hotline"
SUPERVISORS = ("giamsat-1022@example.gov.vn", "truongphong-1022@example.gov.vn")
#: Thursday 26 November 2026, a working day; the agencies' morning period starts at 07:00.
MORNING = datetime(2026, 11, 26, 7, 0, tzinfo=VN)
#: The tickets are received on Wednesday this long before 17:00 (the end of its working time).
EVENING_SECONDS = 2.0
#: How late a reminder may come after its instant: the scheduler's 1 s poll, a job, an SMTP exchange.
LATE = 4.0
SWEEP_SECONDS = 1
#: The same for a reminder the sweep catches up: it runs every SWEEP_SECONDS or up to twice that.
LATE_SWEPT = 2 * SWEEP_SECONDS + LATE


# -- fixtures: Redis, the sink, the worker --------------------------------------------------

@pytest.fixture(scope="module")
def reminders_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reminders")


@pytest.fixture(scope="module")
def redis_url(reminders_dir: Path) -> Iterator[str]:
    """A Redis server of this module's own (the machine's one on 6379 is never touched)."""
    with redis_server(reminders_dir) as url:
        yield url


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as handler:
        yield handler


@dataclass
class Hotline:
    """The test's side of the hotline: the same settings, database and fake clock as the worker."""

    rt: Runtime
    env: dict[str, str]
    recordings: Path
    worker_log: Path
    redis: redis.Redis

    @property
    def offset(self) -> float:
        return self.rt.ctx.clock.offset_seconds()

    def hotline_time(self, real: float) -> datetime:
        return datetime.fromtimestamp(real + self.offset, VN)

    def sweeps_logged(self) -> int:
        return self.worker_log.read_text(encoding="utf-8", errors="replace").count("cleaning registries")


SETTINGS = """\
[province]
name = "Đồng Tháp"
area_code = "0277"

[agency_hours]
days = ["mon", "tue", "wed", "thu", "fri"]
periods = [["07:00", "11:30"], ["13:30", "17:00"]]

[paths]
state_dir = "state"
recordings_root = "recordings"

[transcription]
model_dir = "no-vosk-model"
queue = "{queue}"
sweep_seconds = {sweep}

[notifications]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
sender = "tongdai1022@dongthap.example.gov.vn"
supervisors = [{supervisors}]

[redis]
url = "{redis_url}"
"""


@pytest.fixture(scope="module")
def hotline(reminders_dir: Path, redis_url: str, sink: SmtpSink) -> Iterator[Hotline]:
    """The real worker process on a fake clock that starts a second before Thursday 07:00."""
    settings = reminders_dir / "province.toml"
    settings.write_text(SETTINGS.format(queue=QUEUE, sweep=SWEEP_SECONDS, smtp_port=sink.port,
                                        supervisors=", ".join(f'"{a}"' for a in SUPERVISORS),
                                        redis_url=redis_url), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_SETTINGS": str(settings), "PYTHONUNBUFFERED": "1",
                **fake_clock_env(MORNING - timedelta(seconds=1))})
    rt = Runtime.build(load_context(settings, env))
    log_path = reminders_dir / "worker.log"
    log = log_path.open("ab")
    worker = subprocess.Popen(command("worker", redis_url, QUEUE), cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis.from_url(redis_url)

    def ready() -> bool:
        if worker.poll() is not None:
            pytest.fail(f"the worker exited at start:\n{log_path.read_text(errors='replace')}")
        return bool(client.exists(f"rq:scheduler-lock:{QUEUE}")) and bool(client.scard("rq:workers"))

    try:
        wait_for(ready, 30, "the worker and its scheduler")
        yield Hotline(rt, env, rt.ctx.settings.paths.recordings_root, log_path, client)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)      # the worker and the scheduler it forked
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=5)
        log.close()
        client.close()
        print(f"--- worker log ({log_path}) ---\n{log_path.read_text(errors='replace')[-6000:]}")


# -- helpers -------------------------------------------------------------------------------

@dataclass
class Plan:
    received_at: datetime
    deadline_hours: float
    instants: dict[str, datetime]


def plan(now: datetime, lead: float, overnight: bool = True) -> Plan:
    """A ticket whose 50 % instant comes ``lead`` seconds after ``now``, and its instants counted by hand.

    ``overnight``: received yesterday 2 s before 17:00, so 2 s of Wednesday's working time count, then
    Thursday from 07:00 on; otherwise received 2 s ago, this morning.
    """
    assert now >= MORNING, "the hotline clock is not past Thursday 07:00 yet"
    if overnight:
        received, counted_from, before = (MORNING - timedelta(days=1)).replace(hour=17) - timedelta(
            seconds=EVENING_SECONDS), MORNING, EVENING_SECONDS
    else:
        received = counted_from = now - timedelta(seconds=2)
        before = 0.0
        assert received >= MORNING
    worked = before + (now - counted_from).total_seconds()
    seconds = 2 * (worked + lead)
    instants = {name: counted_from + timedelta(seconds=share * seconds - before)
                for name, share in (("remind_50", 0.5), ("remind_80", 0.8), ("escalate", 1.0))}
    return Plan(received, seconds / 3600, instants)


def recorded_call(h: Hotline, call_id: str) -> bytes:
    """A call in the call log with its recording on disk; returns the recording's bytes."""
    relative = f"2026/11/25/{call_id}.wav"
    data = write_tone(h.recordings / relative, 1.0).read_bytes()      # as MixMonitor writes
    repo = CallRepository(h.rt.sessions)
    started = (MORNING - timedelta(days=1)).replace(hour=16, minute=58)
    repo.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=started,
                    answered_at=started)
    repo.add_recording(call_id, AudioFacts(relative, 1.0, hashlib.sha256(data).hexdigest(), len(data)), started)
    repo.end_call(call_id, ended_at=started + timedelta(seconds=60), disposition="answered")
    return data


def focal_points(h: Hotline, agency: str) -> list[str]:
    return [f.email for f in h.rt.tickets.agency(agency).focal_points]


def wait_past_morning(h: Hotline, seconds: float = 0.2) -> datetime:
    """The hotline time once it is ``seconds`` past Thursday 07:00."""
    return wait_for(lambda: (n := h.rt.now()) >= MORNING + timedelta(seconds=seconds) and n, 10 + seconds,
                    f"the hotline clock to pass 07:00:{seconds:04.1f}")


def kind_of(mail: Received) -> str:
    subject = str(mail.message["Subject"])
    for marker, kind in (("Nhắc hạn (50%)", "remind_50"), ("Nhắc hạn (80%)", "remind_80"),
                         ("QUÁ HẠN", "escalate"), ("chuyển", "notify")):
        if marker in subject:
            return kind
    raise AssertionError(f"an unexpected e-mail: {subject}")


def text_of(mail: Received) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None, "an e-mail without a text part"
    return str(body.get_content())


def mails_by_kind(sink: SmtpSink, code: str) -> dict[str, list[Received]]:
    out: dict[str, list[Received]] = {}
    for mail in sink.about(code):
        out.setdefault(kind_of(mail), []).append(mail)
    return out


FLAGS = {"remind_50": "reminded_50_at", "remind_80": "reminded_80_at", "escalate": "escalated_at"}


def check_milestones(h: Hotline, sink: SmtpSink, ticket: dict[str, Any], p: Plan, agency: str,
                     late: float) -> None:
    """Each reminder and the escalation arrived once, to the right people, at or at most ``late`` s after
    its instant, and the ticket records when."""
    code = ticket["code"]

    def all_mails() -> dict[str, list[Received]]:
        found = mails_by_kind(sink, code)
        return found if "escalate" in found else {}

    def escalated() -> dict[str, Any]:
        row = h.rt.tickets.by_id(ticket["id"])
        return row if row is not None and row["escalated_at"] else {}

    got = wait_for(all_mails, p.deadline_hours * 3600 + 15, f"the escalation e-mail of ticket {code}")
    row = wait_for(escalated, 10, f"ticket {code} to record its escalation")
    focal = focal_points(h, agency)
    for name, instant in p.instants.items():
        [mail] = got[name]
        expected_to = set(SUPERVISORS) | set(focal) if name == "escalate" else set(focal)
        assert set(mail.rcpt_tos) == expected_to, (name, mail.rcpt_tos)
        flagged = datetime.fromisoformat(row[FLAGS[name]])
        arrived = h.hotline_time(mail.real_time)
        assert instant <= flagged <= instant + timedelta(seconds=late), (name, instant, flagged)
        assert flagged <= arrived <= instant + timedelta(seconds=late + 1), (name, instant, arrived)
        [event] = [e for e in row["events"] if e["action"] == name]
        assert event["actor"] == "worker" and event["detail"]["planned_at"] == instant.isoformat()
        assert datetime.fromisoformat(event["detail"]["planned_at"]) == instant
    assert "đã quá hạn trả lời" in text_of(got["escalate"][0])
    assert "50% thời hạn" in text_of(got["remind_50"][0])


# -- the tests -----------------------------------------------------------------------------------

def test_forwarding_reminders_and_escalation_e_mails_at_their_working_time_instants(
        hotline: Hotline, sink: SmtpSink) -> None:
    h, mails = hotline, sink
    audio = recorded_call(h, "hotline1-1795600000.1")
    now = wait_past_morning(h)
    p = plan(now, lead=4.0)
    agency = "provincial_office:01"        # competence unclear: the People's Committee Office assigns it
    ticket = h.rt.tickets.create(channel="phone", caller="0912345678", content="Hỏi về quy hoạch đất ở",
                                 received_at=p.received_at, deadline_hours=p.deadline_hours, actor="op-lan",
                                 call_id="hotline1-1795600000.1")
    ticket = h.rt.tickets.assign(ticket["code"], agency, actor="op-lan", note="Nhiều cơ quan liên quan")
    assert [datetime.fromisoformat(ticket["due_at"])] == [p.instants["escalate"]]
    h.rt.jobs.after_change(ticket)
    code = ticket["code"]

    # the forwarding e-mail: to the office's focal points, a link to the ticket's page, no recording attached
    [notice] = wait_for(lambda: mails_by_kind(mails, code).get("notify", []), 15,
                        f"the forwarding e-mail of {code}")
    assert sorted(notice.rcpt_tos) == sorted(focal_points(h, agency)) and len(notice.rcpt_tos) == 2
    assert notice.mail_from == "tongdai1022@dongthap.example.gov.vn"
    assert "Văn phòng UBND tỉnh Đồng Tháp" in str(notice.message["Subject"])
    assert list(notice.message.iter_attachments()) == [] and audio
    body = text_of(notice)
    assert code in body and "Hỏi về quy hoạch đất ở" in body
    assert f"{h.rt.ctx.settings.notifications.console_url}/tickets/{code}" in body
    assert f"{p.instants['escalate']:%H:%M ngày %d/%m/%Y}" in body
    # the worker records the e-mail once the server took it: a moment after the sink has it
    wait_for(lambda: h.rt.tickets.by_id(ticket["id"])["notified_at"], 10,  # type: ignore[index]
             f"{code}'s e-mail recorded as sent")

    # the three milestones are in Redis's schedule, each at its instant on the real clock
    scheduled = ScheduledJobRegistry(QUEUE, connection=h.redis)
    for name, instant in p.instants.items():
        job_id = f"{name}-{ticket['id']}-{int(instant.timestamp())}"
        assert job_id in scheduled.get_job_ids() or Job.exists(job_id, connection=h.redis), job_id

    check_milestones(h, mails, ticket, p, agency, LATE)
    # they fired from Redis's schedule (created before their instant), not from the sweep
    for name, instant in p.instants.items():
        job = Job.fetch(f"{name}-{ticket['id']}-{int(instant.timestamp())}", connection=h.redis,
                        serializer=JSONSerializer)
        assert job.created_at is not None
        assert h.hotline_time(job.created_at.timestamp()) < instant, name


def test_a_lost_schedule_is_caught_up_by_the_sweep_exactly_once(hotline: Hotline, sink: SmtpSink
                                                                 ) -> None:
    h, mails = hotline, sink
    now = wait_past_morning(h, 2.5)        # received 2 s before now: this morning
    p = plan(now, lead=4.0, overnight=False)
    agency = "department:01"
    ticket = h.rt.tickets.create(channel="phone", caller="0912000111", content="Chứng thực bản sao",
                                 received_at=p.received_at, deadline_hours=p.deadline_hours, agency=agency,
                                 actor="op-lan")
    h.rt.jobs.after_change(ticket)
    code = ticket["code"]
    wait_for(lambda: mails_by_kind(mails, code).get("notify", []), 15, f"the forwarding e-mail of {code}")
    scheduled = ScheduledJobRegistry(QUEUE, connection=h.redis)
    assert len([j for j in scheduled.get_job_ids() if f"-{ticket['id']}-" in j]) == 3

    h.redis.flushdb()                   # Redis loses everything, the schedule included
    assert h.rt.now() < p.instants["remind_50"], "the flush came after the first instant: raise lead"
    assert scheduled.get_job_ids() == []

    check_milestones(h, mails, ticket, p, agency, LATE_SWEPT)
    # exactly once: two more sweeps later, still one e-mail and one event of each
    sweeps = h.sweeps_logged()
    wait_for(lambda: h.sweeps_logged() >= sweeps + 2, 15, "two more sweeps of the worker")
    kinds = mails_by_kind(mails, code)
    assert {k: len(v) for k, v in kinds.items()} == {"notify": 1, "remind_50": 1, "remind_80": 1, "escalate": 1}
    events = h.rt.tickets.by_id(ticket["id"])["events"]  # type: ignore[index]
    assert [e["action"] for e in events] == ["created", "assigned", "notified", "remind_50", "remind_80",
                                             "escalate"]
