"""The worker's claim on a voicemail, and what it writes back: one conditional UPDATE each.

A job first claims the message (status transcribing, lease_until); it renews the lease
while the engine runs. A job killed half-way stops renewing: once the lease has run out the
sweep queues the message again, and the next claim wins. However often a job runs,
there is one ticket per voicemail (tickets.voicemail_id is unique) and one transcript.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Ticket, TicketEvent, Voicemail, VoicemailStatus
from hotline.adapters.speech.transcript import Transcript
from hotline.services.tickets import FAILED_CONTENT, NO_SPEECH_CONTENT, WAITING_CONTENT

S = VoicemailStatus
#: Why a message failed whose last job stopped renewing its claim (its worker was killed or stopped).
STOPPED = "the last attempt stopped without finishing (its worker was killed or stopped)"


@dataclass(frozen=True)
class Claimed:
    voicemail_id: int
    path: Path
    duration: float


class VoicemailStore:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime], recordings_root: Path,
                 lease_seconds: float) -> None:
        self.sessions = sessions
        self.now = now
        self.root = recordings_root
        self.lease = timedelta(seconds=lease_seconds)

    def claim(self, voicemail_id: int) -> Claimed | None:
        """Take the message for transcription; None if it is done, too short, or another job holds it."""
        now = self.now()
        free = or_(Voicemail.status == S.PENDING,
                   and_(Voicemail.status == S.TRANSCRIBING,
                        or_(Voicemail.lease_until.is_(None), Voicemail.lease_until < now)))
        with self.sessions.begin() as s:
            taken = s.execute(update(Voicemail).where(Voicemail.id == voicemail_id, free)
                              .values(status=S.TRANSCRIBING, lease_until=now + self.lease, error=None))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            vm = s.get(Voicemail, voicemail_id)
            assert vm is not None
            return Claimed(vm.id, self.root / vm.path, vm.duration)

    def renew(self, voicemail_id: int) -> None:
        with self.sessions.begin() as s:
            s.execute(update(Voicemail).where(Voicemail.id == voicemail_id, Voicemail.status == S.TRANSCRIBING)
                      .values(lease_until=self.now() + self.lease))

    def release(self, voicemail_id: int, error: str, failed: bool = False) -> None:
        """Give the message back (still pending, with why), or mark it failed for good (its ticket says so)."""
        with self.sessions.begin() as s:
            done = s.execute(update(Voicemail).where(Voicemail.id == voicemail_id, Voicemail.status.in_(S.WAITING))
                             .values(status=S.FAILED if failed else S.PENDING, lease_until=None, error=error[:2000]))
            if failed and done.rowcount == 1:  # type: ignore[attr-defined]
                self._failed_on_ticket(s, voicemail_id, error)

    def finish(self, voicemail_id: int, result: Transcript, model: str) -> tuple[str, str | None]:
        """Store the transcript on the voicemail and its ticket; returns (status, ticket code)."""
        status = S.TRANSCRIBED if result.has_speech else S.NO_SPEECH
        now = self.now()
        with self.sessions.begin() as s:
            vm = s.get(Voicemail, voicemail_id)
            assert vm is not None
            machine_text = ("", WAITING_CONTENT, NO_SPEECH_CONTENT, FAILED_CONTENT, vm.transcript)   # not an operator's
            vm.status, vm.transcript, vm.words, vm.confidence = status, result.text, result.words, result.confidence
            vm.transcript_raw = result.raw_text
            vm.model, vm.transcribed_at, vm.lease_until, vm.error = model, now, None, None
            ticket = s.scalar(select(Ticket).where(Ticket.voicemail_id == voicemail_id))
            if ticket is None:
                return status, None
            if ticket.content in machine_text:     # an operator's own text is never overwritten
                ticket.content = result.text if result.has_speech else NO_SPEECH_CONTENT
            s.add(TicketEvent(ticket=ticket, at=now, actor="worker", action="transcribed" if result.has_speech
                              else "no_speech", detail={"model": model, "confidence": result.confidence,
                                                        "words": len(result.words)}))
            return status, ticket.code

    def needing_work(self, max_attempts: int, limit: int = 200) -> list[tuple[int, int, bool]]:
        """(id, attempts, stale) of messages to queue: pending, or held by a job whose lease ran out (stale)."""
        now = self.now()
        with self.sessions() as s:
            q = (select(Voicemail.id, Voicemail.attempts, Voicemail.status == S.TRANSCRIBING)
                 .where(or_(Voicemail.status == S.PENDING,
                            and_(Voicemail.status == S.TRANSCRIBING, Voicemail.lease_until < now)),
                        Voicemail.attempts < max_attempts)
                 .order_by(Voicemail.id).limit(limit))
            return [(row[0], row[1], bool(row[2])) for row in s.execute(q)]

    def spent(self, max_attempts: int, limit: int = 200) -> list[tuple[int, int, bool]]:
        """(id, attempts, stale) of messages with every attempt queued or run and no transcript: pending after
        a failed attempt, or held by a job whose lease ran out (stale). The sweep gives up on those whose last
        job is over (``give_up``); a last attempt still waiting in the queue runs first."""
        now = self.now()
        with self.sessions() as s:
            q = (select(Voicemail.id, Voicemail.attempts, Voicemail.status == S.TRANSCRIBING)
                 .where(Voicemail.attempts >= max_attempts, self._spent(now)).order_by(Voicemail.id).limit(limit))
            return [(row[0], row[1], bool(row[2])) for row in s.execute(q)]

    def give_up(self, voicemail_id: int) -> bool:
        """Mark failed a message whose last attempt is over (its audio and ticket stay, and the ticket says so)."""
        now = self.now()
        with self.sessions.begin() as s:
            done = s.execute(update(Voicemail).where(Voicemail.id == voicemail_id, self._spent(now))
                             .values(status=S.FAILED, lease_until=None,
                                     error=func.coalesce(Voicemail.error, STOPPED)))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return False
            self._failed_on_ticket(s, voicemail_id, s.scalar(select(Voicemail.error)
                                                             .where(Voicemail.id == voicemail_id)) or "")
            return True

    @staticmethod
    def _spent(now: datetime) -> Any:
        return or_(and_(Voicemail.status == S.PENDING, Voicemail.error.is_not(None)),
                   and_(Voicemail.status == S.TRANSCRIBING, Voicemail.lease_until < now))

    def _failed_on_ticket(self, s: Session, voicemail_id: int, error: str) -> None:
        """The ticket of a message that cannot be transcribed says so (unless an operator wrote its text)."""
        ticket = s.scalar(select(Ticket).where(Ticket.voicemail_id == voicemail_id))
        if ticket is None:
            return
        if ticket.content in ("", WAITING_CONTENT):
            ticket.content = FAILED_CONTENT
        s.add(TicketEvent(ticket=ticket, at=self.now(), actor="worker", action="transcription_failed",
                          detail={"error": error[:500]}))

    def without_ticket(self, limit: int = 200) -> list[int]:
        """Messages (not too short) that have no ticket yet: the app died between the two writes."""
        with self.sessions() as s:
            q = (select(Voicemail.id).outerjoin(Ticket, Ticket.voicemail_id == Voicemail.id)
                 .where(Ticket.id.is_(None), Voicemail.status != S.TOO_SHORT).order_by(Voicemail.id).limit(limit))
            return list(s.scalars(q))
