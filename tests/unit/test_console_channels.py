"""The console shows how each request came in and answers a written one back through its own channel: the
inbox's channel filter and mark; a written request's page with the citizen's contact, the place, the thread
and the photos, each photo served by the ticket's own route (who may see the ticket, in the AccessLog, only
from the attachments folder); an sms ticket's answer queued by the console and sent back once by the worker;
the per-channel table of the reports and the API's fields, masked for agencies.

On SQLite and PostgreSQL (``database_url``), through Flask's test client; tickets made by hotline.intake with a
real photo (Pillow); the answer's test with a Redis server of its own and the worker in burst mode.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from hotline.adapters.db.models import AccessLog, Attachment, IntakeMessage, Role
from hotline.intake import Request, Upload
from hotline.worker.runtime import Runtime
from operator_console import create_app
from tests.support.redis_server import redis_server
from tests.unit.test_console import PASSWORD, console_context, console_env, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)
from tests.unit.test_worker_paths import run_worker

PHOTO_NAME = "den-duong.jpg"


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


def web_request(world: dict[str, Any], agency: str | None = None) -> str:
    """A web form's request with a photo, the citizen's contact and the place; its ticket's code."""
    door = world["ctx"].intake(world["svc"].sessions)
    got = door.receive(Request(
        channel="web", content="Đèn đường trước số 12 Lê Lợi tắt đã một tuần.", name="Nguyễn Thị Lan",
        phone="0912345678", email="lan@example.vn", address="12 Lê Lợi, phường 1", latitude=10.4601,
        longitude=105.6329, agency=agency, files=(Upload(PHOTO_NAME, "image/jpeg", photo()),)))
    return got.code


def sms_request(world: dict[str, Any], agency: str | None = None) -> str:
    door = world["ctx"].intake(world["svc"].sessions)
    return door.receive(Request(channel="sms", content="Hỏi thủ tục đăng ký khai sinh.", phone="0987654321",
                                reply_to="0987654321", external_id="gw-1", agency=agency)).code


def file_url(world: dict[str, Any], code: str) -> str:
    [attachment] = world["svc"].tickets.get(code)["attachments"]
    return f"/tickets/{code}/files/{attachment['id']}"


