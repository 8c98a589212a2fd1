"""Published answers: a ticket's question and answer on the public figures page (public_site/figures.py), shown
only once a supervisor approved its text.

The console's page (operator_console/publishing.py) lists the answered tickets not yet published with their words
redacted (hotline.domain.redact.redact_personal) and what was taken out; the supervisor edits the text and
approves it, or leaves it. Approval runs the detector again on the text as approved and refuses it while a phone
number, an e-mail or an ID number is still in it. A published answer can be withdrawn; it is then gone from the
page and stays withdrawn. Each approval and withdrawal is a TicketEvent (``published``, ``unpublished``): it is a
change of what the hotline says about the ticket, read in the ticket's timeline with every other change, and
counted by who made it; the AccessLog is for reads of personal data (the console logs the list it shows there).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import PublishedAnswer, Ticket, TicketEvent, TicketStatus
from hotline.domain.errors import HotlineError
from hotline.domain.redact import PLACEHOLDER, hard_findings, redact_personal

MAX_CHARS = 4000


class PublishingError(HotlineError, LookupError):
    """An approval or withdrawal that cannot be done; ``vi`` says why, in Vietnamese."""


@dataclass
class Publishing:
    """The published answers on ``sessions``."""

    sessions: sessionmaker[Session]
    now: Callable[[], datetime]

    def candidates(self, limit: int = 50) -> list[dict[str, Any]]:
        """Answered tickets with no published answer yet (approved or withdrawn), newest answered first, with
        their question and answer redacted."""
        with self.sessions() as s:
            done = select(PublishedAnswer.ticket_id)
            rows = s.execute(select(Ticket.code, Ticket.category, Ticket.content, Ticket.answer, Ticket.answered_at)
                             .where(Ticket.answer.is_not(None), Ticket.answer != "",
                                    Ticket.status.in_((TicketStatus.ANSWERED, TicketStatus.CLOSED)),
                                    Ticket.id.not_in(done))
                             .order_by(Ticket.answered_at.desc(), Ticket.id.desc()).limit(limit)).all()
        return [{"code": code, "category": category, "answered_at": answered_at,
                 "question": redact_personal(content or ""), "answer": redact_personal(answer or "")}
                for code, category, content, answer, answered_at in rows]

    def approve(self, code: str, question: str, answer: str, *, actor: str) -> dict[str, Any]:
        """Publish ``question`` and ``answer`` (as the supervisor approved them) for the ticket ``code``."""
        question, answer = question.strip(), answer.strip()
        _check(question, answer)
        with self.sessions.begin() as s:
            ticket = _answered(s, code)
            if s.scalar(select(PublishedAnswer.id).where(PublishedAnswer.ticket_id == ticket.id)) is not None:
                raise PublishingError(f"ticket {code} was already published or withdrawn",
                                      vi=f"Phiếu {code} đã được duyệt công bố hoặc đã gỡ trước đó.")
            removed = [*redact_personal(ticket.content or "").removed, *redact_personal(ticket.answer or "").removed]
            edited = (question, answer) != (redact_personal(ticket.content or "").text,
                                            redact_personal(ticket.answer or "").text)
            row = PublishedAnswer(ticket_id=ticket.id, question=question, answer=answer,
                                  removed=[{"kind": r.kind, "text": r.text} for r in removed],
                                  approved_by=actor, approved_at=self.now())
            s.add(row)
            s.add(TicketEvent(ticket_id=ticket.id, at=row.approved_at, actor=actor, action="published",
                              detail={"removed": len(removed), "edited": edited}))
            s.flush()
            return _view(row, code, ticket.category)

    def withdraw(self, code: str, *, actor: str) -> None:
        """Take the ticket ``code``'s published answer off the page (for good)."""
        with self.sessions.begin() as s:
            row = s.scalar(select(PublishedAnswer).join(Ticket).where(Ticket.code == code,
                                                                      PublishedAnswer.withdrawn_at.is_(None)))
            if row is None:
                raise PublishingError(f"ticket {code} has no published answer",
                                      vi=f"Phiếu {code} không có câu trả lời đang công bố.")
            row.withdrawn_at, row.withdrawn_by = self.now(), actor
            s.add(TicketEvent(ticket_id=row.ticket_id, at=row.withdrawn_at, actor=actor, action="unpublished",
                              detail={}))

    def published(self, limit: int = 20) -> list[dict[str, Any]]:
        """The answers on the page now (approved, not withdrawn), newest approved first."""
        with self.sessions() as s:
            rows = s.execute(select(PublishedAnswer, Ticket.code, Ticket.category).join(Ticket)
                             .where(PublishedAnswer.withdrawn_at.is_(None))
                             .order_by(PublishedAnswer.approved_at.desc(), PublishedAnswer.id.desc())
                             .limit(limit)).all()
            return [_view(row, code, category) for row, code, category in rows]


def _answered(s: Session, code: str) -> Ticket:
    ticket = s.scalar(select(Ticket).where(Ticket.code == code))
    if ticket is None or not ticket.answer:
        raise PublishingError(f"no answered ticket {code}", vi=f"Không có phiếu {code} đã được trả lời.")
    return ticket


def _check(question: str, answer: str) -> None:
    """Refuse an empty or too long text, or one where the detector still finds a number, an e-mail or an ID."""
    if not question or not answer:
        raise PublishingError("question and answer are both needed", vi="Cần cả câu hỏi và câu trả lời để công bố.")
    if len(question) > MAX_CHARS or len(answer) > MAX_CHARS:
        raise PublishingError("text too long", vi=f"Mỗi phần tối đa {MAX_CHARS} ký tự; hãy rút gọn.")
    found = [*hard_findings(question), *hard_findings(answer)]
    if found:
        what = ", ".join(sorted({PLACEHOLDER[r.kind].strip("[]") for r in found}))
        raise PublishingError(f"still holds personal data: {what}",
                              vi=f"Chưa công bố: nội dung vẫn còn {what} ({', '.join(r.text for r in found)}). "
                                 "Hãy xoá hoặc thay bằng chữ trong ngoặc vuông rồi duyệt lại.")


def _view(row: PublishedAnswer, code: str, category: str) -> dict[str, Any]:
    return {"code": code, "category": category, "question": row.question, "answer": row.answer,
            "approved_by": row.approved_by, "approved_at": row.approved_at, "withdrawn_at": row.withdrawn_at}

