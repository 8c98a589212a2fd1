"""Sign-in's guard: the lockout per account and per address, the failures' log, argon2's slots, the headers
and the client's address behind the proxy (Flask's test client; the limits' Redis is unreachable here, so
the counts are the console's in-memory fallback, as in production while Redis is away)."""
from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from operator_console import create_app
from operator_console.signin import BUSY_VI, HashSlots
from tests.unit.test_console import PASSWORD, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

LOCKED = "Đăng nhập sai quá nhiều lần"


def try_password(client: FlaskClient, username: str, password: str, **kw: Any) -> Any:
    page = client.get("/login", **kw)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1)},
                       **kw)


def test_the_sixth_try_after_five_wrong_passwords_is_refused_even_when_right_and_logged(
        world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    app: Flask = world["app"]
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="hotline.console.signin"):
        for n in range(5):
            got = try_password(client, "lan", f"sai mật khẩu {n}")
            assert got.status_code == 401 and "không đúng" in got.get_data(as_text=True)
        sixth = try_password(client, "lan", PASSWORD)
    assert sixth.status_code == 429 and LOCKED in sixth.get_data(as_text=True)
    assert client.get("/tickets/").status_code == 302                     # not signed in
    failures = [r.getMessage() for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert len(failures) == 5
    assert all("user='lan'" in line and "address=127.0.0.1" in line and "at=2026-11-25T" in line
               for line in failures)
    assert any("refused (locked)" in r.getMessage() and "user='lan'" in r.getMessage() for r in caplog.records)
    assert not any("sai mật khẩu" in r.getMessage() or PASSWORD in r.getMessage() for r in caplog.records)
    sign_in(app, "binh")                       # another account from the same address still signs in


def test_one_address_is_locked_out_after_its_wrong_passwords_whichever_accounts_it_tries(
        world: dict[str, Any]) -> None:
    client = world["app"].test_client()
    for n in range(20):                        # [console] signin_per_address, four tries each of five names
        assert try_password(client, f"ten-{n % 5}", "sai mật khẩu").status_code == 401
    got = try_password(client, "binh", PASSWORD)
    assert got.status_code == 429 and LOCKED in got.get_data(as_text=True)
    other = world["app"].test_client()         # another address is not locked
    assert try_password(other, "binh", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 302


def test_a_sign_in_that_finds_every_argon2_slot_taken_is_turned_away_in_vietnamese(world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    slots = HashSlots(1, wait=0.05)
    app.extensions["hotline.hash_slots"] = slots
    client = app.test_client()
    with slots.take():
        got = try_password(client, "lan", PASSWORD)
    assert got.status_code == 503 and BUSY_VI in got.get_data(as_text=True)
    assert try_password(client, "lan", PASSWORD).status_code == 302            # the slot is free again


def test_every_page_has_a_csp_that_forbids_framing_and_inline_scripts_carry_its_nonce(
        world: dict[str, Any]) -> None:
    sup = sign_in(world["app"], "binh")
    for url in ("/login", "/tickets/", f"/tickets/{world['mine']}", "/wallboard/", "/api/openapi.yaml"):
        got = sup.get(url)
        policy = got.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, url
        assert got.headers["X-Frame-Options"] == "DENY" and got.headers["X-Content-Type-Options"] == "nosniff"
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce, policy
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", got.get_data(as_text=True))
        assert all(f'nonce="{nonce.group(1)}"' in attrs for attrs in scripts), (url, scripts)
    assert "ws://127.0.0.1:" in sup.get("/tickets/").headers["Content-Security-Policy"]   # the SIP WebSocket


def test_behind_the_proxy_the_log_has_the_clients_address_and_without_it_the_header_is_ignored(
        world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    ctx = world["ctx"]
    forwarded = {"headers": {"X-Forwarded-For": "203.0.113.9"}}
    with caplog.at_level(logging.WARNING, logger="hotline.console.signin"):
        try_password(world["app"].test_client(), "lan", "sai mật khẩu", **forwarded)
        ctx.settings.console.proxy_hops = 1
        behind = create_app(ctx, testing=True)
        try_password(behind.test_client(), "lan", "sai mật khẩu", **forwarded)
    lines = [r.getMessage() for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert "address=127.0.0.1" in lines[0] and "address=203.0.113.9" in lines[1]
