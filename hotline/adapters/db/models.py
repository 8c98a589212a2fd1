"""SQLAlchemy models of the hotline's records: calls, recordings, voicemails, transfers, operators, tickets
and their events, users, the access log and the knowledge base (Alembic migrations in hotline/adapters/db;
the console's sign-in sessions are in ``console_models``)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from hotline.domain.vocabulary import Disposition, VoicemailStatus
from hotline.domain.vocabulary import Role as Role  # defined in the vocabulary; still importable from here
from hotline.domain.vocabulary import TicketStatus as TicketStatus  # likewise


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use the hotline clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Call(Base):
    """One inbound call, keyed by Asterisk's unique id of the caller's channel."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    channel_id: Mapped[str | None] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(64), default="")
    dialled: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ivr_path: Mapped[list[Any]] = mapped_column(JSON, default=list)
    hours: Mapped[str | None] = mapped_column(String(16))           # "open" or the closed reason
    transfer_target: Mapped[str | None] = mapped_column(String(64))  # "department:01"
    transfer_outcome: Mapped[str | None] = mapped_column(String(32))
    disposition: Mapped[str] = mapped_column(String(32), default=Disposition.IN_PROGRESS, index=True)
    node: Mapped[str | None] = mapped_column(String(64))            # last IVR node (for reconciliation)
    # The Asterisk node (server, [cluster] node) the call is on; None: logged before nodes were recorded.
    asterisk_node: Mapped[str | None] = mapped_column(String(64), index=True)
    recording_file: Mapped[str | None] = mapped_column(String(512))  # absolute path MixMonitor writes
    # The operator queue (filled from app_queue's AMI events and the app's return from Queue()).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queue_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # an operator picked up
    queue_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queue_outcome: Mapped[str | None] = mapped_column(String(16))   # answered|abandoned|timeout|empty|message
    operator: Mapped[str | None] = mapped_column(String(64), index=True)   # operator name who answered
    talk_seconds: Mapped[float | None] = mapped_column(Float)              # with the operator
    hangup_by: Mapped[str | None] = mapped_column(String(16))              # caller|operator|desk|system
    survey_score: Mapped[int | None] = mapped_column(Integer)              # 1 satisfied, 2 normal, 3 not
    # "in": a citizen called the hotline; "out": an operator called a citizen (hotline-outbound)
    direction: Mapped[str] = mapped_column(String(3), default="in", server_default="in", index=True)

    recording: Mapped[Recording | None] = relationship(back_populates="call", uselist=False)
    voicemails: Mapped[list[Voicemail]] = relationship(back_populates="call")
    transfers: Mapped[list[Transfer]] = relationship(back_populates="call", order_by="Transfer.id")


class Recording(Base):
    """The one audio file of a call, both directions, answer to hangup."""

    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("call_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(512))        # relative to the recordings root
    duration: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the retention job removed the file

    call: Mapped[Call] = relationship(back_populates="recording")


class Voicemail(Base):
    """A message left out of hours (or when nobody could answer)."""

    __tablename__ = "voicemails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(512))        # relative to the recordings root
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=VoicemailStatus.PENDING, index=True)
    ended_by: Mapped[str | None] = mapped_column(String(16))   # "pound", "hangup", "max_duration"
    transcript: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Transcription (the worker): the recognizer's words with their timings, mean confidence.
    words: Mapped[list[Any] | None] = mapped_column(JSON)     # [{"word", "start", "end", "conf"}]
    confidence: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str | None] = mapped_column(String(128))    # the engine ("viet-asr 0.1.0.dev11") or Vosk model
    transcript_raw: Mapped[str | None] = mapped_column(Text)  # the engine's own words (numbers spoken, no case)
    transcribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # jobs enqueued for it so far
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())   # a worker is on it until then
    error: Mapped[str | None] = mapped_column(Text)           # why it is still waiting, or failed
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the audio file went (retention, erasure)
    # Where the flow's message node sends its ticket (key 6: category postal, "postal_service:01"); None: the
    # first category, no agency. Kept on the row so that a ticket made later (the sweep) is made the same.
    category: Mapped[str | None] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(64))

    call: Mapped[Call] = relationship(back_populates="voicemails")
    ticket: Mapped[Ticket | None] = relationship(back_populates="voicemail", uselist=False)


