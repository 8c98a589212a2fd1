"""`hotline report`: the call-centre figures from hand-built calls in a real database (exact numbers)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from hotline.adapters.db import open_database
from hotline.adapters.db.models import Call, Transfer
from hotline.cli.main import main
from hotline.domain.reports import build_report, operator_rows
from hotline.services.report_queries import load_rows, operator_sums, operator_transfers

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY1 = datetime(2027, 3, 1, 9, 0, tzinfo=TZ)
S = timedelta(seconds=1)


def _call(call_id: str, started: datetime, *, wait: float | None = None, answered_after: float | None = None,
          left_after: float | None = None, outcome: str | None = None, operator: str | None = None,
          talk: float | None = None, survey: int | None = None, disposition: str | None = None) -> Call:
    queued = started + 30 * S if wait is not None or answered_after is not None or outcome else None
    return Call(call_id=call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=started,
                ivr_path=[], disposition=disposition or ("answered" if answered_after is not None else "to_queue"),
                queued_at=queued,
                queue_answered_at=queued + answered_after * S if queued and answered_after is not None else None,
                queue_left_at=queued + left_after * S if queued and left_after is not None else None,
                queue_outcome="answered" if answered_after is not None else outcome,
                operator=operator, talk_seconds=talk, survey_score=survey)


def fill(url: str) -> None:
    sessions = open_database(url)
    day2_first = datetime(2027, 3, 1, 17, 30, tzinfo=UTC)   # 00:30 on 2 March in Vietnam
    calls = [
        _call("a1", DAY1, answered_after=10, operator="op-lan", talk=100, survey=1),
        _call("a2", DAY1 + 300 * S, answered_after=30, operator="op-lan", talk=200, survey=2),
        _call("a3", DAY1 + 600 * S, answered_after=20, operator="op-hoa", talk=60, survey=1),  # exactly 20 s
        _call("a4", DAY1 + 900 * S, left_after=3, outcome="abandoned"),                        # short abandon
        _call("a5", DAY1 + 1200 * S, left_after=40, outcome="abandoned"),
        _call("a6", DAY1 + 1500 * S),                                                          # IVR only
        _call("a7", DAY1 + 1600 * S, disposition="turned_away"),                     # over [capacity] max_calls
        _call("b1", day2_first, answered_after=6, operator="op-hoa", talk=40, survey=3),
        _call("b2", day2_first + 600 * S, left_after=120, outcome="timeout"),
        _call("x0", datetime(2027, 2, 28, 16, 59, tzinfo=UTC), answered_after=1, operator="op-lan", talk=5),
        _call("x1", datetime(2027, 3, 3, 8, 0, tzinfo=TZ), answered_after=1, operator="op-lan", talk=5),
    ]
    with sessions.begin() as s:
        s.add_all(calls)
        s.flush()
        ids = {c.call_id: c.id for c in calls}
        s.add_all([
            Transfer(call_id=ids["a1"], kind="blind", target="department:01", requested_by="op-lan",
                     started_at=DAY1 + 60 * S, answered_at=DAY1 + 70 * S, outcome="answered"),
            Transfer(call_id=ids["a2"], kind="attended", target="department:01", requested_by="op-lan",
                     started_at=DAY1 + 400 * S, outcome="noanswer"),
            Transfer(call_id=ids["a6"], kind="ivr", target="department:01", started_at=DAY1 + 1510 * S,
                     outcome="busy"),
            Transfer(call_id=ids["b1"], kind="ivr", target="district:02", started_at=day2_first + 10 * S,
                     answered_at=day2_first + 20 * S, outcome="completed"),
        ])


def test_figures_per_day_operator_and_desk(database_url: str) -> None:
    fill(database_url)
    calls, transfers = load_rows(open_database(database_url), date(2027, 3, 1), date(2027, 3, 2), TZ)
    assert sorted(c.call_id for c in calls) == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "b1", "b2"]
    report = build_report(calls, transfers, TZ, wrapup_seconds=10)
    day1, day2 = report["days"]
    assert day1 == {
        "day": "2027-03-01", "offered": 5, "answered": 3, "abandoned": 2, "short_abandoned": 1,
        "abandon_rate": 0.4, "answered_within_20s": 2, "service_level": 0.4, "asa_seconds": 20.0,
        "aht_seconds": 130.0, "surveys": 3, "satisfied_share": 0.6667, "normal_share": 0.3333,
        "not_satisfied_share": 0.0, "calls": 7, "turned_away": 1, "transfers": 3, "transfers_answered": 1}
    assert day2["day"] == "2027-03-02"   # started 00:30 local time, 17:30 UTC the day before
    assert (day2["offered"], day2["answered"], day2["abandoned"], day2["service_level"]) == (2, 1, 0, 0.5)
    assert (day2["asa_seconds"], day2["aht_seconds"], day2["not_satisfied_share"]) == (6.0, 50.0, 1.0)
    total = report["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["short_abandoned"]) == (7, 4, 2, 1)
    assert (total["service_level"], total["abandon_rate"]) == (0.4286, 0.2857)
    assert (total["asa_seconds"], total["aht_seconds"]) == (16.5, 110.0)
    assert (total["surveys"], total["satisfied_share"], total["normal_share"]) == (4, 0.5, 0.25)
    assert (total["calls"], total["turned_away"], day2["calls"], day2["turned_away"]) == (9, 1, 2, 0)
    lan, hoa = sorted(report["operators"], key=lambda r: r["operator"], reverse=True)
    assert (lan["operator"], lan["answered"], lan["asa_seconds"], lan["aht_seconds"]) == ("op-lan", 2, 20.0, 160.0)
    assert (lan["transfers"], lan["transfers_answered"], lan["satisfied_share"]) == (2, 1, 0.5)
    assert (hoa["operator"], hoa["answered"], hoa["asa_seconds"], hoa["aht_seconds"]) == ("op-hoa", 2, 13.0, 60.0)
    assert (hoa["satisfied_share"], hoa["not_satisfied_share"], hoa["transfers"]) == (0.5, 0.5, 0)
    assert report["transfers"] == [
        {"target": "department:01", "attempts": 3, "answered": 1, "answer_rate": 0.3333},
        {"target": "district:02", "attempts": 1, "answered": 1, "answer_rate": 1.0}]
    sessions = open_database(database_url)                # the console's per-operator table, added up in SQL
    sql = operator_rows(operator_sums(sessions, date(2027, 3, 1), date(2027, 3, 2), TZ),
                        operator_transfers(sessions, date(2027, 3, 1), date(2027, 3, 2), TZ), 10)
    assert sql == report["operators"]


def test_an_empty_period_has_no_rates() -> None:
    report = build_report([], [], TZ, wrapup_seconds=0)
    assert report["total"]["offered"] == 0 and report["total"]["service_level"] is None
    assert report["days"] == [] and report["operators"] == [] and report["transfers"] == []


def test_the_command_prints_vietnamese_tables_and_english_json(database_url: str, tmp_path: Path) -> None:
    fill(database_url)
    env = {"HOTLINE_DATABASE_URL": database_url, "HOTLINE_STATE_DIR": str(tmp_path / "state"),
           "HOTLINE_FAKE_NOW": ""}
    runner = CliRunner()
    result = runner.invoke(main, ["report", "--from", "2027-03-01", "--to", "2027-03-02", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["from"] == "2027-03-01" and data["timezone"] == "Asia/Ho_Chi_Minh"
    assert data["total"]["offered"] == 7 and data["total"]["service_level"] == 0.4286
    assert data["tickets"]["received"] == 0 and data["tickets"]["by_channel"] == {}      # no request came in
    result = runner.invoke(main, ["report", "--from", "2027-03-01", "--to", "2027-03-01"], env=env)
    assert result.exit_code == 0, result.output
    text = result.output
    for heading in ("Cuộc gọi vào hàng đợi", "Đã trả lời", "Bỏ máy khi chờ", "Mức phục vụ 20 giây",
                    "Thời gian chờ trung bình", "Thời gian xử lý trung bình", "Hài lòng", "Tổng đài viên"):
        assert heading in text
    assert "Phản ánh, kiến nghị tiếp nhận: 0; quá hạn chưa trả lời: 0" in text
    day_line = next(line for line in text.splitlines() if line.startswith("01/03/2027"))
    assert day_line.split()[:6] == ["01/03/2027", "5", "3", "2", "1", "40.0%"]
    only_ops = runner.invoke(main, ["report", "--from", "2027-03-01", "--to", "2027-03-01", "--by", "operator"],
                             env=env)
    assert "Theo ngày" not in only_ops.output and "op-lan" in only_ops.output
    weeks = runner.invoke(main, ["report", "--from", "2027-03-01", "--to", "2027-03-02", "--by", "week"], env=env)
    assert "Tuần 9/2027" in weeks.output and "2027-W09" not in weeks.output      # as the console says it
    bad = runner.invoke(main, ["report", "--from", "2027-13-01", "--to", "2027-03-01"], env=env)
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_the_database_adds_up_the_same_figures_as_the_rows_do(database_url: str) -> None:
    """``day_sums`` (SQL, for the console's pages) and ``CallSums.of`` (rows) agree, day by day."""
    import random

    from hotline.adapters.db.models import Call as CallModel
    from hotline.domain.reports import CallSums
    from hotline.services.report_queries import day_sums
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    sessions = open_database(database_url)
    rng = random.Random(7)
    start = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)          # 23:00 on 31 Oct in Đồng Tháp
    with sessions.begin() as s:
        for i in range(400):
            started = start + timedelta(minutes=37 * i + rng.random())
            queued = started + timedelta(seconds=12) if rng.random() < 0.8 else None
            answered = queued + timedelta(seconds=rng.choice((3, 19.5, 20.5, 45, 80))) \
                if queued and rng.random() < 0.8 else None
            left = (answered or queued + timedelta(seconds=rng.choice((2, 4.9, 5.1, 30)))) if queued else None
            s.add(CallModel(call_id=f"sum-{i}", caller="0912", started_at=started, queued_at=queued,
                            queue_answered_at=answered, queue_left_at=left,
                            queue_outcome="answered" if answered else ("abandoned" if queued else None),
                            talk_seconds=rng.choice((None, 33.3, 120.0)) if answered else None,
                            survey_score=rng.choice((None, 1, 2, 3)) if answered else None,
                            disposition="turned_away" if not queued and rng.random() < 0.5 else "answered"))
    calls, _transfers = load_rows(sessions, date(2026, 11, 1), date(2026, 11, 10), tz)
    by_day: dict[str, list] = {}
    for c in calls:
        by_day.setdefault(c.started_at.astimezone(tz).date().isoformat(), []).append(c)
    sql = day_sums(sessions, date(2026, 11, 1), date(2026, 11, 10), tz)
    assert set(sql) == set(by_day) and "2026-10-31" not in sql and len(sql) == 10
    for day, rows in by_day.items():
        mine = CallSums.of(rows)
        theirs = sql[day]
        assert theirs.figures(15) == mine.figures(15), day
        assert abs(theirs.wait_seconds - mine.wait_seconds) < 1e-3
    total = sum(sql.values(), CallSums())
    assert total.figures(15) == CallSums.of(calls).figures(15)
    assert total.calls == len(calls) and 0 < total.turned_away < total.calls - total.offered + 1


