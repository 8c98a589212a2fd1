"""The one door of every written request: a web form, an e-mail, an SMS, a Zalo or Facebook message, an Open311
client. Each channel's adapter turns what it received into a :class:`Request`; :meth:`Intake.receive` checks it,
keeps its files, makes the ticket (code, deadline, TicketEvent, follow-up jobs: the ticket service) with the
message as the first line of its thread in the same transaction, and queues the receipt the citizen is sent back
through the same channel. The same message delivered twice (a webhook retried, a mailbox read again) is one
ticket; a reply on a thread joins its ticket."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Attachment, IntakeMessage, Ticket, TicketEvent
from hotline.domain.errors import HotlineError
from hotline.domain.numbers import is_mobile, vietnamese_number
from hotline.domain.tickets.nearby import phone_key
from hotline.domain.vocabulary import Channel
from hotline.intake import files
from hotline.intake.files import FileRefused, Upload
from hotline.services.tickets import Citizen, TicketService

log = logging.getLogger("hotline.intake")

CHANNELS = Channel.WRITTEN
REPLIES = Channel.REPLIES
#: doors that take photos only (the web form says so): anything else sent there is refused as no photo
PHOTOS_ONLY = (Channel.WEB,)
#: a Message-ID the hotline gave a mail it sent (hotline.intake.outbox): it names the ticket's code
_OWN_MESSAGE_ID = re.compile(r"\.phieu(\d{5,10})@")
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")


class IntakeError(HotlineError, ValueError):
    """A request the hotline cannot take as it is; ``vi`` tells the citizen what to change."""


@dataclass(frozen=True)
class Request:
    """A citizen's request as a channel received it.

    Args:
        channel: one of CHANNELS.
        content: what they ask or report, in their words.
        external_id: the channel's own id of the message (Message-ID, the gateway's id): the same id again is
            the same request.
        reply_to: where the hotline writes back (an e-mail address, a mobile number, a Zalo or Facebook user
            id); empty: nowhere (the web form: the status page).
        thread: ids of earlier messages this one answers (an e-mail's In-Reply-To and References): a match
            joins that ticket instead of making one.
        phone, name, email, address, latitude, longitude: what the citizen gave of themselves and the place.
        subject: an e-mail's subject.
        category, agency: when the channel knows them (an Open311 service code, a form's choice).
        files: photos and attachments.
    """

    channel: str
    content: str
    external_id: str | None = None
    reply_to: str = ""
    thread: tuple[str, ...] = ()
    phone: str = ""
    name: str = ""
    email: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    subject: str = ""
    category: str | None = None
    agency: str | None = None
    files: tuple[Upload, ...] = ()
    received_at: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """What came of a request: its ticket, whether it made the ticket now (``new``), joined an earlier one
    (``joined``) or was a message already taken (neither), and what the citizen is told."""

    ticket: dict[str, Any]
    new: bool
    joined: bool
    reply: str
    refused_files: tuple[str, ...] = field(default=())

    @property
    def code(self) -> str:
        return str(self.ticket["code"])


def normal_phone(number: str) -> str:
    """A Vietnamese number as the hotline keeps it (0912345678), from any usual way of writing it; IntakeError
    when it is not one."""
    digits = vietnamese_number(number)
    if digits is None:
        raise IntakeError(f"{number!r} is not a Vietnamese phone number",
                          vi="Số điện thoại không hợp lệ: hãy nhập số Việt Nam, ví dụ 0912 345 678.")
    return digits


def _distinct(targets: Iterable[tuple[tuple[str, str] | None, str]]) -> list[tuple[str, str, str]]:
    """(channel, address, the channel the citizen wrote from) once each citizen: a number in any of its forms,
    an address in any case, is one citizen; the first ticket's first."""
    seen: dict[tuple[str, str], tuple[str, str, str]] = {}
    for target, wrote_from in targets:
        if target is not None:
            channel, address = target
            seen.setdefault((channel, phone_key(address) or address.strip().lower()), (channel, address, wrote_from))
    return list(seen.values())


def normal_email(address: str) -> str:
    address = (address or "").strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise IntakeError(f"{address!r} is not an e-mail address",
                          vi="Địa chỉ thư điện tử không hợp lệ, ví dụ: ten@example.vn.")
    return address


class Intake:
    """Takes every written request.

    Args:
        tickets: the ticket service (codes, deadlines, events, follow-up jobs).
        sessions: the database.
        attachments: where files are kept (``<state dir>/attachments``).
        max_chars, max_files, max_file_bytes, photo_max_side: ``[intake]``.
        public_url: the public site; the receipt links to the status page there.
        sms_codes, sms_notices: text voicemail callers their code, and citizens with a mobile number that their
            ticket is answered (``[sms]``, when the gateway is set up).
        link_key: the public site's key; the status links sent to citizens carry ``status_token``.
        send: queues an outgoing message for the worker (its IntakeMessage id); None: the worker's sweep does.
    """

    def __init__(self, tickets: TicketService, sessions: sessionmaker[Session], attachments: Path, *,
                 max_chars: int = 5000, max_files: int = 3, max_file_bytes: int = 10_000_000,
                 photo_max_side: int = 2560, public_url: str = "", sms_codes: bool = False,
                 sms_notices: bool = False, link_key: str = "",
                 send: Callable[[int], object] | None = None) -> None:
        self.tickets = tickets
        self.sessions = sessions
        self.attachments = attachments
        self.max_chars = max_chars
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.photo_max_side = photo_max_side
        self.public_url = public_url.rstrip("/")
        self.sms_codes = sms_codes          # [sms] voicemail_code: a voicemail caller's code by text
        self.sms_notices = sms_notices      # [sms] answered_notice: "your ticket is answered" by text
        self.link_key = link_key            # signs the status links sent to citizens (status_token)
        self.send = send

    # -- in ---------------------------------------------------------------------------
    def check(self, req: Request) -> Request:
        """``req`` with its contact details in the hotline's form; IntakeError when it cannot be taken."""
        if req.channel not in CHANNELS:
            raise IntakeError(f"unknown channel {req.channel!r}; one of {', '.join(CHANNELS)}")
        content = _clean(req.content)
        if not content:
            raise IntakeError("the request has no text", vi="Hãy viết nội dung phản ánh, kiến nghị.")
        if len(content) > self.max_chars:
            raise IntakeError(f"the request has {len(content)} characters, more than {self.max_chars}",
                              vi=f"Nội dung dài quá {self.max_chars} ký tự; hãy viết ngắn gọn hơn hoặc gửi "
                                 "thành nhiều phản ánh.")
        if len(req.files) > self.max_files:
            raise IntakeError(f"{len(req.files)} files, at most {self.max_files}",
                              vi=f"Chỉ gửi được tối đa {self.max_files} tệp kèm theo.")
        if req.category is not None:
            try:
                self.tickets.categories.get(req.category)
            except Exception as e:
                raise IntakeError(str(e), vi="Lĩnh vực không có trong danh sách; hãy chọn lại.") from None
        if (req.latitude is None) != (req.longitude is None) or (
                req.latitude is not None and not (-90 <= req.latitude <= 90 and -180 <= (req.longitude or 0) <= 180)):
            raise IntakeError("a map point needs a latitude and a longitude in range",
                              vi="Vị trí trên bản đồ không hợp lệ; hãy chọn lại.")
        return Request(**{**req.__dict__, "content": content, "name": _clean(req.name)[:128],
                          "address": _clean(req.address)[:1000], "subject": _clean(req.subject)[:255],
                          "phone": normal_phone(req.phone) if req.phone.strip() else "",
                          "email": normal_email(req.email) if req.email.strip() else ""})

    def receive(self, req: Request) -> Receipt:
        """The request's ticket, made once (IntakeError or FileRefused if it cannot be taken; nothing is kept
        then)."""
        req = self.check(req)
        earlier = self._known(req)
        if earlier is not None:
            return earlier
        photos_only = req.channel in PHOTOS_ONLY
        checked = [(f, *self._checked(f, photos_only)) for f in req.files]     # every file checked before one is kept
        stored = [files.store(self.attachments, upload, media_type, data) for upload, media_type, data in checked]
        now = self.tickets.now()
        received = req.received_at or now
        joined = self._joined(req, stored, received)
        if joined is not None:
            return joined
        message: list[IntakeMessage] = []

        def with_ticket(s: Session, ticket: Ticket) -> None:
            msg = self._message_in(req, ticket, received)
            s.add(msg)
            s.flush()
            message.append(msg)
            for f in stored:
                s.add(Attachment(ticket=ticket, message_id=msg.id, filename=f.filename, media_type=f.media_type,
                                 size=f.size, sha256=f.sha256, path=f.path, at=now))

        try:
            ticket = self.tickets.create(
                channel=req.channel, caller=req.phone, content=_content(req), category=req.category,
                agency=req.agency, received_at=received, actor=req.channel, with_ticket=with_ticket,
                citizen=Citizen(req.name, req.email, req.address, req.latitude, req.longitude))
        except IntegrityError:      # another process took the same message at the same moment: theirs stands
            self._forget(stored)
            found = self._known(req)
            if found is None:
                raise
            return found
        except BaseException:
            self._forget(stored)
            raise
        log.info("%s %s is ticket %s (%d files)", req.channel, req.external_id or "-", ticket["code"],
                 len(stored))
        reply = self.receipt_text(ticket)
        self._reply(ticket["id"], req, reply, subject=f"Đã tiếp nhận phản ánh, mã phiếu {ticket['code']}")
        return Receipt(ticket, new=True, joined=False, reply=reply)

    def receipt_text(self, ticket: dict[str, Any]) -> str:
        """What the citizen is told when their request is taken (short enough for one SMS page of Unicode)."""
        link = f" Tra cứu: {self.status_url(ticket['code'])}" if self.public_url else ""
        return f"Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã phiếu: {ticket['code']}.{link}"

    def status_url(self, code: str) -> str:
        """The status page of ``code`` with the key that shows its answer (only the citizen is given it)."""
        key = f"?k={status_token(self.link_key, code)}" if self.link_key else ""
        return f"{self.public_url}/tra-cuu/{code}{key}"

    # -- out --------------------------------------------------------------------------
    def answer_back(self, code: str, *, actor: str) -> dict[str, Any] | None:
        """Queue the ticket's answer to the citizen (once per answer): in full through the channel they wrote
        from; else, with ``[sms] answered_notice``, a text to their mobile number saying it is answered. The
        citizens of the tickets merged into it get it too, each once (the same citizen of both: one message).
        The first message row, or None when there is nobody to write to."""
        with self.sessions.begin() as s:
            ticket = s.scalar(select(Ticket).where(Ticket.code == code))
            if ticket is None or not ticket.answer:
                return None
            key, sent = answer_key(ticket), []
            merged = s.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.id))
            targets = _distinct((self.answer_target(t), t.channel) for t in (ticket, *merged))
            for i, (channel, address, wrote_from) in enumerate(targets):
                one_key = key if i == 0 else f"{key}:{channel}:{address}"[:255]
                if any(m.external_id == one_key for m in ticket.messages):
                    continue
                if channel == Channel.SMS and wrote_from != Channel.SMS:
                    body = (f"Phản ánh mã {ticket.code} đã có kết quả trả lời."
                            f"{f' Xem tại {self.status_url(ticket.code)}' if self.public_url else ''} hoặc gọi 1022.")
                else:
                    body = f"Trả lời phản ánh mã {ticket.code}:\n{ticket.answer}"
                sent.append(self._out(s, ticket, channel, address, one_key,
                                      f"Trả lời phản ánh, mã phiếu {ticket.code}", body, actor=actor,
                                      action="answer_sent"))
        for out in sent:
            self._queue(out["id"])
        return sent[0] if sent else None

    def answer_target(self, ticket: Ticket) -> tuple[str, str] | None:
        """(channel, address) an answered ticket's answer goes to, or None."""
        first = next((m for m in ticket.messages if m.direction == "in"), None)
        if first is not None and first.channel in REPLIES and first.address:
            return first.channel, first.address
        # a number the network gave (a call's caller ID), never one typed into a form: nobody makes the hotline
        # text a stranger
        if self.sms_notices and ticket.channel in (Channel.PHONE, Channel.VOICEMAIL) and is_mobile(ticket.caller):
            return Channel.SMS, ticket.caller
        return None

    def text_code(self, ticket_id: int, *, actor: str = "worker") -> dict[str, Any] | None:
        """Text a voicemail caller with a mobile number their ticket's code (``[sms] voicemail_code``), once."""
        if not self.sms_codes:
            return None
        with self.sessions.begin() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or ticket.channel != Channel.VOICEMAIL or not is_mobile(ticket.caller):
                return None
            key = f"code:{ticket.id}"
            if any(m.external_id == key for m in ticket.messages):
                return None
            link = f" Tra cứu: {self.status_url(ticket.code)}" if self.public_url else ""
            body = (f"Đường dây nóng 1022 đã nhận lời nhắn của bạn. Mã phiếu: {ticket.code}.{link} Hoặc gọi 1022, "
                    "bấm phím tra cứu và nhập mã phiếu.")
            out = self._out(s, ticket, Channel.SMS, ticket.caller, key, "", body, actor=actor, action="code_sent")
        self._queue(out["id"])
        return out

    def _out(self, s: Session, ticket: Ticket, channel: str, address: str, key: str, subject: str, body: str, *,
             actor: str, action: str) -> dict[str, Any]:
        """An outgoing message row and its TicketEvent in ``s`` (queue it once ``s`` commits)."""
        msg = IntakeMessage(ticket=ticket, channel=channel, direction="out", external_id=key, address=address,
                            subject=subject, body=body, at=self.tickets.now(), attempts=0)
        s.add(msg)
        s.add(TicketEvent(ticket=ticket, at=self.tickets.now(), actor=actor, action=action,
                          detail={"channel": channel}))
        s.flush()
        return {"id": msg.id, "channel": channel, "address": address}

    def _reply(self, ticket_id: int, req: Request, body: str, *, subject: str) -> None:
        if req.channel not in REPLIES or not req.reply_to:
            return
        if req.channel == Channel.EMAIL and self._receipted_today(req.reply_to):
            log.info("no e-mail receipt for %s: one was sent in the last day (a forged sender is not flooded)",
                     req.external_id or "-")
            return
        key = f"receipt:{req.external_id}" if req.external_id else None
        with self.sessions.begin() as s:
            msg = IntakeMessage(ticket_id=ticket_id, channel=req.channel, direction="out", external_id=key,
                                address=req.reply_to, subject=subject, body=body, at=self.tickets.now(), attempts=0)
            s.add(msg)
            s.flush()
            msg_id = msg.id
        self._queue(msg_id)

    def _receipted_today(self, address: str) -> bool:
        since = self.tickets.now() - timedelta(days=1)
        with self.sessions() as s:
            return s.scalar(select(IntakeMessage.id).where(
                IntakeMessage.channel == Channel.EMAIL, IntakeMessage.direction == "out",
                func.lower(IntakeMessage.address) == address.lower(), IntakeMessage.at >= since,
                IntakeMessage.external_id.like("receipt:%")).limit(1)) is not None

    def _queue(self, message_id: int) -> None:
        if self.send is None:
            return
        try:
            self.send(message_id)
        except Exception:       # Redis down: the worker's sweep sends it
            log.exception("message %s not queued; the worker's sweep will send it", message_id)

    # -- helpers ----------------------------------------------------------------------
    def _known(self, req: Request) -> Receipt | None:
        """The receipt of a message taken before (same channel, same id)."""
        if not req.external_id:
            return None
        with self.sessions() as s:
            msg = s.scalar(select(IntakeMessage).where(IntakeMessage.channel == req.channel,
                                                       IntakeMessage.direction == "in",
                                                       IntakeMessage.external_id == req.external_id))
            if msg is None:
                return None
            ticket_id = msg.ticket_id
        ticket = self.tickets.by_id(ticket_id)
        assert ticket is not None
        return Receipt(ticket, new=False, joined=False, reply=self.receipt_text(ticket))

    def _joined(self, req: Request, stored: list[files.Stored], received: datetime) -> Receipt | None:
        """A reply on an earlier message's thread, added to that message's ticket."""
        if not req.thread:
            return None
        try:
            with self.sessions.begin() as s:
                ticket = self._thread_ticket(s, req)
                if ticket is None:
                    return None
                msg = self._message_in(req, ticket, received)
                s.add(msg)
                s.flush()
                for f in stored:
                    s.add(Attachment(ticket=ticket, message_id=msg.id, filename=f.filename, media_type=f.media_type,
                                     size=f.size, sha256=f.sha256, path=f.path, at=self.tickets.now()))
                s.add(TicketEvent(ticket=ticket, at=self.tickets.now(), actor=req.channel, action="message",
                                  detail={"message_id": msg.id, "files": len(stored)}))
                ticket_id = ticket.id
        except IntegrityError:
            self._forget(stored)
            return self._known(req)
        found = self.tickets.by_id(ticket_id)
        assert found is not None
        log.info("%s %s joins ticket %s", req.channel, req.external_id or "-", found["code"])
        return Receipt(found, new=False, joined=True, reply=self.receipt_text(found))

    def _thread_ticket(self, s: Session, req: Request) -> Ticket | None:
        """The ticket whose thread ``req`` answers: one of its messages is named in ``req.thread`` (the citizen's
        own earlier mail, or one the hotline sent, whose Message-ID names the code: outbox.message_id), and
        ``req`` comes from the address that began it; anyone else's mail naming it is a request of its own."""
        earlier = s.scalar(select(IntakeMessage).where(IntakeMessage.channel == req.channel,
                                                       IntakeMessage.external_id.in_(req.thread))
                           .order_by(IntakeMessage.id))
        ticket = earlier.ticket if earlier is not None else None
        if ticket is None:
            codes_named = [m.group(1) for t in req.thread if (m := _OWN_MESSAGE_ID.search(t))]
            ticket = s.scalar(select(Ticket).where(Ticket.code.in_(codes_named))) if codes_named else None
        if ticket is None:
            return None
        first = next((m for m in ticket.messages if m.direction == "in"), None)
        if first is None or first.address.lower() != (req.reply_to or req.email or req.phone).lower():
            log.warning("%s %s names ticket %s's thread from another sender: taken as a request of its own",
                        req.channel, req.external_id or "-", ticket.code)
            return None
        return ticket

    def _message_in(self, req: Request, ticket: Ticket, received: datetime) -> IntakeMessage:
        return IntakeMessage(ticket=ticket, channel=req.channel, direction="in", external_id=req.external_id,
                             address=(req.reply_to or req.email or req.phone)[:254], subject=req.subject,
                             body=req.content, at=received, attempts=0)

    def refusal(self, upload: Upload) -> FileRefused | None:
        """Why ``upload`` would not be taken (None: it would be); nothing is kept."""
        try:
            self._checked(upload)
        except FileRefused as e:
            return e
        return None

    def _checked(self, upload: Upload, photos_only: bool = False) -> tuple[str, bytes]:
        """What is kept of ``upload``: a photo re-encoded, another file as it came (FileRefused)."""
        if photos_only or upload.media_type.startswith("image/") or not upload.media_type:
            return files.photo(upload, self.max_file_bytes, self.photo_max_side)
        return files.document(upload, self.max_file_bytes)

    def _forget(self, stored: list[files.Stored]) -> None:
        """Files written for a request that made no row: deleted unless a row holds the same file."""
        if not stored:
            return
        with self.sessions() as s:
            held = set(s.scalars(select(Attachment.path).where(Attachment.path.in_([f.path for f in stored]))))
        for f in stored:
            if f.path not in held:
                (self.attachments / f.path).unlink(missing_ok=True)


def status_token(key: str, code: str) -> str:
    """What a status link carries beside the code so that its holder, and only they, read the answer: a code is
    7 digits anyone may try, this is an HMAC of it with the site's key (72 bits)."""
    digest = hmac.new(key.encode(), code.encode(), hashlib.sha256).digest()[:9]
    return base64.urlsafe_b64encode(digest).decode()


def answer_key(ticket: Ticket) -> str:
    """The external id of the message that carries one answer of ``ticket`` (a new answer, a new message)."""
    return f"answer:{ticket.id}:{ticket.answered_at.isoformat() if ticket.answered_at else ''}"


def _clean(text: str) -> str:
    """Text as a person wrote it, without control characters (tabs and line breaks kept) or outer blanks."""
    return "".join(ch for ch in (text or "") if ch.isprintable() or ch in "\n\t").strip()


def _content(req: Request) -> str:
    return f"{req.subject}\n\n{req.content}" if req.subject and req.subject not in req.content else req.content


__all__ = ["CHANNELS", "FileRefused", "Intake", "IntakeError", "Receipt", "Request", "Upload", "is_mobile",
           "normal_email", "normal_phone"]
