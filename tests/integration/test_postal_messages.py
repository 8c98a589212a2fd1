"""Key 6 records the request: the post office's desk busy, or the hotline closed, and the caller leaves their
name and address after the beep; the message is a ticket of category postal assigned to the post office,
its code read back, transcribed by the real worker like any voicemail.

Real SIPp callers into the real Asterisk and ARI app; the post office's desk is a SIPp phone that answers
486 Busy Here (or, out of hours, one that would answer, to show it is not dialled).
"""
from __future__ import annotations

import re
import wave
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.ari_events import AriEvents
from tests.support.calls import call, menu_starts, prompt_seconds, start
from tests.support.stack import Stack, desk_ports, wait_for
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
POST_OFFICE = "postal_service:01"


def seconds_of(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def to_the_beep(stack: Stack) -> float:
    """Seconds from key 6 to when the caller may speak, the desk answering busy at once."""
    return prompt_seconds(stack, "transferring_postal", "postal_unavailable", "postal_leave_message") + 2.5


def readback_seconds(stack: Stack) -> float:
    digits = stack.ctx.settings.tickets.code_digits
    return prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "postal_message_saved") + 2 * digits * 1.2


def ticket(stack: Stack, code: str) -> dict[str, Any]:
    found = stack.ctx.tickets(stack.repo.sessions).get(code)
    assert found is not None, code
    return found


def assert_postal_ticket(stack: Stack, vm: dict[str, Any], caller: str) -> dict[str, Any]:
    """The message's ticket: category postal, assigned to the post office at once, 8 working hours."""
    assert vm["ticket"], vm
    found = ticket(stack, vm["ticket"])
    assert (found["channel"], found["caller"], found["category"]) == ("voicemail", caller, "postal")
    assert (found["agency"], found["status"], found["deadline_hours"]) == (POST_OFFICE, "assigned", 8)
    assert [(e["action"], e["detail"].get("agency")) for e in found["events"]][:2] == \
        [("created", None), ("assigned", POST_OFFICE)]
    return found


def assert_code_read_back(played: list[str], code: str) -> None:
    """What Asterisk played after the message: "your code is", the digits, "once again", the digits, the goodbye."""
    uris = [re.sub(r"^sound:", "", uri) for uri in played]
    tail = uris[uris.index(next(u for u in uris if u.endswith("/ticket_code_is"))):]
    assert [Path(p).name for p in tail if "/digits/" in p] == list(code) * 2, tail
    assert tail[-1].endswith("/postal_message_saved"), tail


def test_post_office_busy_the_caller_leaves_a_postal_request_read_back_and_transcribed(
        open_hours: Stack, workdir: Path, speech: Path) -> None:
    stack, caller = open_hours, "0950000101"
    stack.start_worker()
    with start_uas(desk_ports()["desk-bd"], hangup="busy", workdir=workdir / "desk") as desk, \
            AriEvents(stack) as events:
        result = call(stack, [Wait(menu_starts(stack)), Keys("6"), Wait(to_the_beep(stack)), Speak(speech), Wait(1),
                              Keys("#"), AwaitHangup(readback_seconds(stack) + 15)], caller=caller, workdir=workdir)
        assert result.ok and result.ended_by_remote, result.problems
        assert desk.invites == 1
        row = stack.ended_call(caller)
        played = events.played(row["channel_id"])
    assert [s["keys"] for s in row["ivr_path"]] == ["6"]
    assert [(t["kind"], t["target"], t["outcome"]) for t in row["transfers"]] == [("ivr", POST_OFFICE, "busy")]
    assert row["disposition"] == "voicemail"
    heard = [Path(u).name for u in played]
    assert heard.index("transferring_postal") < heard.index("postal_unavailable") < heard.index("postal_leave_message")
    assert "leave_message" not in heard
    [vm] = row["voicemails"]
    assert vm["ended_by"] == "pound"
    path = stack.recordings / vm["path"]
    assert path.is_file() and vm["path"].endswith(f"{row['call_id']}.voicemail.wav")
    spoken = seconds_of(speech)
    assert spoken - 1.0 <= vm["duration"] <= spoken + 3.0, (vm, spoken)
    assert abs(seconds_of(path) - vm["duration"]) < 0.1
    found = assert_postal_ticket(stack, vm, caller)
    assert_code_read_back(played, found["code"])
    # Transcribed by the worker like any voicemail; the category and the agency stay.
    done = wait_for(lambda: (t := ticket(stack, found["code"]))["voicemail"]["status"] in ("transcribed", "no_speech")
                    and t, 120, "the postal message to be transcribed")
    assert done["voicemail"]["status"] == "transcribed" and done["content"] == done["voicemail"]["transcript"]
    assert done["content"].strip() and done["voicemail"]["words"], done
    assert (done["category"], done["agency"], done["status"]) == ("postal", POST_OFFICE, "assigned")


