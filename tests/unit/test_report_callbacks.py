"""The report's call-backs and calls out, from hand-built rows in a real database (SQLite and PostgreSQL): exact
figures, the database's sums and median against the rows' own (hotline/domain/reports_callbacks.py)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from hotline.adapters.db import open_database
from hotline.adapters.db.models import Call, CallbackRequest
from hotline.cli.main import main
from hotline.domain.reports_callbacks import CallbackRow, callback_sums, outbound_sums
from hotline.services.report_callbacks import callback_figures, calls_out_now, outbound_figures

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY1 = datetime(2027, 3, 1, 9, 0, tzinfo=TZ)          # a Monday, ISO week 9
DAY2 = datetime(2027, 3, 8, 0, 30, tzinfo=TZ)         # the next Monday (17:30 UTC on the 7th), week 10
S = timedelta(seconds=1)


def _out(call_id: str, started: datetime, disposition: str, answered_after: float | None = None,
         ended: bool = True) -> Call:
    return Call(call_id=call_id, channel_id=call_id, caller="op-lan", dialled="0912345678", started_at=started,
                answered_at=started + answered_after * S if answered_after is not None else None,
                ended_at=started + 60 * S if ended else None, ivr_path=[], disposition=disposition,
                direction="out", operator="op-lan")


def fill(url: str) -> None:
    """Day 1: four call-backs asked (two called back after 120 s and 300 s, one not answered → ticket, one
    still waiting); day 2: two (one called back after 60 s through offered_at only, one whose place left the queue
    unanswered → ticket) and one failed. Calls out: day 1 answered, no answer, refused; day 2 answered, busy,
    one ringing now."""
    sessions = open_database(url)
    with sessions.begin() as s:
        caller = Call(call_id="in-1", channel_id="in-1", caller="0912345678", dialled="1022", started_at=DAY1,
                      ivr_path=[], disposition="callback")
        outs = [_out("out-a", DAY1 + 100 * S, "out_answered", answered_after=20),
                _out("out-b", DAY1 + 200 * S, "out_answered", answered_after=100),
                _out("out-c", DAY1 + 300 * S, "out_no_answer"),
                _out("out-r", DAY1 + 400 * S, "out_refused"),
                _out("out-d", DAY2 + 10 * S, "out_answered", answered_after=5),
                _out("out-e", DAY2 + 20 * S, "out_busy"),
                _out("out-f", DAY2 + 30 * S, "in_progress", ended=False)]
        s.add_all([caller, *outs])
        s.flush()

        def cb(asked: datetime, status: str, **kw: object) -> CallbackRequest:
            return CallbackRequest(call_id=caller.id, number="0912345678", requested_at=asked, status=status, **kw)
        s.add_all([
            cb(DAY1, "completed", out_call="out-a", offered_at=DAY1 + 100 * S, attempts=1),        # 100 + 20 = 120 s
            cb(DAY1 + 100 * S, "completed", out_call="out-b", offered_at=DAY1 + 200 * S, attempts=1),  # 200 s
            cb(DAY1 + 200 * S, "no_answer", out_call="out-c", ticket_code="1000017", attempts=1),
            cb(DAY1 + 300 * S, "waiting"),
            cb(DAY2, "completed", offered_at=DAY2 + 60 * S, attempts=1),        # no call out row: offered_at, 60 s
            cb(DAY2 + 5 * S, "no_operator", ticket_code="1000025"),
            cb(DAY2 + 6 * S, "failed"),
        ])


def test_call_backs_per_period_and_in_all(database_url: str) -> None:
    fill(database_url)
    sessions = open_database(database_url)
    first, last = date(2027, 3, 1), date(2027, 3, 8)
    total = callback_figures(sessions, first, last, TZ)["total"]
    assert total == {"callbacks": 7, "callbacks_completed": 3, "callbacks_not_reached": 2, "callbacks_tickets": 2,
                     "callbacks_failed": 1, "callbacks_open": 1, "callback_completion_rate": 0.4286,
                     # waits: 120 s (out-a answered at +120), 200 s (out-b at 300 - asked at 100), 60 s (offered_at)
                     "callback_mean_seconds": 126.7, "callback_median_seconds": 120.0}
    days = callback_figures(sessions, first, last, TZ, "day")
    assert sorted(days) == ["2027-03-01", "2027-03-08"]      # day 2's first call-back: 17:30 UTC on the 7th
    assert (days["2027-03-01"]["callbacks"], days["2027-03-01"]["callback_median_seconds"]) == (4, 160.0)
    assert (days["2027-03-08"]["callbacks_completed"], days["2027-03-08"]["callback_mean_seconds"]) == (1, 60.0)
    weeks = callback_figures(sessions, first, last, TZ, "week")
    assert sorted(weeks) == ["2027-W09", "2027-W10"] and weeks["2027-W10"]["callbacks"] == 3
    months = callback_figures(sessions, first, last, TZ, "month")
    assert list(months) == ["2027-03"] and months["2027-03"] == total
    assert callback_figures(sessions, date(2027, 4, 1), date(2027, 4, 30), TZ) == {}


def test_the_database_and_the_rows_agree(database_url: str) -> None:
    fill(database_url)
    sessions = open_database(database_url)
    with sessions() as s:
        outs = {c.call_id: c for c in s.query(Call).filter(Call.direction == "out")}
        rows = [CallbackRow(r.requested_at, r.status,
                            (outs[r.out_call].answered_at if r.out_call and outs[r.out_call].answered_at
                             else r.offered_at), r.ticket_code) for r in s.query(CallbackRequest)]
        calls = [(c.disposition, c.answered_at) for c in outs.values()]
    sums, middle = callback_sums(rows)
    assert callback_figures(sessions, date(2027, 3, 1), date(2027, 3, 8), TZ)["total"] == sums.figures(middle)
    assert outbound_figures(sessions, date(2027, 3, 1), date(2027, 3, 8), TZ)["total"] == outbound_sums(calls).figures()


def test_calls_out_per_outcome_and_those_going_on(database_url: str) -> None:
    fill(database_url)
    sessions = open_database(database_url)
    total = outbound_figures(sessions, date(2027, 3, 1), date(2027, 3, 8), TZ)["total"]
    assert total == {"calls_out": 7, "calls_out_answered": 3, "calls_out_answer_rate": 0.4286,
                     "calls_out_by_outcome": {"in_progress": 1, "out_answered": 3, "out_busy": 1,
                                              "out_no_answer": 1, "out_refused": 1}}
    days = outbound_figures(sessions, date(2027, 3, 1), date(2027, 3, 8), TZ, "day")
    assert {k: v["calls_out"] for k, v in days.items()} == {"2027-03-01": 4, "2027-03-08": 3}
    assert calls_out_now(sessions, DAY2 + 40 * S) == 1
    assert calls_out_now(sessions, DAY2 + timedelta(hours=5)) == 0       # a row never closed is not "now" forever
    assert calls_out_now(sessions, datetime(2027, 3, 1, 0, 0, tzinfo=UTC)) == 0


def test_hotline_report_shows_them(database_url: str, tmp_path: Path) -> None:
    fill(database_url)
    env = {"HOTLINE_DATABASE_URL": database_url, "HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_FAKE_NOW": ""}
    runner = CliRunner()
    got = runner.invoke(main, ["report", "--from", "2027-03-01", "--to", "2027-03-08", "--json"], env=env)
    assert got.exit_code == 0, got.output
    data = json.loads(got.output)
    assert data["callbacks"]["total"]["callback_median_seconds"] == 120.0
    assert [d["day"] for d in data["callbacks"]["days"]] == ["2027-03-01", "2027-03-08"]
    assert data["calls_out"]["total"]["calls_out_by_outcome"]["out_answered"] == 3
    text = runner.invoke(main, ["report", "--from", "2027-03-01", "--to", "2027-03-08", "--by", "week"], env=env).output
    lines = text.splitlines()
    at = lines.index("Gọi lại cho người chờ (phím 2)")
    assert "Đăng ký gọi lại" in lines[at + 1] and "Trung vị (giây)" in lines[at + 1]
    assert lines[at + 5].split() == ["Tổng", "7", "3", "42.9%", "2", "1", "1", "126.7", "120.0"]
    assert lines[lines.index("Cuộc gọi ra") + 5].split() == ["Tổng", "7", "3", "42.9%"]
    assert "Gọi ra: máy bận" in text and "out_busy" not in text
    only = runner.invoke(main, ["report", "--from", "2027-04-01", "--to", "2027-04-02", "--json"], env=env)
    assert json.loads(only.output)["callbacks"]["total"]["callbacks"] == 0      # none: zeros, not an error
