"""The AccessLog of every read of personal data (issue 13, item 8), on SQLite and PostgreSQL through Flask's
test client and the real command line: each read leaves one row with the reader, what was read and the client's
address (X-Forwarded-For only behind the configured proxy); no row holds a whole number; admins filter the log,
page through it and download it as CSV (the download a row too); nobody else may; wrong query values get a 400
in Vietnamese."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.adapters.db.models import AccessLog, Role, Voicemail, VoicemailStatus
from hotline.cli.audit import who
from hotline.cli.main import main
from hotline.domain.labels import ACCESS_ACTION
from hotline.domain.vocabulary import AccessAction
from hotline.services.access_log import add_access, masked_text, safe_detail
from operator_console import create_app
from operator_console.permissions import PERMISSIONS
from tests.unit.test_console import CALLER, REC, add_voicemail, console_env, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)
from tests.unit.test_console_labels import visible

CLIENT = "203.0.113.7"                     # the operator's machine, as the proxy says
FORWARDED = {"X-Forwarded-For": CLIENT}
WHOLE = re.compile(r"(?:\+?84|0)?912\D?345\D?678")   # CALLER in any form a row could hold it
CODES = re.compile(r"(?<![\w-])(" + "|".join(sorted(AccessAction.ALL, key=len, reverse=True)) + r")(?![\w-])")


def rows(world: dict[str, Any], after: int = 0) -> list[AccessLog]:
    with world["svc"].sessions() as s:
        found = list(s.scalars(select(AccessLog).where(AccessLog.id > after).order_by(AccessLog.id)))
        s.expunge_all()
    return found


def last_id(world: dict[str, Any]) -> int:
    return max((r.id for r in rows(world)), default=0)


def transcribed_message(world: dict[str, Any]) -> str:
    """A voicemail's ticket whose message was transcribed (its words shown on the ticket's page)."""
    svc = world["svc"]
    vm_id = add_voicemail(world)
    with svc.sessions.begin() as s:
        vm = s.get(Voicemail, vm_id)
        vm.status, vm.transcript = VoicemailStatus.TRANSCRIBED, "Đèn hẻm 12 không sáng"
        vm.words = [{"word": w, "start": i * 0.3, "end": i * 0.3 + 0.25}
                    for i, w in enumerate(vm.transcript.split())]
    ticket = svc.tickets.for_voicemail(vm_id)
    assert ticket is not None
    return str(ticket["code"])


def behind_proxy(world: dict[str, Any]) -> Flask:
    """The same console behind the documented reverse proxy ([console] proxy_hops = 1)."""
    world["ctx"].settings.console.proxy_hops = 1
    return create_app(world["ctx"], testing=True)


def test_each_read_of_personal_data_is_one_row_with_the_reader_and_the_clients_address(
        world: dict[str, Any]) -> None:
    app, svc, mine = behind_proxy(world), world["svc"], world["mine"]
    message = transcribed_message(world)
    lan, binh, an = (sign_in(app, name) for name in ("lan", "binh", "an"))
    api = app.test_client()
    token = {"Authorization": f"Bearer {svc.users.issue_token('binh')}", **FORWARDED}
    fresh = svc.tickets.create(channel="phone", caller="0911222333", content="Hỏi học phí", actor="lan")
    reads: list[tuple[FlaskClient, str, dict[str, str], list[tuple[str, str, str]]]] = [
        (lan, f"/tickets/?search={CALLER}", FORWARDED, [("lan", "ticket_list", "tickets")]),
        (lan, f"/tickets/latest?after={fresh['id'] - 1}", FORWARDED, [("lan", "ticket_list", "tickets")]),
        # the caller's other open tickets shown on a ticket's page are a caller-history read
        (lan, f"/tickets/{mine}", FORWARDED, [("lan", "ticket_view", f"ticket:{mine}"),
                                               ("lan", "caller_history", "caller:*******678")]),
        (lan, f"/tickets/{message}", FORWARDED, [("lan", "ticket_view", f"ticket:{message}"),
                                                  ("lan", "transcript_view", f"ticket:{message}"),
                                                  ("lan", "caller_history", "caller:*******678")]),
        (lan, f"/phone/history?number={CALLER}&call=hotline1-9", FORWARDED,
         [("lan", "caller_history", "caller:*******678")]),
        (binh, f"/recordings/?caller={CALLER}", FORWARDED, [("binh", "recording_list", "recordings")]),
        (binh, "/reports/export.csv?from=2026-11-01&to=2026-11-30", FORWARDED,
         [("binh", "report_export", "reports")]),
        (binh, "/reports/export.xlsx?from=2026-11-01&to=2026-11-30", FORWARDED,
         [("binh", "report_export", "reports")]),
        (api, f"/api/tickets?search={CALLER}", token, [("binh", "api_ticket_list", "tickets")]),
        (api, f"/api/tickets/{message}", token, [("binh", "api_ticket_view", f"ticket:{message}"),
                                                 ("binh", "transcript_view", f"ticket:{message}")]),
        (api, f"/api/calls?caller={CALLER}", token, [("binh", "api_call_list", "calls")]),
        (api, f"/api/recordings?caller={CALLER}", token, [("binh", "api_recordings", "recordings")]),
        (an, "/access-log/export.csv?user=lan", FORWARDED, [("an", "log_export", "access_log")]),
    ]
    for client, url, headers, expected in reads:
        before = last_id(world)
        got = client.get(url, headers=headers)
        assert got.status_code == 200, (url, got.status_code)
        new = rows(world, before)
        assert [(r.username, r.action, r.resource) for r in new] == expected, url
        assert {r.remote_addr for r in new} == {CLIENT}, url
    stream = binh.get("/wallboard/stream", headers=FORWARDED, buffered=False)
    assert stream.status_code == 200
    stream.close()
    [opened] = [r for r in rows(world) if r.action == "wallboard_open"]
    assert (opened.username, opened.resource, opened.remote_addr) == ("binh", "wallboard", CLIENT)

    log = rows(world)
    by_action = {r.action: r for r in log}
    assert by_action["ticket_view"].call_id == "hotline1-2" and by_action["caller_history"].call_id == "hotline1-9"
    history = by_action["caller_history"].detail
    assert history["number"] == "*******678" and set(history["codes"]) == {mine, message}
    listed = next(r for r in log if r.action == "ticket_list")
    assert listed.detail["search"] == "*******678" and mine in listed.detail["codes"]
    assert by_action["api_call_list"].detail["caller"] == "*******678"
    assert next(r for r in log if r.action == "ticket_list" and r.detail.get("live")).detail["codes"] == [fresh["code"]]
    assert not [r for r in log if WHOLE.search(r.resource + json.dumps(r.detail))], "a whole number in the log"


def test_without_the_proxy_setting_the_forwarded_address_is_not_believed(world: dict[str, Any]) -> None:
    lan = sign_in(world["app"], "lan")                     # [console] proxy_hops = 0, the default
    assert lan.get(f"/tickets/{world['mine']}", headers=FORWARDED).status_code == 200
    [row] = rows(world)
    assert (row.username, row.action, row.remote_addr) == ("lan", "ticket_view", "127.0.0.1")


def test_a_page_with_nothing_new_and_an_empty_history_are_not_logged(world: dict[str, Any]) -> None:
    lan = sign_in(world["app"], "lan")
    newest = max(t["id"] for t in world["svc"].tickets.list())
    assert lan.get(f"/tickets/latest?after={newest}").get_json()["ids"] == []     # asked every second
    assert lan.get("/phone/history?number=").get_json() == {"tickets": [], "calls": []}
    assert rows(world) == []


def test_the_command_lines_reads_are_logged_with_the_account(world: dict[str, Any], database_url: str) -> None:
    env = console_env(world["tmp"], database_url)
    for args in (["tickets", "show", world["mine"]], ["tickets", "list", "--json"], ["calls"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
    assert CALLER in result.output                          # what made it worth logging: the whole number
    log = [(r.username, r.action, r.resource, r.call_id, r.remote_addr) for r in rows(world)]
    assert log == [(who(), "cli_ticket_view", f"ticket:{world['mine']}", "hotline1-1", None),
                   (who(), "cli_ticket_list", "tickets", None, None), (who(), "cli_call_list", "calls", None, None)]
    assert who().startswith("cli:")
    # A change prints the whole ticket too (number, content, events): one more read in the log.
    before = last_id(world)
    result = CliRunner().invoke(main, ["tickets", "start", world["other"], "--by", "xd"], env=env)
    assert result.exit_code == 0, result.output
    assert [(r.username, r.action, r.resource) for r in rows(world, before)] == [
        (who(), "cli_ticket_view", f"ticket:{world['other']}")]


def _seed(world: dict[str, Any]) -> dict[str, Any]:
    """Six rows over three days (the province's time: +07:00), as the readers' requests wrote them."""
    day = datetime.fromisoformat("2026-11-23T08:00:00+07:00")
    mine, other = world["mine"], world["other"]
    made = [(day, "lan", AccessAction.TICKET_VIEW, f"ticket:{mine}", "hotline1-1", {}),
            (day + timedelta(hours=2), "binh", AccessAction.PLAY, REC, "hotline1-1", {"ticket": mine}),
            (day + timedelta(days=1), "lan", AccessAction.TICKET_LIST, "tickets", None,
             {"codes": [other, mine], "status": "assigned", "search": CALLER}),
            (day + timedelta(days=1, hours=1), "lan", AccessAction.TICKET_VIEW, f"ticket:{other}", None, {}),
            (day + timedelta(days=2), "worker", AccessAction.EMAIL, f"ticket:{other}", None,
             {"to": ["xd@so-xd.gov.vn"]}),
            (day + timedelta(days=2, hours=15, minutes=59), "cli:root", AccessAction.CALLER_HISTORY,
             "caller:*******678", None, {"number": CALLER})]
    with world["svc"].sessions.begin() as s:
        for at, user, action, resource, call_id, detail in made:
            add_access(s, at=at, username=user, action=action, resource=resource, call_id=call_id,
                       remote_addr="10.0.0.5", **detail)
    return {"mine": mine, "other": other}


def page_rows(client: FlaskClient, query: str = "") -> list[list[str]]:
    got = client.get(f"/access-log/{query}")
    assert got.status_code == 200, (query, got.get_data(as_text=True)[:300])
    body = re.search(r'<tbody>(.*?)</tbody>', got.get_data(as_text=True), re.S)
    assert body
    return [[visible(td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if "<td" in tr]


def test_admins_filter_the_log_page_through_it_and_download_it(world: dict[str, Any]) -> None:
    seeded = _seed(world)
    mine, other = seeded["mine"], seeded["other"]
    admin = sign_in(world["app"], "an")
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/access-log/"' in home and "Nhật ký truy cập" in home
    everything = page_rows(admin)
    assert [r[0] for r in everything] == ["25/11/2026 23:59:00", "25/11/2026 08:00:00", "24/11/2026 09:00:00",
                                          "24/11/2026 08:00:00", "23/11/2026 10:00:00", "23/11/2026 08:00:00"]
    assert everything[0] == ["25/11/2026 23:59:00", "Quản trị (dòng lệnh): root", "Xem lịch sử của số gọi",
                             "Số gọi *******678", "—", "10.0.0.5", "số gọi: *******678"]
    assert everything[1][1:4] == ["Hệ thống (tự động)", "Gửi thư có dữ liệu cá nhân", f"Phiếu {other}"]
    assert everything[3][6] == (f"phiếu: {other}, {mine}; trạng thái: Đã chuyển cơ quan có thẩm quyền; "
                                "tìm: *******678")
    assert [r[0][:10] for r in page_rows(admin, "?user=lan")] == ["24/11/2026", "24/11/2026", "23/11/2026"]
    assert [r[2] for r in page_rows(admin, "?action=play")] == ["Nghe ghi âm"]
    assert [r[0] for r in page_rows(admin, "?from=2026-11-24&to=2026-11-24")] == ["24/11/2026 09:00:00",
                                                                                  "24/11/2026 08:00:00"]
    assert len(page_rows(admin, "?from=2026-11-25")) == 2 and len(page_rows(admin, "?to=2026-11-23")) == 2
    by_ticket = page_rows(admin, f"?ref={mine}")                # its page, the play, the list that showed it
    assert [r[2] for r in by_ticket] == ["Xem danh sách phiếu", "Nghe ghi âm", "Xem phiếu"]
    assert [r[2] for r in page_rows(admin, "?ref=hotline1-1")] == ["Nghe ghi âm", "Xem phiếu"]
    assert page_rows(admin, "?user=lan&action=email") == [["Không có dòng nào."]]
    second = admin.get("/access-log/?limit=2&page=2").get_data(as_text=True)
    assert "Trang trước" in second and "Trang sau" in second
    assert [r[0] for r in page_rows(admin, "?limit=2&page=2")] == ["24/11/2026 09:00:00", "24/11/2026 08:00:00"]
    assert "Trang sau" not in admin.get("/access-log/?limit=2&page=3").get_data(as_text=True)
    text = visible(admin.get("/access-log/").get_data(as_text=True))
    assert not CODES.findall(text) and CALLER not in text

    before = last_id(world)
    got = admin.get("/access-log/export.csv?user=lan", headers=FORWARDED)
    assert got.mimetype == "text/csv" and got.headers["Content-Disposition"].startswith(
        "attachment; filename=nhat-ky-truy-cap-")
    table = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["Thời điểm", "Người dùng", "Việc", "Dữ liệu", "Mã cuộc gọi", "Địa chỉ máy", "Chi tiết"]
    assert table[1:] == page_rows(admin, "?user=lan")
    assert not CODES.findall(" ".join(" ".join(r) for r in table))
    [logged] = rows(world, before)
    assert (logged.username, logged.action, logged.resource, logged.remote_addr) == (
        "an", "log_export", "access_log", "127.0.0.1")
    assert logged.detail == {"count": 3, "user": "lan"}
    assert page_rows(admin, "?action=log_export")[0][6] == "số dòng: 3; người dùng: lan"


def test_only_admins_reach_the_log(world: dict[str, Any]) -> None:
    assert PERMISSIONS["access_log.view"] == {Role.ADMIN}
    for name in ("lan", "binh", "xd"):
        client = sign_in(world["app"], name)
        for url in ("/access-log/", "/access-log/export.csv"):
            assert client.get(url).status_code == 403, (name, url)
        assert "/access-log/" not in client.get("/").get_data(as_text=True)
    assert world["app"].test_client().get("/access-log/").status_code == 302          # to the sign-in page
    assert [r.action for r in rows(world)] == []                                     # a refusal is no read


@pytest.mark.parametrize("query, name", [
    ("page=0", "page"), ("page=x", "page"), ("page=-1", "page"), ("limit=0", "limit"), ("limit=501", "limit"),
    ("limit=-1", "limit"), ("limit=abc", "limit"), ("action=everything", "action"), ("from=25/11/2026", "from"),
    ("to=x", "to"), ("user=" + "a" * 201, "user"),
])
def test_wrong_query_values_get_a_400_in_vietnamese(world: dict[str, Any], query: str, name: str) -> None:
    admin = sign_in(world["app"], "an")
    for url in (f"/access-log/?{query}", f"/access-log/export.csv?{query}"):
        got = admin.get(url)
        assert got.status_code == 400 and f"Tham số '{name}'" in visible(got.get_data(as_text=True)), url


def test_the_largest_and_smallest_pages_are_served(world: dict[str, Any]) -> None:
    _seed(world)
    admin = sign_in(world["app"], "an")
    assert len(page_rows(admin, "?limit=500")) == 6 and len(page_rows(admin, "?limit=1&page=6")) == 1


def test_no_row_ever_holds_a_whole_number() -> None:
    assert masked_text("0912345678 đèn hẻm 12") == "*******678 đèn hẻm 12"
    for typed in ("+84 912 345 678", "+84-912-345-678", "+84912345678"):
        assert masked_text(typed) == "*********678", typed
    for typed in ("0912-345-678", "(091) 234-5678", "0912.345.678", "0912 345 678"):
        assert masked_text(f"gọi {typed} hôm qua") == "gọi *******678 hôm qua", typed
    # Asterisk's call ids, recording paths and dates are not numbers: they stay readable.
    assert masked_text("2026/12/06/1733456789.123.wav") == "2026/12/06/1733456789.123.wav"
    assert masked_text("từ 06/12/2026 đến 2026-12-31") == "từ 06/12/2026 đến 2026-12-31"
    assert masked_text("phiếu 1234567, ngày 2026-11-25") == "phiếu 1234567, ngày 2026-11-25"   # codes and dates
    # A call out's id is a uuid's hex, which may hold 8 digits in a row (as a call out did in CI): not a number.
    for call_out in ("out-b20c73da2a87433685d57259", "out-87433685b20c73da2a5d5725",
                     "gọi out-87433685b20c73da2a5d5725."):
        assert masked_text(call_out) == call_out
    # Only that shape: numbers joined to letters, even hexadecimal ones, stay masked.
    assert masked_text("SDT0912345678") == "SDT*******678"
    assert masked_text("so0912345678x") == "so*******678x"
    assert masked_text("Đơn kèm CCCD079203012345 của bà A") == "Đơn kèm CCCD*********345 của bà A"
    assert masked_text("0912345678deadbeef") == "*******678deadbeef"
    assert masked_text("out-0912345678") == "out-*******678"
    assert masked_text("xout-b20c73da2a87433685d57259") == "xout-b20c73da2a*****685d57259"
    assert safe_detail({"number": "0912345678", "caller": "+84912345678", "reason": "Đơn của số 0912345678",
                        "codes": ["1234567"], "range": None, "forced": False}) == {
        "number": "*******678", "caller": "*********678", "reason": "Đơn của số *******678",
        "codes": ["1234567"], "forced": False}
    # Every text of a row, whatever its key, and the resource and call id too.
    assert safe_detail({"ref": "0912-345-678", "user": "0912345678", "codes": ["0912345678"]}) == {
        "ref": "*******678", "user": "*******678", "codes": ["*******678"]}
    row = add_access(_Rows(), at=datetime.now(), username="x", action=AccessAction.TICKET_LIST,
                     resource="tickets?search=0912 345 678", call_id="0912345678")
    assert (row.resource, row.call_id) == ("tickets?search=*******678", "*******678")
    with pytest.raises(ValueError):
        add_access(None, at=datetime.now(), username="x", action="read", resource="y")  # type: ignore[arg-type]


class _Rows:
    def add(self, row: AccessLog) -> None:
        self.row = row


def test_a_downloaded_log_never_holds_a_formula_a_reader_typed(world: dict[str, Any]) -> None:
    """An operator's search (or any text a row keeps) that starts like a formula is plain text in the CSV."""
    with world["svc"].sessions.begin() as s:
        add_access(s, at=datetime.fromisoformat("2026-11-25T08:00:00+07:00"), username="lan",
                   action=AccessAction.TICKET_LIST, resource="tickets", remote_addr="10.0.0.5",
                   search='=HYPERLINK("//x/a","Mở")')
    admin = sign_in(world["app"], "an")
    got = admin.get("/access-log/export.csv?user=lan")
    cells = [c for r in csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))) for c in r]
    assert any("HYPERLINK" in c for c in cells)
    assert all(not c.startswith(("=", "+", "@")) for c in cells), cells


def test_the_caller_history_takes_only_a_call_id_for_the_ringing_call(world: dict[str, Any]) -> None:
    operator = sign_in(world["app"], "lan")
    before = last_id(world)
    got = operator.get('/phone/history?number=0912345678&call==HYPERLINK("//x/a","Mở")')
    assert got.status_code == 400 and got.get_json()["message"] == "Mã cuộc gọi không hợp lệ."
    assert rows(world, before) == []


def test_every_action_has_its_vietnamese_label() -> None:
    assert set(ACCESS_ACTION) == set(AccessAction.ALL)
    assert all(len(code) <= 16 for code in AccessAction.ALL)          # AccessLog.action is String(16)
    assert all(text and not CODES.search(text) for text in ACCESS_ACTION.values())

