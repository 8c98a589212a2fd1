"""The public site's web form and status page (public_site.form) through Flask's test client, on a real database
(SQLite and PostgreSQL) and a real Redis (the rate limits and the refusal counts): a citizen's request with a
photo becomes a ticket and a code; a refused one is shown again with what was written; a flood is throttled and
counted; the status page shows where a ticket stands and its answer, never who sent it or what they wrote."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from stdnum import damm

from hotline.context import Context
from hotline.domain.tickets import codes

Counts = Callable[[], dict[str, int]]
pytest_plugins = ("tests.support.public_site",)      # the ctx, client and refusals fixtures

CONTENT = "Cống thoát nước trước chợ phường 2 bị tắc, nước tràn lên đường."


def token(client: FlaskClient) -> str:
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


def send(client: FlaskClient, address: str = "127.0.0.1", **fields: Any) -> Any:
    data: dict[str, Any] = {"csrf_token": token(client), "noi_dung": CONTENT, **fields}
    return client.post("/gui", data=data, content_type="multipart/form-data", environ_base={"REMOTE_ADDR": address})


def test_the_form_is_vietnamese_and_locked_down(client: FlaskClient, ctx: Context) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Gửi phản ánh, kiến nghị" in text and "Nội dung phản ánh, kiến nghị" in text
    assert all(c.name in text for c in ctx.categories.entries)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "no-referrer"


def test_a_request_with_a_photo_gets_its_code_and_its_status_page(client: FlaskClient, ctx: Context) -> None:
    sent = send(client, linh_vuc="infrastructure", ho_ten="Trần Văn Bình", dien_thoai="0903 123 456",
                dia_chi="Chợ phường 2", vi_do="10.4599", kinh_do="105.6325",
                anh=(io.BytesIO(photo()), "cong.jpg", "image/jpeg"))
    assert sent.status_code == 200, sent.get_data(as_text=True)
    code = re.search(r'id="ma-phieu">(\d+)<', sent.get_data(as_text=True))
    assert code and codes.is_valid(code.group(1), 7)
    ticket = ctx.tickets(ctx.sessions()).get(code.group(1))
    assert ticket is not None
    assert (ticket["channel"], ticket["caller"], ticket["contact_name"], ticket["category"]) == (
        "web", "0903123456", "Trần Văn Bình", "infrastructure")
    assert (ticket["latitude"], ticket["longitude"]) == (10.4599, 105.6325)
    assert [a["media_type"] for a in ticket["attachments"]] == ["image/jpeg"]
    status = client.get(f"/tra-cuu/{code.group(1)}")
    assert status.status_code == 200
    page = status.get_data(as_text=True)
    assert "Mới tiếp nhận" in page and "Cổng thông tin" in page
    for personal in ("0903123456", "Trần Văn Bình", "Cống thoát nước", "Chợ phường 2"):
        assert personal not in page, personal       # nothing of who sent it, nor their words
    ctx.tickets(ctx.sessions()).answer(code.group(1), "Công ty Công trình đô thị đã thông cống ngày 5/12.",
                                       actor="agency-xd")
    guessed = client.get(f"/tra-cuu/{code.group(1)}").get_data(as_text=True)      # the code alone: anyone's
    assert "Đã có kết quả trả lời" in guessed and "đã thông cống" not in guessed and "tra-loi-rieng" in guessed
    link = re.search(r'id="tra-cuu" href="([^"]+)"', sent.get_data(as_text=True))
    assert link and "?k=" in link.group(1)                                          # the receipt's own link
    answered = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Đã có kết quả trả lời" in answered and "đã thông cống ngày 5/12" in answered
    forged = client.get(f"/tra-cuu/{code.group(1)}?k=AAAAAAAAAAAA").get_data(as_text=True)
    assert "đã thông cống" not in forged


def test_a_refused_request_is_shown_again_with_what_was_written(client: FlaskClient, ctx: Context,
                                                                refusals: Counts) -> None:
    sent = send(client, noi_dung="   ", ho_ten="Lê Thị Cúc", dien_thoai="0903123456",
                anh=(io.BytesIO(photo()), "a.jpg", "image/jpeg"))
    assert sent.status_code == 400
    page = sent.get_data(as_text=True)
    assert "Hãy viết nội dung phản ánh" in page and "Lê Thị Cúc" in page and "hãy chọn lại ảnh" in page
    not_photo = send(client, anh=(io.BytesIO(b"MZ\x90\x00 not a photo"), "anh.jpg", "image/jpeg"))
    assert not_photo.status_code == 400 and "không phải là ảnh" in not_photo.get_data(as_text=True)
    assert CONTENT in not_photo.get_data(as_text=True)
    assert ctx.tickets(ctx.sessions()).list() == []
    assert refusals() == {"invalid": 1, "file": 1}


def test_a_50_mb_photo_is_refused_before_it_is_read(client: FlaskClient, ctx: Context, refusals: Counts) -> None:
    sent = send(client, anh=(io.BytesIO(b"\xff\xd8" + b"0" * 50_000_000), "lon.jpg", "image/jpeg"))
    assert sent.status_code == 413
    assert "mỗi ảnh tối đa 10 MB" in sent.get_data(as_text=True)
    assert refusals() == {"too_large": 1}


def test_a_request_without_the_form_s_token_is_refused(client: FlaskClient, ctx: Context, refusals: Counts) -> None:
    sent = client.post("/gui", data={"noi_dung": CONTENT})
    assert sent.status_code == 400 and "tải lại trang" in sent.get_data(as_text=True)
    assert ctx.tickets(ctx.sessions()).list() == [] and refusals() == {"csrf": 1}


def test_a_flood_from_one_address_is_throttled_and_counted(client: FlaskClient, ctx: Context, refusals: Counts) -> None:
    per_hour = ctx.settings.public.form_per_hour
    answers = [send(client, noi_dung=f"{CONTENT} ({i})").status_code for i in range(per_hour + 2)]
    assert answers == [200] * per_hour + [429, 429]
    assert len(ctx.tickets(ctx.sessions()).list()) == per_hour
    assert refusals() == {"rate": 2}
    assert send(client, address="203.0.113.9").status_code == 200      # another address is not held back


MISTYPED = "123456" + str((int(damm.calc_check_digit("123456")) + 1) % 10)      # a wrong check digit


@pytest.mark.parametrize("code", [MISTYPED, "12345", "abc"])
def test_a_mistyped_code_is_told_so(client: FlaskClient, code: str) -> None:
    got = client.get(f"/tra-cuu/{code}")
    assert got.status_code == 404 and "không đúng" in got.get_data(as_text=True)


def test_a_valid_code_of_no_ticket_is_not_found(client: FlaskClient) -> None:
    code = codes.new_code(7)
    got = client.get(f"/tra-cuu/{code}")
    assert got.status_code == 404 and f"Không tìm thấy phiếu mã {code}" in got.get_data(as_text=True)
    assert client.get(f"/tra-cuu?ma={code[:3]} {code[3:]}").headers["Location"].endswith(f"/tra-cuu/{code}")


def test_an_ipv6_network_counts_as_one_client(client: FlaskClient, ctx: Context) -> None:
    """A subscriber's /64 may hand out any number of addresses: the limit counts the network."""
    per_hour = ctx.settings.public.form_per_hour
    answers = [send(client, address=f"2001:db8:1:2::{i + 1:x}", noi_dung=f"{CONTENT} ({i})").status_code
               for i in range(per_hour + 1)]
    assert answers == [200] * per_hour + [429]
    assert send(client, address="2001:db8:1:3::1").status_code == 200       # the next /64 is another client
