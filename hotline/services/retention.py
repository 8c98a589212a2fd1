"""The retention of a citizen's personal data (Law 91/2025/QH15): each kind removed at its limit.

Call recordings older than [recordings] retention_days, and by [retention]: messages' audio files,
their transcripts, tickets' content (with their number, answer and notes), callers' numbers in call
rows and the AccessLog's own rows (hotline.services.access_log). Run by the worker's sweep (at most once
an hour) and by ``hotline recordings purge``. Each file deleted is an AccessLog row (user "system",
action "delete"), each pass over rows one (action "retention"); the rows stay with what the reports
count (dispositions, times, categories, agencies, durations), so the figures do not change. An open
ticket's data is held until it is answered or closed. ``scrub_ticket`` is also what a citizen's erasure
does (hotline.services.privacy).
"""
from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session, object_session, sessionmaker

from hotline.adapters.db.models import Attachment, Call, PublishedAnswer, Recording, Ticket, TicketStatus, Voicemail
from hotline.domain.vocabulary import AccessAction
from hotline.services.access_log import add_access, purge_access_log
from hotline.services.nearby import forget_merged

#: what a ticket's content and answer become when retention removes them
EXPIRED = "[Nội dung đã xoá khi hết thời hạn lưu trữ]"
#: the ticket events' details that may hold a person's words
PERSONAL_DETAIL = ("answer", "note", "content", "caller", "text")

log = logging.getLogger("hotline.services.retention")


def purge_recordings(sessions: sessionmaker[Session], root: Path, now: datetime, days: int, *,
                     limit: int = 1000, dry_run: bool = False) -> list[str]:
    """Delete up to ``limit`` recordings older than ``days``; returns their paths. ``days`` 0: nothing."""
    if days <= 0:
        return []
    cutoff = now - timedelta(days=days)
    done: list[str] = []
    with sessions.begin() as s:
        rows = s.execute(select(Recording, Call.call_id).join(Call, Recording.call_id == Call.id)
                         .where(Recording.created_at < cutoff, Recording.deleted_at.is_(None))
                         .order_by(Recording.created_at).limit(limit)).all()
        for rec, call_id in rows:
            path = (root / rec.path).resolve()
            if root.resolve() not in path.parents:
                log.error("recording %s is outside the recordings root; left alone", rec.path)
                continue
            done.append(rec.path)
            if dry_run:
                continue
            path.unlink(missing_ok=True)
            rec.deleted_at = now
            add_access(s, at=now, username="system", action=AccessAction.DELETE, resource=rec.path, call_id=call_id,
                       retention_days=days, recorded_at=rec.created_at.isoformat())
    if done and not dry_run:
        log.info("retention: %d recordings older than %d days deleted", len(done), days)
    return done


def enforce_retention(sessions: sessionmaker[Session], root: Path, now: datetime, settings: Any) -> dict[str, int]:
    """One pass over every kind of personal data (``settings``: the province's); how many of each went."""
    r = settings.retention
    return {"recordings": len(purge_recordings(sessions, root, now, settings.recordings.retention_days)),
            "messages": len(purge_messages(sessions, root, now, r.messages_days)),
            "transcripts": purge_transcripts(sessions, now, r.transcripts_days),
            "ticket_content": purge_ticket_content(sessions, now, r.ticket_content_days,
                                                   attachments=settings.paths.attachments),
            "orphan_files": len(purge_orphan_attachments(sessions, settings.paths.attachments, now)),
            "caller_numbers": purge_caller_numbers(sessions, now, r.caller_numbers_days),
            "asterisk_logs": sum(len(rotate_asterisk_log(folder, now.astimezone(settings.tz), r.asterisk_logs_days))
                                 for folder in asterisk_log_dirs(Path(settings.paths.state_dir))),
            "access_log": purge_access_log(sessions, now, r.access_log_days)}


ASTERISK_LOG = "messages.log"     # logger.conf: every call's channel, with the caller's number


def asterisk_log_dirs(state_dir: Path) -> list[Path]:
    """Asterisk's log folder, and each node's of a cluster on this machine (``<state>/nodes/<node>/log``)."""
    return [state_dir / "log", *sorted(state_dir.glob("nodes/*/log"))]


