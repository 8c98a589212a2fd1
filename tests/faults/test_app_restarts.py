"""The ARI app SIGKILLed at each stage of a call, and down when a caller comes back into it (issue 12).

Real SIPp callers, desks and operator phones, the real app processes. What the caller heard is read
from Asterisk (a listening ARI app, tests/support/ari_events.py), not from the app under test. The
main menu (test_app_restart) and the ticket lookup (test_ticket_status) have their own tests.
"""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.ari_events import AriEvents
from tests.support.calls import menu_starts, prompt_seconds, recording_starts, start, talk_to_desk
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, desk_ports, wait_for
from tooling.sipp.runner import CallerProcess, start_uas
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Wait

SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")


def _restart_app(stack: Stack, ready: Callable[[], Any], what: str, timeout: float) -> float:
    """Once ``ready`` holds: SIGKILL the ARI app and start it again; returns when it was killed."""
    wait_for(ready, timeout, what)
    return _restart(stack)


def _restart(stack: Stack) -> float:
    """SIGKILL the ARI app and start it again; returns when it was killed."""
    stack.kill("ari_app")
    killed = time.monotonic()
    stack.start_proc("ari_app")
    wait_for(stack.app_registered, 20, "the restarted app to register")
    return killed


def _to_desk_d01(stack: Stack, caller: str, workdir: Path, speech: Path, speak_after: float) -> CallerProcess:
    """A caller who keys 3, then 01 (desk d01), speaks ``speak_after`` s after the transfer prompt, and waits
    for the end."""
    return start(stack, talk_to_desk(stack, "3", "01", speech, speak_after=speak_after), caller=caller,
                 workdir=workdir / "c")


def _app_log(stack: Stack) -> str:
    return (stack.logs / "ari_app.log").read_text(errors="replace")


def test_killed_in_the_code_entry_the_caller_is_asked_again_and_reaches_the_desk(open_hours: Stack,
                                                                                 workdir: Path) -> None:
    stack, caller = open_hours, "0960000101"
    with start_uas(desk_ports()["desk-d01"], ring_seconds=1, talk_seconds=2, hangup="local",
                   workdir=workdir / "d") as desk:
        with AriEvents(stack) as events:
            # 3, then the app dies while the caller thinks; keyed after the code is asked again.
            again = prompt_seconds(stack, "enter_department_code")
            c = start(stack, [Wait(menu_starts(stack)), Keys("3"), Wait(again + 9), Keys("01"), AwaitHangup(60)],
                      caller=caller, workdir=workdir / "c")
            _restart_app(stack, lambda: stack.latest_call(caller).get("node") == "department", "the code entry", 40)
            result = c.result(90)
        assert result.ok and result.ended_by_remote, result.problems
        assert desk.answered == 1
    row = stack.ended_call(caller)
    assert row["disposition"] == "transferred" and [s["keys"] for s in row["ivr_path"]] == ["3", "01"]
    assert [t["outcome"] for t in row["transfers"]] == ["answered"]
    assert events.heard(row["call_id"]).count("enter_department_code") == 2
    assert f"call={row['call_id']} adopted at its node (node department)" in _app_log(stack)


def test_killed_while_bridged_to_a_desk_the_call_stays_bridged_and_the_desk_is_not_dialled_again(
        open_hours: Stack, workdir: Path, speech: Path) -> None:
    stack, caller = open_hours, "0960000102"
    with start_uas(desk_ports()["desk-d01"], ring_seconds=1, talk_seconds=16, hangup="local",
                   workdir=workdir / "d") as desk:
        with AriEvents(stack) as events:
            c = _to_desk_d01(stack, caller, workdir, speech, speak_after=2)
            # Killed once the app has bridged the caller to the desk (not in the milliseconds between the
            # desk's answer and the bridge: README, known limits).
            _restart_app(stack, lambda: desk.answered == 1 and any(len(b.get("channels", [])) == 2
                                                                    for b in stack.bridges()),
                         "the caller bridged to the desk", 40)
            mark = len(events.events)
            result = c.result(90)
        assert result.ok and result.ended_by_remote, result.problems      # ended when the desk hung up
        assert desk.invites == 1 and desk.answered == 1
    row = stack.ended_call(caller)
    assert row["disposition"] == "transferred"
    [transfer] = row["transfers"]
    assert transfer["outcome"] == "answered" and transfer["ended_at"] is not None
    assert events.heard(row["call_id"], since=mark) == []              # nothing played over the talk
    assert row["recording"]["duration"] >= menu_starts(stack) + 14
    assert f"call={row['call_id']} adopted still bridged" in _app_log(stack)


