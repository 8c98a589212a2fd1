"""The console (Flask) on a real database: sign-in, roles on every route, CSRF, masked numbers,
recordings replayed with HTTP ranges and logged, path tricks refused, the JSON API's tokens.

Runs on SQLite and on PostgreSQL (``database_url``). The browser-level tests (Chromium, WebRTC)
are integration tests; these go through Flask's test client, which runs the same views, gate and
CSRF checks as a browser's requests.
"""
from __future__ import annotations

import re
import socket
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ari_app.audio import audio_facts
from hotline.adapters.db.models import AccessLog, Role, User, VoicemailStatus
from hotline.adapters.db.repository import CallRepository
from hotline.context import Context, load_context
from hotline.domain.clock import fake_clock_env
from operator_console import create_app
from operator_console.filters import CSRF_VI
from operator_console.permissions import PERMISSIONS, PUBLIC
from tests.support.audio import write_wav

PASSWORD = "mật-khẩu-đủ-dài"
ROLES = {"lan": Role.OPERATOR, "binh": Role.SUPERVISOR, "an": Role.ADMIN, "xd": Role.AGENCY}
CALLER = "0912345678"
REC = "2026/11/25/hotline1-1.wav"
VM = "2026/11/25/hotline1-2.voicemail.wav"     # the message of add_voicemail's call
OPERATORS = {"lan": "op-lan", "binh": "op-binh", "an": "op-an"}     # the users whose phone is the softphone
#: What the walk's bare request (no form, no JSON body) gets from a route that refuses it for a reason of its
#: own; every other route answers an allowed role 2xx or 3xx.
DECLARED = {
    ("POST", "phone.state"): 409,            # no state asked for
    ("POST", "phone.transfer"): 409,         # no call, no desk
    ("POST", "phone.transfer_back"): 409,    # no call (and no Asterisk: AMI is on a closed port)
    ("POST", "phone.ticket"): 409,           # a ticket without content
    ("POST", "phone.call"): 409,             # no number to call
    ("POST", "kb.edit"): 400,                # an article without a title
    ("POST", "wallboard.spy"): 400,          # no operator, no way of listening
    ("GET", "wallboard.live_floor"): 503,    # the floor needs Redis (a closed port here)
    ("POST", "privacy.export"): 400,         # no number
    ("POST", "account.password"): 400,       # no password (refused before any check: no wrong sign-in counted)
    ("POST", "publishing.approve"): 400,     # no text to publish (tests/unit/test_console_publishing.py)
    ("GET", "tickets.file"): 404,            # a phone ticket has no files (tests/unit/test_console_channels.py)
}


def closed_port() -> int:
    """A port nothing listens on (AMI there is refused at once, never another stack's Asterisk)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console_env(tmp: Path, database_url: str) -> dict[str, str]:
    """The tests' hotline: state and recordings under ``tmp``, no Redis, the clock at 09:00 on Wednesday 25
    November 2026."""
    return {"HOTLINE_STATE_DIR": str(tmp / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp / "rec"),
            "HOTLINE_DATABASE_URL": database_url, "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0",
            **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00"))}


def console_context(env: dict[str, str]) -> Context:
    """The context the console is built on in the tests, AMI on a closed port."""
    ctx = load_context(env=env)
    ctx.settings.asterisk.ami_port = closed_port()
    return ctx


def add_voicemail(world: dict[str, Any]) -> int:
    """A caller's 2 s message on a call of its own (hotline1-2), not yet transcribed; returns its id."""
    svc, tmp = world["svc"], world["tmp"]
    repo = CallRepository(svc.sessions)
    now = world["ctx"].clock.now()
    repo.start_call("hotline1-2", channel_id="hotline1-2", caller=CALLER, dialled="1022", started_at=now)
    write_wav(tmp / "rec" / VM, 2.0)
    return repo.add_voicemail("hotline1-2", audio_facts(tmp / "rec" / VM, tmp / "rec"),
                              status=VoicemailStatus.PENDING, ended_by="pound", created_at=now)