def rotate_asterisk_log(log_dir: Path, now: datetime, days: int) -> list[str]:
    """Once a day copy Asterisk's messages.log to messages.log.<date> and empty it (Asterisk opened it to
    append, so it goes on writing at the start: no signal needed), and delete the copies of more than
    ``days`` days ago; returns the copies deleted. ``days`` 0: nothing is rotated or deleted."""
    live = log_dir / ASTERISK_LOG
    if days <= 0 or not log_dir.is_dir():
        return []
    today = live.with_name(f"{ASTERISK_LOG}.{now.date().isoformat()}")
    if live.is_file() and live.stat().st_size and not today.exists():
        with live.open("r+b") as f, today.open("xb") as copy:
            copy.write(f.read())
            copy.flush()
            os.fsync(copy.fileno())
            f.truncate(0)
        log.info("retention: %s rotated to %s", live, today.name)
    gone = []
    for old in sorted(log_dir.glob(f"{ASTERISK_LOG}.????-??-??")):
        try:
            written = date.fromisoformat(old.name.rsplit(".", 1)[1])
        except ValueError:
            continue
        if written < now.date() - timedelta(days=days):
            old.unlink(missing_ok=True)
            gone.append(old.name)
    if gone:
        log.info("retention: %d Asterisk logs older than %d days deleted", len(gone), days)
    return gone


def _not_open(vm_ticket: Any) -> Any:
    """Rows whose ticket (if any) is not open: its data is held while the request is being handled."""
    return or_(vm_ticket == None, ~vm_ticket.has(Ticket.status.in_(TicketStatus.OPEN)))  # noqa: E711


def purge_messages(sessions: sessionmaker[Session], root: Path, now: datetime, days: int, *,
                   limit: int = 1000) -> list[str]:
    """Delete the audio of messages older than ``days`` (0: none); their rows stay with ``deleted_at``."""
    if days <= 0:
        return []
    done: list[str] = []
    with sessions.begin() as s:
        rows = s.execute(select(Voicemail, Call.call_id).join(Call, Voicemail.call_id == Call.id)
                         .where(Voicemail.created_at < now - timedelta(days=days), Voicemail.deleted_at.is_(None),
                                _not_open(Voicemail.ticket))
                         .order_by(Voicemail.created_at).limit(limit)).all()
        for vm, call_id in rows:
            if delete_file(root, vm.path):
                done.append(vm.path)
            vm.deleted_at = now
            add_access(s, at=now, username="system", action=AccessAction.DELETE, resource=vm.path, call_id=call_id,
                       retention_days=days, kind="message")
    if done:
        log.info("retention: %d messages older than %d days deleted", len(done), days)
    return done


def delete_file(root: Path, relative: str) -> bool:
    """Delete a file under ``root`` (the recordings root, the attachments folder; never outside it); whether it
    was there."""
    path = (root / relative).resolve()
    if root.resolve() not in path.parents:
        log.error("%s is outside the recordings root; left alone", relative)
        return False
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def scrub_transcript(vm: Voicemail) -> None:
    vm.transcript = vm.transcript_raw = vm.words = None


def purge_transcripts(sessions: sessionmaker[Session], now: datetime, days: int, *, limit: int = 1000) -> int:
    """Remove the transcripts and word timings of messages older than ``days`` (the ticket keeps its content
    until [retention] ticket_content_days)."""
    if days <= 0:
        return 0
    with sessions.begin() as s:
        rows = list(s.scalars(select(Voicemail).where(
            Voicemail.created_at < now - timedelta(days=days), _not_open(Voicemail.ticket),
            or_(Voicemail.transcript.isnot(None), Voicemail.transcript_raw.isnot(None))).limit(limit)))
        for vm in rows:
            scrub_transcript(vm)
        _logged(s, now, "voicemails:transcript", days, [vm.id for vm in rows])
    return len(rows)