def _desk_leg_up(stack: Stack) -> bool:
    """The desk's leg is answered and in the Stasis app (not yet bridged: the app is stopped)."""
    return any("-desk" in c["id"] and c.get("state") == "Up" for c in stack.channels())


@pytest.mark.parametrize("moment", ["ringing", "answered"])
def test_killed_while_the_desk_rings_or_has_just_answered_the_caller_is_bridged_without_a_second_dial(
        open_hours: Stack, workdir: Path, speech: Path, moment: str) -> None:
    """Killed while the desk rings: the restarted app waits for its answer; killed in the window between
    the desk's answer and the bridge (made wide here by stopping the app as the desk rings): the
    restarted app bridges the answered leg at once. Either way the caller is neither asked again nor
    redialled, and the transfer is answered."""
    stack, caller = open_hours, {"ringing": "0960000107", "answered": "0960000108"}[moment]
    with start_uas(desk_ports()["desk-d01"], ring_seconds=6, talk_seconds=4, hangup="local",
                   workdir=workdir / "d") as desk:
        with AriEvents(stack) as events:
            c = _to_desk_d01(stack, caller, workdir, speech, speak_after=8)
            wait_for(lambda: desk.invites == 1, 40, "the desk to ring")
            if moment == "answered":
                os.kill(stack.procs["ari_app"].pid, signal.SIGSTOP)       # hears nothing of the answer
                wait_for(lambda: _desk_leg_up(stack), 15, "the desk's answered leg in Stasis")
            else:
                assert desk.answered == 0
            _restart(stack)
            result = c.result(90)
        assert result.ok and result.ended_by_remote, result.problems      # ended when the desk hung up
        assert desk.invites == 1 and desk.answered == 1
    row = stack.ended_call(caller)
    assert row["disposition"] == "transferred" and [s["keys"] for s in row["ivr_path"]] == ["3", "01"]
    [transfer] = row["transfers"]
    assert transfer["outcome"] == "answered" and transfer["ended_at"] is not None
    assert events.heard(row["call_id"]).count("enter_department_code") == 1
    assert f"call={row['call_id']} adopted while its desk is dialled (node department)" in _app_log(stack)


def test_killed_while_a_message_is_recorded_the_message_is_kept_once_whole(stack: Stack, workdir: Path,
                                                                          speech: Path) -> None:
    stack.set_clock(SATURDAY)
    caller = "0960000103"
    readback = prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "message_saved") + 20
    with AriEvents(stack) as events:
        c = start(stack, [Wait(recording_starts(stack)), Speak(speech), Wait(4), Speak(speech), Keys("#"),
                          AwaitHangup(readback + 15)], caller=caller, workdir=workdir / "c")

        def recording() -> bool:
            rows = stack.call_rows(caller)
            if not rows or rows[0]["node"] != "voicemail":
                return False
            vm = Path(rows[0]["recording_file"]).with_suffix(".voicemail.wav")
            return vm.exists() and vm.stat().st_size > 8000 * 2 * 2      # 2 s of the message on disk
        _restart_app(stack, recording, "the message to be recorded", 60)
        mark = len(events.events)
        result = c.result(120)
    assert result.ok and result.ended_by_remote, result.problems
    row = stack.ended_call(caller)
    assert row["disposition"] == "voicemail"
    [vm] = row["voicemails"]
    assert vm["ended_by"] == "pound" and vm["ticket"]
    spoken = 2 * _seconds(speech)       # what the phone sent: no RTP, nothing recorded, in its 4 s pause
    assert spoken - 1.5 <= vm["duration"] <= spoken + 3, (vm, spoken)
    heard = events.heard(row["call_id"], since=mark)
    assert "leave_message" not in heard and "ticket_code_is" in heard      # no second prompt; the code read back
    assert f"call={row['call_id']} adopted while recording a message" in _app_log(stack)


def test_killed_while_waiting_in_the_queue_key_1_still_leaves_a_message(open_hours: Stack, ringing_operator: str,
                                                                        workdir: Path, speech: Path) -> None:
    stack, caller = open_hours, "0960000104"
    to_queue = menu_starts(stack) + prompt_seconds(stack, "to_operator") + 1.0
    c = start(stack, [Wait(menu_starts(stack)), Keys("0"), Wait(to_queue - menu_starts(stack) + 10), Keys("1"),
                      Wait(prompt_seconds(stack, "leave_message") + 2), Speak(speech), Keys("#"), AwaitHangup(60)],
              caller=caller, workdir=workdir / "c")
    _restart_app(stack, lambda: bool(stack.latest_call(caller).get("queued_at")), "the caller to be queued", 40)
    result = c.result(120)
    assert result.ok and result.ended_by_remote, result.problems
    row = stack.ended_call(caller)
    assert row["queue_outcome"] == "message" and row["disposition"] == "voicemail"
    [vm] = row["voicemails"]
    assert vm["ticket"] and vm["duration"] >= _seconds(speech) - 1.5
    assert f"call={row['call_id']} adopted in the queue" in _app_log(stack)


