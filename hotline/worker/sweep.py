"""The periodic sweep: whatever the database says is pending and Redis does not hold, queue again.

Redis keeps nothing on disk here, a worker may be killed half-way, the app may die between
saving a message and creating its ticket: the database is the truth, and this makes the
queue agree with it. Run by the worker at start and every [transcription] sweep_seconds.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hotline.adapters.db.models import Ticket, TicketStatus
from hotline.adapters.jobqueue import Enqueued
from hotline.domain.vocabulary import Channel
from hotline.intake import is_mobile, outbox
from hotline.intake.service import answer_key
from hotline.services.retention import enforce_retention
from hotline.worker.jobs import FLAGS, store
from hotline.worker.runtime import Runtime

log = logging.getLogger("hotline.worker.sweep")
RETENTION_EVERY = 3600.0     # seconds between two retention passes ([recordings], [retention])


def sweep(rt: Runtime) -> dict[str, int]:
    """One pass; returns how many of each kind of work it queued."""
    counts = {"tickets": 0, "transcriptions": 0, "notifications": 0, "milestones": 0, "failed": 0, "purged": 0,
              "messages": 0, "transcripts": 0, "ticket_content": 0, "caller_numbers": 0, "asterisk_logs": 0,
              "access_log": 0, "orphan_files": 0, "replies": 0, "answers": 0, "codes": 0, "suggestions": 0,
              "callbacks_placed": 0, "callbacks_ticketed": 0}
    vms = store(rt)
    for voicemail_id in vms.without_ticket():
        created = rt.tickets.for_voicemail(voicemail_id)
        if created is not None:
            counts["tickets"] += 1
            log.info("voicemail=%s had no ticket: created %s", voicemail_id, created["code"])
            rt.jobs.milestones(created)
    if rt.model_available():
        max_attempts = rt.ctx.settings.transcription.max_attempts
        for voicemail_id, attempts, stale in vms.needing_work(max_attempts):
            if stale:
                log.warning("voicemail=%s: its job stopped renewing its lease; queueing it again", voicemail_id)
            counts["transcriptions"] += rt.jobs.transcription(voicemail_id, attempts, stale) == Enqueued.NEW
        counts["failed"] = sum(vms.give_up(voicemail_id) for voicemail_id, attempts, stale in vms.spent(max_attempts)
                               if stale or not rt.jobs.transcription_live(voicemail_id, attempts))
    now = rt.now()
    for ticket in _open_tickets(rt):
        if ticket.status == TicketStatus.ASSIGNED and ticket.notified_at is None:
            counts["notifications"] += rt.jobs.notification(ticket.id) == Enqueued.NEW
        for name, at in rt.tickets.deadlines.milestones(ticket.received_at, ticket.deadline_hours).items():
            if at <= now and getattr(ticket, FLAGS[name]) is None:
                counts["milestones"] += rt.jobs.milestone_now({"id": ticket.id}, name, at) == Enqueued.NEW
    for code in _answers_not_sent(rt, now):
        counts["answers"] += rt.intake.answer_back(code, actor="worker") is not None
    for ticket_id in _codes_not_sent(rt, now):
        counts["codes"] += rt.intake.text_code(ticket_id) is not None
    for message_id in outbox.due(rt.sessions, now):
        counts["replies"] += rt.jobs.send_message(message_id) == Enqueued.NEW
    counts["suggestions"] = _retrain_due(rt, now)
    try:
        counts.update(rt.callback_sweep.run())
    except Exception:       # the call-backs failing (AMI, a ticket not written) must not stop retention below
        log.exception("sweep: the call-backs' pass failed; the next sweep tries again")
    last = rt.retention_ran_at      # None: not yet in this process (monotonic time may start near 0 at boot)
    if last is None or time.monotonic() - last >= RETENTION_EVERY:
        rt.retention_ran_at = time.monotonic()
        removed = enforce_retention(rt.sessions, Path(rt.ctx.settings.paths.recordings_root), now, rt.ctx.settings)
        counts["purged"] = removed.pop("recordings")
        counts.update(removed)
    if any(counts.values()):
        log.info("sweep: %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return counts


def _retrain_due(rt: Runtime, now: datetime) -> int:
    """Queue the nightly training of the ticket suggestions when the model is older than last night's
    [suggest] retrain_hour (or missing); 1 if queued now."""
    s = rt.ctx.settings
    if not s.suggest.enabled or not rt.suggest.due(now, s.tz, s.suggest.retrain_hour):
        return 0
    return int(rt.jobs.retrain_suggestions(f"{now.astimezone(s.tz):%Y-%m-%d}") == Enqueued.NEW)


def _answers_not_sent(rt: Runtime, now: datetime, days: int = 7) -> list[str]:
    """Codes of tickets answered in the last ``days`` with somebody to tell (hotline.intake's answer_target)
    whose answer has no message yet (its job was lost with Redis)."""
    with rt.sessions() as s:
        found = s.scalars(select(Ticket).options(selectinload(Ticket.messages)).where(
            Ticket.status.in_((TicketStatus.ANSWERED, TicketStatus.CLOSED)),
            Ticket.answered_at >= now - timedelta(days=days))).all()
        return [t.code for t in found if t.answer and rt.intake.answer_target(t) is not None
                and answer_key(t) not in {m.external_id for m in t.messages}]


def _codes_not_sent(rt: Runtime, now: datetime, days: int = 1) -> list[int]:
    """Voicemail tickets of the last ``days`` whose caller's text of the code was not written ([sms]
    voicemail_code on; the intake checks the number)."""
    if not rt.intake.sms_codes:
        return []
    with rt.sessions() as s:
        found = s.scalars(select(Ticket).options(selectinload(Ticket.messages)).where(
            Ticket.channel == Channel.VOICEMAIL, Ticket.received_at >= now - timedelta(days=days))).all()
        return [t.id for t in found
                if is_mobile(t.caller) and f"code:{t.id}" not in {m.external_id for m in t.messages}]


def _open_tickets(rt: Runtime, limit: int = 5000) -> list[Ticket]:
    """Open tickets that still have a notification, a reminder or the escalation ahead of them."""
    with rt.sessions() as s:
        q = (select(Ticket).where(Ticket.status.in_(TicketStatus.OPEN), Ticket.escalated_at.is_(None))
             .order_by(Ticket.due_at).limit(limit))
        return list(s.scalars(q))

