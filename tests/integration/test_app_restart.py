"""The ARI app killed mid-call: recordings complete, new callers get the dialplan fallback,
and the restarted app reconciles (closes what ended, adopts who is still on the line)."""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from ari_app.audio import wav_complete
from tests.support.calls import call, menu_starts, prompt_seconds, start
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk


def test_app_killed_mid_call(open_hours: Stack, workdir: Path, speech: Path) -> None:
    stack = open_hours
    menu = menu_starts(stack)
    # A hangs up while the app is down; C stays on the line across the restart, then presses 0.
    a = start(stack, [Wait(menu + 8), HangUp()], caller="0940000001", workdir=workdir / "a")
    c = start(stack, [Wait(menu + 75), Keys("0"), Wait(prompt_seconds(stack, "to_operator") + 2), HangUp()],
              caller="0940000003", workdir=workdir / "c")
    try:
        def in_menu(caller: str) -> bool:
            rows = stack.call_rows(caller)
            return bool(rows) and rows[0]["node"] == "main"
        wait_for(lambda: in_menu("0940000001") and in_menu("0940000003"), menu + 10, "A and C in the main menu")
        stack.kill("ari_app")   # SIGKILL: its WebSocket closes with the process
        killed = time.monotonic()

        # B calls during the outage: the dialplan fallback takes a message, the AGI server logs it.
        fallback = prompt_seconds(stack, "fallback_message")
        b = call(stack, [Wait(fallback + 1.5), Speak(speech), Keys("#"), AwaitHangup(30)],
                 caller="0940000002", workdir=workdir / "b")
        assert b.ok and b.ended_by_remote, b.problems
        row_b = stack.ended_call("0940000002")
        assert row_b["disposition"] == "app_fallback"
        [vm] = row_b["voicemails"]
        assert vm["status"] == "pending" and (stack.recordings / vm["path"]).is_file()
        assert vm["duration"] >= 5

        # A's recording completes although no app was there when A hung up.
        assert a.result(60).ok
        rec_a = Path(stack.call_rows("0940000001")[0]["recording_file"])
        wait_for(lambda: wav_complete(rec_a), 15, "A's recording to be closed")
        assert stack.call_rows("0940000001")[0]["ended_at"] is None   # nobody could log it yet

        stack.start_proc("ari_app")
        wait_for(stack.app_registered, 20, "the restarted app to register")
        outage = time.monotonic() - killed
        row_a = stack.ended_call("0940000001")
        assert row_a["disposition"] == "abandoned_ivr"
        assert abs(row_a["recording"]["duration"] - (menu + 8)) < 2.0

        # C was adopted at the main menu and could still choose the operator.
        result_c = c.result(120)
        assert result_c.ok, result_c.problems
        row_c = stack.ended_call("0940000003")
        assert [s["keys"] for s in row_c["ivr_path"]] == ["0"]
        # Sent to the queue; the monitor's queue events may already say the caller left it waiting (finer).
        assert row_c["disposition"] in ("to_queue", "abandoned_queue")
        # The file holds the whole call except what nobody sent: while the app was away and its
        # last prompt had ended, neither SIPp nor Asterisk sent audio (see README, known limits).
        length = (datetime.fromisoformat(row_c["ended_at"]) - datetime.fromisoformat(row_c["answered_at"]))
        assert length.total_seconds() - outage - 1 <= row_c["recording"]["duration"] <= length.total_seconds() + 1
    finally:
        a.terminate()
        c.terminate()
        if "ari_app" not in stack.procs:
            stack.start_proc("ari_app")
