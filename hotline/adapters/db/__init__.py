"""Database: SQLAlchemy 2.0 models, sessions and the repositories the processes use."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.migrate import upgrade
from hotline.adapters.db.session import make_engine, make_session_factory


def open_database(url: str, *, migrate: bool = True) -> sessionmaker[Session]:
    """Engine + session factory for ``url``, migrated to the newest schema."""
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return make_session_factory(engine)