def test_closed_hours_key_six_during_the_hours_message_leaves_a_postal_request_without_dialling(
        stack: Stack, workdir: Path, speech: Path) -> None:
    """Saturday: key 6 while the closed-hours message plays; the caller hangs up after speaking (no '#')."""
    stack.set_clock(SATURDAY)
    caller = "0950000102"
    during_hours = prompt_seconds(stack, "welcome", "recording_notice") + 3.0
    with start_uas(desk_ports()["desk-bd"], ring_seconds=1, talk_seconds=5, hangup="local",
                   workdir=workdir / "desk") as desk, AriEvents(stack) as events:
        result = call(stack, [Wait(during_hours), Keys("6"), Wait(prompt_seconds(stack, "postal_leave_message") + 2),
                              Speak(speech), HangUp()], caller=caller, workdir=workdir)
        assert result.ok and result.outcome == "local_bye", result.problems
        row = stack.ended_call(caller)
        heard = events.heard(row["channel_id"])
        assert desk.invites == 0          # the closed desk is not dialled
    assert row["hours"] == "weekend" and row["disposition"] == "voicemail"
    assert [(s["node"], s["keys"]) for s in row["ivr_path"]] == [("closed", "6")]
    assert row["transfers"] == []
    assert heard.index("closed_hours") < heard.index("postal_leave_message") and "leave_message" not in heard
    [vm] = row["voicemails"]
    assert vm["ended_by"] == "hangup" and (stack.recordings / vm["path"]).is_file()
    assert vm["duration"] >= seconds_of(speech) - 1.0
    assert_postal_ticket(stack, vm, caller)


def test_a_too_short_postal_message_is_kept_without_a_ticket(open_hours: Stack, workdir: Path) -> None:
    """Silence: the caller hangs up a second after the beep; the file is kept, as any too short message."""
    stack, caller = open_hours, "0950000103"
    with start_uas(desk_ports()["desk-bd"], hangup="busy", workdir=workdir / "desk"):
        result = call(stack, [Wait(menu_starts(stack)), Keys("6"), Wait(to_the_beep(stack)), HangUp()],
                      caller=caller, workdir=workdir)
        assert result.ok, result.problems
    row = stack.ended_call(caller)
    [vm] = row["voicemails"]
    assert vm["status"] == "too_short" and vm["ticket"] is None and vm["duration"] < 2.0
    assert (stack.recordings / vm["path"]).is_file()
    assert row["disposition"] == "voicemail"


def test_app_killed_while_a_postal_message_is_recorded_it_is_still_a_postal_ticket(
        open_hours: Stack, workdir: Path, speech: Path) -> None:
    stack, caller = open_hours, "0950000104"
    with start_uas(desk_ports()["desk-bd"], hangup="busy", workdir=workdir / "desk"), AriEvents(stack) as events:
        c = start(stack, [Wait(menu_starts(stack)), Keys("6"), Wait(to_the_beep(stack)), Speak(speech), Wait(3),
                          Speak(speech), Keys("#"), AwaitHangup(readback_seconds(stack) + 15)],
                  caller=caller, workdir=workdir / "c")
        try:
            def recording() -> bool:
                rows = stack.call_rows(caller)
                if not rows or rows[0]["node"] != "postal_message":
                    return False
                vm = Path(rows[0]["recording_file"]).with_suffix(".voicemail.wav")
                return vm.exists() and vm.stat().st_size > 8000 * 2 * 2      # 2 s of the message on disk
            wait_for(recording, menu_starts(stack) + 60, "the postal message to be recorded")
            stack.kill("ari_app")
            stack.start_proc("ari_app")
            wait_for(stack.app_registered, 20, "the restarted app to register")
            mark = len(events.events)
            result = c.result(120)
        finally:
            c.terminate()
        assert result.ok and result.ended_by_remote, result.problems
        row = stack.ended_call(caller)
        played = events.played(row["channel_id"], since=mark)
    [vm] = row["voicemails"]
    assert vm["ended_by"] == "pound"
    assert vm["duration"] >= 2 * seconds_of(speech) - 1.5, vm
    found = assert_postal_ticket(stack, vm, caller)
    assert "postal_leave_message" not in [Path(u).name for u in played]     # the recording went on
    assert_code_read_back(played, found["code"])
    log = (stack.logs / "ari_app.log").read_text(errors="replace")
    assert f"call={row['call_id']} adopted while recording a message" in log
