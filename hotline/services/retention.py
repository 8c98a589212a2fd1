"""The retention of call recordings: files older than [recordings] retention_days are deleted.

Run by the worker's sweep (at most once an hour) and by ``hotline recordings purge``. Each file
deleted is an AccessLog row (user "system", action "delete"); the Recording row stays, with
``deleted_at``, so the call log still says the call was recorded and when the file went.
Voicemails are never purged: they are the citizens' requests, kept with their tickets.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import AccessLog, Call, Recording

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
            s.add(AccessLog(at=now, username="system", action="delete", resource=rec.path, call_id=call_id,
                            detail={"retention_days": days, "recorded_at": rec.created_at.isoformat()}))
    if done and not dry_run:
        log.info("retention: %d recordings older than %d days deleted", len(done), days)
    return done
