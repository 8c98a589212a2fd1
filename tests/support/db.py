"""A clean PostgreSQL schema for a test or a test session."""
from __future__ import annotations

from sqlalchemy import create_engine, text


def per_stack(url: str) -> str:
    """The PostgreSQL database of this test stack: ``NAME`` for the first, ``NAME_gw<n>`` for
    pytest-xdist's other workers, so that parallel runs never empty each other's schema."""
    from tests.support.stack import stack_index
    index = stack_index()
    if index == 0 or not url.startswith("postgresql"):
        return url
    base, _, query = url.partition("?")
    return f"{base}_gw{index}" + (f"?{query}" if query else "")


def fresh_postgres(url: str) -> str:
    """Make sure the database exists and answers, then empty its public schema; returns ``url``."""
    from tooling.system.services import ensure_postgres
    ensure_postgres(url, lambda _m: None)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