def test_the_database_counts_the_same_ticket_figures_as_the_rows_do(database_url: str) -> None:
    import random

    from hotline.adapters.db.models import Ticket
    from hotline.domain.reports import period_key, ticket_figures, ticket_periods
    from hotline.services.report_queries import (
        load_ticket_rows,
        overdue_open_tickets,
        ticket_day_sums,
        ticket_figures_sql,
    )
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    sessions = open_database(database_url)
    rng = random.Random(11)
    start = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    with sessions.begin() as s:
        for i in range(300):
            received = start + timedelta(minutes=53 * i)
            status = rng.choice(("new", "assigned", "in_progress", "answered", "closed"))
            due = received + timedelta(hours=rng.choice((8, 48)))
            answered = received + timedelta(hours=rng.choice((2, 9, 50))) if status in ("answered", "closed") else None
            s.add(Ticket(code=f"{i:07d}", channel=rng.choice(("phone", "voicemail")), caller="0912",
                         category=rng.choice(("procedures", "infrastructure")), content="x", status=status,
                         agency=None if status == "new" else rng.choice(("department:01", "district:02")),
                         received_at=received, deadline_hours=8, due_at=due, answered_at=answered))
    now = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)
    rows = load_ticket_rows(sessions, date(2026, 11, 1), date(2026, 11, 10), tz)
    assert 0 < len(rows) < 300
    assert ticket_figures_sql(sessions, date(2026, 11, 1), date(2026, 11, 10), tz, now) == ticket_figures(rows, now)
    by_day = ticket_day_sums(sessions, date(2026, 11, 1), date(2026, 11, 10), tz, now)
    per_day = ticket_periods(rows, now, period_key("day", tz), "day")
    assert [{"day": d, **sums.figures()} for d, sums in by_day.items()] == per_day and len(per_day) == 10
    weeks = ticket_periods(rows, now, period_key("week", tz), "week")
    assert [w["week"] for w in weeks] == ["2026-W44", "2026-W45", "2026-W46"]
    assert sum(w["received"] for w in weeks) == len(rows)
    assert sum(w["by_channel"].get("voicemail", 0) for w in weeks) == sum(r.channel == "voicemail" for r in rows)
    every = load_ticket_rows(sessions, date(2026, 10, 1), date(2027, 1, 31), tz)
    late = sum(r.status in ("new", "assigned", "in_progress") and r.due_at < now for r in every)
    assert len(every) == 300 and 0 < late == overdue_open_tickets(sessions, now)    # the wallboard's figure
