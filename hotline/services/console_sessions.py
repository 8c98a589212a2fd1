"""Server-side console sessions: a sign-in makes one, every request loads its user through it, and it ends.

The browser's cookie (Flask's signed session) carries only a random session id; the database keeps its
SHA-256, so a copy of the table signs no one in. A session is live while it has not ended (logout; every
session of a user at a password change, when the account is disabled or its role changes: see
``hotline.adapters.db.console_models.end_user_sessions``), its absolute expiry (``[console] session_hours``
after sign-in) has not passed, it was used within ``[console] session_idle_minutes`` and its user is
active. ``last_seen_at`` is written at most once a minute per session (pages poll every few seconds).
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.console_models import ConsoleSession, EndReason
from hotline.adapters.db.models import User
from hotline.services.users import ConsoleUser

TOUCH_EVERY = timedelta(minutes=1)     # last_seen_at is this precise; idle expiry no more so
KEEP_ENDED = timedelta(days=30)        # rows are deleted this long after their absolute expiry


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class LiveSession:
    """A live session and its user, as the console loads them for one request."""

    digest: str
    user: ConsoleUser
    expires_at: datetime


class ConsoleSessions:
    """Start, load and end the console's sign-in sessions.

    Args:
        sessions: the database.
        now: the hotline's clock.
        lifetime: the absolute expiry after sign-in (``[console] session_hours``).
        idle: a session unused this long has ended (``[console] session_idle_minutes``).
    """

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime], *, lifetime: timedelta,
                 idle: timedelta) -> None:
        self.sessions, self.now, self.lifetime, self.idle = sessions, now, lifetime, idle

    def start(self, user_id: int, remote_addr: str | None = None) -> str:
        """A new session of ``user_id``; returns its id (for the cookie, never stored as it is)."""
        session_id = secrets.token_urlsafe(32)
        now = self.now()
        with self.sessions.begin() as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now - KEEP_ENDED))
            s.add(ConsoleSession(token_hash=session_digest(session_id), user_id=user_id, created_at=now,
                                 last_seen_at=now, expires_at=now + self.lifetime, remote_addr=remote_addr))
        return session_id

    def live(self, session_id: str) -> LiveSession | None:
        """The session ``session_id`` and its user if it is live (it counts as used now); None otherwise."""
        if not session_id:
            return None
        digest, now = session_digest(session_id), self.now()
        with self.sessions.begin() as s:
            found = s.execute(select(ConsoleSession, User).join(User, User.id == ConsoleSession.user_id)
                              .where(ConsoleSession.token_hash == digest)).first()
            if found is None:
                return None
            row, user = found
            if row.ended_at is not None or now >= row.expires_at or now - row.last_seen_at >= self.idle \
                    or not user.active:
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                row.last_seen_at = now
            return LiveSession(digest, ConsoleUser.of(user), row.expires_at)

    def end(self, session_id: str, reason: str = EndReason.LOGOUT) -> bool:
        """End one session (logout); False if it had already ended or never was."""
        with self.sessions.begin() as s:
            row = s.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == session_digest(session_id)))
            if row is None or row.ended_at is not None:
                return False
            row.ended_at, row.end_reason = self.now(), reason
            return True

    def open_count(self, user_id: int) -> int:
        """How many sessions of ``user_id`` have neither ended nor expired (idle ones included)."""
        now = self.now()
        with self.sessions() as s:
            return len(list(s.scalars(select(ConsoleSession.id).where(
                ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None),
                ConsoleSession.expires_at > now))))
