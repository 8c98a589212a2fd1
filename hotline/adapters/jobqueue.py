"""Putting work on the worker's RQ queue: the one place that enqueues, for every process.

Nothing here may lose work when Redis is down: an enqueue that fails is logged and
returns False, and the database still says what is pending, so the worker's sweep
enqueues it when Redis is back.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import TicketStatus, Voicemail
from hotline.domain.tickets.deadlines import DeadlineClock

log = logging.getLogger("hotline.adapters.jobqueue")

LIVE = {s.value for s in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)}
JOBS = "hotline.worker.jobs"
#: A job that failed every retry (the SMTP server down, say) is tried again by the sweep after this.
FAILED_COOLDOWN = timedelta(minutes=15)
#: Seconds between a notification's or milestone's failed run and its next retry (3 retries).
RETRY_INTERVALS = (10, 60, 300)


class Enqueued(IntEnum):
    """What an enqueue did: falsy only when Redis could not be reached."""

    REDIS_DOWN = 0
    ALREADY = 1      # a job for it is waiting, running or scheduled (or failed a moment ago)
    NEW = 2


def connect(url: str) -> redis.Redis:
    """A Redis connection that fails fast (a call must not wait on a dead Redis)."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


class JobQueue:
    """Enqueue transcriptions, notifications and deadline milestones."""

    def __init__(self, connection: redis.Redis, name: str, sessions: sessionmaker[Session],
                 offset_seconds: Callable[[], float], deadlines: DeadlineClock, *,
                 retry_intervals: tuple[int, ...] = RETRY_INTERVALS,
                 real_now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.connection = connection
        self.queue = Queue(name, connection=connection, serializer=JSONSerializer)   # the worker reads JSON only
        self.sessions = sessions
        self.offset_seconds = offset_seconds      # hotline clock minus real clock (HOTLINE_FAKE_NOW)
        self.deadlines = deadlines
        self.retry_intervals = retry_intervals
        self.real_now = real_now                  # the real clock RQ stamps jobs with (FAILED_COOLDOWN)

    def job_status(self, job_id: str) -> str | None:
        return self._job_status(job_id)[0]

    def _job_status(self, job_id: str) -> tuple[str | None, datetime | None]:
        """The job's status and when it ended (None, None: no such job, or Redis lost it)."""
        try:
            job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        except Exception:   # NoSuchJobError, or a job Redis lost
            return None, None
        status = job.get_status(refresh=False)
        ended = job.ended_at.replace(tzinfo=UTC) if job.ended_at and job.ended_at.tzinfo is None else job.ended_at
        return (None if status is None else JobStatus(status).value), ended

    def transcription(self, voicemail_id: int, attempts: int | None = None, stale: bool = False) -> Enqueued:
        """Enqueue a transcription of the voicemail unless its last job (``attempts``) is still live;
        ``stale``: that job stopped renewing its lease (its worker died), so queue a new one anyway.
        False if Redis is down."""
        try:
            live = attempts is not None and self.job_status(_transcribe_id(voicemail_id, attempts)) in LIVE
            if live and not stale:
                return Enqueued.ALREADY
            attempt = self._attempts(voicemail_id) + 1
            self.queue.enqueue(f"{JOBS}.transcribe_voicemail", voicemail_id,
                               job_id=_transcribe_id(voicemail_id, attempt), job_timeout=1800, result_ttl=3600,
                               failure_ttl=7 * 86400, description=f"transcribe voicemail {voicemail_id}")
        except redis.RedisError as exc:
            log.warning("voicemail=%s not queued for transcription (Redis: %s); the sweep will queue it",
                        voicemail_id, exc)
            return Enqueued.REDIS_DOWN
        with self.sessions.begin() as s:      # counted once it is really queued
            s.execute(update(Voicemail).where(Voicemail.id == voicemail_id).values(attempts=attempt))
        return Enqueued.NEW

    def transcription_live(self, voicemail_id: int, attempt: int) -> bool:
        """Whether the job of the voicemail's ``attempt`` is waiting, running or scheduled (False: over, or lost)."""
        return self.job_status(_transcribe_id(voicemail_id, attempt)) in LIVE

    def _attempts(self, voicemail_id: int) -> int:
        with self.sessions() as s:
            vm = s.get(Voicemail, voicemail_id)
            return vm.attempts if vm is not None else 0

    def notification(self, ticket_id: int) -> Enqueued:
        """E-mail the agency a forwarded ticket (with the call's recording)."""
        return self._enqueue(f"notify-{ticket_id}", f"{JOBS}.notify_assigned", ticket_id)

    def milestones(self, ticket: dict[str, Any]) -> bool:
        """Schedule the 50 % and 80 % reminders and the escalation of an open ticket."""
        received = datetime.fromisoformat(ticket["received_at"])
        ok = True
        for name, at in self.deadlines.milestones(received, ticket["deadline_hours"]).items():
            real_at = _whole_second_after(at - timedelta(seconds=self.offset_seconds()))
            job_id = f"{name}-{ticket['id']}-{int(at.timestamp())}"
            ok = bool(self._enqueue(job_id, f"{JOBS}.milestone", ticket["id"], name, at=real_at)) and ok
        return ok

    def milestone_now(self, ticket: dict[str, Any], name: str, at: datetime) -> Enqueued:
        """Run a reminder or escalation whose time has come (its scheduled job was lost or never made)."""
        return self._enqueue(f"{name}-{ticket['id']}-{int(at.timestamp())}", f"{JOBS}.milestone", ticket["id"], name)

    def send_message(self, message_id: int) -> Enqueued:
        """Send one of the hotline's messages to a citizen through its channel (hotline.intake.outbox)."""
        return self._enqueue(f"send-{message_id}", f"{JOBS}.send_message", message_id)

    def text_code(self, ticket: dict[str, Any]) -> Enqueued:
        """Text a voicemail caller their ticket's code ([sms] voicemail_code; the job checks the number)."""
        return self._enqueue(f"code-{ticket['id']}", f"{JOBS}.text_code", ticket["id"])

    def retrain_suggestions(self, day: str) -> Enqueued:
        """Train the ticket suggestions again (once a day: ``day`` is the local date)."""
        return self._enqueue(f"suggest-{day}", f"{JOBS}.retrain_suggestions")

    def after_change(self, ticket: dict[str, Any]) -> None:
        """What a new or changed ticket needs: its milestones scheduled, its agency told if just assigned."""
        if ticket["status"] in TicketStatus.OPEN:
            self.milestones(ticket)
        if ticket["status"] == TicketStatus.ASSIGNED and not ticket["notified_at"]:
            self.notification(ticket["id"])
        if ticket["status"] == TicketStatus.ANSWERED:
            self.answer_back(ticket)

    def answer_back(self, ticket: dict[str, Any]) -> Enqueued:
        """Send an answered ticket's answer to the citizen: through the channel they wrote from, or a text saying
        it is answered (hotline.intake: the job finds whom to write to, if anybody)."""
        answered = int(datetime.fromisoformat(ticket["answered_at"]).timestamp()) if ticket["answered_at"] else 0
        return self._enqueue(f"answer-{ticket['id']}-{answered}", f"{JOBS}.answer_back", ticket["code"])

    def _enqueue(self, job_id: str, func: str, *args: Any, at: datetime | None = None) -> Enqueued:
        try:
            status, ended = self._job_status(job_id)
            if status in LIVE:
                return Enqueued.ALREADY
            if status == JobStatus.FAILED.value and ended and self.real_now() - ended < FAILED_COOLDOWN:
                return Enqueued.ALREADY     # every retry failed just now: not again at every sweep
            retry = Retry(max=len(self.retry_intervals), interval=list(self.retry_intervals))
            kwargs: dict[str, Any] = {"job_id": job_id, "result_ttl": 86400, "failure_ttl": 7 * 86400,
                                      "retry": retry}
            if at is None:
                self.queue.enqueue(func, *args, **kwargs)
            else:
                self.queue.enqueue_at(at, func, *args, **kwargs)
            return Enqueued.NEW
        except redis.RedisError as exc:
            log.warning("%s not queued (Redis: %s); the sweep will queue it", job_id, exc)
            return Enqueued.REDIS_DOWN


def _whole_second_after(t: datetime) -> datetime:
    """``t`` rounded up to a whole second: RQ truncates a schedule to whole seconds, which would run it early."""
    whole = t.replace(microsecond=0)
    return whole if whole == t else whole + timedelta(seconds=1)


def _transcribe_id(voicemail_id: int, attempt: int) -> str:
    return f"transcribe-{voicemail_id}-{attempt}"