def file_reads(world: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    with world["svc"].sessions() as s:
        return [(a.username, a.resource, a.detail or {})
                for a in s.scalars(select(AccessLog).where(AccessLog.action == "file_view").order_by(AccessLog.id))]


def test_the_inbox_filters_by_channel_and_marks_each_row(world: dict[str, Any]) -> None:
    web, sms = web_request(world), sms_request(world)
    op = sign_in(world["app"], "lan")
    page = op.get("/tickets/?channel=sms").get_data(as_text=True)
    assert sms in page and web not in page and world["mine"] not in page
    assert '<option value="sms" selected>Tin nhắn SMS</option>' in page
    assert '<span class="channel-mark" data-channel="sms">Tin nhắn SMS</span>' in page
    every = op.get("/tickets/").get_data(as_text=True)
    assert all(code in every for code in (web, sms, world["mine"], world["other"]))
    assert 'data-channel="web">Cổng thông tin</span>' in every and 'data-channel="phone">Điện thoại</span>' in every
    refused = op.get("/tickets/?channel=fax")
    assert refused.status_code == 400 and "Tham số &#39;channel&#39; phải là một trong" in refused.get_data(
        as_text=True)


def test_a_written_requests_page_shows_contact_place_thread_and_photo(world: dict[str, Any]) -> None:
    web, sms = web_request(world, agency="department:03"), sms_request(world, agency="department:03")
    op = sign_in(world["app"], "lan")
    page = op.get(f"/tickets/{web}").get_data(as_text=True)
    for text in ("Cổng thông tin", "Nguyễn Thị Lan", "lan@example.vn", "12 Lê Lợi, phường 1", "10.460100, 105.632900",
                 "https://www.openstreetmap.org/?mlat=10.460100&amp;mlon=105.632900#map=18/10.460100/105.632900",
                 "Trao đổi với người dân", "Người dân gửi", "Đèn đường trước số 12 Lê Lợi tắt đã một tuần.",
                 "Câu trả lời sẽ hiện trên trang tra cứu công khai của mã phiếu."):
        assert text in page, text
    url = file_url(world, web)
    assert f'<img src="{url}" alt="Ảnh {PHOTO_NAME}"' in page and f'<a href="{url}">{PHOTO_NAME}</a>' in page
    thread = op.get(f"/tickets/{sms}").get_data(as_text=True)
    assert "Câu trả lời sẽ được gửi cho người dân qua Tin nhắn SMS." in thread
    assert "Tổng đài gửi" in thread and "Đang chờ gửi" in thread and "tới 0987654321" in thread   # the receipt
    with world["svc"].sessions.begin() as s:
        s.execute(update(IntakeMessage).where(IntakeMessage.direction == "out").values(
            attempts=2, error="SendError: gateway 502"))
    failed = op.get(f"/tickets/{sms}").get_data(as_text=True)
    assert "Chưa gửi được (đã thử 2 lần; hệ thống sẽ thử lại): SendError: gateway 502" in failed


def test_the_photo_is_served_to_who_may_see_the_ticket_and_each_read_logged(world: dict[str, Any]) -> None:
    svc = world["svc"]
    svc.users.add("tp", "Đầu mối Sở Tư pháp", Role.AGENCY, PASSWORD, agency="department:01")
    web, sms = web_request(world, agency="department:03"), sms_request(world)
    url = file_url(world, web)
    op = sign_in(world["app"], "lan")
    got = op.get(url)
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(got.data)).size == (800, 600)
    assert got.headers["X-Content-Type-Options"] == "nosniff" and "attachment" not in got.headers.get(
        "Content-Disposition", "")
    assert sign_in(world["app"], "xd").get(url).status_code == 200          # department 03's own ticket
    assert sign_in(world["app"], "tp").get(url).status_code == 404          # another agency's: as its page
    assert op.get(url.replace(f"/tickets/{web}/", f"/tickets/{sms}/")).status_code == 404   # another ticket's id
    assert op.get(f"/tickets/{web}/files/999999").status_code == 404
    file_id = int(url.rsplit("/", 1)[-1])
    # the file's id, never the name the citizen gave it (an erasure does not reach the AccessLog)
    assert file_reads(world) == [("lan", f"ticket:{web}", {"file": file_id}),
                                 ("xd", f"ticket:{web}", {"file": file_id})]
    (world["tmp"] / "state" / "secret.txt").write_text("not a citizen's file")
    with svc.sessions.begin() as s:
        s.execute(update(Attachment).where(Attachment.id == file_id).values(path="../secret.txt"))
    assert op.get(url).status_code == 404                                   # never outside the folder
    assert len(file_reads(world)) == 2


def test_a_document_is_only_downloaded(world: dict[str, Any]) -> None:
    door = world["ctx"].intake(world["svc"].sessions)
    code = door.receive(Request(channel="email", content="Xin xem tệp kèm.", email="an@example.vn",
                                reply_to="an@example.vn", files=(Upload("<i>don.txt", "text/plain",
                                                                        b"<script>alert(1)</script>"),))).code
    op = sign_in(world["app"], "lan")
    got = op.get(file_url(world, code))
    assert got.status_code == 200 and got.mimetype == "text/plain"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    page = op.get(f"/tickets/{code}").get_data(as_text=True)
    assert "&lt;i&gt;don.txt</a>" in page and "<img" not in page


