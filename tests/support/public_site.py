"""What the public site's tests share: a hotline's settings on the test's database and a Redis of its own, the
site's test client, and the refusal counts the site kept in that Redis (``refusals()``)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from hotline.context import Context, load_context
from public_site import REFUSALS_KEY, create_app
from tests.support.redis_server import redis_server


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    with redis_server(tmp_path / "redis") as url:
        yield load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url,
                                "HOTLINE_REDIS_URL": url})


@pytest.fixture
def client(ctx: Context) -> FlaskClient:
    return create_app(ctx, testing=True).test_client()


@pytest.fixture
def refusals(ctx: Context) -> Callable[[], dict[str, int]]:
    """The site's refusal counts so far, by why (read from the test's Redis)."""
    def counts() -> dict[str, int]:
        got = redis.Redis.from_url(ctx.redis_url).hgetall(REFUSALS_KEY)
        return {k.decode(): int(v) for k, v in got.items()}
    return counts
