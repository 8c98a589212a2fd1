"""Engine and session factory, built from the settings' database URL."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so several processes can share it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # SQLite's own lower() knows only ASCII: "ĐƯỜNG" would not find "đường" (PostgreSQL's does).
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def unreachable(engine: Engine) -> str | None:
    """Why the database cannot be reached now (down, refusing connections), or None when it answers."""
    try:
        with engine.connect():
            return None
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as exc:
        text = str(getattr(exc, "orig", None) or exc)
        return text.splitlines()[0][:160] if text else type(exc).__name__


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
