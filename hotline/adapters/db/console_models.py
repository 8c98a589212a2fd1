"""The console's sign-in sessions: one row per sign-in, which the console loads its user through.

The browser's cookie carries only a random session id; its SHA-256 is the row's ``token_hash``. A row ends
(``ended_at``, ``end_reason``) at logout, and every row of a user ends when their password changes, when
the account is disabled or when the role changes (``end_user_sessions``, in the same transaction as the
change). Rows whose absolute expiry is long past are deleted (hotline.services.console_sessions).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.adapters.db.models import Base, UTCDateTime


class EndReason:
    """Why a console session ended before its expiry (``console_sessions.end_reason``)."""

    LOGOUT = "logout"          # the user signed out
    PASSWORD = "password"      # their password changed (CLI or /account/password): every other session
    DISABLED = "disabled"      # the account was disabled
    ROLE = "role"              # the account's role changed

    ALL = (LOGOUT, PASSWORD, DISABLED, ROLE)


class ConsoleSession(Base):
    """One signed-in browser of a console user."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)        # sha256 of the cookie's session id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())           # to the minute: idle expiry
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # [console] session_hours after sign-in
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(16))              # EndReason
    remote_addr: Mapped[str | None] = mapped_column(String(64))


def end_user_sessions(s: Session, user_id: int, reason: str, at: datetime, *, keep: str | None = None) -> int:
    """End every open session of ``user_id`` but the one whose hash is ``keep``; how many were ended."""
    q = (update(ConsoleSession)
         .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None), ConsoleSession.expires_at > at)
         .values(ended_at=at, end_reason=reason))
    if keep is not None:
        q = q.where(ConsoleSession.token_hash != keep)
    done = s.execute(q.execution_options(synchronize_session=False))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
