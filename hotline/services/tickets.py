"""Tickets: create, forward, answer and close them, each change written as a TicketEvent.

Synchronous on purpose (asyncio processes call it through ``asyncio.to_thread``).
Everything that must survive a Redis or worker outage happens here, in the
database: a voicemail's ticket is created the moment the message is saved.
A change then schedules its own follow-up jobs on the worker's queue (the agency's
e-mail, the deadline reminders, a transcription), whoever made it: the console or
the command line. A Redis outage only delays them (the worker's sweep queues them).
"""
from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, column, func, literal_column, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from hotline.adapters.db.models import (
    Attachment,
    Call,
    Recording,
    Ticket,
    TicketEvent,
    TicketStatus,
    Voicemail,
    VoicemailStatus,
)
from hotline.domain.directory import Directory
from hotline.domain.errors import HotlineError
from hotline.domain.labels import CALL_OUTCOME, TICKET_STATUS
from hotline.domain.tickets import codes
from hotline.domain.tickets.categories import Categories, Category
from hotline.domain.tickets.deadlines import DeadlineClock
from hotline.domain.tickets.nearby import Hotspot
from hotline.domain.vocabulary import CallOutcome
from hotline.services import nearby
from hotline.services.nearby import NearbyRules

if TYPE_CHECKING:
    from hotline.adapters.jobqueue import JobQueue

# Which status may follow which; anything else is refused with the list of what is allowed.
MOVES: dict[str, tuple[str, ...]] = {
    TicketStatus.NEW: (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.ANSWERED,
                       TicketStatus.OUT_OF_SCOPE, TicketStatus.DUPLICATE),
    TicketStatus.ASSIGNED: (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.ANSWERED,
                            TicketStatus.OUT_OF_SCOPE, TicketStatus.DUPLICATE),
    TicketStatus.IN_PROGRESS: (TicketStatus.ASSIGNED, TicketStatus.ANSWERED, TicketStatus.OUT_OF_SCOPE,
                               TicketStatus.DUPLICATE),
    TicketStatus.ANSWERED: (TicketStatus.CLOSED, TicketStatus.IN_PROGRESS),
    TicketStatus.CLOSED: (),
    TicketStatus.OUT_OF_SCOPE: (),
    TicketStatus.DUPLICATE: (),
}
STATUS_VI = TICKET_STATUS          # the one table of labels: hotline/domain/labels.py
WAITING_CONTENT = "(Lời nhắn thoại đang chờ chuyển thành văn bản.)"
NO_SPEECH_CONTENT = "(Lời nhắn thoại không có tiếng nói.)"
FAILED_CONTENT = "(Không chuyển được lời nhắn thoại thành văn bản: hãy nghe lời nhắn.)"
_CODE_TRIES = 20
log = logging.getLogger("hotline.services.tickets")


