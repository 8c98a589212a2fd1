"""The worker's less travelled paths, through the worker itself (HotlineWorker, RQ's SimpleWorker) in burst
mode: each run sweeps once, as at start, then runs every queued job, on a real database, a Redis server
of the test's own, real files and a real SMTP server (aiosmtpd).

- the hourly retention pass with ``[recordings] retention_days > 0``: old call recordings deleted, each
  in the AccessLog, the call rows kept, voicemails never purged;
- an e-mail job failing every retry, left alone by the sweep during FAILED_COOLDOWN, queued again after it;
- a transcription failing its last attempt: the last attempt really runs, then the message is failed and
  its ticket keeps the audio and says so; a last attempt whose worker died is failed too, not held for ever.
"""
from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select

from hotline.adapters.db.models import AccessLog, Call, Recording, Role, Voicemail, VoicemailStatus
from hotline.adapters.db.repository import AudioFacts, CallRepository
from hotline.adapters.jobqueue import FAILED_COOLDOWN, RETRY_INTERVALS, JobQueue, connect
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env
from hotline.services.tickets import FAILED_CONTENT
from hotline.worker.rqworker import HotlineWorker
from hotline.worker.runtime import Runtime
from hotline.worker.sweep import RETENTION_EVERY, sweep
from tests.support.audio import write_wav
from tests.support.redis_server import redis_server
from tests.support.smtp import SmtpSink, smtp_sink

NOW = datetime.fromisoformat("2027-03-10T10:00:00+07:00")    # a Wednesday morning on the hotline clock
QUEUE = "hotline"
SETTINGS = """\
[province]
name = "Đồng Tháp"
area_code = "0277"

[paths]
state_dir = "state"
recordings_root = "recordings"

[database]
url = "{database_url}"

[transcription]
engine = "{engine}"
model_dir = "no-vosk-model"
queue = "{queue}"
max_attempts = 2

[recordings]
retention_days = 30

[notifications]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
sender = "tongdai1022@dongthap.example.gov.vn"

[redis]
url = "{redis_url}"
"""


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture()
def sink() -> Iterator[SmtpSink]:
    """A mail server that refuses every message (as one in trouble does) until told otherwise."""
    with smtp_sink(refusing=True) as handler:
        yield handler