@pytest.fixture()
def world(tmp_path: Path, database_url: str) -> dict[str, Any]:
    env = console_env(tmp_path, database_url)
    ctx = console_context(env)
    app = create_app(ctx, testing=True)
    svc = app.extensions["hotline"]
    for name, role in ROLES.items():
        svc.users.add(name, f"Người dùng {name}", role, PASSWORD, agency="department:03" if role == Role.AGENCY
                      else None, operator=OPERATORS.get(name))
    now = ctx.clock.now()
    repo = CallRepository(svc.sessions)
    repo.start_call("hotline1-1", channel_id="hotline1-1", caller=CALLER, dialled="1022", started_at=now,
                    answered_at=now, recording_file=str(tmp_path / "rec" / REC))
    write_wav(tmp_path / "rec" / REC, 3.0)
    repo.add_recording("hotline1-1", audio_facts(tmp_path / "rec" / REC, tmp_path / "rec"), now)
    write_wav(tmp_path / "rec" / "2026/11/25/stray.wav", 1.0)           # on disk, but no call of ours
    (tmp_path / "secret.txt").write_text("outside the recordings root")
    mine = ctx.tickets(svc.sessions).create(channel="phone", caller=CALLER, content="Đèn ĐƯỜNG hẻm 12 không sáng",
                                            category="infrastructure", actor="lan", call_id="hotline1-1")
    svc.tickets.assign(mine["code"], "department:03", actor="lan")
    other = svc.tickets.create(channel="phone", caller="0987654321", content="Hỏi thủ tục cấp đổi bằng lái",
                               category="procedures", actor="lan")
    from hotline.services.knowledge import KnowledgeBase
    article = KnowledgeBase(svc.sessions, ctx.clock.now, ctx.categories, lambda _k: True).save(
        {"title": "Đăng ký kết hôn", "category": "procedures", "documents": "Tờ khai đăng ký kết hôn"}, actor="an")
    return {"app": app, "ctx": ctx, "svc": svc, "mine": mine["code"], "other": other["code"], "tmp": tmp_path,
            "article": article.id}


def sign_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, "the sign-in form carries a CSRF token"
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def csrf_of(client: FlaskClient, url: str = "/tickets/") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))
    assert found
    return found.group(1)


