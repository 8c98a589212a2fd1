"""Kamailio's registrar tables in PostgreSQL: the phones' registrations (usrloc's ``location``, kept across a
restart of Kamailio) and the accounts they register with (auth_db's ``subscriber``, digest hashes only).

They live in a database of their own beside the hotline's, ``<hotline database>_kamailio``, made from the SQL
Debian's kamailio package ships; the accounts are the hotline's desk and operator endpoints with the passwords
of ``secrets.toml``, written again at every start (README: Scaling out).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine, text

SQL_DIR = Path("/usr/share/kamailio/postgres")
#: What the registrar needs: the version table, usrloc's location, auth_db's subscriber.
SCHEMAS = ("standard-create.sql", "usrloc-create.sql", "auth_db-create.sql")
#: The digest realm phones answer the registrar's challenge in.
REALM = "hotline-1022"


def kamailio_database_url(hotline_url: str) -> str:
    """The SQLAlchemy URL of Kamailio's database: the hotline's PostgreSQL, database ``<name>_kamailio``."""
    parts = urlsplit(hotline_url)
    name = parts.path.lstrip("/") or "hotline"
    return urlunsplit(parts._replace(path=f"/{name}_kamailio"))


def db_postgres_url(url: str) -> str:
    """The same database as Kamailio's db_postgres writes it: ``postgres://user[:password]@host:port/name``."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    auth = unquote(parts.username or "postgres")
    if parts.password:
        auth += f":{unquote(parts.password)}"
    return f"postgres://{auth}@{host}:{parts.port or 5432}{parts.path}"


def ha1(user: str, password: str, realm: str = REALM) -> str:
    """RFC 2617's HA1, MD5(user:realm:password): what the registrar checks a digest answer against."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)


def ensure_schema(url: str, sql_dir: Path = SQL_DIR) -> bool:
    """Create Kamailio's tables in ``url`` (an existing, empty database) unless there; True if it made them."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            present = conn.execute(text("SELECT to_regclass('public.subscriber') IS NOT NULL")).scalar()
            if present:
                return False
            for name in SCHEMAS:
                conn.exec_driver_sql((sql_dir / name).read_text(encoding="utf-8"))
        return True
    finally:
        engine.dispose()


#: Kamailio's own PostgreSQL role: it reads the accounts and keeps the registrations, and nothing else.
ROLE = "hotline_kamailio"
_GRANTS = ("GRANT USAGE ON SCHEMA public TO {role}",     # a schema made anew grants nothing to others
           "GRANT SELECT ON subscriber, version TO {role}",
           "GRANT SELECT, INSERT, UPDATE, DELETE ON location, location_attrs TO {role}",
           "GRANT USAGE, SELECT ON SEQUENCE location_id_seq, location_attrs_id_seq TO {role}")


def ensure_role(url: str, password: str, role: str = ROLE) -> str:
    """Kamailio's role in ``url``'s server with only what the registrar needs (made or given its password
    again); returns ``url`` with that role and password, for Kamailio alone (the hotline's role is never its)."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
            verb = "ALTER" if exists else "CREATE"
            quoted = conn.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar()
            conn.exec_driver_sql(f"{verb} ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                 f"PASSWORD {quoted}")
            database = urlsplit(url).path.lstrip("/")
            conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
            for grant in _GRANTS:
                conn.exec_driver_sql(grant.format(role=role))
    finally:
        engine.dispose()
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def write_subscribers(url: str, accounts: Iterable[tuple[str, str]]) -> int:
    """The registrar's accounts become exactly ``accounts`` (name, password), stored as HA1 only."""
    rows = [{"username": name, "ha1": ha1(name, password)} for name, password in accounts]
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM subscriber"))
            if rows:
                conn.execute(text("INSERT INTO subscriber (username, domain, ha1) VALUES (:username, '', :ha1)"),
                             rows)
        return len(rows)
    finally:
        engine.dispose()