SURVEY_OPERATOR = "op-fault-survey"


def test_killed_while_the_survey_question_plays_the_caller_is_asked_again_and_the_score_is_kept(
        open_hours: Stack, phone_ports: Phones, workdir: Path, speech: Path) -> None:
    """The operator answers, talks 4 s and hangs up; the caller is back in the app for the survey, and the app
    dies as the question starts. The restarted app asks it again and keeps the caller's key."""
    stack, caller = open_hours, "0960000105"
    add_operator(stack, phone_ports.phone(SURVEY_OPERATOR), "Tổng đài viên khảo sát")
    phone = start_uas(phone_ports.port(SURVEY_OPERATOR), ring_seconds=1, talk_seconds=4, hangup="local",
                      workdir=workdir / "op")
    to_queue = menu_starts(stack) + prompt_seconds(stack, "to_operator") + 1.0
    try:
        hotline(stack, "operators", "login", SURVEY_OPERATOR)
        with AriEvents(stack) as events:
            # Keyed about 15 s after being queued: after the restart, while the question plays again.
            c = start(stack, [Wait(menu_starts(stack)), Keys("0"), Wait(to_queue - menu_starts(stack)),
                              Speak(speech), Wait(max(15 - _seconds(speech), 1)), Keys("1"), AwaitHangup(60)],
                      caller=caller, workdir=workdir / "c")

            def asked() -> bool:
                row = stack.latest_call(caller)
                return bool(row) and "survey_question" in events.heard(row["call_id"])
            _restart_app(stack, asked, "the survey question", 60)
            result = c.result(90)
        assert result.ok and result.ended_by_remote, result.problems
        assert phone.answered == 1
    finally:
        hotline(stack, "operators", "logout", SURVEY_OPERATOR)
        phone.terminate()
        hotline(stack, "operators", "remove", SURVEY_OPERATOR)
    row = stack.ended_call(caller)
    assert row["disposition"] == "answered" and row["operator"] == SURVEY_OPERATOR
    assert row["survey_score"] == 1
    heard = events.heard(row["call_id"])
    assert heard.count("survey_question") == 2 and heard[-1] == "survey_thanks", heard
    # The restarted app found the caller in Stasis as back from the queue, and carried on from there.
    assert _app_log(stack).count(f"call={row['call_id']} back from the queue") == 2


@pytest.mark.parametrize("how", ["key_1", "operator_left"])
def test_app_down_when_the_caller_comes_back_from_the_queue_the_fallback_takes_a_message(
        open_hours: Stack, ringing_operator: str, workdir: Path, speech: Path, how: str) -> None:
    """Back from app_queue (key 1, or the last operator left) with no app: an apology and a message."""
    stack, caller = open_hours, f"096000020{['key_1', 'operator_left'].index(how)}"
    to_queue = menu_starts(stack) + prompt_seconds(stack, "to_operator") + 1.0
    fallback = prompt_seconds(stack, "fallback_message") + 2.0
    # Key 1: back at once. The operator leaving: after `hotline operators logout` (a few seconds) and
    # app_queue's next look at its members.
    back = [Keys("1"), Wait(fallback + 3)] if how == "key_1" else [Wait(fallback + 10)]
    c = start(stack, [Wait(menu_starts(stack)), Keys("0"), Wait(to_queue - menu_starts(stack) + 6), *back,
                      Speak(speech), Keys("#"), AwaitHangup(40)],
              caller=caller, workdir=workdir / "c")
    try:
        wait_for(lambda: bool(stack.latest_call(caller).get("queued_at")), 40, "the caller to be queued")
        stack.kill("ari_app")
        if how == "operator_left":
            hotline(stack, "operators", "logout", ringing_operator)   # leavewhenempty: the caller comes back
        result = c.result(120)
    finally:
        if "ari_app" not in stack.procs:
            stack.start_proc("ari_app")
            wait_for(stack.app_registered, 20, "the restarted app to register")
        if how == "operator_left":
            hotline(stack, "operators", "login", ringing_operator)    # as the fixture left it
    assert result.ok and result.ended_by_remote, result.problems       # never hung up on
    row = stack.ended_call(caller)
    assert row["disposition"] == "app_fallback" and row["queued_at"]
    [vm] = row["voicemails"]
    assert vm["ended_by"] == "fallback" and vm["ticket"] and vm["duration"] >= _seconds(speech) - 1.5


def _seconds(wav: Path) -> float:
    import wave
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()