class TicketError(HotlineError, LookupError):
    """A ticket operation that cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class Citizen:
    """What a citizen gave of themselves and of the place through a written channel (all optional): their
    name, e-mail, and the address and map point (WGS 84) the request is about. Their phone number is the
    ticket's ``caller``, as on the phone."""

    name: str = ""
    email: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class TicketService:
    """Tickets on ``sessions``; ``jobs``: the worker's queue its changes schedule their jobs on (None:
    nothing scheduled, the worker's sweep finds the work)."""

    sessions: sessionmaker[Session]
    now: Callable[[], datetime]
    deadlines: DeadlineClock
    categories: Categories
    directory: Directory
    code_digits: int = 7
    jobs: JobQueue | None = None
    rules: NearbyRules = NearbyRules()

    # -- creating ------------------------------------------------------------------
    def create(self, *, channel: str, caller: str = "", content: str = "", category: str | None = None,
               agency: str | None = None, received_at: datetime | None = None, actor: str = "system",
               call_id: str | None = None, deadline_hours: float | None = None, citizen: Citizen | None = None,
               with_ticket: Callable[[Session, Ticket], None] | None = None) -> dict[str, Any]:
        """A new ticket (an operator's, or from another channel); returns it as a dict. ``citizen``: the
        contact and place a written channel gave; ``with_ticket``: run in the ticket's own transaction once it
        has its id (the intake's message rows: both are written, or neither)."""
        cat = self.categories.get(category) if category else self.categories.default
        if agency is not None:
            self.agency(agency)
        with self.sessions.begin() as s:
            call = s.scalar(select(Call).where(Call.call_id == call_id)) if call_id else None
            if call_id and call is None:
                raise TicketError(f"no call {call_id!r} in the call log; see `hotline calls`",
                                  vi="Không tìm thấy cuộc gọi này trong nhật ký cuộc gọi; hãy lưu phiếu không gắn "
                                     "cuộc gọi hoặc thử lại.")
            ticket = self._new(s, channel=channel, caller=caller, content=content, category=cat.code,
                               received_at=received_at or self.now(), hours=deadline_hours or cat.deadline_hours,
                               call=call, actor=actor, citizen=citizen)
            if agency:
                self._move(s, ticket, TicketStatus.ASSIGNED, actor, {"agency": agency})
                ticket.agency = agency
            if with_ticket is not None:
                with_ticket(s, ticket)
            nearby.flag(s, ticket, self.rules, self._event)
            created = ticket_to_dict(ticket)
        return self._followed_up(created)

    def for_voicemail(self, voicemail_id: int) -> dict[str, Any] | None:
        """The voicemail's ticket, created now if it has none (idempotent; None for a too-short message)."""
        for _ in range(2):
            try:
                with self.sessions.begin() as s:
                    vm = s.get(Voicemail, voicemail_id)
                    if vm is None:
                        raise TicketError(f"no voicemail {voicemail_id}",
                                          vi=f"Không có lời nhắn thoại số {voicemail_id}.")
                    if vm.ticket is not None:
                        return ticket_to_dict(vm.ticket)
                    if vm.status == VoicemailStatus.TOO_SHORT:
                        return None
                    cat = self._message_category(vm)
                    ticket = self._new(s, channel="voicemail", caller=vm.call.caller,
                                       content=_voicemail_content(vm), category=cat.code,
                                       received_at=vm.created_at, hours=cat.deadline_hours,
                                       call=vm.call, actor="system", voicemail=vm)
                    if vm.agency and self._known_agency(vm.agency):   # the flow's message node names it
                        self._move(s, ticket, TicketStatus.ASSIGNED, "system", {"agency": vm.agency})
                        ticket.agency = vm.agency
                    nearby.flag(s, ticket, self.rules, self._event)
                    return ticket_to_dict(ticket)
            except IntegrityError:   # another process created it at the same moment: read theirs
                continue
        with self.sessions() as s:
            found = s.scalar(select(Ticket).where(Ticket.voicemail_id == voicemail_id))
            return ticket_to_dict(found) if found else None

    def _message_category(self, vm: Voicemail) -> Category:
        """The category the flow gave the message (the default one if none, or one no longer in the file)."""
        if vm.category and vm.category in self.categories:
            return self.categories.get(vm.category)
        if vm.category:
            log.warning("voicemail=%s: category %r is not in ticket_categories.yaml; the default is used",
                            vm.id, vm.category)
        return self.categories.default

    def _known_agency(self, key: str) -> bool:
        kind, _, code = key.partition(":")
        if self.directory.find(kind, code) is None:
            log.warning("no agency %r in the transfer directory: the message's ticket stays unassigned", key)
            return False
        return True

    def _new(self, s: Session, *, channel: str, caller: str, content: str, category: str, received_at: datetime,
             hours: float, call: Call | None, actor: str, voicemail: Voicemail | None = None,
             citizen: Citizen | None = None) -> Ticket:
        c = citizen or Citizen()
        ticket = Ticket(code=self._free_code(s), channel=channel, caller=caller, content=content,
                        category=category, status=TicketStatus.NEW, received_at=received_at,
                        deadline_hours=hours, due_at=self.deadlines.due(received_at, hours), call=call,
                        voicemail=voicemail, contact_name=c.name or None, contact_email=c.email or None,
                        address=c.address or None, latitude=c.latitude, longitude=c.longitude)
        s.add(ticket)
        s.flush()
        self._event(s, ticket, actor, "created", {"channel": channel, "category": category,
                                                  "deadline_hours": hours, "due_at": ticket.due_at.isoformat()})
        return ticket

    def _free_code(self, s: Session) -> str:
        for _ in range(_CODE_TRIES):
            code = codes.new_code(self.code_digits)
            if s.scalar(select(Ticket.id).where(Ticket.code == code)) is None:
                return code
        raise TicketError(f"no free ticket code of {self.code_digits} digits; raise [tickets] code_digits",
                          vi="Hết mã phiếu còn trống; báo bộ phận kỹ thuật tăng [tickets] code_digits.")

    # -- reading -------------------------------------------------------------------
    def get(self, code: str) -> dict[str, Any] | None:
        with self.sessions() as s:
            ticket = s.scalar(_full().where(Ticket.code == code))
            return ticket_to_dict(ticket, events=True) if ticket else None

    def by_id(self, ticket_id: int) -> dict[str, Any] | None:
        with self.sessions() as s:
            ticket = s.scalar(_full().where(Ticket.id == ticket_id))
            return ticket_to_dict(ticket, events=True) if ticket else None

    def published(self, *, since: datetime, until: datetime, codes: Sequence[str] = (),
                  statuses: Sequence[str] = (), categories: Sequence[str] = (), limit: int = 1000,
                  ) -> list[dict[str, Any]]:
        """Tickets received from ``since`` to ``until`` (or those of ``codes``, whenever received: the window
        and the other filters then do not apply), newest received first, with their events: what an open
        data reader (Open311) is given a view of."""
        q = _full().order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(limit)
        if codes:
            q = q.where(Ticket.code.in_(codes))
        else:
            q = q.where(Ticket.received_at >= since, Ticket.received_at <= until)
            if statuses:
                q = q.where(Ticket.status.in_(statuses))
            if categories:
                q = q.where(Ticket.category.in_(categories))
        with self.sessions() as s:
            return [ticket_to_dict(t, events=True) for t in s.scalars(q)]

    def attachment(self, code: str, attachment_id: int) -> dict[str, Any] | None:
        """The file ``attachment_id`` of the ticket ``code`` with its ``path`` under the attachments folder;
        None when that ticket has no such file."""
        with self.sessions() as s:
            a = s.scalar(select(Attachment).join(Ticket).where(Ticket.code == code, Attachment.id == attachment_id))
            return None if a is None else {"id": a.id, "filename": a.filename, "media_type": a.media_type,
                                           "size": a.size, "path": a.path}

    def list(self, *, status: str | None = None, agency: str | None = None, category: str | None = None,
             overdue: bool = False, limit: int = 50, channel: str | None = None, search: str | None = None,
             caller: str | None = None, offset: int = 0, after_id: int | None = None,
             by_number: bool = True) -> list[dict[str, Any]]:
        """Tickets, newest received first; ``overdue``: open ones past their deadline; ``search``: words in
        the code, the number, the content or the voicemail's transcript (every word, any case), newest
        entered first; ``by_number`` False (an agency's search): a word matches the caller's number never."""
        q = _full().order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
        if after_id is not None:
            q = q.where(Ticket.id > after_id)
        if status:
            q = q.where(Ticket.status == status)
        if agency:
            q = q.where(Ticket.agency == agency)
        if category:
            q = q.where(Ticket.category == category)
        if channel:
            q = q.where(Ticket.channel == channel)
        if caller:
            q = q.where(Ticket.caller == caller)
        if overdue:
            q = q.where(Ticket.status.in_(TicketStatus.OPEN), Ticket.due_at < self.now())
        words = _search_words(search)
        if words and not by_number:
            q = q.where(*(_not_by_number(w) for w in words))
        with self.sessions() as s:
            if words:
                # Search results come newest entered first (the ticket's id): the full-text indexes hold
                # tickets in that order, so the first page is read straight off them (bench/README.md).
                q = q.order_by(None)
                if s.get_bind().dialect.name == "postgresql":
                    match = _pg_matches(words)
                    # Few matches: take them from the GIN index and sort them; many: walk the ids down,
                    # every few tickets match (the planner, guessing 0.5 % for a word it has no
                    # statistics on, would walk a million tickets for a rare one).
                    newest = (Ticket.id + 0).desc() if _rare(s, match) else Ticket.id.desc()
                    q = q.where(match).order_by(newest)
                else:
                    others = any((status, agency, category, channel, caller, overdue, after_id is not None,
                                  not by_number))
                    q = q.where(_fts_ids(words, None if others else offset + limit)).order_by(Ticket.id.desc())
            return [ticket_to_dict(t) for t in s.scalars(q)]

    def phone_status(self, code: str) -> dict[str, Any] | None:
        """What the phone may say about a ticket: status, agency name, answer ready. No personal data."""
        with self.sessions() as s:
            ticket = s.scalar(select(Ticket).where(Ticket.code == code))
            if ticket is None:
                return None
            agency = self.agency(ticket.agency) if ticket.agency else None
            return {"code": ticket.code, "status": ticket.status,
                    "agency": None if agency is None else {"kind": agency.kind, "code": agency.code,
                                                           "name": agency.name},
                    "answer_ready": ticket.status in (TicketStatus.ANSWERED, TicketStatus.CLOSED)
                    and bool(ticket.answer)}

    def open_of_caller(self, number: str, *, leave_out: str | None = None) -> builtins.list[dict[str, Any]]:
        """The open tickets of a number, whatever way it is written (0912…, 84912…, +84912…), newest first."""
        with self.sessions() as s:
            return [ticket_to_dict(t) for t in nearby.open_of_caller(s, number, leave_out)]

    def related(self, code: str) -> dict[str, builtins.list[dict[str, Any]]]:
        """The open tickets flagged as probable duplicates of ``code``, and those merged into it."""
        with self.sessions() as s:
            ticket = self._ticket(s, code)
            return {k: [ticket_to_dict(t) for t in v] for k, v in nearby.related(s, ticket).items()}

    def hotspots(self, until: datetime | None = None) -> builtins.list[Hotspot]:
        """Clusters of ``[tickets] hotspot_min`` tickets or more of one category at one place in the last
        ``hotspot_days`` up to ``until`` (now)."""
        with self.sessions() as s:
            return nearby.hotspots(s, self.rules, until or self.now())

    def hotspot_rows(self, until: datetime | None = None) -> builtins.list[dict[str, Any]]:
        """The hotspots as the wallboard, the report page and ``hotline report`` show them: the category's
        Vietnamese name, the place, how many tickets and their codes (newest first)."""
        return [{"category": h.category, "category_name": self.categories.get(h.category).name
                 if h.category in self.categories else h.category, "place": h.place, "count": h.count,
                 "codes": list(h.codes), "first_at": _iso(h.first_at), "last_at": _iso(h.last_at)}
                for h in self.hotspots(until)]

    def flag_duplicate(self, code: str) -> dict[str, Any] | None:
        """Look again whether the ticket is a probable duplicate (its text came: a transcript); the flag, or None."""
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            match = nearby.flag(s, ticket, self.rules, self._event)
            return None if match is None else {"of": match.ticket.code, "reason": match.reason, "score": match.score}

    def merge(self, code: str, into: str, *, actor: str, note: str = "") -> dict[str, Any]:
        """Merge the ticket ``code`` into ``into``: its content, files and events join ``into``'s timeline, and it
        is closed as a duplicate with a link to ``into``. Nothing is sent to the citizen: ``into``'s answer, when it
        comes, reaches the citizens of both, once each."""
        if code == into:
            raise TicketError("a ticket cannot be merged into itself", vi="Không thể gộp một phiếu vào chính nó.")
        with self.sessions.begin() as s:
            duplicate, kept = self._ticket(s, code), self._ticket(s, into)
            if kept.status not in TicketStatus.OPEN:
                raise TicketError(f"ticket {into} is {kept.status}; merge into an open ticket",
                                  vi=f"Phiếu {into} đang «{STATUS_VI[kept.status]}»; chỉ gộp vào phiếu đang xử lý.")
            if kept.merged_into_id is not None:
                raise TicketError(f"ticket {into} was merged into another",
                                  vi=f"Phiếu {into} đã được gộp vào phiếu khác.")
            if duplicate.status not in TicketStatus.OPEN:
                self._move(s, duplicate, TicketStatus.DUPLICATE, actor, {})     # refused, with what it may become
            nearby.merge(s, duplicate, kept, self.now(), actor, self._event)
            self._move(s, duplicate, TicketStatus.DUPLICATE, actor, {"into": into, **({"note": note} if note else {})})
            s.flush()
            merged = ticket_to_dict(duplicate)
        log.info("ticket=%s merged into %s by %s", code, into, actor)
        return merged

    # -- changing ------------------------------------------------------------------
    def assign(self, code: str, agency: str, *, actor: str, note: str = "") -> dict[str, Any]:
        """Forward to an agency ("department:01", "provincial_office:01" when competence is unclear)."""
        self.agency(agency)
        return self._change(code, TicketStatus.ASSIGNED, actor, {"agency": agency, "note": note},
                            agency=agency, notified_at=None)

    def start(self, code: str, *, actor: str) -> dict[str, Any]:
        return self._change(code, TicketStatus.IN_PROGRESS, actor, {})

    def answer(self, code: str, text: str, *, actor: str) -> dict[str, Any]:
        if not text.strip():
            raise TicketError("an answer needs its text: --text \"Nội dung trả lời\"",
                              vi="Hãy viết nội dung trả lời trước khi lưu.")
        return self._change(code, TicketStatus.ANSWERED, actor, {"answer": text.strip()}, answer=text.strip(),
                            answered_at=self.now())

    def close(self, code: str, *, actor: str, status: str = TicketStatus.CLOSED, note: str = "") -> dict[str, Any]:
        """Close (after the answer was relayed), or end it as out of scope or a duplicate."""
        if status not in TicketStatus.FINAL:
            raise TicketError(f"cannot close as {status!r}; use closed, out_of_scope or duplicate",
                              vi="Chỉ đóng phiếu là: "
                                 + ", ".join(f"«{STATUS_VI[st]}»" for st in TicketStatus.FINAL) + ".")
        return self._change(code, status, actor, {"note": note}, closed_at=self.now())

    def set_deadline(self, code: str, hours: float, *, actor: str) -> dict[str, Any]:
        """Change the working hours the agency has (8 or 48, or what the province decides)."""
        if hours <= 0:
            raise TicketError("the deadline is a positive number of working hours, e.g. 8 or 48",
                              vi="Thời hạn là số giờ làm việc lớn hơn 0, ví dụ 8 hoặc 48.")
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            ticket.deadline_hours = hours
            ticket.due_at = self.deadlines.due(ticket.received_at, hours)
            ticket.reminded_50_at = ticket.reminded_80_at = ticket.escalated_at = None
            self._event(s, ticket, actor, "deadline", {"deadline_hours": hours, "due_at": ticket.due_at.isoformat()})
            changed = ticket_to_dict(ticket)
        return self._followed_up(changed)

    def transcribe_again(self, code: str, *, actor: str) -> dict[str, Any]:
        """Put the ticket's message back in the worker's queue (another engine or model since): the
        new transcript replaces the old one, and the ticket's text too unless someone wrote their own.
        The ticket's ``queued``: whether the queue took it now (False: the worker's sweep will)."""
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            vm = ticket.voicemail
            if vm is None:
                raise TicketError(f"ticket {code} has no voice message", vi=f"Phiếu {code} không có lời nhắn thoại.")
            if vm.status in VoicemailStatus.WAITING:
                raise TicketError(f"the message of ticket {code} is already waiting for transcription",
                                  vi=f"Lời nhắn của phiếu {code} đang chờ chuyển thành văn bản.")
            self._event(s, ticket, actor, "transcribe_again", {"model": vm.model, "status": vm.status})
            vm.status, vm.attempts, vm.error, vm.lease_until = VoicemailStatus.PENDING, 0, None, None
            again = ticket_to_dict(ticket)
        queued = self.jobs is not None and bool(self.jobs.transcription(again["voicemail"]["id"]))
        return {**again, "queued": queued}

    def set_category(self, code: str, category: str, *, actor: str) -> dict[str, Any]:
        cat = self.categories.get(category)
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            ticket.category = cat.code
            self._event(s, ticket, actor, "category", {"category": cat.code})
            changed = ticket_to_dict(ticket)
        return self._followed_up(changed)

    def call_placed(self, code: str, *, call_id: str, number: str, actor: str) -> dict[str, Any]:
        """The ticket's timeline notes a call out to the citizen (the call's row has its recording)."""
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            self._event(s, ticket, actor, "call_placed", {"call_id": call_id, "number": number})
            return ticket_to_dict(ticket)

    def call_outcome(self, code: str, outcome: str, *, actor: str, call_id: str = "") -> dict[str, Any]:
        """What came of a call to the citizen: ``relayed`` closes an answered ticket (the answer was relayed);
        ``no_answer`` and ``wrong_number`` leave it as it is, noted in its timeline."""
        if outcome not in CallOutcome.ALL:
            raise TicketError(f"the outcome of a call is one of {', '.join(CallOutcome.ALL)}",
                              vi="Hãy chọn kết quả cuộc gọi: " + ", ".join(CALL_OUTCOME.values()) + ".")
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            if outcome == CallOutcome.RELAYED and ticket.status != TicketStatus.ANSWERED:
                raise TicketError(f"ticket {code} is {ticket.status}: only an answered ticket is relayed and closed",
                                  vi=f"Phiếu {code} đang «{STATUS_VI[ticket.status]}»: chỉ phiếu «"
                                     f"{STATUS_VI[TicketStatus.ANSWERED]}» mới thông báo kết quả và đóng được.")
            self._event(s, ticket, actor, "call_outcome", {"outcome": outcome, "call_id": call_id})
            if outcome == CallOutcome.RELAYED:
                self._move(s, ticket, TicketStatus.CLOSED, actor, {"note": CALL_OUTCOME[outcome], "call_id": call_id})
                ticket.closed_at = self.now()
            changed = ticket_to_dict(ticket)
        return self._followed_up(changed)

    def record(self, ticket_id: int, actor: str, action: str, detail: dict[str, Any],
               **fields: Any) -> dict[str, Any]:
        """Set plain fields and log why (the worker: transcribed, notified, reminded, escalated)."""
        with self.sessions.begin() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None:
                raise TicketError(f"no ticket {ticket_id}", vi=f"Không có phiếu số {ticket_id}.")
            for name, value in fields.items():
                setattr(ticket, name, value)
            self._event(s, ticket, actor, action, detail)
            return ticket_to_dict(ticket)

    def _change(self, code: str, status: str, actor: str, detail: dict[str, Any], **fields: Any) -> dict[str, Any]:
        with self.sessions.begin() as s:
            ticket = self._ticket(s, code)
            self._move(s, ticket, status, actor, {k: v for k, v in detail.items() if v})
            for name, value in fields.items():
                setattr(ticket, name, value)
            changed = ticket_to_dict(ticket)
        return self._followed_up(changed)

    def _followed_up(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Schedule what the new or changed ticket needs (its reminders, its agency's e-mail), once it is
        committed; returns it."""
        if self.jobs is not None:
            self.jobs.after_change(ticket)
        return ticket

    def _move(self, s: Session, ticket: Ticket, status: str, actor: str, detail: dict[str, Any]) -> None:
        allowed = MOVES[ticket.status]
        if status not in allowed:
            hint = ", ".join(allowed) if allowed else "nothing: it is finished"
            hint_vi = ", ".join(f"«{STATUS_VI[st]}»" for st in allowed) if allowed else "không gì nữa (đã kết thúc)"
            raise TicketError(f"ticket {ticket.code} is {ticket.status}; it can become {hint}",
                              vi=f"Phiếu {ticket.code} đang «{STATUS_VI[ticket.status]}»; "
                                 f"chỉ chuyển được sang {hint_vi}.")
        self._event(s, ticket, actor, status, {"from": ticket.status, **detail})
        ticket.status = status

    def _event(self, s: Session, ticket: Ticket, actor: str, action: str, detail: dict[str, Any]) -> None:
        s.add(TicketEvent(ticket=ticket, at=self.now(), actor=actor, action=action, detail=detail))

    def _ticket(self, s: Session, code: str) -> Ticket:
        ticket = s.scalar(select(Ticket).where(Ticket.code == code))
        if ticket is None:
            raise TicketError(f"no ticket {code!r}; see `hotline tickets list`", vi=f"Không có phiếu mã {code}.")
        return ticket

    def agency(self, key: str) -> Any:
        kind, _, code = key.partition(":")
        agency = self.directory.find(kind, code)
        if agency is None:
            raise TicketError(f"no agency {key!r} in the transfer directory; write KIND:CODE such as "
                              "department:01 or provincial_office:01 (see `hotline directory`)",
                              vi=f"Không có cơ quan {key} trong danh bạ; hãy chọn trong danh sách.")
        return agency


def _search_words(text: str | None) -> list[str]:
    """The words of a search, as the full-text index splits them (letters and digits, any case)."""
    return re.findall(r"\w+", (text or "").lower())[:8]


RARE_MATCHES = 3000    # fewer matches than this: sort them (PostgreSQL), more: walk newest first (bench/README)


def _rare(s: Session, match: Any) -> bool:
    """Whether fewer than RARE_MATCHES tickets match (the GIN index answers it in milliseconds)."""
    found = s.scalar(select(func.count()).select_from(select(Ticket.id).where(match).limit(RARE_MATCHES).subquery()))
    return int(found or 0) < RARE_MATCHES


def _not_by_number(word: str) -> Any:
    """A ticket matches ``word`` other than by its caller's number: the number does not hold it, or the
    code, the content or the transcript does (numbers are digits: no case to fold)."""
    return or_(~Ticket.caller.contains(word, autoescape=True), Ticket.code.contains(word, autoescape=True),
               Ticket.content.contains(word, autoescape=True),
               Ticket.voicemail.has(Voicemail.transcript.contains(word, autoescape=True)))


def _fts_ids(words: list[str], newest: int | None) -> Any:
    """SQLite: tickets whose FTS5 row holds every word; ``newest``: only the newest so many of them
    (the doclists are in rowid order: the first page costs the same for a rare or a common word)."""
    query = " ".join('"' + w.replace('"', "") + '"' for w in words)
    sql = "SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q ORDER BY rowid DESC"
    ids = text(sql + " LIMIT :n").bindparams(q=query, n=newest) if newest else text(sql).bindparams(q=query)
    return Ticket.id.in_(ids.columns(column("rowid", Integer)))


def _pg_matches(words: list[str]) -> Any:
    """PostgreSQL: tickets whose stored tsvector ``search`` (migration 0004) holds every word."""
    return literal_column("tickets.search").op("@@")(func.plainto_tsquery("simple", " ".join(words)))


def _full() -> Any:
    return select(Ticket).options(selectinload(Ticket.events), selectinload(Ticket.voicemail),
                                  selectinload(Ticket.call).selectinload(Call.recording),
                                  selectinload(Ticket.attachments), selectinload(Ticket.messages),
                                  selectinload(Ticket.duplicate_of), selectinload(Ticket.merged_into))


def _voicemail_content(vm: Voicemail) -> str:
    if vm.status == VoicemailStatus.TRANSCRIBED and vm.transcript:
        return vm.transcript
    return {VoicemailStatus.NO_SPEECH: NO_SPEECH_CONTENT, VoicemailStatus.FAILED: FAILED_CONTENT}.get(
        vm.status, WAITING_CONTENT)


def _iso(value: datetime | None) -> str | None:
    """UTC, as the database gives it back, whether the row was just written or read."""
    return value.astimezone(UTC).isoformat() if value else None


def ticket_to_dict(t: Ticket, events: bool = False) -> dict[str, Any]:
    vm = t.voicemail
    rec: Recording | None = t.call.recording if t.call is not None else None
    out: dict[str, Any] = {
        "code": t.code, "id": t.id, "channel": t.channel, "caller": t.caller, "category": t.category,
        "content": t.content, "agency": t.agency, "status": t.status, "status_vi": STATUS_VI[t.status],
        "received_at": _iso(t.received_at), "deadline_hours": t.deadline_hours, "due_at": _iso(t.due_at),
        "answer": t.answer, "answered_at": _iso(t.answered_at), "closed_at": _iso(t.closed_at),
        "call_id": t.call.call_id if t.call is not None else None,
        "recording": rec.path if rec is not None else None,
        "notified_at": _iso(t.notified_at), "reminded_50_at": _iso(t.reminded_50_at),
        "reminded_80_at": _iso(t.reminded_80_at), "escalated_at": _iso(t.escalated_at),
        "contact_name": t.contact_name, "contact_email": t.contact_email, "address": t.address,
        "latitude": t.latitude, "longitude": t.longitude,
        "duplicate_of": t.duplicate_of.code if t.duplicate_of is not None else None,
        "duplicate_reason": t.duplicate_reason, "duplicate_score": t.duplicate_score,
        "merged_into": t.merged_into.code if t.merged_into is not None else None,
        "voicemail": None if vm is None else {
            "id": vm.id, "path": vm.path, "duration": round(vm.duration, 3), "status": vm.status,
            "transcript": vm.transcript, "transcript_raw": vm.transcript_raw, "confidence": vm.confidence,
            "words": vm.words, "model": vm.model,
            "transcribed_at": _iso(vm.transcribed_at), "error": vm.error},
    }
    if events:
        out["events"] = [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}
                         for e in t.events]
        out["messages"] = [{"id": m.id, "direction": m.direction, "channel": m.channel, "address": m.address,
                            "subject": m.subject, "body": m.body, "at": _iso(m.at), "sent_at": _iso(m.sent_at),
                            "attempts": m.attempts, "error": m.error} for m in t.messages]
        out["attachments"] = [{"id": a.id, "filename": a.filename, "media_type": a.media_type, "size": a.size,
                               "at": _iso(a.at)} for a in t.attachments]
    return out