def urls(app: Flask, world: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) of every route, with real values for its arguments."""
    values = {"code": world["mine"], "rel": REC, "article_id": str(world["article"]), "kind": "recording",
              "file_id": "1", "call_id": "out-0000"}
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(r"<(?:[a-z]+:)?" + arg + ">", values[arg], url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.endpoint))
    return out


def test_every_route_declares_who_may_use_it_and_the_server_enforces_it(world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    app.config["WTF_CSRF_ENABLED"] = False       # CSRF has its own test below
    routes = urls(app, world)
    assert len(routes) >= 15
    assert set(DECLARED) <= {(method, endpoint) for method, _url, endpoint in routes}, "a declared route is gone"
    for _method, _url, endpoint in routes:
        permission = getattr(app.view_functions[endpoint], "permission", None)
        assert permission == "public" or permission in PERMISSIONS, f"{endpoint} declares no permission"
        assert (permission == "public") == (endpoint in PUBLIC), f"{endpoint}: public only if listed in PUBLIC"
    for name, role in {**ROLES, None: None}.items():
        client = sign_in(app, name) if name else app.test_client()
        token = {"Authorization": f"Bearer {world['svc'].users.issue_token(name)}"} if name else {}
        for method, url, endpoint in routes:
            permission = app.view_functions[endpoint].permission
            if endpoint == "auth.logout":
                continue                                  # would end the session of the rest of the loop
            answer = client.open(url, method=method, headers=token if url.startswith("/api/") else {})
            got = answer.status_code
            answer.close()          # as a browser leaving the page: the wallboard's stream ends here, not later
            if permission == "public":
                # /healthz: 503, this world has no Asterisk, Redis or worker
                assert got in ((503,) if endpoint == "health.healthz" else (200, 302, 401)), (name, method, url, got)
            elif role is None:
                assert got == (401 if url.startswith("/api/") else 302), (method, url, got)
            elif role in PERMISSIONS[permission]:
                declared = DECLARED.get((method, endpoint))
                assert got == declared if declared else 200 <= got < 400, (name, method, url, got)
            else:
                assert got == 403, (name, method, url, got)


def test_every_form_needs_its_csrf_token(world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    client = sign_in(app, "an")
    posts = [(url, endpoint) for method, url, endpoint in urls(app, world) if method == "POST"]
    assert {e for _u, e in posts} >= {"auth.login", "auth.logout", "tickets.assign", "tickets.answer",
                                      "tickets.start", "tickets.close"}
    for url, _endpoint in posts:
        page = client.post(url, data={})
        assert page.status_code == 400 and CSRF_VI in page.get_data(as_text=True), url
        fetched = client.post(url, json={})          # the softphone's and the wallboard's requests
        assert fetched.status_code == 400 and fetched.get_json() == {"error": "csrf", "message": CSRF_VI}, url
    stale = client.post(f"/tickets/{world['other']}/assign", data={"agency": "department:01", "csrf_token": "x"})
    assert stale.status_code == 400 and CSRF_VI in stale.get_data(as_text=True)
    assert world["svc"].tickets.get(world["other"])["agency"] is None
    token = csrf_of(client)
    got = client.post(f"/tickets/{world['other']}/assign", data={"agency": "department:01", "csrf_token": token})
    assert got.status_code == 302
    assert world["svc"].tickets.get(world["other"])["agency"] == "department:01"


def test_odd_query_arguments_are_refused_with_400_in_vietnamese_never_a_500(world: dict[str, Any]) -> None:
    admin = sign_in(world["app"], "an")
    for url in ("/tickets/?page=abc", "/tickets/?page=-3", "/tickets/?page=0", "/tickets/latest?after=x",
                "/recordings/?from=31/12/2026", "/reports/?from=x&to=y", "/reports/?by=year",
                "/tickets/?status=lost", "/tickets/?search=" + "9" * 201):
        got = admin.get(url)
        assert got.status_code == 400 and "Tham số" in got.get_data(as_text=True), url
    # names url_for(**request.args) would take as its own (a BuildError or TypeError, a 500, before)
    for url in ("/reports/?_method=POST", "/reports/?_external=1", "/reports/?_anchor=x", "/reports/?endpoint=x",
                "/tickets/?_scheme=ftp", "/access-log/?_method=POST"):
        got = admin.get(url)
        assert got.status_code == 400, url
        assert "không được dùng trong địa chỉ" in got.get_data(as_text=True), url
    for url in ("/tickets/?page=2", "/tickets/?page=", "/recordings/?from=2026-11-25", "/reports/?by=week",
                "/phone/history?number="):
        assert admin.get(url).status_code == 200, url
    token = {"Authorization": f"Bearer {world['svc'].users.issue_token('an')}"}
    client = world["app"].test_client()
    for url, name in (("/api/tickets?limit=abc", "limit"), ("/api/tickets?offset=-1", "offset"),
                      ("/api/tickets?limit=-1", "limit"), ("/api/tickets?limit=0", "limit"),
                      ("/api/tickets?limit=501", "limit"), ("/api/calls?limit=x", "limit"),
                      ("/api/recordings?limit=-1", "limit"), ("/api/tickets?page=x", "page")):
        got = client.get(url, headers=token)
        assert got.status_code == 400, url
        assert got.get_json()["message"].startswith(f"Tham số '{name}'"), got.get_json()
    assert client.get("/api/tickets?limit=500", headers=token).status_code == 200
    assert len(client.get("/api/tickets?limit=1&offset=1", headers=token).get_json()["tickets"]) == 1


def test_wrong_password_is_refused_in_vietnamese_and_passwords_are_argon2(world: dict[str, Any]) -> None:
    client = world["app"].test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    got = client.post("/login", data={"username": "lan", "password": "sai mật khẩu", "csrf_token": token.group(1)})
    assert got.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng" in got.get_data(as_text=True)
    assert client.get("/tickets/").status_code == 302
    with world["svc"].sessions() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    # after signing in elsewhere, an open redirect is not followed
    client = sign_in(world["app"], "lan")
    token2 = csrf_of(client)
    client.post("/logout", data={"csrf_token": token2})
    page = client.get("/login?next=//evil.example/")
    t3 = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert t3
    got = client.post("/login?next=//evil.example/", data={"username": "lan", "password": PASSWORD,
                                                          "csrf_token": t3.group(1)})
    assert got.status_code == 302 and got.headers["Location"] == "/"


def test_supervisor_replays_with_a_seek_and_each_play_is_logged(world: dict[str, Any]) -> None:
    app, svc = world["app"], world["svc"]
    sup = sign_in(app, "binh")
    whole = sup.get(f"/recordings/file/{REC}")
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    size = int(whole.headers["Content-Length"])
    assert size == 44 + 2 * 8000 * 3                     # the 3 s WAV itself
    seek = sup.get(f"/recordings/file/{REC}", headers={"Range": "bytes=24044-"})
    assert seek.status_code == 206 and seek.headers["Content-Range"] == f"bytes 24044-{size - 1}/{size}"
    assert len(seek.data) == size - 24044
    download = sup.get(f"/recordings/file/{REC}?download=1")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    with svc.sessions() as s:
        log = [(a.username, a.action, a.resource, a.call_id, (a.detail or {}).get("range"))
               for a in s.scalars(select(AccessLog).order_by(AccessLog.id))]
    assert log == [("binh", "play", REC, "hotline1-1", None), ("binh", "play", REC, "hotline1-1", "bytes=24044-"),
                   ("binh", "download", REC, "hotline1-1", None)]
    op = sign_in(app, "lan")
    assert op.get(f"/recordings/file/{REC}").status_code == 403
    for trick in ("../secret.txt", "2026/../../secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt", "/etc/passwd",
                  "/" + str(world["tmp"] / "secret.txt"), "2026/11/25/stray.wav", "2026/11/25", "2026/11/25/"):
        got = sup.get(f"/recordings/file/{trick}", follow_redirects=True)   # Werkzeug merges "//" first
        assert got.status_code == 404 and b"outside" not in got.data and b"root:" not in got.data, trick
    with svc.sessions() as s:
        assert len(list(s.scalars(select(AccessLog)))) == 3      # refused requests served and logged nothing


def test_agency_sees_and_answers_only_its_own_tickets_with_numbers_masked(world: dict[str, Any]) -> None:
    client = sign_in(world["app"], "xd")
    inbox = client.get("/tickets/").get_data(as_text=True)
    assert world["mine"] in inbox and world["other"] not in inbox
    assert CALLER not in inbox and "*******678" in inbox
    assert client.get(f"/tickets/{world['other']}").status_code == 404
    assert client.get("/tickets/?agency=department:01").get_data(as_text=True).count(world["other"]) == 0
    token = csrf_of(client)
    got = client.post(f"/tickets/{world['mine']}/answer", data={"text": "Đã sửa đèn ngày 26/11", "csrf_token": token})
    assert got.status_code == 302
    assert world["svc"].tickets.get(world["mine"])["status"] == "answered"
    assert client.post(f"/tickets/{world['other']}/answer",
                       data={"text": "không phải của tôi", "csrf_token": token}).status_code == 404
    op = sign_in(world["app"], "lan")
    assert CALLER in op.get("/tickets/").get_data(as_text=True)


def test_inbox_filters_and_search_with_vietnamese_case(world: dict[str, Any]) -> None:
    client = sign_in(world["app"], "lan")
    found = client.get("/tickets/?search=đường").get_data(as_text=True)
    assert world["mine"] in found and world["other"] not in found
    found = client.get("/tickets/?search=BẰNG+LÁI").get_data(as_text=True)
    assert world["other"] in found and world["mine"] not in found
    assigned = client.get("/tickets/?status=assigned").get_data(as_text=True)
    assert world["mine"] in assigned and world["other"] not in assigned
    page = client.get(f"/tickets/{world['mine']}").get_data(as_text=True)
    assert "Chuyển cơ quan" in page and "Sở Xây dựng" in page


def test_api_needs_a_token_and_keeps_the_same_rules(world: dict[str, Any]) -> None:
    app, svc = world["app"], world["svc"]
    client = app.test_client()
    assert client.get("/api/tickets").status_code == 401
    assert sign_in(app, "binh").get("/api/tickets").status_code == 401     # a session cookie is not a token
    assert client.get("/api/tickets", headers={"Authorization": "Bearer h1022_wrong"}).status_code == 401
    agency = svc.users.issue_token("xd")
    got = client.get("/api/tickets", headers={"Authorization": f"Bearer {agency}"})
    assert got.status_code == 200
    tickets = got.get_json()["tickets"]
    assert [t["code"] for t in tickets] == [world["mine"]] and tickets[0]["caller"] == "*******678"
    assert client.get("/api/recordings", headers={"Authorization": f"Bearer {agency}"}).status_code == 403
    sup = svc.users.issue_token("binh")
    recs = client.get("/api/recordings", headers={"Authorization": f"Bearer {sup}"}).get_json()["recordings"]
    assert [r["path"] for r in recs] == [REC] and recs[0]["url"] == f"/recordings/file/{REC}"
    svc.users.set_active("binh", False)
    assert client.get("/api/recordings", headers={"Authorization": f"Bearer {sup}"}).status_code == 401
    assert client.post("/api/tickets").status_code in (401, 405)


def test_an_open_inbox_gets_new_tickets_without_reloading(world: dict[str, Any]) -> None:
    svc = world["svc"]
    newest = max(t["id"] for t in svc.tickets.list())
    op = sign_in(world["app"], "lan")
    page = op.get("/tickets/").get_data(as_text=True)
    assert f'data-latest="{newest}"' in page and 'data-live="1"' in page
    assert op.get(f"/tickets/latest?after={newest}").get_json() == {"ids": [], "html": ""}
    fresh = svc.tickets.create(channel="voicemail", caller="0911222333", content="Lời nhắn: hỏi về học phí",
                               actor="worker")
    got = op.get(f"/tickets/latest?after={newest}").get_json()
    assert got["ids"] == [fresh["id"]] and fresh["code"] in got["html"] and "Hộp thư thoại" in got["html"]
    # the filters of the open inbox apply, and an agency never gets another agency's tickets
    assert op.get(f"/tickets/latest?after={newest}&channel=phone").get_json()["ids"] == []
    agency = sign_in(world["app"], "xd")
    assert agency.get(f"/tickets/latest?after={newest}").get_json()["ids"] == []


def test_knowledge_base_sample_set_search_and_supervisor_edit(world: dict[str, Any]) -> None:
    from hotline.services.knowledge import KnowledgeBase
    ctx, svc = world["ctx"], world["svc"]
    base = KnowledgeBase(svc.sessions, ctx.clock.now, ctx.categories, lambda k: ctx.directory.find(
        *k.partition(":")[::2]) is not None)
    sample = Path(__file__).resolve().parents[2] / "knowledge_base.yaml"
    assert base.import_file(sample) == base.import_file(sample) == 6      # a second import updates, adds nothing
    assert len(base.search()) == 7                                          # with the fixture's own article
    op = sign_in(world["app"], "lan")
    found = op.get("/kb/search?q=KHAI+SINH").get_json()["articles"]
    assert [a["title"] for a in found] == ["Đăng ký khai sinh"]
    assert "Miễn lệ phí" in found[0]["fees"]
    page = op.get(f"/kb/{found[0]['id']}").get_data(as_text=True)
    assert "Giấy chứng sinh" in page and "Thành phố Cao Lãnh" in page
    assert op.get(f"/kb/{found[0]['id']}/edit").status_code == 403          # operators read, supervisors edit
    sup = sign_in(world["app"], "binh")
    token = csrf_of(sup)
    form = {**{k: found[0][k] or "" for k in ("title", "category", "summary", "documents", "fees", "desk")},
            "time_limit": "Trong ngày làm việc", "csrf_token": token}
    assert sup.post(f"/kb/{found[0]['id']}/edit", data=form).status_code == 302
    assert base.get(found[0]["id"]).time_limit == "Trong ngày làm việc"      # type: ignore[union-attr]
    assert base.get(found[0]["id"]).updated_by == "binh"                    # type: ignore[union-attr]
    bad = sup.post("/kb/new", data={"title": "", "category": "procedures", "csrf_token": token})
    assert bad.status_code == 400 and "cần có tiêu đề" in bad.get_data(as_text=True)


def test_reports_chart_csv_and_xlsx_agree_with_the_rows(world: dict[str, Any]) -> None:
    """A first look (tests/unit/test_console_reports.py checks every table against hotline/domain/reports.py)."""
    import csv
    import io

    from openpyxl import load_workbook
    svc = world["svc"]
    svc.tickets.answer(world["mine"], "Đã sửa đèn", actor="xd")           # answered on time (same morning)
    sup = sign_in(world["app"], "binh")
    page = sup.get("/reports/?from=2026-11-01&to=2026-11-30&by=week")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in text and "Tuần 48/2026" in text and "2026-W48" not in text
    assert "Sở Xây dựng" in text and "100,0 %" in text                 # the one assigned ticket, on time
    got = sup.get("/reports/export.csv?from=2026-11-01&to=2026-11-30&by=week")
    rows = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Cuộc gọi theo tuần"] and rows[1][:3] == ["Tuần", "Cuộc gọi vào hàng đợi", "Đã trả lời"]
    assert ["Tuần 48/2026", "Sở Xây dựng", "1", "1", "1", "1.0", "0"] in rows
    book = load_workbook(io.BytesIO(sup.get("/reports/export.xlsx?from=2026-11-01&to=2026-11-30").data))
    assert book.sheetnames == ["Cuộc gọi", "Tổng đài viên", "Gọi lại", "Cuộc gọi ra", "Phiếu theo lĩnh vực",
                               "Phiếu theo kênh", "Phiếu theo cơ quan", "Điểm nóng"]
    sheet = list(book["Phiếu theo cơ quan"].values)
    assert sheet[1][:2] == ("Ngày", "Cơ quan") and sheet[2][:5] == ("25/11/2026", "Sở Xây dựng", 1, 1, 1)
    assert sign_in(world["app"], "lan").get("/reports/").status_code == 403


def test_wallboard_streams_the_monitors_snapshot_and_live_messages(world: dict[str, Any]) -> None:
    """Through the real Redis: what the monitor publishes reaches the supervisor's event stream."""
    import asyncio
    import json
    import threading

    import redis
    import redis.asyncio as aioredis

    from monitor.publish import LivePublisher
    from operator_console.wallboard import stream_events

    url = "redis://127.0.0.1:6379/14"
    own = world["ctx"].settings.redis
    own.live_channel = f"test:live:{uuid.uuid4().hex}"      # this test's own channel: others run beside it
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("no Redis on 127.0.0.1:6379: scripts/bootstrap (hotline setup) starts one")
    snapshot = {"at": "2026-11-25T02:00:00+00:00", "waiting": [{"caller": "0912345678", "wait": 12}],
                "longest_wait": 12, "operators": [{"operator": "op-lan", "state": "on_call"}], "by_state": {}}

    def publish() -> None:
        async def go() -> None:
            publisher = LivePublisher(aioredis.Redis.from_url(url), own.live_channel, "node-a")
            await publisher.publish([{"type": "caller_joined", "call_id": "c9", "caller": "0912345678"}], snapshot)
            await publisher.close()
        asyncio.run(go())

    app = world["app"]
    with app.test_request_context():
        events = stream_events(client, own.live_channel, max_seconds=4)
        seen: list[tuple[str, Any]] = []
        timer = None
        for chunk in events:
            if chunk.startswith("event: "):
                kind, data = chunk.split("\n")[0][7:], json.loads(chunk.split("\n")[1][6:])
                seen.append((kind, data))
                if kind == "status" and timer is None:       # subscribed: now the monitor publishes
                    timer = threading.Timer(0.2, publish)
                    timer.start()
                if kind == "snapshot" and any(k == "live" for k, _d in seen):
                    break
        events.close()
    kinds = [k for k, _d in seen]
    assert kinds[:2] == ["figures", "status"] and seen[1][1] == {"redis": "up"}
    live = next(d for k, d in seen if k == "live")
    assert live == {"type": "caller_joined", "call_id": "c9", "caller": "0912345678", "node": "node-a"}
    kind, shown = seen[-1]
    assert kind == "snapshot" and shown["waiting"] == [{**snapshot["waiting"][0], "node": "node-a"}]   # type: ignore[index]
    assert shown["longest_wait"] == 12 and [n["node"] for n in shown["nodes"]] == ["node-a"]
    assert seen[0][1]["day"] == "2026-11-25" and seen[0][1]["overdue_tickets"] == 0
    client.delete(*client.keys(f"{own.live_channel}:*"))
    client.close()
    assert sign_in(app, "lan").get("/wallboard/").status_code == 403
    page = sign_in(app, "binh").get("/wallboard/").get_data(as_text=True)
    assert "Giám sát trực tuyến" in page and "EventSource" in page


