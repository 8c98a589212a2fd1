"""Out of hours: the closed message, then a voicemail that is kept whatever its length."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.ari_events import AriEvents
from tests.support.calls import beep_starts, call, prompt_seconds, recording_starts, speech_wav
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")

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
    stack.set_clock(SATURDAY)
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


def test_caller_hanging_up_during_the_beep_leaves_no_message_and_is_closed_at_once(stack: Stack,
                                                                                    workdir: Path) -> None:
    stack.set_clock(SATURDAY)
    aim = beep_starts(stack) + 0.2
    with AriEvents(stack) as events:
        for attempt in range(3):     # SIPp cannot hear the beep: aim at it from when Asterisk last sounded it
            caller = f"093000077{attempt}"
            result = call(stack, [Wait(aim), HangUp()], caller=caller, workdir=workdir / caller)
            row, closed_in = closed_call(stack, caller)
            seen = message_seen(stack, events, row["call_id"])
            assert result.ok and result.outcome == "local_bye", result.problems
            assert_closed_at_the_hangup(row, seen, closed_in)     # wherever the hangup fell
            if 0 < seen.into_beep <= 0.45:
                break
            aim += 0.2 - seen.into_beep
    assert 0 < seen.into_beep <= 0.45, seen             # the caller left during the beep…
    assert "duration" not in seen.recording, seen       # …so Asterisk never opened a message file
    assert row["disposition"] == "closed_hours" and row["voicemails"] == [], row
    assert not list(stack.recordings.rglob(f"{row['call_id']}.voicemail.*"))


def test_caller_hanging_up_just_after_the_beep_leaves_a_too_short_message(stack: Stack, workdir: Path) -> None:
    stack.set_clock(SATURDAY)
    hello = speech_wav(workdir / "alo.wav", "Alô, alô")     # about a second
    with AriEvents(stack) as events:
        result = call(stack, [Wait(beep_starts(stack) + 0.5), Speak(hello), HangUp()], caller="0930000666",
                      workdir=workdir)
        row, closed_in = closed_call(stack, "0930000666")
        seen = message_seen(stack, events, row["call_id"])
    assert result.ok and result.outcome == "local_bye", result.problems
    assert 0.45 < seen.into_beep <= 3.0, seen           # a second or so after the beep
    assert "duration" in seen.recording, seen           # Asterisk wrote a message file
    assert row["disposition"] == "voicemail", row
    [vm] = row["voicemails"]
    assert vm["status"] == "too_short" and vm["ended_by"] == "hangup", vm
    assert 0 < vm["duration"] < 2.0 and (stack.recordings / vm["path"]).is_file(), vm
    assert_closed_at_the_hangup(row, seen, closed_in)


@dataclass(frozen=True)
class MessageSeen:
    """What Asterisk saw of a closed-hours caller around the beep, in its own event times."""

    into_beep: float            # from the beep's start to the caller's hangup, s (< 0: hung up before it)
    call_length: float          # from the channel's creation to the caller's hangup, s
    recording: dict[str, Any]   # RecordingFinished's ({} if none): a duration only when the file was opened


def message_seen(stack: Stack, events: AriEvents, channel_id: str) -> MessageSeen:
    def of(kind: str) -> list[dict[str, Any]]:
        return events.of_channel(channel_id, kind)
    hangup = wait_for(lambda: (of("ChannelHangupRequest") or of("ChannelDestroyed") or [None])[0], 5,
                      "the caller's hangup")
    started = of("RecordingStarted")     # Asterisk starts the beep, then opens the file
    if started:
        wait_for(lambda: of("RecordingFinished"), 5, "the recording's end")
        beep = _at(started[0])
    else:                                # hung up before: the beep was due when leave_message ended
        [prompt] = [e for e in of("PlaybackStarted") if e["playback"]["media_uri"].endswith("/leave_message")]
        beep = _at(prompt) + timedelta(seconds=prompt_seconds(stack, "leave_message"))
    created = datetime.fromisoformat(hangup["channel"]["creationtime"])
    return MessageSeen(into_beep=(_at(hangup) - beep).total_seconds(),
                       call_length=(_at(hangup) - created).total_seconds(),
                       recording=of("RecordingFinished")[0]["recording"] if started else {})


def closed_call(stack: Stack, caller: str) -> tuple[dict[str, Any], float]:
    """The latest call's row once closed with its recording, and how many seconds after the caller's BYE."""
    hung_up = time.monotonic()
    row = stack.ended_call(caller)
    return row, time.monotonic() - hung_up


def assert_closed_at_the_hangup(row: dict[str, Any], seen: MessageSeen, closed_in: float) -> None:
    """The row is closed at once (no wait for a file), and ``ended_at`` is the hangup's time."""
    length = (datetime.fromisoformat(row["ended_at"]) - datetime.fromisoformat(row["started_at"])).total_seconds()
    assert abs(length - seen.call_length) <= 2.0, (row, seen)
    assert closed_in <= 3.0, (closed_in, row)


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def prompt_seconds_of(path: Path) -> float:
    from hotline.adapters.prompts import prompt_duration
    return prompt_duration(path)
