"""The report page, its CSV and its XLSX carry what the README lists, per day, week or month: calls
with the three satisfaction shares, each operator, tickets received per category and per channel,
answered on time and overdue per agency; in Vietnamese; equal to what hotline/domain/reports.py computes
from the rows, and to known counts. On SQLite and PostgreSQL (``database_url``).
"""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from openpyxl import load_workbook

from hotline.adapters.db.models import Call, CallbackRequest, Operator, Ticket, Transfer
from hotline.domain.labels import DISPOSITION
from hotline.domain.reports import build_report, period_key, ticket_figures, ticket_periods
from hotline.domain.reports_callbacks import (
    CALL_OUT_COLUMNS,
    CALLBACK_COLUMNS,
    CallbackRow,
    callback_sums,
    outbound_sums,
)
from hotline.domain.vocabulary import Channel
from hotline.services.report_queries import load_rows, load_ticket_rows
from operator_console.filters import figure
from operator_console.report_tables import AGENCY_COLUMNS, CALL_COLUMNS, OPERATOR_COLUMNS, period_label
from tests.unit.test_console import sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
S = timedelta(seconds=1)
CATEGORIES = ["procedures", "officials", "postal", "public_services", "infrastructure", "violations", "investment"]
CHANNELS = list(Channel.ALL)       # every channel a column, written ones too (issue 15)
TITLES = ["Cuộc gọi theo {}", "Theo tổng đài viên", "Gọi lại cho người chờ (phím 2) theo {}", "Cuộc gọi ra theo {}",
          "Phiếu tiếp nhận theo lĩnh vực, theo {}",
          "Phiếu tiếp nhận theo kênh, theo {}", "Phiếu theo cơ quan, theo {}"]