def make_runtime(tmp: Path, redis_url: str, *, database_url: str = "",
                 engine: str = "vosk", smtp_port: int = 25) -> Runtime:
    """The worker's Runtime on settings written as a province writes them, on the fake hotline clock NOW.
    ``engine`` vosk without its model: no speech engine is loaded (those tests need none)."""
    queue = f"{QUEUE}-{tmp.name}"
    settings = tmp / "province.toml"
    settings.write_text(SETTINGS.format(database_url=database_url or f"sqlite:///{tmp}/hotline.db", engine=engine,
                                        queue=queue, smtp_port=smtp_port, redis_url=redis_url), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(fake_clock_env(NOW))
    return Runtime.build(load_context(settings, env))


def fetch_job(rt: Runtime, job_id: str) -> Job:
    """A job as the hotline writes them (JSON)."""
    return Job.fetch(job_id, connection=rt.jobs.connection, serializer=JSONSerializer)


def run_worker(rt: Runtime) -> None:
    """The worker as `hotline up` runs it, in burst mode: one sweep (as at start), then every queued job."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker = HotlineWorker([rt.ctx.settings.transcription.queue], connection=rt.jobs.connection, runtime=rt)
    try:
        worker.work(burst=True, logging_level="WARNING")
    finally:                       # RQ installs its own; pytest's process keeps its
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def recorded_call(rt: Runtime, call_id: str, at: datetime, *, voicemail: bytes | None = None) -> dict[str, Path]:
    """A finished call with its recording on disk (and a voice message: ``voicemail``'s bytes); its files."""
    root = Path(rt.ctx.settings.paths.recordings_root)
    day = at.astimezone(rt.ctx.settings.tz).strftime("%Y/%m/%d")
    repo = CallRepository(rt.sessions)
    repo.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=at, answered_at=at)
    files = {"recording": write_wav(root / day / f"{call_id}.wav", 2.0)}
    repo.add_recording(call_id, facts(root, files["recording"], 2.0), at + timedelta(seconds=60))
    if voicemail is not None:
        files["voicemail"] = root / day / f"{call_id}.voicemail.wav"
        files["voicemail"].write_bytes(voicemail)
        repo.add_voicemail(call_id, facts(root, files["voicemail"], 8.0), status=VoicemailStatus.PENDING,
                           ended_by="pound", created_at=at + timedelta(seconds=50))
    repo.end_call(call_id, ended_at=at + timedelta(seconds=60),
                  disposition="voicemail" if voicemail is not None else "answered")
    return files


def facts(root: Path, path: Path, duration: float) -> AudioFacts:
    data = path.read_bytes()
    return AudioFacts(str(path.relative_to(root)), duration, hashlib.sha256(data).hexdigest(), len(data))


def voicemail_of(rt: Runtime, call_id: str) -> Voicemail:
    with rt.sessions() as s:
        vm = s.scalar(select(Voicemail).join(Call).where(Call.call_id == call_id))
        assert vm is not None
        return vm


# -- (c) the retention pass -------------------------------------------------------------------------

def test_the_hourly_retention_pass_deletes_old_recordings_and_keeps_calls_and_messages(
        tmp_path: Path, redis_url: str, database_url: str) -> None:
    rt = make_runtime(tmp_path, redis_url, database_url=database_url)
    old = recorded_call(rt, "hotline1-100", NOW - timedelta(days=40))
    message = write_wav(tmp_path / "message.wav", 8.0).read_bytes()
    old_vm = recorded_call(rt, "hotline1-101", NOW - timedelta(days=31), voicemail=message)
    recent = recorded_call(rt, "hotline1-102", NOW - timedelta(days=29))
    ticket = rt.tickets.for_voicemail(voicemail_of(rt, "hotline1-101").id)
    assert ticket is not None
    rt.tickets.answer(ticket["code"], "Đã hướng dẫn công dân", actor="lan")
    rt.tickets.close(ticket["code"], actor="lan")

    run_worker(rt)

    assert not old["recording"].exists() and not old_vm["recording"].exists()
    assert recent["recording"].exists()
    assert old_vm["voicemail"].read_bytes() == message          # a message is never purged
    with rt.sessions() as s:
        calls = {c.call_id: c for c in s.scalars(select(Call))}
        recordings = {r.call_id: r for r in s.scalars(select(Recording))}
        deleted = [(a.username, a.action, a.resource, a.call_id, a.detail["retention_days"])
                   for a in s.scalars(select(AccessLog).order_by(AccessLog.id))]
        vm = s.scalar(select(Voicemail))
    assert set(calls) == {"hotline1-100", "hotline1-101", "hotline1-102"}     # every call row kept
    gone = {call_id for call_id, c in calls.items() if recordings[c.id].deleted_at is not None}
    assert gone == {"hotline1-100", "hotline1-101"}
    root = Path(rt.ctx.settings.paths.recordings_root)
    assert deleted == [("system", "delete", str(old["recording"].relative_to(root)), "hotline1-100", 30),
                       ("system", "delete", str(old_vm["recording"].relative_to(root)), "hotline1-101", 30)]
    assert vm is not None and vm.path == str(old_vm["voicemail"].relative_to(root)) and vm.status == "pending"

    # hourly: a recording that is old enough now waits for the next pass, an hour after the last one
    later = recorded_call(rt, "hotline1-103", NOW - timedelta(days=35))
    run_worker(rt)
    assert later["recording"].exists()
    assert rt.retention_ran_at is not None
    rt.retention_ran_at -= RETENTION_EVERY                       # as an hour later
    run_worker(rt)
    assert not later["recording"].exists() and recent["recording"].exists()
    with rt.sessions() as s:
        assert s.scalar(select(AccessLog).where(AccessLog.call_id == "hotline1-103")) is not None


# -- (d) an e-mail failing every retry, then the sweep after the cooldown ----------------------------

def test_an_e_mail_failing_every_retry_is_queued_again_by_the_sweep_after_the_cooldown(
        tmp_path: Path, redis_url: str, sink: SmtpSink) -> None:
    mails = sink
    rt = make_runtime(tmp_path, redis_url, smtp_port=sink.port)
    recorded_call(rt, "hotline1-200", NOW - timedelta(hours=1))
    ticket = rt.tickets.create(channel="phone", caller="0912345678", content="Hỏi về cấp đổi giấy phép lái xe",
                               actor="lan", call_id="hotline1-200")
    ticket = rt.tickets.assign(ticket["code"], "department:03", actor="lan")
    job_id = f"notify-{ticket['id']}"

    # as shipped: three retries, 10, 60 and 300 s after each failure
    assert rt.jobs.notification(ticket["id"])
    shipped = fetch_job(rt, job_id)
    assert (shipped.retries_left, shipped.retry_intervals) == (3, list(RETRY_INTERVALS)) == (3, [10, 60, 300])
    shipped.delete()

    # the same retries without their waits, and a real clock the test moves on
    real = RealClock()
    rt.jobs = JobQueue(connect(rt.ctx.settings.redis.url), rt.ctx.settings.transcription.queue, rt.sessions,
                       rt.ctx.clock.offset_seconds, rt.tickets.deadlines, retry_intervals=(0, 0, 0), real_now=real)
    rt.jobs.after_change(ticket)
    run_worker(rt)
    job = fetch_job(rt, job_id)
    assert job.get_status() == JobStatus.FAILED and mails.refused == 4          # the first run and 3 retries
    assert "451" in (job.latest_result().exc_string or "")                  # type: ignore[union-attr]
    assert rt.tickets.by_id(ticket["id"])["notified_at"] is None          # type: ignore[index]

    real.advance(FAILED_COOLDOWN - timedelta(minutes=1))       # during the cooldown: the sweep leaves it
    run_worker(rt)
    assert mails.refused == 4 and fetch_job(rt, job_id).get_status() == JobStatus.FAILED

    mails.refusing = False                                     # the mail server is back
    real.advance(timedelta(minutes=2))                         # and the cooldown is over
    run_worker(rt)
    assert mails.refused == 4 and len(mails.received) == 1
    [mail] = mails.received
    assert sorted(mail.rcpt_tos) == sorted(f.email for f in rt.tickets.agency("department:03").focal_points)
    assert ticket["code"] in mail.message.as_string()
    assert fetch_job(rt, job_id).get_status() == JobStatus.FINISHED
    row = rt.tickets.by_id(ticket["id"])
    assert row is not None and row["notified_at"]
    assert [e["detail"]["sent"] for e in row["events"] if e["action"] == "notified"] == [True]
    run_worker(rt)                                             # and only once
    assert len(mails.received) == 1


class RealClock:
    """The real (UTC) clock RQ stamps jobs with, moved on by the test."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def advance(self, by: timedelta) -> None:
        self.ahead += by


# -- (e) a transcription failing its last attempt -----------------------------------------------------

def test_a_transcription_failing_its_last_attempt_leaves_the_ticket_with_its_audio_saying_so(
        tmp_path: Path, redis_url: str) -> None:
    from operator_console import create_app
    rt = make_runtime(tmp_path, redis_url, engine="viet-asr")      # the real engine, loaded
    unreadable = b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(4000)             # a broken file on disk
    files = recorded_call(rt, "hotline1-300", NOW - timedelta(minutes=5), voicemail=unreadable)
    vm = voicemail_of(rt, "hotline1-300")
    ticket = rt.tickets.for_voicemail(vm.id)
    assert ticket is not None
    run_worker(rt)                     # its sweep queues attempt 1; the job fails on the file
    vm = voicemail_of(rt, "hotline1-300")
    assert (vm.status, vm.attempts) == ("pending", 1) and vm.error and "CouldntDecodeError" in vm.error
    assert rt.engine_error is None     # the engine was there: the file is what failed
    assert sweep(rt)["transcriptions"] == 1                     # attempt 2 of max_attempts = 2, the last
    assert sweep(rt)["failed"] == 0                             # queued, not run yet: nobody gives up on it
    assert voicemail_of(rt, "hotline1-300").status == "pending"
    run_worker(rt)                     # the last attempt runs, and fails too
    vm = voicemail_of(rt, "hotline1-300")
    assert (vm.status, vm.attempts) == ("failed", 2) and vm.error and "CouldntDecodeError" in vm.error
    jobs = [fetch_job(rt, f"transcribe-{vm.id}-{n}") for n in (1, 2)]
    assert [j.get_status() for j in jobs] == [JobStatus.FAILED, JobStatus.FAILED]    # both ran and failed
    run_worker(rt)                     # and that is the end of it
    assert not Job.exists(f"transcribe-{vm.id}-3", connection=rt.jobs.connection)
    assert voicemail_of(rt, "hotline1-300").status == "failed"

    assert files["voicemail"].read_bytes() == unreadable                        # the audio stays
    row = rt.tickets.by_id(ticket["id"])
    assert row is not None and row["content"] == FAILED_CONTENT
    assert row["voicemail"]["status"] == "failed" and row["voicemail"]["path"].endswith(".voicemail.wav")
    [failed] = [e for e in row["events"] if e["action"] == "transcription_failed"]
    assert failed["actor"] == "worker" and "CouldntDecodeError" in failed["detail"]["error"]

    app = create_app(rt.ctx, testing=True)                  # what a supervisor reads on the ticket's page
    app.extensions["hotline"].users.add("binh", "Trần Văn Bình", Role.SUPERVISOR, "mật-khẩu-đủ-dài")
    client = signed_in(app, "binh", "mật-khẩu-đủ-dài")
    page = client.get(f"/tickets/{ticket['code']}").get_data(as_text=True)
    assert FAILED_CONTENT in page and "Không chuyển được lời nói thành chữ" in page and 'id="vm-audio"' in page
    audio = client.get(f"/tickets/{ticket['code']}/audio/voicemail")
    assert audio.status_code == 200 and audio.data == unreadable


def signed_in(app: Any, username: str, password: str) -> Any:
    import re
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    assert client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token.group(1)}).status_code == 302
    return client


def test_a_last_attempt_whose_worker_died_fails_the_message_instead_of_holding_it(
        tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last attempt's job was killed half-way: its claim runs out, and the message is failed (not left
    "transcribing" for ever), its ticket saying so."""
    from hotline.worker.jobs import store
    rt = make_runtime(tmp_path, redis_url, engine="viet-asr")
    recorded_call(rt, "hotline1-400", NOW - timedelta(minutes=5), voicemail=write_wav(tmp_path / "m.wav", 3.0)
                  .read_bytes())
    vm = voicemail_of(rt, "hotline1-400")
    ticket = rt.tickets.for_voicemail(vm.id)
    assert ticket is not None
    with rt.sessions.begin() as s:                  # attempt 2 of 2 was queued, and its worker claimed it
        s.get(Voicemail, vm.id).attempts = 2        # type: ignore[union-attr]
    assert store(rt).claim(vm.id) is not None       # ... then was killed: nothing renews the claim
    assert sweep(rt)["failed"] == 0                 # while the claim holds, it may still be running
    monkeypatch.setattr(rt.ctx.clock, "now", lambda: NOW + timedelta(minutes=1))     # the lease (15 s) ran out
    assert sweep(rt) == {**dict.fromkeys(("tickets", "transcriptions", "notifications", "milestones", "purged",
                                          "messages", "transcripts", "ticket_content", "caller_numbers",
                                          "asterisk_logs", "access_log", "orphan_files", "replies", "answers",
                                          "codes", "suggestions", "callbacks_placed", "callbacks_ticketed"), 0),
                         "failed": 1}
    vm = voicemail_of(rt, "hotline1-400")
    assert vm.status == "failed" and vm.error and "stopped without finishing" in vm.error
    assert rt.tickets.by_id(ticket["id"])["content"] == FAILED_CONTENT   # type: ignore[index]
