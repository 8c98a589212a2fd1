"""Database: SQLAlchemy 2.0 models, sessions and the repositories the processes use."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.migrate import upgrade
from hotline.adapters.db.session import make_engine, make_session_factory, unreachable

log = logging.getLogger("hotline.db")


def open_database(url: str, *, migrate: bool = True, tolerate_outage: bool = False) -> sessionmaker[Session]:
    """Engine + session factory for ``url``, migrated to the newest schema.

    Args:
        migrate: bring the schema to the newest first (idempotent).
        tolerate_outage: a database that cannot be reached now is not migrated, and the factory is
            returned all the same: a process on the call path (re)started during an outage serves its
            callers (the ARI app's writes wait in its spool) on the schema ``hotline up`` migrated.
    """
    engine = make_engine(url)
    if migrate:
        problem = unreachable(engine) if tolerate_outage else None
        if problem is None:
            upgrade(engine)
        else:
            log.warning("database unreachable at start (%s); starting without it, schema not checked", problem)
    return make_session_factory(engine)
