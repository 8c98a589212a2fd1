"""The public site during a database outage (the CI's PostgreSQL-outage test restarts every app process with the
database away): it starts, serves what needs no database, and answers what does with a 503 and Retry-After (a
Vietnamese page for a citizen, JSON for a webhook's or an Open311 client's sender, who retries), saving nothing."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hotline.context import load_context
from hotline.domain.tickets import codes
from public_site import create_app
from tests.support.redis_server import redis_server


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])      # closed once the block ends: nothing listens there


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    away = f"postgresql://hotline@127.0.0.1:{_closed_port()}/hotline"
    with redis_server(tmp_path / "redis") as url:
        ctx = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": away,
                                "HOTLINE_REDIS_URL": url})
        yield create_app(ctx, testing=True, config={"WTF_CSRF_ENABLED": False}).test_client()


def test_the_site_starts_and_shows_the_form_without_its_database(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.get_data(as_text=True)


def test_a_citizen_is_told_nothing_was_saved_and_to_send_again(client: FlaskClient) -> None:
    sent = client.post("/gui", data={"noi_dung": "Đèn đường ấp 3 xã Tân Thuận tắt cả tuần nay.",
                                     "linh_vuc": "procedures"})
    text = sent.get_data(as_text=True)
    assert sent.status_code == 503 and "Retry-After" in sent.headers     # the form's rate limit may say its own
    assert "chưa được ghi nhận" in text and "gọi 1022" in text
    lookup = client.get(f"/tra-cuu/{codes.new_code(7)}")
    assert lookup.status_code == 503 and "tạm gián đoạn" in lookup.get_data(as_text=True)


def test_a_machine_door_gets_json_to_retry_on(client: FlaskClient) -> None:
    got = client.get("/open311/v2/requests.json")
    assert got.status_code == 503 and got.headers["Retry-After"] == "60"
    assert got.get_json()["error"] == "database_unavailable"
