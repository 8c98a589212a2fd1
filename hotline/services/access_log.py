"""The AccessLog: who read, played, sent, exported or deleted a citizen's personal data, when and from where.

Every writer goes through ``add_access``: the console's pages and its JSON API (with the client's address,
``request.remote_addr`` after ProxyFix), the command line, the worker's e-mails, the retention pass and a
citizen's export or erasure. No row holds a whole caller's number: ``number`` and ``caller`` details keep only
the last 3 digits (``*******678``, hotline.domain.redact.masked_number), and free text that may hold one
(``search``, ``reason``, ``note``) keeps only the last 3 digits of every run of 8 or more digits; resources
name a number only masked. Admins read the log on the console's /access-log/ (filters, pages, CSV); the
retention pass deletes rows older than ``[retention] access_log_days``, itself one row.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import AccessLog
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import AccessAction

log = logging.getLogger("hotline.services.access_log")

NUMBER_KEYS = frozenset({"number", "caller"})           # a caller's number: only its last 3 digits kept
LIST_MOST = 1000                                        # codes or call ids kept in one row
# 8 or more digits, written together or with the separators people type: "0912 345 678", "0912.345.678",
# "0912-345-678", "(091) 234-5678", "+84-912-345-678".
_DIGIT_RUN = re.compile(r"\+?\(?\d(?:(?:[ .\-]|\) ?|\)?[ .\-]\(?)?\d){7,}\)?")
_CALL_ID = re.compile(r"\d{9,11}\.\d{1,9}")      # Asterisk's unique id (epoch seconds.sequence): not a number
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[/.-]\d{2}[/.-]\d{4}")     # 2026-12-06, 06/12/2026, 06.12.2026
# A call out's id (hotline.services.outbound: "out-" and 24 hexadecimal digits of a uuid), which may hold 8 digits
# in a row: not a number. Only that shape: a citizen's ID number after "CCCD" is all hex digits too.
_CALL_OUT_ID = re.compile(r"(?<![0-9A-Za-z])out-[0-9a-f]{24}(?![0-9A-Za-z])")


def masked_text(text: str) -> str:
    """``text`` with every run of 8 or more digits (a phone number, spaced or not) cut to its last 3 digits;
    ticket codes (7 digits unless ``[tickets] code_digits`` says more), dates, Asterisk's call ids
    (``1733456789.42``) and a call out's id (``out-b20c73da2a87433685d57259``) stay readable."""
    ids = [m.span() for m in _CALL_OUT_ID.finditer(text)]

    def mask(m: re.Match[str]) -> str:
        found = m.group(0)
        if _CALL_ID.fullmatch(found) or _DATE.fullmatch(found) or any(a <= m.start() and m.end() <= b for a, b in ids):
            return found
        return masked_number(re.sub(r"[^\d+]", "", found))
    return _DIGIT_RUN.sub(mask, text)


def safe_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` as a row keeps it: numbers masked, long lists cut, empty values left out."""
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if value is None or value == "":
            continue
        if isinstance(value, str) and key in NUMBER_KEYS:
            value = masked_number(value.strip())
        elif isinstance(value, str):        # any text may hold a number someone typed (a search, a reason)
            value = masked_text(value)
        elif isinstance(value, dict):
            value = safe_detail(value)
        elif isinstance(value, list | tuple):
            value = [masked_text(v) if isinstance(v, str) else v for v in list(value)[:LIST_MOST]]
        out[key] = value
    return out


def add_access(s: Session, *, at: datetime, username: str, action: str, resource: str, call_id: str | None = None,
               remote_addr: str | None = None, **detail: Any) -> AccessLog:
    """One AccessLog row in ``s`` (the writer's own transaction: the row goes with what it records)."""
    if action not in AccessAction.ALL:
        raise ValueError(f"{action!r} is no AccessLog action (hotline.domain.vocabulary.AccessAction)")
    row = AccessLog(at=at, username=username[:64], action=action, resource=masked_text(resource)[:512],
                    call_id=masked_text(call_id)[:64] if call_id else None,
                    remote_addr=remote_addr, detail=safe_detail(detail))
    s.add(row)
    return row


@dataclass(frozen=True)
class AccessQuery:
    """The admins' filters: who, what, when (``since`` included, ``before`` not), and a ticket code or call id."""

    username: str | None = None
    action: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    ref: str | None = None


def access_to_dict(row: AccessLog) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "username": row.username, "action": row.action, "resource": row.resource,
            "call_id": row.call_id, "remote_addr": row.remote_addr, "detail": row.detail or {}}


class AccessLogService:
    """The AccessLog's writes with the clock, and the admins' reads."""

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.now = now

    def add(self, username: str, action: str, resource: str, *, call_id: str | None = None,
            remote_addr: str | None = None, **detail: Any) -> None:
        """One row, now, in its own transaction (see ``add_access``)."""
        with self.sessions.begin() as s:
            add_access(s, at=self.now(), username=username, action=action, resource=resource, call_id=call_id,
                       remote_addr=remote_addr, **detail)

    def search(self, query: AccessQuery, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """The rows ``query`` asks for, newest first."""
        q = select(AccessLog).order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit).offset(offset)
        if query.username:
            q = q.where(AccessLog.username == query.username)
        if query.action:
            q = q.where(AccessLog.action == query.action)
        if query.since is not None:
            q = q.where(AccessLog.at >= query.since)
        if query.before is not None:
            q = q.where(AccessLog.at < query.before)
        if query.ref:
            q = q.where(or_(AccessLog.call_id == query.ref, AccessLog.resource == f"ticket:{query.ref}",
                            cast(AccessLog.detail, String).contains(f'"{query.ref}"', autoescape=True)))
        with self.sessions() as s:
            return [access_to_dict(r) for r in s.scalars(q)]


def purge_access_log(sessions: sessionmaker[Session], now: datetime, days: int) -> int:
    """Delete the rows older than ``days`` (0: none); the pass is itself a row. How many went."""
    if days <= 0:
        return 0
    with sessions.begin() as s:
        done = s.execute(delete(AccessLog).where(AccessLog.at < now - timedelta(days=days)))
        gone = int(done.rowcount or 0)  # type: ignore[attr-defined]
        if gone:
            add_access(s, at=now, username="system", action=AccessAction.RETENTION, resource="access_log",
                       retention_days=days, count=gone)
    if gone:
        log.info("retention: %d AccessLog rows older than %d days deleted", gone, days)
    return gone
