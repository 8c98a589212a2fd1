"""A caller's call and its call-backs joined: ``hotline calls`` shows each call's direction, filters by it, and lists a
caller's call-backs with their call out's recording (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import select

from hotline.adapters.db import open_database
from hotline.adapters.db.models import AccessLog, Call, CallbackRequest, Recording
from hotline.cli.main import main
from hotline.services.callback_calls import callback_origins, callbacks_of_calls

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=TZ)
S = timedelta(seconds=1)
OUT_REC = "2027/03/01/out-cb1.wav"


def fill(url: str) -> None:
    """Caller 1 asked to be called back and was (out-cb1, recorded); caller 2 asked and was not reached (a ticket);
    an operator called someone from a ticket (out-op, not a call-back)."""
    sessions = open_database(url)
    with sessions.begin() as s:
        one = Call(call_id="in-1", channel_id="in-1", caller="0912345678", dialled="1022", started_at=T0,
                   ivr_path=[], disposition="callback")
        two = Call(call_id="in-2", channel_id="in-2", caller="0987654321", dialled="1022", started_at=T0 + 10 * S,
                   ivr_path=[], disposition="callback")
        back = Call(call_id="out-cb1", channel_id="out-cb1", caller="0912345678", dialled="0912345678",
                    started_at=T0 + 200 * S, answered_at=T0 + 210 * S, ended_at=T0 + 300 * S, ivr_path=[],
                    disposition="out_answered", direction="out", operator="op-lan", talk_seconds=90.0)
        by_hand = Call(call_id="out-op", channel_id="out-op", caller="0933000111", dialled="0933000111",
                       started_at=T0 + 400 * S, ended_at=T0 + 430 * S, ivr_path=[], disposition="out_no_answer",
                       direction="out", operator="op-hoa")
        s.add_all([one, two, back, by_hand])
        s.flush()
        s.add(Recording(call_id=back.id, path=OUT_REC, duration=90.0, sha256="0" * 64, size=1440044,
                        created_at=T0 + 300 * S))
        s.add_all([CallbackRequest(call_id=one.id, number="0912345678", requested_at=T0 + 30 * S, status="completed",
                                   attempts=1, operator="op-lan", offered_at=T0 + 200 * S, ended_at=T0 + 300 * S,
                                   outcome="answer", out_call="out-cb1"),
                   CallbackRequest(call_id=two.id, number="0987654321", requested_at=T0 + 40 * S, status="no_answer",
                                   attempts=1, operator="op-hoa", ended_at=T0 + 500 * S, outcome="noanswer",
                                   ticket_code="1000017")])


def test_a_callers_call_lists_its_call_backs_and_their_recordings(database_url: str) -> None:
    fill(database_url)
    sessions = open_database(database_url)
    found = callbacks_of_calls(sessions, ["in-1", "in-2", "out-op"])
    assert sorted(found) == ["in-1", "in-2"]
    [done] = found["in-1"]
    assert (done["status"], done["operator"], done["attempts"]) == ("completed", "op-lan", 1)
    assert done["out_call"]["call_id"] == "out-cb1" and done["out_call"]["disposition"] == "out_answered"
    assert done["recording"] == {"path": OUT_REC, "duration": 90.0}
    [missed] = found["in-2"]
    assert (missed["status"], missed["ticket_code"], missed["out_call"], missed["recording"]) == (
        "no_answer", "1000017", None, None)
    assert callback_origins(sessions, ["out-cb1", "out-op"]) == {"out-cb1": "in-1"}
    with sessions.begin() as s:        # the retention job deleted the file: no recording to offer
        s.scalars(select(Recording)).one().deleted_at = T0 + timedelta(days=400)
    assert callbacks_of_calls(sessions, ["in-1"])["in-1"][0]["recording"] is None


def test_hotline_calls_shows_and_filters_the_direction(database_url: str, tmp_path: Path) -> None:
    fill(database_url)
    env = {"HOTLINE_DATABASE_URL": database_url, "HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_FAKE_NOW": ""}
    runner = CliRunner()
    text = runner.invoke(main, ["calls"], env=env)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert [line.split()[1] for line in lines if not line.startswith(" ")] == ["out", "out", "in", "in"]
    assert "    call-back of in-1" in lines
    assert any(line.split()[:3] == ["call-back", "completed", "0912345678"] and line.endswith(OUT_REC)
               for line in lines)
    assert any(line.split()[:2] == ["call-back", "no_answer"] and "1000017" in line for line in lines)
    out = json.loads(runner.invoke(main, ["calls", "--direction", "out", "--json"], env=env).output)
    assert [(c["call_id"], c["direction"], c["callback_of"]) for c in out] == [("out-op", "out", None),
                                                                               ("out-cb1", "out", "in-1")]
    got = json.loads(runner.invoke(main, ["calls", "--direction", "in", "--json"], env=env).output)
    assert [c["call_id"] for c in got] == ["in-2", "in-1"]
    assert got[1]["callbacks"][0]["recording"]["path"] == OUT_REC and got[0]["callbacks"][0]["recording"] is None
    bad = runner.invoke(main, ["calls", "--direction", "sideways"], env=env)
    assert bad.exit_code == 2 and "'in'" in bad.output
    with open_database(database_url)() as s:      # each listing is in the AccessLog, as before
        assert len(s.scalars(select(AccessLog).where(AccessLog.action == "cli_call_list")).all()) == 3