class CallbackRequest(Base):
    """A waiting caller who asked to be called back (key 2 in the queue) instead of waiting: their place in the
    queue is kept by a placeholder channel (``place_channel``) that an operator answers like a caller; then the
    hotline calls ``number`` through the outbound route."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)        # the caller's place when they left (0: end)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)   # CallbackStatus
    place_channel: Mapped[str | None] = mapped_column(String(64))     # the placeholder (a Local channel) in the queue
    attempts: Mapped[int] = mapped_column(Integer, default=0)          # calls placed to the number so far
    operator: Mapped[str | None] = mapped_column(String(64))
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # an operator answered the placeholder
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32))            # the last call's DIALSTATUS, or why it ended
    out_call: Mapped[str | None] = mapped_column(String(64))           # the call out to the citizen (its Call row)
    ticket_code: Mapped[str | None] = mapped_column(String(16))        # the ticket it became when nobody was reached
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # its placeholder was last put in the queue
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)   # waiting for a retry until then
    tries: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)   # each call out: {"at": ISO time, "outcome"}
    placements: Mapped[int | None] = mapped_column(Integer, default=0)   # placeholders the sweep put back for it

    call: Mapped[Call] = relationship()


class Transfer(Base):
    """One attempt to send a caller on to a one-stop desk (from the IVR or by an operator)."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))            # ivr | blind | attended
    target: Mapped[str] = mapped_column(String(64), index=True)   # "department:01"
    requested_by: Mapped[str | None] = mapped_column(String(64))  # operator name, None from the IVR
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # answered|busy|noanswer|failed|returned|completed
    # The ARI app's own name for the attempt (a UUID): it logs the attempt without waiting for the
    # database's id, and a write replayed from its spool finds the row it made.
    key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    call: Mapped[Call] = relationship(back_populates="transfers")


class Operator(Base):
    """An operator (tổng đài viên) with a SIP endpoint: a WebRTC console or a desk phone."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)        # login and endpoint name: op-lan
    display_name: Mapped[str] = mapped_column(String(128))             # "Nguyễn Thị Lan"
    contact: Mapped[str | None] = mapped_column(String(256))           # fixed contact instead of registering
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(default=True)
    # desk: a SIP phone over UDP; web: the console's browser softphone (WebRTC over WebSocket)
    phone: Mapped[str] = mapped_column(String(8), default="desk", server_default="desk")


class OperatorEvent(Base):
    """Every change of an operator's state (logged_out, available, on_call, wrap_up, paused)."""

    __tablename__ = "operator_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))             # pause reason: break, training, meeting
    call_id: Mapped[str | None] = mapped_column(String(64))