def scrub_ticket(ticket: Ticket, marker: str, attachments: Path | None = None) -> None:
    """Take the person out of a ticket: number, content, answer, the words in its events, the contact and
    place a written channel gave, its thread's words and addresses, and its files (deleted from
    ``attachments``, the folder they are in, unless another ticket holds the same file); what the reports count
    (category, channel, agency, status, times, deadline) stays."""
    ticket.caller = ""
    ticket.content = marker
    if ticket.answer is not None:
        ticket.answer = marker
    for event in ticket.events:
        if any(k in event.detail for k in PERSONAL_DETAIL):
            event.detail = {k: (marker if k in PERSONAL_DETAIL and v else v) for k, v in event.detail.items()}
    ticket.contact_name = ticket.contact_email = ticket.address = None
    ticket.latitude = ticket.longitude = None
    for message in ticket.messages:
        message.body, message.subject, message.address = marker, "", ""
    s = object_session(ticket)
    if s is not None:      # the published answer (and what its redaction removed) goes with the person
        s.execute(delete(PublishedAnswer).where(PublishedAnswer.ticket_id == ticket.id))
    if s is None:
        return
    gone = [a.path for a in ticket.attachments] + forget_merged(s, ticket, marker)   # and its merge's copies
    if not gone:
        return
    for attachment in list(ticket.attachments):
        s.delete(attachment)
    s.flush()
    for path in gone:
        held = s.scalar(select(func.count()).select_from(Attachment).where(Attachment.path == path))
        if not held and attachments is not None:
            delete_file(attachments, path)


def purge_ticket_content(sessions: sessionmaker[Session], now: datetime, days: int, *, limit: int = 1000,
                         attachments: Path | None = None) -> int:
    """Scrub tickets received more than ``days`` ago that are no longer open (their files in ``attachments``)."""
    if days <= 0:
        return 0
    with sessions.begin() as s:
        rows = list(s.scalars(select(Ticket).where(
            Ticket.received_at < now - timedelta(days=days), Ticket.status.notin_(TicketStatus.OPEN),
            or_(Ticket.content != EXPIRED, Ticket.caller != "")).limit(limit)))
        for ticket in rows:
            scrub_ticket(ticket, EXPIRED, attachments)
        _logged(s, now, "tickets:content", days, [t.code for t in rows])
        if rows:
            compact_search_index(s)
    return len(rows)


def purge_orphan_attachments(sessions: sessionmaker[Session], root: Path, now: datetime,
                             grace: timedelta = timedelta(days=1)) -> list[Path]:
    """Delete files under the attachments folder that no row holds, written more than ``grace`` ago (a request
    that died between its files and its ticket; the intake deletes its own otherwise). Returns them."""
    if not root.is_dir():
        return []
    with sessions() as s:
        held = set(s.scalars(select(Attachment.path)))
    gone = []
    for path in root.rglob("*"):
        if not path.is_file() or path.relative_to(root).as_posix() in held:
            continue
        if now.timestamp() - path.stat().st_mtime >= grace.total_seconds():
            path.unlink(missing_ok=True)
            gone.append(path)
    if gone:
        log.info("deleted %d file(s) of the attachments folder that no ticket holds", len(gone))
    return gone


def purge_caller_numbers(sessions: sessionmaker[Session], now: datetime, days: int, *, limit: int = 5000) -> int:
    """Blank the caller's number of call rows started more than ``days`` ago."""
    if days <= 0:
        return 0
    with sessions.begin() as s:
        rows = list(s.scalars(select(Call).where(Call.started_at < now - timedelta(days=days), Call.caller != "")
                              .limit(limit)))
        for call in rows:
            call.caller = ""
        _logged(s, now, "calls:caller", days, [c.call_id for c in rows])
    return len(rows)


def compact_search_index(s: Session) -> None:
    """SQLite's full-text index keeps a removed row's words in old segments until merged: merge them now."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(text("INSERT INTO tickets_fts(tickets_fts) VALUES ('optimize')"))


def _logged(s: Session, now: datetime, resource: str, days: int, ids: list[Any]) -> None:
    if ids:
        add_access(s, at=now, username="system", action=AccessAction.RETENTION, resource=resource,
                   retention_days=days, count=len(ids), ids=ids)
        log.info("retention: %s of %d rows older than %d days removed", resource, len(ids), days)
