"""Voice messages in: the one path from a closed message file to its rows, its ticket and its work.

Every channel that takes a message (the ARI app, its reconciler after a restart, the dialplan's
fallback through the AGI server) hands the file's facts to :class:`MessageIntake`. It keeps every
file as a Voicemail row (a message shorter than ``[voicemail] min_seconds`` is kept as
``too_short`` and makes no ticket), makes the ticket at once, and queues the transcription and
the deadline reminders. Synchronous, like the ticket service (asyncio callers use a thread).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotline.adapters.db.models import VoicemailStatus
from hotline.adapters.db.repository import AudioFacts, CallRepository
from hotline.adapters.jobqueue import JobQueue
from hotline.services.tickets import TicketService

log = logging.getLogger("hotline.intake.voice")


@dataclass(frozen=True)
class SavedMessage:
    """A message's rows: its Voicemail's id and its ticket (None: too short to be a ticket). Both None:
    the message waits in the ARI app's call-log spool for the database (its rows come at replay)."""

    voicemail_id: int | None
    ticket: dict[str, Any] | None

    @property
    def ticket_code(self) -> str | None:
        return self.ticket["code"] if self.ticket else None


class MessageIntake:
    """Rows, the too-short rule, the ticket and the queued work of every voice message.

    Args:
        calls: the call log (the message's call row must exist).
        tickets: makes the message's ticket.
        min_seconds: shorter messages are kept as ``too_short``, with no ticket.
        now: the hotline's clock.
        jobs: the worker's queue; None: the worker's sweep queues the work.
    """

    def __init__(self, calls: CallRepository, tickets: TicketService, min_seconds: float,
                 now: Callable[[], datetime], jobs: JobQueue | None = None) -> None:
        self.calls = calls
        self.tickets = tickets
        self.min_seconds = min_seconds
        self.now = now
        self.jobs = jobs

    def save(self, call_id: str, facts: AudioFacts, *, ended_by: str, created_at: datetime | None = None,
             category: str | None = None, agency: str | None = None) -> SavedMessage:
        """The message's Voicemail row and, unless it is too short, its ticket (both idempotent). ``category``
        and ``agency`` ("kind:code"): what the flow's message node makes its ticket (None: the first category,
        no agency), kept on the row."""
        too_short = facts.duration < self.min_seconds
        status = VoicemailStatus.TOO_SHORT if too_short else VoicemailStatus.PENDING
        voicemail_id = self.calls.add_voicemail(call_id, facts, status=status, ended_by=ended_by,
                                                created_at=created_at or self.now(), category=category,
                                                agency=agency)
        log.info("call=%s voicemail %s: %.1f s, %s", call_id, facts.path, facts.duration, status)
        ticket = None if too_short else self.tickets.for_voicemail(voicemail_id)
        if ticket is not None:
            log.info("call=%s voicemail %s is ticket %s, due %s", call_id, voicemail_id, ticket["code"],
                     ticket["due_at"])
        return SavedMessage(voicemail_id, ticket)

    def queue_work(self, saved: SavedMessage) -> None:
        """Its transcription, deadline reminders, its agency's e-mail when it is assigned, and the text of its code
        to the caller ([sms] voicemail_code); a Redis outage only delays them (the worker's sweep)."""
        if self.jobs is None or saved.ticket is None or saved.voicemail_id is None:
            return
        try:
            self.jobs.transcription(saved.voicemail_id)
            self.jobs.after_change(saved.ticket)
            self.jobs.text_code(saved.ticket)
        except Exception:
            log.exception("voicemail=%s: work not queued; the worker's sweep will queue it", saved.voicemail_id)

    def take(self, call_id: str, facts: AudioFacts, *, ended_by: str, created_at: datetime | None = None,
             category: str | None = None, agency: str | None = None) -> SavedMessage:
        """:meth:`save` then :meth:`queue_work`, for callers that may wait on Redis."""
        saved = self.save(call_id, facts, ended_by=ended_by, created_at=created_at, category=category,
                          agency=agency)
        self.queue_work(saved)
        return saved
