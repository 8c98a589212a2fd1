"""Server-side console sessions and API tokens on a real database (SQLite and PostgreSQL): a copied session
cookie stops working at logout, at a password change (CLI and the console's page), when the account is
disabled or its role changes, and when the session expires; an API token expires, notes its last use and dies
with the password. Flask's test client runs the same gate, CSRF checks and sign-in guard as a browser's requests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.adapters.db.console_models import ConsoleSession
from hotline.adapters.db.models import Role, User
from hotline.cli.main import main
from hotline.context import Context
from hotline.services.console_sessions import session_digest
from operator_console import create_app
from operator_console.account import DONE_VI, WRONG_VI
from tests.unit.test_console import PASSWORD, console_context, console_env, csrf_of, sign_in
from tests.unit.test_console_signin_guard import LOCKED, try_password

NEW_PASSWORD = "mật-khẩu-mới-đủ-dài"
ROLES = {"lan": Role.OPERATOR, "binh": Role.SUPERVISOR, "an": Role.ADMIN}


@dataclass
class Site:
    app: Flask
    ctx: Context
    svc: Any
    env: dict[str, str]

    def move_clock(self, by: timedelta) -> None:
        """Fake time jumps ``by`` for the console (its clock is the context's)."""
        self.ctx.clock.fake_start += by            # type: ignore[attr-defined]


@pytest.fixture()
def site(tmp_path: Path, database_url: str) -> Site:
    env = console_env(tmp_path, database_url)
    ctx = console_context(env)
    app = create_app(ctx, testing=True)
    svc = app.extensions["hotline"]
    for name, role in ROLES.items():
        svc.users.add(name, f"Người dùng {name}", role, PASSWORD)
    return Site(app, ctx, svc, env)


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (stolen, or a second tab)."""
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    other = app.test_client()
    other.set_cookie(cookie.key, cookie.value)
    return other


def signed_in(client: FlaskClient) -> bool:
    """What the user sees: the inbox (200), or the sign-in page they are sent to (302 to /login)."""
    got = client.get("/tickets/")
    assert got.status_code in (200, 302), got.status_code
    if got.status_code == 302:
        assert got.headers["Location"].startswith("/login"), got.headers["Location"]
    return got.status_code == 200


def hotline(site: Site, *args: str) -> str:
    result = CliRunner().invoke(main, ["users", *args], env=site.env)
    assert result.exit_code == 0, result.output
    return result.output


def api(site: Site, token: str) -> Any:
    return site.app.test_client().get("/api/tickets", headers={"Authorization": f"Bearer {token}"})


def test_the_cookie_carries_only_a_random_session_id_stored_hashed(site: Site) -> None:
    client = sign_in(site.app, "binh")
    cookie = client.get_cookie("session")
    assert cookie is not None
    data = site.app.session_interface.get_signing_serializer(site.app).loads(cookie.value)  # type: ignore[attr-defined]
    session_id = data["_user_id"]
    assert len(session_id) >= 40 and "binh" not in cookie.value
    with site.svc.sessions() as s:
        user = s.scalar(select(User).where(User.username == "binh"))
        rows = list(s.scalars(select(ConsoleSession)))
    assert session_id != str(user.id)
    assert [r.token_hash for r in rows] == [session_digest(session_id)]
    assert rows[0].user_id == user.id and rows[0].remote_addr == "127.0.0.1"
    assert rows[0].expires_at - rows[0].created_at == timedelta(hours=12)     # [console] session_hours


def test_a_copied_cookie_stops_working_at_logout(site: Site) -> None:
    mine = sign_in(site.app, "binh")
    copy = copy_of(site.app, mine)
    other = sign_in(site.app, "binh")                  # the same user in another browser
    assert signed_in(mine) and signed_in(copy) and signed_in(other)
    got = mine.post("/logout", data={"csrf_token": csrf_of(mine)})
    assert got.status_code == 302 and got.headers["Location"] == "/login"
    assert not signed_in(copy) and not signed_in(mine)
    assert copy.get("/wallboard/").status_code == 302
    assert signed_in(other)                              # logout ends this session only


def test_a_password_change_on_the_command_line_ends_every_session_and_the_token(site: Site) -> None:
    first, second = sign_in(site.app, "lan"), sign_in(site.app, "lan")
    copy = copy_of(site.app, first)
    token = site.svc.users.issue_token("lan")
    assert api(site, token).status_code == 200
    out = hotline(site, "passwd", "lan", "--password", NEW_PASSWORD)
    assert "2 console session(s) ended, API token revoked" in out
    assert not signed_in(first) and not signed_in(second) and not signed_in(copy)
    refused = api(site, token)
    assert refused.status_code == 401
    assert refused.get_json()["reason"] == "unknown" and "đã bị thu hồi" in refused.get_json()["message"]
    assert try_password(site.app.test_client(), "lan", PASSWORD).status_code == 401
    assert try_password(site.app.test_client(), "lan", NEW_PASSWORD).status_code == 302
    assert sign_in(site.app, "binh") and signed_in(sign_in(site.app, "an"))   # other users untouched


def test_a_password_change_on_the_page_renews_this_session_and_ends_the_others(site: Site) -> None:
    here, elsewhere = sign_in(site.app, "an"), sign_in(site.app, "an")
    old_copy = copy_of(site.app, here)      # the changing session's cookie, copied before the change
    token = site.svc.users.issue_token("an")
    page = here.get("/account/password")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Đổi mật khẩu" in text and "Mật khẩu hiện tại" in text and "Nhập lại mật khẩu mới" in text
    form = {"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    assert here.post("/account/password", data=form).status_code == 400           # no CSRF token
    assert signed_in(elsewhere)
    mismatch = here.post("/account/password", data={**form, "again": NEW_PASSWORD + "x", "csrf_token": csrf_of(here)})
    assert mismatch.status_code == 400 and "không khớp" in mismatch.get_data(as_text=True)
    short = here.post("/account/password", data={**form, "new": "ngắn", "again": "ngắn", "csrf_token": csrf_of(here)})
    assert short.status_code == 400 and "ít nhất 10 ký tự" in short.get_data(as_text=True)
    done = here.post("/account/password", data={**form, "csrf_token": csrf_of(here)}, follow_redirects=True)
    assert done.status_code == 200 and DONE_VI.format(ended=1) in done.get_data(as_text=True)
    assert signed_in(here) and not signed_in(elsewhere)
    # the changer goes on under a new session id: the copied cookie of the old one gets the sign-in page
    assert not signed_in(old_copy)
    assert "/login" in old_copy.get("/account/password").headers.get("Location", "")
    assert signed_in(here)
    assert api(site, token).status_code == 401
    assert try_password(site.app.test_client(), "an", PASSWORD).status_code == 401
    assert try_password(site.app.test_client(), "an", NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_counts_toward_the_sign_in_lockout(site: Site,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    here = sign_in(site.app, "binh")
    with caplog.at_level("WARNING", logger="hotline.console.signin"):
        for n in range(5):                                 # [console] signin_failures
            got = here.post("/account/password", data={"current": f"đoán sai {n}", "new": NEW_PASSWORD,
                                                       "again": NEW_PASSWORD, "csrf_token": csrf_of(here)})
            assert got.status_code == 401 and WRONG_VI in got.get_data(as_text=True)
    failures = [r.getMessage() for r in caplog.records if "password change failed" in r.getMessage()]
    assert len(failures) == 5 and all("user='binh'" in line and "address=127.0.0.1" in line for line in failures)
    sixth = here.post("/account/password", data={"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD,
                                                  "csrf_token": csrf_of(here)})
    assert sixth.status_code == 429 and LOCKED in sixth.get_data(as_text=True)
    locked = try_password(site.app.test_client(), "binh", PASSWORD)     # sign-in is locked too, even when right
    assert locked.status_code == 429 and LOCKED in locked.get_data(as_text=True)
    assert try_password(site.app.test_client(), "binh", NEW_PASSWORD).status_code == 429
    assert signed_in(sign_in(site.app, "lan"))           # another account from the same address still signs in


def test_disabling_an_account_or_changing_its_role_ends_its_sessions(site: Site) -> None:
    sup = sign_in(site.app, "binh")
    copy = copy_of(site.app, sup)
    assert sup.get("/wallboard/").status_code == 200
    assert "1 console session(s) ended" in hotline(site, "role", "binh", "operator")
    assert not signed_in(sup) and not signed_in(copy)
    again = sign_in(site.app, "binh")
    assert signed_in(again) and again.get("/wallboard/").status_code == 403      # the new role, at once
    token = site.svc.users.issue_token("binh")
    assert hotline(site, "disable", "binh").startswith("✓ binh disabled")
    assert not signed_in(again)
    assert api(site, token).status_code == 401
    assert try_password(site.app.test_client(), "binh", PASSWORD).status_code == 401


def test_a_session_ends_at_its_absolute_expiry_and_when_left_unused(site: Site) -> None:
    busy = sign_in(site.app, "lan")
    idle = sign_in(site.app, "an")
    for step in range(13):                      # used every 59 minutes: never idle, but 12 hours at most
        site.move_clock(timedelta(minutes=59))
        if step == 0:
            assert signed_in(idle)
        assert signed_in(busy) == (step < 12), step
    assert not signed_in(idle)                  # [console] session_idle_minutes = 60
    fresh = sign_in(site.app, "an")
    site.move_clock(timedelta(minutes=59))
    assert signed_in(fresh)
    site.move_clock(timedelta(minutes=60))
    assert not signed_in(fresh)


def test_an_api_token_notes_its_use_and_expires(site: Site) -> None:
    out = CliRunner().invoke(main, ["users", "token", "binh"], env=site.env)
    assert out.exit_code == 0, out.output
    token = out.stdout.strip()
    assert token.startswith("h1022_") and "expires 2027-02-23" in out.stderr      # 90 days ([console] token_days)
    with site.svc.sessions() as s:
        assert s.scalar(select(User.token_used_at).where(User.username == "binh")) is None
    assert api(site, token).status_code == 200
    with site.svc.sessions() as s:
        used = s.scalar(select(User.token_used_at).where(User.username == "binh"))
    assert used is not None and abs(used - site.ctx.clock.now()) < timedelta(seconds=30)
    site.move_clock(timedelta(days=89, hours=23))
    assert api(site, token).status_code == 200
    with site.svc.sessions() as s:
        assert s.scalar(select(User.token_used_at).where(User.username == "binh")) - used > timedelta(days=89)
    site.move_clock(timedelta(hours=1))
    refused = api(site, token)
    assert refused.status_code == 401
    body = refused.get_json()
    assert body["reason"] == "expired" and body["message"].startswith("Mã truy cập đã hết hạn lúc 23/02/2027 09:")
    missing = site.app.test_client().get("/api/tickets")
    assert missing.status_code == 401 and missing.get_json()["message"].startswith("Thiếu mã truy cập")
    renewed = site.svc.users.issue_token("binh")
    assert api(site, renewed).status_code == 200 and api(site, token).status_code == 401


def test_tokens_issued_before_the_upgrade_get_an_expiry(tmp_path: Path, database_url: str) -> None:
    """Migration 0008: a token that had none expires 90 days after the upgrade, never 'never'."""
    from alembic import command
    from sqlalchemy import text

    from hotline.adapters.db.migrate import alembic_config
    from hotline.adapters.db.session import make_engine
    engine = make_engine(database_url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0007")
        connection.execute(text("INSERT INTO users (username, full_name, role, password_hash, token_hash, active, "
                                "created_at) VALUES ('cu', 'Cũ', 'admin', 'x', :t, :a, :c)"),
                           {"t": "a" * 64, "a": True, "c": datetime.fromisoformat("2026-01-01T00:00:00+00:00")})
        command.upgrade(cfg, "head")
    with engine.connect() as connection:
        expires = connection.execute(text("SELECT token_expires_at FROM users WHERE username = 'cu'")).scalar_one()
    engine.dispose()
    expires = datetime.fromisoformat(expires) if isinstance(expires, str) else expires    # SQLite: UTC, naive
    days = (expires.replace(tzinfo=expires.tzinfo or UTC) - datetime.now(UTC)).total_seconds() / 86400
    assert 89.9 < days <= 90.0


def test_the_header_links_to_the_password_page_for_every_role(site: Site) -> None:
    for name in ROLES:
        page = sign_in(site.app, name).get("/").get_data(as_text=True)
        assert re.search(r'href="/account/password"[^>]*>Đổi mật khẩu<', page), name
