"""The call-backs' rows (hotline/services/callbacks.py) as the AGI server moves them (agi/callbacks.py), on
SQLite and PostgreSQL: an operator takes one, its call out ends answered (completed) or not (a ticket so that an
operator calls again), its placeholder leaves the queue unanswered (a ticket); each report counts once."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agi.callbacks import CallbackHandlers
from hotline.adapters.db.repository import CallRepository
from hotline.context import Context, load_context
from hotline.domain.clock import fake_clock_env
from hotline.services.callbacks import Callbacks
from tests.support.agi import RecordingAgi

NOW = datetime.fromisoformat("2026-11-25T10:00:00+07:00")
NUMBER = "0912345678"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> dict[str, Any]:
    ctx: Context = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url,
                                     "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0", **fake_clock_env(NOW)})
    sessions = ctx.sessions()
    CallRepository(sessions).start_call("c1", channel_id="c1", caller=NUMBER, dialled="1022", started_at=NOW,
                                        answered_at=NOW)
    callbacks = Callbacks(sessions, ctx.clock.now)
    tickets = ctx.tickets(sessions)
    return {"callbacks": callbacks, "tickets": tickets, "agi": CallbackHandlers(callbacks, tickets),
            "id": callbacks.request("c1", NUMBER, 2)}


AGI = RecordingAgi()


def test_taken_then_answered_is_completed_with_its_operator_and_call_out(world: dict[str, Any]) -> None:
    agi, cb = world["agi"], world["callbacks"]
    agi.callback_taken(AGI, [str(world["id"]), "op-lan"])
    assert (cb.get(world["id"])["status"], cb.get(world["id"])["operator"]) == ("calling", "op-lan")
    agi.callback_end(AGI, [str(world["id"]), "ANSWER", "c1-cb"])
    agi.callback_end(AGI, [str(world["id"]), "NOANSWER", "c1-cb"])       # a second report changes nothing
    row = cb.get(world["id"])
    assert (row["status"], row["outcome"], row["out_call"], row["attempts"]) == ("completed", "answer", "c1-cb", 1)
    assert row["ticket_code"] is None


@pytest.mark.parametrize(("status", "said"), [("NOANSWER", "không nhấc máy"), ("BUSY", "máy bận")])
def test_a_citizen_not_reached_is_a_ticket_to_call_again(world: dict[str, Any], status: str, said: str) -> None:
    agi, cb = world["agi"], world["callbacks"]
    agi.callback_taken(AGI, [str(world["id"]), "op-lan"])
    agi.callback_end(AGI, [str(world["id"]), status, "c1-cb"])
    agi.callback_end(AGI, [str(world["id"]), status, "c1-cb"])           # once: one ticket
    row = cb.get(world["id"])
    assert row["status"] == "no_answer" and row["ticket_code"]
    ticket = world["tickets"].get(row["ticket_code"])
    assert ticket["caller"] == NUMBER and ticket["channel"] == "phone" and ticket["call_id"] == "c1"
    assert said in ticket["content"] and "10:00 ngày 25/11/2026" in ticket["content"] and NUMBER in ticket["content"]


def test_a_place_that_left_the_queue_unanswered_is_a_ticket(world: dict[str, Any]) -> None:
    agi, cb = world["agi"], world["callbacks"]
    agi.callback_left(AGI, [str(world["id"]), "LEAVEEMPTY"])
    row = cb.get(world["id"])
    assert (row["status"], row["outcome"]) == ("no_operator", "leaveempty") and row["ticket_code"]
    assert "không còn tổng đài viên" in world["tickets"].get(row["ticket_code"])["content"]


def test_a_place_that_leaves_after_an_operator_took_it_changes_nothing(world: dict[str, Any]) -> None:
    agi, cb = world["agi"], world["callbacks"]
    agi.callback_taken(AGI, [str(world["id"]), "op-lan"])
    agi.callback_left(AGI, [str(world["id"]), "CONTINUE"])               # Queue() returns after the talk too
    assert cb.get(world["id"])["status"] == "calling" and cb.get(world["id"])["ticket_code"] is None


def test_a_report_without_an_id_is_logged_and_left(world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    for route in ("callback_taken", "callback_end", "callback_left"):
        getattr(world["agi"], route)(AGI, ["", "ANSWER"])
    assert caplog.text.count("without a call-back id") == 3
    assert world["callbacks"].get(world["id"])["status"] == "waiting"


def test_only_the_rows_own_placeholder_takes_it_once_and_only_then_is_the_citizen_called(
        world: dict[str, Any]) -> None:
    """Two placeholders of one call-back (one judged lost but alive, or placed on two nodes): the dialplan calls the
    citizen only when CALLBACK_TAKEN is 1, and only the row's own placeholder, once, gets it."""
    cb = world["callbacks"]
    cb.placed(world["id"], "c1-cb")
    stale, own, again = RecordingAgi(), RecordingAgi(), RecordingAgi()
    world["agi"].callback_taken(stale, [str(world["id"]), "op-lan", "cb-old-one"])
    assert stale.variables == {"CALLBACK_TAKEN": "no"} and cb.get(world["id"])["status"] == "waiting"
    world["agi"].callback_taken(own, [str(world["id"]), "op-lan", "c1-cb"])
    assert own.variables == {"CALLBACK_TAKEN": "1"}
    world["agi"].callback_taken(again, [str(world["id"]), "op-binh", "c1-cb"])      # answered twice: once only
    assert again.variables == {"CALLBACK_TAKEN": "no"}
    row = cb.get(world["id"])
    assert (row["status"], row["operator"], row["attempts"]) == ("calling", "op-lan", 1)


def test_a_call_back_answered_after_the_staffed_hours_calls_nobody_and_is_a_ticket(world: dict[str, Any]) -> None:
    closed = CallbackHandlers(world["callbacks"], world["tickets"], is_open=lambda: False)
    agi = RecordingAgi()
    closed.callback_taken(agi, [str(world["id"]), "op-lan", ""])
    row = world["callbacks"].get(world["id"])
    assert agi.variables == {"CALLBACK_TAKEN": "no"}
    assert (row["status"], row["outcome"], row["attempts"]) == ("no_operator", "closed", 0) and row["ticket_code"]
    assert "hết giờ trực" in world["tickets"].get(row["ticket_code"])["content"]


def test_the_placeholder_is_on_the_row_before_it_exists(world: dict[str, Any]) -> None:
    """The app writes the placeholder's id with the row, before asking Asterisk for it: a sweep that runs while the
    app is stuck between the two sees a placeholder to look for, not a row without one."""
    cb = world["callbacks"]
    second = cb.request("c1", NUMBER, 3, "c1-cb")
    row = cb.get(second)
    assert row["place_channel"] == "c1-cb" and row["placed_at"] == row["requested_at"]