class Ticket(Base):
    """A citizen's request (phản ánh, kiến nghị), from a voicemail, an operator or another channel."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True, index=True)   # digits a caller keys
    channel: Mapped[str] = mapped_column(String(16), index=True)   # phone | voicemail | web | email
    caller: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str] = mapped_column(String(32), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    agency: Mapped[str | None] = mapped_column(String(64), index=True)   # "department:01"
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.NEW, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    deadline_hours: Mapped[float] = mapped_column(Float)           # working hours: 8 or 48
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    voicemail_id: Mapped[int | None] = mapped_column(ForeignKey("voicemails.id", ondelete="SET NULL"),
                                                     unique=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the agency was e-mailed
    # Reminders to the agency at 50 % and 80 % of the deadline, escalation to supervisors after it.
    reminded_50_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_80_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What a citizen gave through a written channel (hotline.intake): all optional, all personal data.
    contact_name: Mapped[str | None] = mapped_column(String(128))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(Text)         # the place the request is about, as written
    latitude: Mapped[float | None] = mapped_column(Float)      # ... and its map point (WGS 84), if given
    longitude: Mapped[float | None] = mapped_column(Float)
    # A probable duplicate of an open ticket (hotline.domain.tickets.nearby: "caller" or "text_place", and how
    # alike the texts are), flagged when made or when its transcript came; merged_into: closed as its duplicate.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    duplicate_reason: Mapped[str | None] = mapped_column(String(16))
    duplicate_score: Mapped[float | None] = mapped_column(Float)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)

    call: Mapped[Call | None] = relationship()
    duplicate_of: Mapped[Ticket | None] = relationship(foreign_keys=[duplicate_of_id], remote_side=[id])
    merged_into: Mapped[Ticket | None] = relationship(foreign_keys=[merged_into_id], remote_side=[id])
    voicemail: Mapped[Voicemail | None] = relationship(back_populates="ticket")
    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.id")
    messages: Mapped[list[IntakeMessage]] = relationship(back_populates="ticket", order_by="IntakeMessage.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="ticket", order_by="Attachment.id")


class TicketEvent(Base):
    """Every change of a ticket: who, when, what (the audit trail supervisors and inspectors read)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))        # an operator's name, "system", "worker", …
    action: Mapped[str] = mapped_column(String(32))       # created, transcribed, assigned, answered, …
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class IntakeMessage(Base):
    """One message of a ticket's thread through a written channel (hotline.intake): the citizen's (``in``: the
    request, a reply on its e-mail thread, a second SMS) or the hotline's (``out``: the receipt with the code,
    the answer), kept until sent. ``external_id`` is the channel's own id of the message (an e-mail's
    Message-ID, the gateway's or Zalo's message id): the same message delivered twice is one row, one ticket."""

    __tablename__ = "intake_messages"
    __table_args__ = (UniqueConstraint("channel", "direction", "external_id", name="uq_intake_messages_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))          # in | out
    external_id: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(254), default="")   # whom it is from (in) or to (out)
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())     # out: when the channel took it
    attempts: Mapped[int] = mapped_column(Integer, default=0)           # out: tries so far
    error: Mapped[str | None] = mapped_column(Text)                     # out: the last try's failure

    ticket: Mapped[Ticket] = relationship(back_populates="messages")


class Attachment(Base):
    """A file a citizen sent with a request (a photo from the web form, an e-mail's attachment), stored under
    ``<state dir>/attachments`` by its SHA-256; photos re-encoded, their metadata dropped."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("intake_messages.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))          # as the citizen named it (shown, never a path)
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512))              # relative to the attachments folder
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")


class User(Base):
    """Someone who signs in to the console (or uses its API with a token)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(64))       # "department:01" for the agency role
    operator: Mapped[str | None] = mapped_column(String(64))     # the operator (SIP endpoint) they are
    password_hash: Mapped[str] = mapped_column(String(255))      # argon2id, PHC string
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)   # sha256 of the API token
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # [console] token_days after issue
    token_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())     # last API request (to the minute)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccessLog(Base):
    """Who read, played, sent, exported or deleted which personal data, when and from where (written only
    through hotline.services.access_log, which masks numbers)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)    # "system" for the retention job
    action: Mapped[str] = mapped_column(String(16))      # hotline.domain.vocabulary.AccessAction
    resource: Mapped[str] = mapped_column(String(512))   # a recording's path, "ticket:<code>", a channel…
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)   # e.g. the byte range asked


class Article(Base):
    """A knowledge-base article on an administrative procedure: what operators read to callers."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(32), index=True)      # a ticket category code
    summary: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[str] = mapped_column(Text, default="")           # hồ sơ: one per line
    fees: Mapped[str] = mapped_column(Text, default="")                # lệ phí
    time_limit: Mapped[str] = mapped_column(String(256), default="")   # thời hạn giải quyết
    desk: Mapped[str | None] = mapped_column(String(64))               # "department:03": where to file it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class PublishedAnswer(Base):
    """A ticket's question and answer as the public figures page shows them (public_site/figures.py): the text a
    supervisor approved, after redaction (hotline.services.publishing); ``removed`` is what redaction took out
    of the ticket's words (kept here only, never shown); gone from the page once ``withdrawn_at`` is set."""

    __tablename__ = "published_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    removed: Mapped[list[Any]] = mapped_column(JSON, default=list)     # [{"kind": "phone", "text": "0912…"}]
    approved_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))

    ticket: Mapped[Ticket] = relationship()
