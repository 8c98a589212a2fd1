"""Real SIP calls through the real IVR: welcome, recording, menu rules, desks."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.support.calls import call, menu_starts, prompt_seconds, talk_to_desk
from tests.support.stack import Stack, desk_ports, wait_for
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Wait

pytestmark = pytest.mark.asterisk


def seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def assert_recording_covers_call(stack: Stack, row: dict) -> None:
    rec = row["recording"]
    path = stack.recordings / rec["path"]
    assert path.is_file() and path.stat().st_size == rec["size"]
    assert rec["path"].startswith(datetime.fromisoformat(row["started_at"]).astimezone(stack.ctx.settings.tz)
                                  .strftime("%Y/%m/%d/"))
    assert abs(rec["duration"] - seconds(row["answered_at"], row["ended_at"])) <= 1.0, row


def assert_nothing_left(stack: Stack, call_id: str) -> None:
    wait_for(lambda: all(not c["id"].startswith(call_id) for c in stack.channels()), 10,
             f"the channels of {call_id} to be gone")
    wait_for(lambda: all(call_id not in b.get("name", "") and call_id not in b["id"] for b in stack.bridges()),
             10, f"the bridge of {call_id} to be gone")


@pytest.mark.postgres_calls
@pytest.mark.parametrize("dialled", ["1022", "02771022"])
def test_caller_hears_welcome_and_call_is_recorded(open_hours: Stack, workdir: Path, dialled: str) -> None:
    caller = f"091000{len(dialled):04d}"
    result = call(open_hours, [Wait(menu_starts(open_hours) + 2), HangUp()], caller=caller, dialled=dialled,
                  workdir=workdir)
    assert result.ok, result.problems
    row = open_hours.ended_call(caller)
    assert row["dialled"] == dialled
    assert row["hours"] == "open"
    assert row["disposition"] == "abandoned_ivr"
    assert row["ivr_path"] == []
    assert_recording_covers_call(open_hours, row)
    # The caller stayed through welcome + notice: the file holds at least that much audio.
    assert row["recording"]["duration"] >= prompt_seconds(open_hours, "welcome", "recording_notice")
    assert_nothing_left(open_hours, row["call_id"])


def test_numbers_other_than_the_hotline_are_refused(open_hours: Stack, workdir: Path) -> None:
    result = call(open_hours, [Wait(2), HangUp()], caller="0910000099", dialled="113", workdir=workdir)
    assert not result.answered
    assert open_hours.call_rows("0910000099") == []


@pytest.mark.postgres_calls
def test_department_code_reaches_that_desk(open_hours: Stack, workdir: Path, speech: Path) -> None:
    with start_uas(desk_ports()["desk-d01"], ring_seconds=1, talk_seconds=4, hangup="local",
                   workdir=workdir / "desk") as desk:
        result = call(open_hours, talk_to_desk(open_hours, "3", "01", speech), caller="0910000101", workdir=workdir)
        assert result.ok and result.ended_by_remote, result.problems
        wait_for(lambda: desk.answered == 1, 10, "the desk to have answered one call")
    row = open_hours.ended_call("0910000101")
    assert row["disposition"] == "transferred"
    assert row["transfer_target"] == "department:01" and row["transfer_outcome"] == "answered"
    [transfer] = row["transfers"]
    assert (transfer["kind"], transfer["target"], transfer["outcome"]) == ("ivr", "department:01", "answered")
    assert transfer["started_at"] <= transfer["answered_at"] <= transfer["ended_at"]
    assert [s["keys"] for s in row["ivr_path"]] == ["3", "01"]
    assert_recording_covers_call(open_hours, row)
    # IVR part + ringing + the 4 s talk with the desk are all in the one file.
    assert row["recording"]["duration"] >= menu_starts(open_hours) + 4
    assert_nothing_left(open_hours, row["call_id"])


def test_unknown_code_is_refused_and_asked_again(open_hours: Stack, workdir: Path) -> None:
    refusal = prompt_seconds(open_hours, "unknown_code")
    with start_uas(desk_ports()["desk-d01"], ring_seconds=1, talk_seconds=2, hangup="local",
                   workdir=workdir / "desk"):
        result = call(open_hours, [Wait(menu_starts(open_hours)), Keys("3"), Wait(2), Keys("99"),
                                   Wait(refusal + 1), Keys("01"), AwaitHangup(60)],
                      caller="0910000102", workdir=workdir)
        assert result.ok, result.problems
    row = open_hours.ended_call("0910000102")
    assert [s["keys"] for s in row["ivr_path"]] == ["3", "99", "01"]
    assert row["transfer_target"] == "department:01"
    assert row["disposition"] == "transferred"


def test_busy_desk_sends_the_caller_to_the_operator_queue(open_hours: Stack, workdir: Path) -> None:
    with start_uas(desk_ports()["desk-d02"], hangup="busy", workdir=workdir / "desk") as desk:
        result = call(open_hours, [Wait(menu_starts(open_hours)), Keys("3"), Wait(2), Keys("02"),
                                   Wait(prompt_seconds(open_hours, "transferring", "desk_unavailable") + 4), HangUp()],
                      caller="0910000103", workdir=workdir)
        assert result.ok, result.problems
        assert desk.invites == 1
    row = open_hours.ended_call("0910000103")
    assert row["transfer_target"] == "department:02" and row["transfer_outcome"] == "busy"
    assert [(t["kind"], t["outcome"], t["answered_at"]) for t in row["transfers"]] == [("ivr", "busy", None)]
    assert row["disposition"] == "to_queue"


def test_wrong_keys_three_times_go_to_the_operator(open_hours: Stack, workdir: Path) -> None:
    invalid = prompt_seconds(open_hours, "invalid_key")
    result = call(open_hours, [Wait(menu_starts(open_hours)), Keys("7"), Wait(invalid + 1), Keys("8"),
                               Wait(invalid + 1), Keys("#"), Wait(2), HangUp()],
                  caller="0910000104", workdir=workdir)
    assert result.ok, result.problems
    row = open_hours.ended_call("0910000104")
    assert [s["keys"] for s in row["ivr_path"]] == ["7", "8", "#"]
    assert row["disposition"] == "to_queue"


def test_silence_is_prompted_again_then_goes_to_the_operator(open_hours: Stack, workdir: Path) -> None:
    menu, timeout = prompt_seconds(open_hours, "main_menu"), 5.0
    no_input = prompt_seconds(open_hours, "no_input")
    # menu + timeout, then twice (no_input + menu + timeout): the third silence leads to the queue.
    total = menu_starts(open_hours) + menu + timeout + 2 * (no_input + menu + timeout) + 3
    result = call(open_hours, [Wait(total), HangUp()], caller="0910000105", workdir=workdir)
    assert result.ok, result.problems
    row = open_hours.ended_call("0910000105")
    assert row["ivr_path"] == []
    assert row["disposition"] == "to_queue"