@pytest.fixture()
def live(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    """A console on a Redis server of its own (the ticket service's follow-up jobs really queued) and the
    worker's Runtime on the same settings."""
    with redis_server(tmp_path / "redis") as url:
        env = {**console_env(tmp_path, database_url), "HOTLINE_REDIS_URL": url}
        ctx = console_context(env)
        app = create_app(ctx, testing=True)
        svc = app.extensions["hotline"]
        svc.users.add("lan", "Người dùng lan", Role.OPERATOR, PASSWORD)
        yield {"app": app, "ctx": ctx, "svc": svc, "tmp": tmp_path, "rt": Runtime.build(ctx)}


def test_an_sms_tickets_answer_goes_back_to_the_citizen_once(live: dict[str, Any]) -> None:
    code = sms_request(live, agency="department:03")
    op = sign_in(live["app"], "lan")
    page = op.get(f"/tickets/{code}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answered = op.post(f"/tickets/{code}/answer", data={"text": "Mang giấy chứng sinh đến UBND xã.",
                                                        "csrf_token": token}, follow_redirects=True)
    shown = answered.get_data(as_text=True)
    assert "câu trả lời sẽ được gửi cho người dân qua Tin nhắn SMS." in shown
    assert "Câu trả lời đang được chuyển cho người dân qua Tin nhắn SMS" in shown       # not yet a message
    run_worker(live["rt"])
    run_worker(live["rt"])                      # the sweep again: nothing more
    ticket = live["svc"].tickets.get(code)
    out = [m for m in ticket["messages"] if m["direction"] == "out"]
    assert [m["body"] for m in out[1:]] == [f"Trả lời phản ánh mã {code}:\nMang giấy chứng sinh đến UBND xã."]
    assert out[1]["address"] == "0987654321" and out[1]["sent_at"] is None
    assert out[1]["error"] == "the sms channel is not set up to send (README: Channels)"   # kept for when it is
    assert [e["action"] for e in ticket["events"]].count("answer_sent") == 1
    after = op.get(f"/tickets/{code}").get_data(as_text=True)
    assert "Câu trả lời đang được chuyển" not in after and "Mang giấy chứng sinh đến UBND xã." in after
    assert "Chưa gửi được" in after


def test_the_reports_show_and_export_the_tickets_per_channel(world: dict[str, Any]) -> None:
    sms_request(world)
    web_request(world)
    sup = sign_in(world["app"], "binh")
    query = "from=2026-11-01&to=2026-11-30&by=month"
    page = sup.get(f"/reports/?{query}").get_data(as_text=True)
    assert "Phiếu tiếp nhận theo kênh, theo tháng" in page and "Tin nhắn SMS" in page and "Zalo" in page
    rows = list(csv.reader(io.StringIO(sup.get(f"/reports/export.csv?{query}").get_data(as_text=True))))
    start = rows.index(["Phiếu tiếp nhận theo kênh, theo tháng"])
    head, total = rows[start + 1], rows[start + 3]
    assert head == ["Tháng", "Phiếu tiếp nhận", "Điện thoại", "Hộp thư thoại", "Cổng thông tin", "Thư điện tử",
                    "Tin nhắn SMS", "Zalo", "Facebook", "Hệ thống khác (Open311)", "Kênh khác"]
    assert total == ["Tổng", "4", "2", "0", "1", "0", "1", "0", "0", "0", "0"]


def test_the_api_gives_the_channel_and_masks_the_citizens_contact_for_agencies(world: dict[str, Any]) -> None:
    svc = world["svc"]
    code = web_request(world, agency="department:03")
    full = world["app"].test_client().get(f"/api/tickets/{code}", headers={
        "Authorization": f"Bearer {svc.users.issue_token('lan')}"}).get_json()
    assert (full["channel"], full["contact_email"], full["caller"]) == ("web", "lan@example.vn", "0912345678")
    assert (full["address"], full["latitude"], full["longitude"]) == ("12 Lê Lợi, phường 1", 10.4601, 105.6329)
    assert [a["filename"] for a in full["attachments"]] == [PHOTO_NAME]
    agency = world["app"].test_client().get(f"/api/tickets/{code}", headers={
        "Authorization": f"Bearer {svc.users.issue_token('xd')}"}).get_json()
    assert (agency["channel"], agency["contact_name"], agency["caller"]) == ("web", "L.", "*******678")
    assert agency["contact_email"] == "***********.vn"
    listed = world["app"].test_client().get("/api/tickets?channel=web", headers={
        "Authorization": f"Bearer {svc.users.issue_token('xd')}"}).get_json()["tickets"]
    assert [(t["code"], t["channel"], t["contact_email"]) for t in listed] == [(code, "web", "***********.vn")]
