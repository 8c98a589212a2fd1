"""Messages the way the ARI app leaves them at a voicemail hangup, then the wait for the worker's transcript.

``prepare`` is the call before the message (its Call row, the message file beside the others).
``hang_up`` is the hangup, as ``ari_app.services.save_voicemail`` does it: the file's facts (length,
SHA-256), the Voicemail row, its ticket, the transcription job enqueued (``JobQueue.transcription``),
then the ticket's reminders (``JobQueue.milestones``), in that order. ``wait`` polls the
database until each message's status is final; ``job_times`` reads RQ's own timestamps.
"""
from __future__ import annotations

import itertools
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rq.job import Job, JobStatus
from sqlalchemy import select

from ari_app.audio import audio_facts
from hotline.adapters.db.models import Ticket, Voicemail, VoicemailStatus
from hotline.adapters.db.repository import CallRepository
from hotline.adapters.jobqueue import JobQueue, connect
from hotline.domain.vocabulary import Disposition

from .instance import Instance

FINAL = (VoicemailStatus.TRANSCRIBED, VoicemailStatus.NO_SPEECH, VoicemailStatus.FAILED)
POLL_SECONDS = 0.02


@dataclass
class Message:
    length: float
    call_id: str
    path: Path
    voicemail_id: int = 0
    audio_s: float = 0.0
    hangup: float = 0.0             # time.time(): the hangup, before the writes
    queued: float = 0.0             # time.time(): the job enqueued (the writes done)
    done: float | None = None       # time.time(): first poll that saw the final status
    status: str = ""
    ticket_ok: bool = False         # the ticket's content is the transcript
    job: dict[str, Any] = field(default_factory=dict)   # RQ: enqueued/started/ended (epoch s), worker, result
    worker_cpu_s: float | None = None
    worker_faults: int | None = None

    @property
    def latency_s(self) -> float | None:
        return None if self.done is None else self.done - self.hangup

    @property
    def job_s(self) -> float | None:
        return self.job["ended"] - self.job["started"] if self.job.get("ended") else None


class Hangups:
    def __init__(self, instance: Instance) -> None:
        assert instance.ctx is not None and instance.sessions is not None
        self.instance = instance
        self.ctx = instance.ctx
        self.sessions = instance.sessions
        self.repo = CallRepository(self.sessions)
        self.tickets = self.ctx.tickets(self.sessions)
        self.redis = connect(instance.redis_server.url)
        self.jobs = JobQueue(self.redis, self.ctx.settings.transcription.queue, self.sessions,
                             self.ctx.clock.offset_seconds, self.tickets.deadlines)
        self._numbers = itertools.count(1)

    def prepare(self, source: Path, length: float) -> Message:
        """The call that will leave the message: its row, and the message file under the recordings root."""
        n = next(self._numbers)
        call_id = f"bench-transcribe-{os.getpid()}.{n}"
        path = self.instance.recordings / "voicemail" / f"{call_id}.voicemail.wav"
        try:
            os.link(source, path)
        except OSError:
            shutil.copyfile(source, path)
        answered = self.ctx.clock.now() - timedelta(seconds=length + 24)    # welcome, closed notice, beep
        self.repo.start_call(call_id, channel_id=call_id, caller=f"0277{n:07d}", dialled="1022",
                             started_at=answered - timedelta(seconds=1), answered_at=answered)
        return Message(length, call_id, path)

    def hang_up(self, m: Message) -> Message:
        m.hangup = time.time()
        facts = audio_facts(m.path, self.instance.recordings)
        m.audio_s = facts.duration
        m.voicemail_id = self.repo.add_voicemail(m.call_id, facts, status=VoicemailStatus.PENDING, ended_by="hangup",
                                                 created_at=self.ctx.clock.now())
        ticket = self.tickets.for_voicemail(m.voicemail_id)
        if ticket is None:
            raise RuntimeError(f"no ticket for voicemail {m.voicemail_id}")
        if not self.jobs.transcription(m.voicemail_id):
            raise RuntimeError(f"voicemail {m.voicemail_id}: the job could not be enqueued (Redis)")
        m.queued = time.time()
        self.jobs.milestones(ticket)        # the ticket's reminders, scheduled hours ahead
        self.repo.end_call(m.call_id, ended_at=self.ctx.clock.now(), disposition=Disposition.VOICEMAIL)
        return m

    def wait(self, messages: list[Message], timeout: float) -> None:
        """Poll every 20 ms until each message's status is final (transcribed, no speech, failed)."""
        waiting = {m.voicemail_id: m for m in messages if m.done is None}
        deadline = time.monotonic() + timeout
        while waiting:
            with self.sessions() as s:
                rows = s.execute(select(Voicemail.id, Voicemail.status).where(Voicemail.id.in_(list(waiting))))
                seen = time.time()
                for vm_id, status in rows:
                    if status in FINAL:
                        m = waiting.pop(vm_id)
                        m.done, m.status = seen, status
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"{len(waiting)} message(s) not transcribed within {timeout:.0f} s "
                                   f"(voicemails {sorted(waiting)})")
            if waiting:
                for w in self.instance.workers:
                    w.check_alive()
                time.sleep(POLL_SECONDS)

    def finish(self, messages: list[Message], timeout: float = 10.0) -> None:
        """RQ's timestamps of the job that did the work, and whether each ticket got the transcript."""
        for m in messages:
            m.job = self.job_times(m.voicemail_id, timeout)
            with self.sessions() as s:
                vm = s.get(Voicemail, m.voicemail_id)
                ticket = s.scalar(select(Ticket).where(Ticket.voicemail_id == m.voicemail_id))
                m.ticket_ok = vm is not None and ticket is not None and bool(vm.transcript) \
                    and ticket.content == vm.transcript

    def job_times(self, voicemail_id: int, timeout: float) -> dict[str, Any]:
        with self.sessions() as s:
            vm = s.get(Voicemail, voicemail_id)
            attempts = vm.attempts if vm is not None else 1
        deadline = time.monotonic() + timeout
        while True:
            for attempt in range(attempts, 0, -1):   # the newest job that did the work (not "skipped")
                job = _fetch(f"transcribe-{voicemail_id}-{attempt}", self.redis)
                if job is not None and job.get_status() == JobStatus.FINISHED:
                    job.refresh()       # get_status() refreshed the status only, not ended_at
                    result = job.return_value()
                    if isinstance(result, dict) and result.get("status") != "skipped":
                        return _times(job, result, attempts)
            if time.monotonic() > deadline:
                return {"attempts": attempts}
            time.sleep(POLL_SECONDS)


def _fetch(job_id: str, connection: Any) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except Exception:   # NoSuchJobError
        return None


def _times(job: Job, result: dict[str, Any], attempts: int) -> dict[str, Any]:
    def epoch(value: Any) -> float | None:
        return value.timestamp() if value is not None else None
    return {"id": job.id, "enqueued": epoch(job.enqueued_at), "started": epoch(job.started_at),
            "ended": epoch(job.ended_at), "worker": job.worker_name, "result": result, "attempts": attempts}
