"""Out of hours: the closed message, then a voicemail that is kept whatever its length."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hotline.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait
from tests.support.calls import call, prompt_seconds, recording_starts
from tests.support.stack import Stack

pytestmark = pytest.mark.asterisk

@pytest.mark.parametrize("when, reason", [
    pytest.param("2026-11-28T10:00:00+07:00", "weekend", marks=pytest.mark.postgres_calls),   # Saturday
    ("2026-11-27T23:05:00+07:00", "night"),        # Friday 23:05
    ("2027-02-08T10:00:00+07:00", "holiday"),      # Mùng ba Tết Nguyên Đán 2027 (a Monday)
])
def test_closed_caller_leaves_a_voicemail(stack: Stack, workdir: Path, speech: Path, when: str,
                                          reason: str) -> None:
    stack.set_clock(datetime.fromisoformat(when))
    caller = f"0930000{['weekend', 'night', 'holiday'].index(reason)}01"
    # After '#': the ticket's code read back twice, digit by digit, then message_saved.
    readback = prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "message_saved") + 20
    result = call(stack, [Wait(recording_starts(stack)), Speak(speech), Wait(1), Keys("#"),
                          AwaitHangup(readback + 15)],
                  caller=caller, workdir=workdir)
    assert result.ok and result.ended_by_remote, result.problems
    row = stack.ended_call(caller)
    assert row["hours"] == reason
    assert row["disposition"] == "voicemail"
    assert row["started_at"][:10] == datetime.fromisoformat(when).astimezone().date().isoformat() or \
        datetime.fromisoformat(row["started_at"]).astimezone(stack.ctx.settings.tz).date() == \
        datetime.fromisoformat(when).date()
    [vm] = row["voicemails"]
    assert vm["status"] == "pending" and vm["ended_by"] == "pound"
    path = stack.recordings / vm["path"]
    assert path.is_file()
    assert vm["path"].startswith(datetime.fromisoformat(when).strftime("%Y/%m/%d/"))
    spoken = prompt_seconds_of(speech)
    assert spoken - 1.0 <= vm["duration"] <= spoken + 3.0, (vm, spoken)
    assert row["recording"] is not None


def test_one_second_message_is_kept_and_marked_too_short(stack: Stack, workdir: Path, speech: Path) -> None:
    stack.set_clock(datetime.fromisoformat("2026-11-28T10:00:00+07:00"))
    result = call(stack, [Wait(recording_starts(stack) - 0.5), Wait(1), HangUp()], caller="0930000999",
                  workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0930000999")
    [vm] = row["voicemails"]
    assert vm["status"] == "too_short" and vm["ended_by"] == "hangup"
    assert (stack.recordings / vm["path"]).is_file()
    assert vm["duration"] < 2.0


def test_closed_caller_hanging_up_before_the_beep(stack: Stack, workdir: Path) -> None:
    stack.set_clock(datetime.fromisoformat("2026-11-28T10:00:00+07:00"))
    result = call(stack, [Wait(5), HangUp()], caller="0930000888", workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0930000888")
    assert row["disposition"] == "closed_hours" and row["voicemails"] == []


def prompt_seconds_of(path: Path) -> float:
    from hotline.prompts import prompt_duration
    return prompt_duration(path)
