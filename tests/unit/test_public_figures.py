"""The public figures page (public_site/figures.py) through Flask's test client, on a real database (SQLite and
PostgreSQL) and a real Redis: a month of tickets made by the ticket service across channels, categories and
agencies, and calls with survey answers; the page, its CSV and its JSON give the numbers report_queries (``hotline
report``) gives for that month; a bad month is a Vietnamese 400; an answer is on the page only once a supervisor
approved it, redacted, and gone once withdrawn; a text with a phone number is refused."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hotline.adapters.db.repository import CallRepository
from hotline.context import Context, load_context
from hotline.domain.clock import fake_clock_env
from hotline.domain.reports import build_report
from hotline.services.publishing import Publishing, PublishingError
from hotline.services.report_queries import load_rows, ticket_figures_sql
from public_site import create_app
from tests.support.redis_server import redis_server

NOW = datetime.fromisoformat("2026-12-07T09:00:00+07:00")
DAY = datetime.fromisoformat("2026-11-02T08:00:00+07:00")          # a Monday of the month shown
QUESTION = "Tôi là Nguyễn Văn An, số 0912 345 678, hỏi thủ tục đăng ký khai sinh cho con."


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    with redis_server(tmp_path / "redis") as url:
        yield load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url,
                                "HOTLINE_REDIS_URL": url, **fake_clock_env(NOW)})


@pytest.fixture
def client(ctx: Context) -> FlaskClient:
    return create_app(ctx, testing=True).test_client()


def ticket_service(ctx: Context, at: datetime) -> Any:
    """The real ticket service, its clock at ``at``."""
    return dataclasses.replace(ctx.tickets(ctx.sessions()), now=lambda: at)


def a_month(ctx: Context) -> list[str]:
    """November 2026: tickets through four channels and three categories, forwarded to two departments, answered
    on time, late or not at all; one in October and one in December (not counted); calls with survey scores."""
    made = []
    plan = [("phone", "procedures", "department:01", 2), ("web", "procedures", "department:01", 60),
            ("email", "infrastructure", "department:03", 5), ("sms", "infrastructure", "department:03", None),
            ("web", "public_services", None, None), ("phone", "infrastructure", "department:03", 30),
            ("zalo", "procedures", "department:01", 9)]
    for i, (channel, category, agency, hours) in enumerate(plan):
        received = DAY + timedelta(days=i, hours=1)
        t = ticket_service(ctx, received).create(channel=channel, caller=f"09123456{i:02d}", content=QUESTION,
                                                 category=category, agency=agency, actor="lan")
        if hours is not None:
            ticket_service(ctx, received + timedelta(hours=hours)).answer(
                t["code"], "Anh mang giấy chứng sinh đến UBND xã; liên hệ chị Hoa 0277 3851 234.", actor="xd")
        made.append(t["code"])
    for outside in (DAY - timedelta(days=10), NOW - timedelta(days=2)):
        ticket_service(ctx, outside).create(channel="phone", content="Ngoài tháng", category="procedures")
    repo = CallRepository(ctx.sessions())
    for i, score in enumerate([1, 1, 1, 2, 3, None]):
        at = DAY + timedelta(days=i, hours=2)
        repo.start_call(f"c-{i}", channel_id=f"c-{i}", caller="0912000000", dialled="1022", started_at=at)
        repo.update(f"c-{i}", survey_score=score, queued_at=at, queue_answered_at=at + timedelta(seconds=5))
    return made


def reported(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """What `hotline report` and report_queries give for November 2026: the call totals and the ticket figures."""
    first, last, tz = DAY.date().replace(day=1), DAY.date().replace(day=30), ctx.settings.tz
    calls, transfers = load_rows(ctx.sessions(), first, last, tz)
    total = build_report(calls, transfers, tz, 0.0, by=("month",))["total"]
    return total, ticket_figures_sql(ctx.sessions(), first, last, tz, ctx.clock.now())


def test_the_page_csv_and_json_give_the_reports_numbers(client: FlaskClient, ctx: Context) -> None:
    a_month(ctx)
    calls, tickets = reported(ctx)
    assert tickets["received"] == 7 and calls["surveys"] == 5          # the month's, not October's or December's
    page = client.get("/so-lieu")                                       # the last complete month: November
    assert page.status_code == 200 and page.headers["Cache-Control"] == "public, max-age=60"
    text = page.get_data(as_text=True)
    assert "Số liệu công khai tháng 11/2026" in text and "<script" not in text and "<svg" in text
    assert re.search(r'id="tiep-nhan">7<', text) and f'id="qua-han">{tickets["overdue_open"]}<' in text
    assert "Điện thoại" in text and "Sở Xây dựng" in text
    for a in tickets["agencies"]:
        assert f"{a['on_time_rate'] * 100:.1f}%" in text
    assert f"{calls['satisfied_share'] * 100:.1f}%" in text
    got = client.get("/so-lieu/2026-11.json")
    assert got.status_code == 200 and got.headers["Cache-Control"] == "public, max-age=300"
    data = got.get_json()
    assert data["tickets"] == tickets
    assert {k: data["calls"][k] for k in data["calls"]} == {k: calls[k] for k in data["calls"]}
    # answered after 2 h (Mon), 60 h (Tue → Thu night), 5 h (Wed), 30 h and 9 h (a weekend): in working hours
    # 2, 22, 3, 0 and 0, whose median is 2
    assert data["median_answer_hours"] == 2.0 and data["answered"] == 5
    assert data["labels"]["agencies"]["department:03"] == "Sở Xây dựng"
    raw = client.get("/so-lieu/2026-11.csv").data
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    values = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert values[("tong", "", "received")] == "7"
    assert {k: int(values[("kenh", k, "received")]) for k in tickets["by_channel"]} == tickets["by_channel"]
    assert {k: int(values[("linh_vuc", k, "received")]) for k in tickets["by_category"]} == tickets["by_category"]
    for a in tickets["agencies"]:
        assert float(values[("co_quan", a["agency"], "on_time_rate")]) == a["on_time_rate"]
    assert float(values[("khao_sat", "", "satisfied_share")]) == calls["satisfied_share"]


def test_the_median_is_counted_in_working_hours(ctx: Context) -> None:
    clock = ctx.tickets(ctx.sessions()).deadlines
    friday = datetime.fromisoformat("2026-11-06T16:00:00+07:00")
    assert clock.working_hours(friday, friday + timedelta(days=2, hours=16)) == 2.0   # 16-17 h Fri, 7-8 h Mon
    assert clock.working_hours(friday, clock.due(friday, 8)) == 8.0


def test_a_month_is_kept_a_few_minutes(client: FlaskClient, ctx: Context) -> None:
    first = client.get("/so-lieu/2026-11.json").get_json()
    a_month(ctx)
    assert client.get("/so-lieu/2026-11.json").get_json() == first       # from this process's cache
    figures = client.application.extensions["hotline_public"].figures
    figures._cache.clear()
    assert client.get("/so-lieu/2026-11.json").get_json()["tickets"]["received"] == 7


@pytest.mark.parametrize("url", ["/so-lieu?thang=2026-13", "/so-lieu?thang=11-2026", "/so-lieu?thang=2026-12",
                                 "/so-lieu/2027-01.csv", "/so-lieu/abc.json", "/so-lieu?thang=1999-12"])
def test_a_bad_or_unfinished_month_is_refused_in_vietnamese(client: FlaskClient, url: str) -> None:
    got = client.get(url)
    assert got.status_code == 400
    assert "hãy viết năm-tháng" in got.get_data(as_text=True) or "Chưa có số liệu" in got.get_data(as_text=True)


def test_an_answer_is_shown_only_approved_redacted_and_until_withdrawn(client: FlaskClient, ctx: Context) -> None:
    codes = a_month(ctx)
    publishing = Publishing(ctx.sessions(), ctx.clock.now)
    waiting = {c["code"]: c for c in publishing.candidates()}
    assert codes[0] in waiting and codes[3] not in waiting              # answered ones only
    assert "0912 345 678" not in client.get("/so-lieu").get_data(as_text=True)
    assert "Chưa có câu trả lời nào được công bố" in client.get("/so-lieu").get_data(as_text=True)
    c = waiting[codes[0]]
    assert c["question"].text == "Tôi là [họ tên], số [số điện thoại], hỏi thủ tục đăng ký khai sinh cho con."
    with pytest.raises(PublishingError) as refused:
        publishing.approve(codes[0], QUESTION, c["answer"].text, actor="binh")
    assert "vẫn còn số điện thoại" in (refused.value.vi or "")
    publishing.approve(codes[0], c["question"].text, c["answer"].text, actor="binh")
    page = client.get("/so-lieu").get_data(as_text=True)
    assert "hỏi thủ tục đăng ký khai sinh cho con" in page and "[số điện thoại]" in page
    assert "Nguyễn Văn An" not in page and "0912" not in page and "3851 234" not in page
    assert json.dumps(client.get("/so-lieu/2026-11.json").get_json()).count("khai sinh") == 0   # figures only
    events = [e["action"] for e in ctx.tickets(ctx.sessions()).get(codes[0])["events"]]
    assert events[-1] == "published"
    publishing.withdraw(codes[0], actor="binh")
    assert "khai sinh cho con" not in client.get("/so-lieu").get_data(as_text=True)
    assert codes[0] not in {c["code"] for c in publishing.candidates()}   # withdrawn stays withdrawn