SHEETS = ["Cuộc gọi", "Tổng đài viên", "Gọi lại", "Cuộc gọi ra", "Phiếu theo lĩnh vực", "Phiếu theo kênh",
          "Phiếu theo cơ quan", "Điểm nóng"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def _call(call_id: str, started: str, *, answered_after: float | None = None, left_after: float | None = None,
          operator: str | None = None, talk: float | None = None, survey: int | None = None) -> Call:
    at = _at(started)
    queued = at + 20 * S
    return Call(call_id=call_id, channel_id=call_id, caller="0911000111", dialled="1022", started_at=at,
                ivr_path=[], disposition="answered" if answered_after is not None else "abandoned_queue",
                queued_at=queued,
                queue_answered_at=queued + answered_after * S if answered_after is not None else None,
                queue_left_at=queued + (answered_after if answered_after is not None else left_after or 0) * S,
                queue_outcome="answered" if answered_after is not None else "abandoned", operator=operator,
                talk_seconds=talk, survey_score=survey)


def _out(call_id: str, started: str, disposition: str, answered: str | None = None) -> Call:
    """A call out to the citizen (an operator's, or a call-back's)."""
    return Call(call_id=call_id, channel_id=call_id, caller="op-lan", dialled="0911000111", started_at=_at(started),
                ended_at=_at(started) + 90 * S, answered_at=_at(answered) if answered else None, ivr_path=[],
                disposition=disposition, direction="out", operator="op-lan")


def _ticket(code: str, received: str, channel: str, category: str, *, agency: str | None, status: str,
            due_hours: float, answered: str | None = None) -> Ticket:
    at = _at(received)
    return Ticket(code=code, channel=channel, caller="0911000111", category=category, content="Phản ánh thử",
                  status=status, agency=agency, received_at=at, deadline_hours=8,
                  due_at=at + timedelta(hours=due_hours), answered_at=_at(answered) if answered else None)


def seed(world: dict[str, Any]) -> None:
    """Known counts beside the fixture's own call (no queue) and two tickets of 25 November (phone; one to
    department 03, answered here on time, one not assigned)."""
    svc = world["svc"]
    svc.tickets.answer(world["mine"], "Đã sửa đèn", actor="xd")
    calls = [
        _call("w47-1", "2026-11-17T10:00", answered_after=10, operator="op-lan", talk=100, survey=1),
        _call("w47-2", "2026-11-17T11:00", answered_after=30, operator="op-hoa", talk=200, survey=2),
        _call("w48-1", "2026-11-24T10:00", left_after=3),                                  # a short abandon
        _call("w48-2", "2026-11-24T14:00", answered_after=5, operator="op-lan", talk=60, survey=3),
        _call("w48-3", "2026-11-25T08:00", answered_after=15, operator="op-lan", talk=40, survey=1),
        _call("dec-1", "2026-12-01T08:00", answered_after=1, operator="op-lan", talk=5, survey=3),   # after the period
    ]
    with svc.sessions.begin() as s:
        s.add(Operator(name="op-lan", display_name="Nguyễn Thị Lan", created_at=_at("2026-11-01T08:00")))
        s.add_all(calls)
        s.flush()
        ids = {c.call_id: c.id for c in calls}
        s.add_all([Transfer(call_id=ids["w47-1"], kind="blind", target="department:01", requested_by="op-lan",
                            started_at=_at("2026-11-17T10:01"), answered_at=_at("2026-11-17T10:02"),
                            outcome="answered"),
                   Transfer(call_id=ids["w47-2"], kind="attended", target="district:02", requested_by="op-hoa",
                            started_at=_at("2026-11-17T11:01"), outcome="noanswer")])
        s.add_all([_out("o1", "2026-11-17T10:07", "out_answered", answered="2026-11-17T10:07:30"),
                   _out("o2", "2026-11-24T10:02", "out_no_answer"), _out("o3", "2026-11-25T09:00", "out_refused")])
        s.add_all([   # the short abandon's caller asked three times (a test's licence): 150 s, not reached, 60 s
            CallbackRequest(call_id=ids["w48-1"], number="0911000111", requested_at=_at("2026-11-17T10:05"),
                            status="completed", out_call="o1", offered_at=_at("2026-11-17T10:07")),
            CallbackRequest(call_id=ids["w48-1"], number="0911000111", requested_at=_at("2026-11-24T10:00"),
                            status="no_answer", out_call="o2", ticket_code="9000044"),
            CallbackRequest(call_id=ids["w48-1"], number="0911000111", requested_at=_at("2026-11-25T08:00"),
                            status="completed", offered_at=_at("2026-11-25T08:01"))])
        s.add_all([
            _ticket("9000011", "2026-11-18T09:00", "voicemail", "procedures", agency="department:01",
                    status="answered", due_hours=48, answered="2026-11-21T09:00"),          # answered late
            _ticket("9000022", "2026-11-19T10:00", "web", "officials", agency="department:03", status="assigned",
                    due_hours=8),                                                            # still open, overdue
            _ticket("9000033", "2026-12-02T10:00", "email", "postal", agency="department:03", status="new",
                    due_hours=8),                                                            # after the period
        ])


def expected(world: dict[str, Any], by: str) -> dict[str, list[list[Any]]]:
    """The tables as hotline/domain/reports.py computes them from the rows, by title."""
    svc, now = world["svc"], world["ctx"].clock.now()
    calls, transfers = load_rows(svc.sessions, FIRST, LAST, TZ)
    report = build_report(calls, transfers, TZ, float(world["ctx"].settings.queue.wrapup_seconds),
                          by=(by, "operator"))
    tickets = load_ticket_rows(svc.sessions, FIRST, LAST, TZ)
    periods = [(period_label(by, p[by]), p) for p in ticket_periods(tickets, now, period_key(by, TZ), by)]
    periods.append(("Tổng", ticket_figures(tickets, now)))
    names = {"op-lan": "Nguyễn Thị Lan (op-lan)", "department:01": "Sở Tư pháp", "department:03": "Sở Xây dựng"}
    word = {"day": "ngày", "week": "tuần", "month": "tháng"}[by]
    t = [title.format(word) for title in TITLES]
    return {
        t[0]: [[period_label(by, r[by]), *(r[k] for k, _h in CALL_COLUMNS)] for r in report[f"{by}s"]]
        + [["Tổng", *(report["total"][k] for k, _h in CALL_COLUMNS)]],
        t[1]: [[names.get(r["operator"], r["operator"]), *(r[k] for k, _h in OPERATOR_COLUMNS)]
               for r in report["operators"]],
        **callback_expected(world, by, t[2], t[3]),
        t[4]: [[label, p["received"], p["overdue_open"], *(p["by_category"].get(c, 0) for c in CATEGORIES)]
               for label, p in periods],
        t[5]: [[label, p["received"], *(p["by_channel"].get(c, 0) for c in CHANNELS)] for label, p in periods],
        t[6]: [[label, names[a["agency"]], *(a[k] for k, _h in AGENCY_COLUMNS)] for label, p in periods
               for a in p["agencies"]],
    }


def callback_expected(world: dict[str, Any], by: str, cb_title: str, out_title: str) -> dict[str, list[list[Any]]]:
    """The call-back and calls-out tables from the rows (hotline/domain/reports_callbacks.py), per period."""
    key = period_key(by, TZ)
    start, end = datetime.combine(FIRST, datetime.min.time(), TZ), datetime.combine(LAST + timedelta(days=1),
                                                                                   datetime.min.time(), TZ)
    with world["svc"].sessions() as s:
        outs = {c.call_id: c for c in s.query(Call).filter(Call.direction == "out")
                if start <= c.started_at < end}
        cbs = [CallbackRow(r.requested_at, r.status, outs[r.out_call].answered_at if r.out_call in outs
                           and outs[r.out_call].answered_at else r.offered_at, r.ticket_code)
               for r in s.query(CallbackRequest) if start <= r.requested_at < end]
    cb_rows = [(period_label(by, k), [r for r in cbs if key(r.requested_at) == k])
               for k in sorted({key(r.requested_at) for r in cbs})] + [("Tổng", cbs)]
    out_rows = [(period_label(by, k), [c for c in outs.values() if key(c.started_at) == k])
                for k in sorted({key(c.started_at) for c in outs.values()})] + [("Tổng", list(outs.values()))]
    seen = sorted({c.disposition for c in outs.values()}, key=lambda d: list(DISPOSITION).index(d))
    return {cb_title: [[label, *(f.get(k) for k, _h in CALLBACK_COLUMNS)]
                       for label, rows in cb_rows for f in [callback_sums(rows)[0].figures(callback_sums(rows)[1])]],
            out_title: [[label, *(f.get(k) for k, _h in CALL_OUT_COLUMNS),
                         *(f["calls_out_by_outcome"].get(d, 0) for d in seen)]
                        for label, calls in out_rows
                        for f in [outbound_sums((c.disposition, c.answered_at) for c in calls).figures()]]}


def page_tables(client: FlaskClient, query: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each table of the report page by its title: its head and its cells, as a person reads them."""
    text = client.get(f"/reports/?{query}").get_data(as_text=True)
    out = {}
    for title, body in re.findall(r'<table class="rows" aria-label="([^"]+)"[^>]*>(.*?)</table>', text, re.S):
        cells = [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>",
                                                                                    row, re.S)]
                 for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
        out[html.unescape(title)] = (cells[0], cells[1:])
    return out


def csv_tables(client: FlaskClient, query: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    got = client.get(f"/reports/export.csv?{query}")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    text = got.get_data(as_text=True)
    assert text.startswith("\ufeff")
    sections: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        if row:
            sections[-1].append(row)
        else:
            sections.append([])
    return {s[0][0]: (s[1], s[2:]) for s in sections}


def test_page_csv_and_xlsx_carry_every_figure_per_period(world: dict[str, Any]) -> None:
    seed(world)
    sup = sign_in(world["app"], "binh")
    for by in ("week", "day", "month"):
        query = f"from={FIRST}&to={LAST}&by={by}"
        want = expected(world, by)
        formats = [["", *(k for k, _h in CALL_COLUMNS)], ["", *(k for k, _h in OPERATOR_COLUMNS)],
                   ["", *(k for k, _h in CALLBACK_COLUMNS)], ["", *(k for k, _h in CALL_OUT_COLUMNS), "", "", ""],
                   [], [],
                   ["", "", *(k for k, _h in AGENCY_COLUMNS)]]
        keys = {title: f or [""] * len(rows[0]) for (title, rows), f in zip(want.items(), formats, strict=True)}
        page, sheet = page_tables(sup, query), csv_tables(sup, query)
        book = load_workbook(io.BytesIO(sup.get(f"/reports/export.xlsx?{query}").data))
        assert list(page)[:-1] == list(sheet)[:-1] == list(want), by
        assert list(page)[-1] == list(sheet)[-1] and list(page)[-1].startswith("Điểm nóng: "), by    # none here
        assert book.sheetnames == SHEETS
        for (title, rows), ws in zip(want.items(), book.worksheets[:-1], strict=True):
            assert rows, (by, title)
            shown = [[figure(v, k) for v, k in zip(r, keys[title], strict=True)] for r in rows]
            assert page[title][1] == shown, (by, title)
            assert sheet[title][1] == [["" if v is None else str(v) for v in r] for r in rows], (by, title)
            values = list(ws.values)
            assert values[0][0] == title and list(values[1]) == page[title][0] == sheet[title][0]
            assert [list(r) for r in values[2:]] == rows, (by, title)
    # Known counts, whatever the code computes (per ISO week: 17-18-19 November are in week 47).
    week = expected(world, "week")
    calls, operators, callbacks, calls_out, categories, channels, agencies = week.values()
    assert callbacks == [["Tuần 47/2026", 1, 1, 1.0, 0, 0, 0, 150.0, 150.0],
                         ["Tuần 48/2026", 2, 1, 0.5, 1, 0, 0, 60.0, 60.0],
                         ["Tổng", 3, 2, 0.6667, 1, 0, 0, 105.0, 105.0]]
    assert calls_out == [["Tuần 47/2026", 1, 1, 1.0, 1, 0, 0], ["Tuần 48/2026", 2, 0, 0.0, 0, 1, 1],
                         ["Tổng", 3, 1, 0.3333, 1, 1, 1]]
    w47, w48, total = calls[0], calls[-2], calls[-1]
    assert w47[:3] == ["Tuần 47/2026", 2, 2] and w47[9:12] == [0.5, 0.5, 0.0]
    assert w48[:5] == ["Tuần 48/2026", 3, 2, 1, 1] and w48[9:12] == [0.5, 0.0, 0.5]
    assert total[8:12] == [4, 0.5, 0.25, 0.25]
    assert [r[:2] for r in operators] == [["op-hoa", 1], ["Nguyễn Thị Lan (op-lan)", 3]]
    assert [r[-2:] for r in operators] == [[1, 0], [1, 1]]                       # transfers requested, answered
    assert categories == [["Tuần 47/2026", 2, 1, 1, 1, 0, 0, 0, 0, 0], ["Tuần 48/2026", 2, 0, 1, 0, 0, 0, 1, 0, 0],
                          ["Tổng", 4, 1, 2, 1, 0, 0, 1, 0, 0]]
    assert channels == [["Tuần 47/2026", 2, 0, 1, 1, 0, 0, 0, 0, 0, 0], ["Tuần 48/2026", 2, 2, 0, 0, 0, 0, 0, 0, 0, 0],
                        ["Tổng", 4, 2, 1, 1, 0, 0, 0, 0, 0, 0]]
    assert agencies == [["Tuần 47/2026", "Sở Tư pháp", 1, 1, 0, 0.0, 1],
                        ["Tuần 47/2026", "Sở Xây dựng", 1, 0, 0, None, 1],
                        ["Tuần 48/2026", "Sở Xây dựng", 1, 1, 1, 1.0, 0],
                        ["Tổng", "Sở Tư pháp", 1, 1, 0, 0.0, 1], ["Tổng", "Sở Xây dựng", 2, 1, 1, 1.0, 1]]


def test_the_page_is_in_vietnamese_with_its_charts(world: dict[str, Any]) -> None:
    seed(world)
    sup = sign_in(world["app"], "binh")
    text = sup.get(f"/reports/?from={FIRST}&to={LAST}&by=week").get_data(as_text=True)
    assert text.count('<svg class="chart"') == 2 and "2026-W" not in text
    tables = page_tables(sup, f"from={FIRST}&to={LAST}&by=week")
    assert tables["Cuộc gọi theo tuần"][0][-5:] == ["Hài lòng", "Bình thường", "Không hài lòng", "Tổng cuộc gọi đến",
                                                      "Từ chối do bận"]
    assert "Thủ tục hành chính" in tables["Phiếu tiếp nhận theo lĩnh vực, theo tuần"][0]
    assert tables["Phiếu tiếp nhận theo kênh, theo tuần"][0][2:] == [
        "Điện thoại", "Hộp thư thoại", "Cổng thông tin", "Thư điện tử", "Tin nhắn SMS", "Zalo", "Facebook",
        "Hệ thống khác (Open311)", "Kênh khác"]
    assert "4 phiếu tiếp nhận, 1 quá hạn chưa trả lời" in text
    month = page_tables(sup, f"from={FIRST}&to={LAST}&by=month")["Cuộc gọi theo tháng"][1]
    assert [r[0] for r in month] == ["Tháng 11/2026", "Tổng"]
    got = sup.get(f"/reports/export.xlsx?from={FIRST}&to={LAST}&by=week")
    assert got.headers["Content-Disposition"].endswith(f"bao-cao-1022-{FIRST}-{LAST}-week.xlsx")
    share = load_workbook(io.BytesIO(got.data))["Cuộc gọi"]["L3"]
    assert share.number_format == "0.0%"
    for name in ("lan", "xd"):
        client = sign_in(world["app"], name)
        assert [client.get(u).status_code for u in ("/reports/", "/reports/export.csv", "/reports/export.xlsx")] \
            == [403, 403, 403]
