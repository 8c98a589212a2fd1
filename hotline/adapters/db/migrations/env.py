"""Alembic environment: the URL comes from the caller (hotline.adapters.db.migrate), never from a file."""
from __future__ import annotations

from alembic import context

from hotline.adapters.db import cluster, console_models  # noqa: F401  (their tables in Base.metadata)
from hotline.adapters.db.models import Base
from hotline.adapters.db.session import make_engine

config = context.config


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `hotline db upgrade`")
run_migrations_online()
