"""Fixtures shared by every test: a real database, SQLite and PostgreSQL alike."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/hotline_test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL database for the suite (started and created by the project's own set-up code)."""
    from tests.support.db import per_stack
    from tooling.system.services import ensure_postgres
    url = per_stack(PG_URL)
    ensure_postgres(url, lambda _m: None)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or the PostgreSQL test database with a clean schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hotline.db"
        return
    from tests.support.db import fresh_postgres
    yield fresh_postgres(request.getfixturevalue("postgres_url"))