def test_wallboard_says_when_redis_is_away(world: dict[str, Any]) -> None:
    import json

    import redis

    from operator_console.wallboard import stream_events
    with world["app"].test_request_context():
        events = stream_events(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5),
                               "test:live:away", max_seconds=1)
        chunks = [c for c in events if c.startswith("event: status")]
    assert chunks and json.loads(chunks[0].split("\n")[1][6:])["redis"] == "down"


def test_the_openapi_file_describes_every_api_route(world: dict[str, Any]) -> None:
    import yaml
    app: Flask = world["app"]
    got = app.test_client().get("/api/openapi.yaml")
    assert got.status_code == 200
    spec = yaml.safe_load(got.data)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    routes = {re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/")}
    assert routes == set(spec["paths"]), routes ^ set(spec["paths"])


def test_retention_deletes_old_recordings_logs_each_and_keeps_the_rows(world: dict[str, Any]) -> None:
    from datetime import timedelta

    from hotline.adapters.db.models import Recording
    from hotline.services.retention import purge_recordings
    svc, tmp = world["svc"], world["tmp"]
    now = world["ctx"].clock.now()
    root = tmp / "rec"
    assert purge_recordings(svc.sessions, root, now + timedelta(days=400), 0) == []        # 0: keep everything
    assert purge_recordings(svc.sessions, root, now + timedelta(days=29), 30) == []       # not old enough
    assert purge_recordings(svc.sessions, root, now + timedelta(days=31), 30, dry_run=True) == [REC]
    assert (root / REC).exists()
    assert purge_recordings(svc.sessions, root, now + timedelta(days=31), 30) == [REC]
    assert not (root / REC).exists() and (root / "2026/11/25/stray.wav").exists()
    assert purge_recordings(svc.sessions, root, now + timedelta(days=32), 30) == []       # once only
    with svc.sessions() as s:
        [rec] = s.scalars(select(Recording))
        [log] = s.scalars(select(AccessLog).where(AccessLog.action == "delete"))
    assert rec.deleted_at is not None and rec.path == REC
    assert (log.username, log.resource, log.call_id) == ("system", REC, "hotline1-1")
    sup = sign_in(world["app"], "binh")
    assert sup.get(f"/recordings/file/{REC}").status_code == 410           # gone, and says so


def test_supervising_a_call_needs_the_supervisors_own_phone(world: dict[str, Any]) -> None:
    app = world["app"]
    world["svc"].users.add("nam", "Giám sát viên không có máy", Role.SUPERVISOR, PASSWORD)
    phoneless = sign_in(app, "nam")
    got = phoneless.post("/wallboard/spy", json={"operator": "op-lan", "mode": "listen"},
                         headers={"X-CSRFToken": csrf_of(phoneless)})
    assert got.status_code == 409 and "chưa gắn với máy" in got.get_json()["message"]
    sup = sign_in(app, "binh")                                  # their phone is op-binh; Asterisk is not there
    token = csrf_of(sup)
    got = sup.post("/wallboard/spy", json={"operator": "op-lan", "mode": "listen"}, headers={"X-CSRFToken": token})
    assert got.status_code == 409 and got.get_json()["message"].startswith(
        "Không gọi được máy của bạn: Không liên lạc được với tổng đài (Asterisk)")
    bad = sup.post("/wallboard/spy", json={"operator": "op-lan;x", "mode": "listen"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 400
    assert sup.post("/wallboard/spy", json={"operator": "op-lan", "mode": "listen"}).status_code == 400   # no CSRF
    op = sign_in(app, "lan")
    assert op.post("/wallboard/spy", json={"operator": "op-lan", "mode": "listen"},
                   headers={"X-CSRFToken": csrf_of(op)}).status_code == 403


def test_a_recording_is_drawn_as_a_waveform_for_those_who_may_play_it(world: dict[str, Any]) -> None:
    from operator_console.recordings import wave_peaks
    tmp = world["tmp"]
    loud = write_wav(tmp / "peaks.wav", 2.0, frame=b"\x00\x40\x00\xc0")      # +-16384: half scale
    peaks = wave_peaks(loud)
    assert len(peaks) == 600 and all(abs(p - 0.5) < 0.01 for p in peaks)
    sup = sign_in(world["app"], "binh")
    got = sup.get(f"/recordings/waveform/{REC}")
    assert got.status_code == 200 and got.mimetype == "image/svg+xml"
    assert got.get_data(as_text=True).count("<rect") == 600
    assert sign_in(world["app"], "lan").get(f"/recordings/waveform/{REC}").status_code == 403
    assert sup.get("/recordings/waveform/../secret.txt", follow_redirects=True).status_code == 404
    assert sup.get("/recordings/waveform/2026/11/25/stray.wav").status_code == 404
    page = sup.get("/recordings/").get_data(as_text=True)
    assert f"/recordings/waveform/{REC}" in page and "data-wave" in page
    with world["svc"].sessions() as s:                       # a picture is not a play: not logged (the search is)
        assert [a.action for a in s.scalars(select(AccessLog))] == ["recording_list"]


def test_the_wallboard_adds_up_the_nodes_and_shows_each(world: dict[str, Any]) -> None:
    """Two nodes' monitors publish on the real Redis: ``/wallboard/live`` gives the sum and each node; a node
    silent for ``[cluster] dead_after`` is shown stale and left out of the sum."""
    import asyncio
    import time

    import redis
    import redis.asyncio as aioredis

    from hotline.domain.vocabulary import live_nodes_key
    from monitor.publish import LivePublisher

    url = "redis://127.0.0.1:6379/14"
    settings = world["ctx"].settings
    settings.redis.url, settings.redis.live_channel = url, f"test:live:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(url)
    at = "2026-11-25T02:00:00+00:00"
    pictures = {
        "node-a": {"at": at, "longest_wait": 40, "by_state": {"on_call": ["op-lan"]},
                   "waiting": [{"call_id": "a1", "caller": "*******678", "wait": 40, "position": 1}],
                   "operators": [{"operator": "op-lan", "state": "on_call"}]},
        "node-b": {"at": at, "longest_wait": 12, "by_state": {"available": ["op-binh"]},
                   "waiting": [{"call_id": "b1", "caller": "*******111", "wait": 12, "position": 1},
                               {"call_id": "b2", "caller": "*******222", "wait": 3, "position": 2}],
                   "operators": [{"operator": "op-binh", "state": "available"}]},
        "node-c": {"at": at, "longest_wait": 99, "by_state": {},
                   "waiting": [{"call_id": "c1", "caller": "*******333", "wait": 99, "position": 1}],
                   "operators": []},
    }

    async def publish() -> None:
        for node, snapshot in pictures.items():
            publisher = LivePublisher(aioredis.Redis.from_url(url), settings.redis.live_channel, node)
            await publisher.publish([], snapshot)
            await publisher.close()
    try:
        asyncio.run(publish())
        # node-c's monitor went silent longer than dead_after ago (its last snapshot stays in Redis).
        client.hset(live_nodes_key(settings.redis.live_channel), "node-c", f"{time.time() - 3600:.3f}")
        sup = sign_in(world["app"], "binh")
        floor = sup.get("/wallboard/live").get_json()
        assert [w["call_id"] for w in floor["waiting"]] == ["a1", "b1", "b2"] and floor["longest_wait"] == 40
        assert {(o["operator"], o["node"]) for o in floor["operators"]} == {("op-lan", "node-a"), ("op-binh", "node-b")}
        assert floor["by_state"] == {"on_call": ["op-lan"], "available": ["op-binh"]}
        nodes = {n["node"]: n for n in floor["nodes"]}
        assert [nodes[n]["waiting"] for n in ("node-a", "node-b", "node-c")] == [1, 2, 1]
        assert [nodes[n]["stale"] for n in ("node-a", "node-b", "node-c")] == [False, False, True]
        assert nodes["node-b"]["by_state"] == {"available": 1}
        assert sign_in(world["app"], "lan").get("/wallboard/live").status_code == 403
        page = sup.get("/wallboard/").get_data(as_text=True)
        assert "Theo máy chủ tổng đài" in page and "Mất liên lạc" in page
    finally:
        client.delete(*client.keys(f"{settings.redis.live_channel}:*"))
        client.close()
