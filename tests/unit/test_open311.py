"""Open311 GeoReport v2 (public_site.open311) through Flask's test client, on a real database (SQLite and
PostgreSQL) and a real Redis (the rate limits and refusal counts), and once through a third-party Open311 client
(georeport, from the package index) against the app served by waitress: the services are the ticket categories;
a POST needs an API key and makes an ``open311`` ticket; the GETs list tickets by the spec's filters, in JSON and
in XML, and never show who sent a request or what they wrote."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
import waitress
from flask.testing import FlaskClient
from georeport import GeoReport

from hotline.context import Context
from hotline.domain.tickets import codes
from public_site import create_app

Counts = Callable[[], dict[str, int]]
pytest_plugins = ("tests.support.public_site",)      # the ctx, client and refusals fixtures

BASE = "/open311/v2"
CITIZEN = {"first_name": "Bình", "last_name": "Trần Văn", "phone": "0903 123 456", "email": "binh@example.vn",
           "address_string": "Chợ phường 2, TP Cao Lãnh", "lat": "10.4599", "long": "105.6325"}
WORDS = "Cống thoát nước trước chợ phường 2 bị tắc"
PERSONAL = ("Trần Văn Bình", "Bình", "0903123456", "binh@example.vn", "Chợ phường 2", "10.4599", "105.6325",
            "Cống thoát nước", "Nhà tôi", "0912345678")
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "description", "address", "address_id", "zipcode", "lat", "long", "media_url"]


@pytest.fixture
def key(ctx: Context) -> str:
    return ctx.secrets.open311_key("thanhpho-app")


def xml(answer: Any) -> ElementTree.Element:
    assert answer.content_type == "application/xml; charset=utf-8"
    assert answer.get_data().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(answer.get_data())


def post(client: FlaskClient, fmt: str = "json", **fields: str) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data=fields)


def errors(answer: Any) -> list[str]:
    """The descriptions of an Open311 error list, JSON or XML."""
    if answer.content_type.startswith("application/xml"):
        root = xml(answer)
        assert root.tag == "errors" and all(e.findtext("code") == str(answer.status_code) for e in root)
        return [e.findtext("description") or "" for e in root]
    body = answer.get_json()
    assert [e["code"] for e in body] == [answer.status_code]
    return [e["description"] for e in body]


def test_the_services_are_the_ticket_categories_in_json_and_xml(client: FlaskClient, ctx: Context) -> None:
    listed = client.get(f"{BASE}/services.json")
    assert listed.status_code == 200 and listed.content_type == "application/json; charset=utf-8"
    assert "Thủ tục hành chính" in listed.get_data(as_text=True)       # UTF-8, not \\u escapes
    body = listed.get_json()
    assert [(s["service_code"], s["service_name"], s["description"]) for s in body] == [
        (c.code, c.name, c.description) for c in ctx.categories.entries]
    assert all((s["metadata"], s["type"]) == (False, "realtime") and s["keywords"] and s["group"] for s in body)
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and [s.tag for s in root] == ["service"] * len(ctx.categories)
    first = root[0]
    assert [e.tag for e in first] == ["service_code", "service_name", "description", "metadata", "type", "keywords",
                                      "group"]
    assert (first.findtext("service_code"), first.findtext("service_name"), first.findtext("metadata")) == (
        ctx.categories.default.code, ctx.categories.default.name, "false")
    definition = client.get(f"{BASE}/services/infrastructure.json").get_json()
    assert definition == {"service_code": "infrastructure", "attributes": []}
    root = xml(client.get(f"{BASE}/services/infrastructure.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "infrastructure"
    for fmt in ("json", "xml"):
        unknown = client.get(f"{BASE}/services/potholes.{fmt}")
        assert unknown.status_code == 404 and errors(unknown) == ["Không có lĩnh vực mã potholes; xem danh sách tại "
                                                                  f"services.{fmt}."]


def test_a_post_without_a_valid_key_is_refused_and_makes_nothing(client: FlaskClient, ctx: Context,
                                                                 refusals: Counts) -> None:
    missing = post(client, service_code="infrastructure", description=WORDS)
    assert missing.status_code == 403 and "Thiếu api_key" in errors(missing)[0]
    wrong = post(client, "xml", api_key="not-a-key", service_code="infrastructure", description=WORDS)
    assert wrong.status_code == 403 and "không hợp lệ" in errors(wrong)[0]
    assert ctx.tickets(ctx.sessions()).list() == []
    assert refusals() == {"open311": 2}


def test_a_post_with_a_key_makes_an_open311_ticket(client: FlaskClient, ctx: Context, key: str) -> None:
    sent = post(client, api_key=key, service_code="infrastructure", description=WORDS,
                media_url="https://anh.example.vn/cong.jpg", **CITIZEN, **{"attribute[WHISPER]": "x"})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    [answer] = sent.get_json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"} and answer["account_id"] is None
    code = answer["service_request_id"]
    assert codes.is_valid(code, 7) and f"Mã phiếu: {code}" in answer["service_notice"]
    ticket = ctx.tickets(ctx.sessions()).get(code)
    assert ticket is not None
    assert (ticket["channel"], ticket["category"], ticket["caller"], ticket["contact_name"],
            ticket["contact_email"], ticket["address"], ticket["latitude"], ticket["longitude"]) == (
        "open311", "infrastructure", "0903123456", "Trần Văn Bình", "binh@example.vn", "Chợ phường 2, TP Cao Lãnh",
        10.4599, 105.6325)
    assert ticket["content"].startswith(WORDS) and "https://anh.example.vn/cong.jpg" in ticket["content"]
    root = xml(post(client, "xml", api_key=key, service_code="procedures", description="Hỏi thủ tục cấp CCCD"))
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"]
    assert [e.tag for e in root[0]] == ["service_request_id", "service_notice", "account_id"]
    assert ctx.tickets(ctx.sessions()).get(root[0].findtext("service_request_id") or "") is not None


@pytest.mark.parametrize(("fields", "says"), [
    ({"description": WORDS}, "Thiếu service_code"),
    ({"service_code": "potholes", "description": WORDS}, "Không có lĩnh vực mã potholes"),
    ({"service_code": "infrastructure", "description": "  "}, "Hãy viết nội dung phản ánh"),
    ({"service_code": "infrastructure", "description": WORDS, "phone": "12345"}, "Số điện thoại không hợp lệ"),
    ({"service_code": "infrastructure", "description": WORDS, "lat": "north"}, "lat phải là một số"),
    ({"service_code": "infrastructure", "description": WORDS, "lat": "10.4"}, "Vị trí trên bản đồ không hợp lệ"),
    ({"service_code": "infrastructure", "description": WORDS, "media_url": "file:///etc/passwd"}, "media_url"),
])
def test_a_bad_post_is_told_why_in_vietnamese(client: FlaskClient, ctx: Context, key: str, fields: dict[str, str],
                                              says: str, refusals: Counts) -> None:
    for fmt in ("json", "xml"):
        refused = post(client, fmt, api_key=key, **fields)
        assert refused.status_code == 400 and says in errors(refused)[0]
    assert ctx.tickets(ctx.sessions()).list() == [] and refusals() == {"open311": 2}


def test_a_flood_of_posts_from_one_client_is_throttled(client: FlaskClient, ctx: Context, key: str,
                                                       refusals: Counts) -> None:
    per_minute = ctx.settings.public.open311_per_minute
    answers = [post(client, api_key=key, service_code="potholes").status_code for _ in range(per_minute + 1)]
    assert answers == [400] * per_minute + [429]
    throttled = post(client, "xml", api_key=key, service_code="potholes")
    assert throttled.status_code == 429 and "quá nhiều yêu cầu" in errors(throttled)[0]
    assert refusals()["rate"] == 2
    other = client.post(f"{BASE}/requests.json", data={"api_key": ctx.secrets.open311_key("other")},
                        environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert other.status_code == 400         # another client's key is not held back


@pytest.fixture
def made(ctx: Context, client: FlaskClient, key: str) -> dict[str, str]:
    """Tickets of every channel and age: name -> code."""
    tickets = ctx.tickets(ctx.sessions())
    now = tickets.now()
    web = post(client, api_key=key, service_code="infrastructure", description=WORDS, **CITIZEN).get_json()
    phone = tickets.create(channel="phone", caller="0912345678", content="Nhà tôi ở số 5, xin hỏi thủ tục",
                           category="procedures", received_at=now - timedelta(days=10))
    old = tickets.create(channel="voicemail", caller="0912345678", content="Nhà tôi bị ngập",
                         category="infrastructure", received_at=now - timedelta(days=120))
    answered = tickets.create(channel="web", content="Nhà tôi cần hỏi về bảo hiểm", category="public_services",
                              agency="department:01", received_at=now - timedelta(days=2),
                              )
    tickets.answer(answered["code"], "Đã trả lời ông Bình qua 0903123456.", actor="agency")
    duplicate = tickets.create(channel="email", content="Nhà tôi", category="procedures",
                               received_at=now - timedelta(days=1))
    tickets.close(duplicate["code"], actor="cli", status="duplicate")
    return {"open311": web[0]["service_request_id"], "phone": phone["code"], "old": old["code"],
            "answered": answered["code"], "duplicate": duplicate["code"]}


def listed(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    got = client.get(f"{BASE}/requests.json{query}")
    assert got.status_code == 200, got.get_data(as_text=True)
    rows: list[dict[str, Any]] = got.get_json()
    return rows


def test_requests_are_listed_by_the_spec_s_filters(client: FlaskClient, ctx: Context, made: dict[str, str]) -> None:
    rows = listed(client)
    assert [r["service_request_id"] for r in rows] == [made[n] for n in ("open311", "duplicate", "answered",
                                                                          "phone")]   # 90 days, newest first
    by = {r["service_request_id"]: r for r in rows}
    assert all(list(r) == REQUEST_FIELDS for r in rows)
    assert [by[made[n]]["status"] for n in ("open311", "duplicate", "answered", "phone")] == [
        "open", "closed", "closed", "open"]
    answered = by[made["answered"]]
    assert (answered["status_notes"], answered["service_name"], answered["service_code"]) == (
        "Đã có kết quả trả lời", "Kinh tế - xã hội và dịch vụ công", "public_services")
    assert answered["agency_responsible"] == ctx.tickets(ctx.sessions()).agency("department:01").name
    assert answered["updated_datetime"] > answered["requested_datetime"]
    assert answered["expected_datetime"] == ctx.tickets(ctx.sessions()).get(made["answered"])["due_at"]
    assert all(r[f] is None for r in rows for f in ("description", "address", "lat", "long", "media_url"))
    assert [r["service_request_id"] for r in listed(client, "?status=closed")] == [made["duplicate"],
                                                                                   made["answered"]]
    assert [r["service_request_id"] for r in listed(client, "?status=open&service_code=procedures")] == [
        made["phone"]]
    assert [r["service_request_id"] for r in listed(client, "?service_code=infrastructure,procedures")] == [
        made["open311"], made["duplicate"], made["phone"]]
    now = ctx.tickets(ctx.sessions()).now()
    window = f"?start_date={(now - timedelta(days=130)).isoformat()}&end_date={(now - timedelta(days=50)).isoformat()}"
    assert [r["service_request_id"] for r in listed(client, window.replace("+", "%2B"))] == [made["old"]]
    assert [r["service_request_id"] for r in listed(client, window)] == [made["old"]]   # an unquoted + is a blank
    z = (now - timedelta(days=5)).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    assert {r["service_request_id"] for r in listed(client, f"?start_date={z.replace('+', '%2B')}")} == {
        made[n] for n in ("open311", "duplicate", "answered")}
    ids = f"?service_request_id={made['old']},{made['phone']}&status=closed&service_code=investment"
    assert {r["service_request_id"] for r in listed(client, ids)} == {made["old"], made["phone"]}   # ids override
    one = client.get(f"{BASE}/requests/{made['old']}.json").get_json()
    assert [r["service_request_id"] for r in one] == [made["old"]] and one[0]["status"] == "open"


def test_the_xml_list_matches_the_json_one_and_the_spec_s_names(client: FlaskClient, made: dict[str, str]) -> None:
    rows = listed(client)
    root = xml(client.get(f"{BASE}/requests.xml"))
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"] * len(rows)
    for element, row in zip(root, rows, strict=True):
        assert [e.tag for e in element] == REQUEST_FIELDS
        assert {e.tag: e.text for e in element} == {k: v for k, v in row.items()}
    one = xml(client.get(f"{BASE}/requests/{made['phone']}.xml"))
    assert [r.findtext("service_request_id") for r in one] == [made["phone"]]


def test_nothing_personal_is_ever_listed(client: FlaskClient, made: dict[str, str]) -> None:
    answers = [client.get(f"{BASE}/requests.{fmt}{q}").get_data(as_text=True) for fmt in ("json", "xml")
               for q in ("", "?start_date=2000-01-01T00:00:00Z")]
    answers += [client.get(f"{BASE}/requests/{code}.{fmt}").get_data(as_text=True) for code in made.values()
                for fmt in ("json", "xml")]
    for text in answers:
        for personal in PERSONAL:
            assert personal not in text, (personal, text[:300])
    assert "Đã trả lời ông" not in "".join(answers)      # nor the agency's answer


@pytest.mark.parametrize(("path", "status", "says"), [
    ("requests.json?start_date=yesterday", 400, "start_date không đúng định dạng ISO 8601"),
    ("requests.json?end_date=2025-03-01", 400, "end_date không đúng định dạng ISO 8601 có múi giờ"),
    ("requests.json?start_date=2025-01-01T00:00:00Z&end_date=2025-06-01T00:00:00Z", 400, "tối đa 90 ngày"),
    ("requests.json?start_date=2025-06-01T00:00:00Z&end_date=2025-01-01T00:00:00Z", 400, "phải trước end_date"),
    ("requests.xml?status=pending", 400, "status pending không hợp lệ"),
    ("requests.xml?service_code=potholes", 400, "Không có lĩnh vực mã potholes"),
    ("requests.csv", 400, "Định dạng csv không được hỗ trợ"),
    ("services.html", 400, "Định dạng html không được hỗ trợ"),
    ("requests/1234567.json", 404, "Không có phản ánh mã 1234567"),
    ("requests/1234567.xml", 404, "Không có phản ánh mã 1234567"),
])
def test_a_bad_query_is_told_why_in_vietnamese(client: FlaskClient, path: str, status: int, says: str) -> None:
    got = client.get(f"{BASE}/{path}")
    assert got.status_code == status and says in errors(got)[0], got.get_data(as_text=True)


@pytest.fixture
def served(ctx: Context) -> Iterator[str]:
    """The public site served by waitress on a free port, as a reverse proxy reaches it."""
    server = waitress.create_server(create_app(ctx), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}{BASE}"     # type: ignore[union-attr]
    finally:
        server.close()
        thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_third_party_open311_client_reads_what_a_post_made(served: str, ctx: Context, key: str, fmt: str) -> None:
    sent = requests.post(f"{served}/requests.json", timeout=10,
                         data={"api_key": key, "service_code": "infrastructure", "description": WORDS, **CITIZEN})
    assert sent.status_code == 201, sent.text
    code = sent.json()[0]["service_request_id"]
    georeport = GeoReport(served, output_format=fmt)
    got = georeport.get_service_list()
    assert [s["service_code"] for s in got] == [c.code for c in ctx.categories.entries]
    assert georeport.get_service_definition("postal")["service_code"] == "postal"
    found = georeport.get_service_requests(service_code="infrastructure", status="open")
    found = [found] if isinstance(found, dict) else found        # xmltodict: one <request> is no list
    assert [r["service_request_id"] for r in found] == [code]
    one = georeport.get_service_request(code)
    if fmt == "xml":
        one = one if isinstance(one, dict) else one[0]
    assert (one["service_request_id"], one["status"], one["status_notes"]) == (code, "open", "Mới tiếp nhận")
    assert not any(p in json.dumps(one, ensure_ascii=False) for p in PERSONAL)
