"""Overload (issue 12, item 7): more callers than the hotline takes, and a full operator queue.

Real SIPp callers and an operator phone on the stack's Asterisk. What the refused caller heard is read
from Asterisk's own log (file.c logs every sound it plays at verbose 3), what they got from SIPp (the
SIP answer), and what a supervisor sees from the call log. The load figures are bench/ivr_load
--overload's (bench/README.md), not a timed test.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.calls import call, menu_starts, prompt_seconds, start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, wait_for
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

MAX_CALLS = 2
OPERATOR = "op-overload-lan"


def _reload(stack: Stack) -> None:
    """The dialplan and the queue's parameters rendered again from the stack's settings, and read."""
    stack.stop_apps()
    stack.start_apps()          # renders every file, reloads the dialplan
    assert stack.asterisk is not None
    stack.asterisk.rx("queue reload parameters")


@pytest.fixture()
def small(open_hours: Stack) -> Iterator[Stack]:
    """The stack with [capacity] max_calls = 2 and [queue] max_waiting = 1, for one test."""
    s = open_hours.ctx.settings
    saved = (s.capacity.max_calls, s.queue.max_waiting)
    s.capacity.max_calls, s.queue.max_waiting = MAX_CALLS, 1
    _reload(open_hours)
    try:
        yield open_hours
    finally:
        s.capacity.max_calls, s.queue.max_waiting = saved
        _reload(open_hours)


def _played(stack: Stack, noop: str) -> list[str]:
    """Sounds Asterisk played to the channel whose dialplan logged ``noop`` (a NoOp's text)."""
    log = (stack.state / "log" / "messages.log").read_text(encoding="utf-8", errors="replace")
    found = re.search(r'NoOp\("([^"]+)", "' + re.escape(noop), log)
    assert found, f"no NoOp {noop!r} in Asterisk's messages.log"
    return [Path(p).name for p in re.findall(r"<" + re.escape(found.group(1)) + r"> Playing '([^']+)\.[a-z0-9]+'",
                                             log)]


def _row(stack: Stack, caller: str) -> dict[str, Any]:
    """The latest call row of ``caller`` once closed (a caller turned away has no recording to wait for)."""
    def closed() -> dict[str, Any] | None:
        rows = stack.call_rows(caller)
        return rows[0] if rows and rows[0]["ended_at"] else None
    return wait_for(closed, 20, f"the closed call row of {caller}")


def test_a_caller_past_max_calls_hears_all_lines_busy_and_is_counted(small: Stack, workdir: Path) -> None:
    busy = prompt_seconds(small, "all_lines_busy")
    hold = busy + 8.0
    admitted = [start(small, [Wait(hold), HangUp()], caller=f"096100000{n}", workdir=workdir / f"in{n}")
                for n in (1, 2)]
    try:
        wait_for(lambda: sum(c["state"] == "Up" for c in small.channels()) >= MAX_CALLS, 15,
                 f"{MAX_CALLS} callers answered")
        refused = call(small, [Wait(3), HangUp()], caller="0961000003", workdir=workdir / "over")
        results = [p.result(hold + 30) for p in admitted]
    finally:
        for p in admitted:
            p.terminate()
    # The caller over the limit: no answer; the whole message as early media, then "busy".
    assert (refused.outcome, refused.status_code, refused.answered) == ("rejected", 486, False), refused.problems
    assert refused.elapsed >= busy - 0.5
    row = _row(small, "0961000003")
    assert row["disposition"] == "turned_away" and row["answered_at"] is None and row["recording"] is None
    assert _played(small, f"All lines busy: {row['call_id']}") == ["all_lines_busy"]
    # The admitted callers kept their IVR, unaware of the refused one.
    for n, result in enumerate(results, 1):
        assert result.ok and result.answered and not result.ended_by_remote, result.problems
        assert small.ended_call(f"096100000{n}")["disposition"] != "turned_away"
    # Once they hung up, the next caller is admitted again (nobody is still counted).
    again = call(small, [Wait(3), HangUp()], caller="0961000004", workdir=workdir / "again")
    assert again.ok and again.answered, again.problems
    assert small.ended_call("0961000004")["disposition"] != "turned_away"
    # The supervisors' report counts the refused caller among the day's calls (the stack's own day).
    day = datetime.fromisoformat(row["started_at"]).astimezone(small.ctx.settings.tz).date().isoformat()
    report = json.loads(hotline(small, "report", "--from", day, "--to", day, "--json"))
    assert report["total"]["turned_away"] >= 1 and report["total"]["calls"] >= 4


def test_a_caller_who_finds_the_queue_full_is_offered_a_message(small: Stack, phone_ports: Phones, workdir: Path,
                                                                  speech: Path) -> None:
    """max_waiting = 1: one caller waits (the operator's phone rings, nobody answers); the next one hears
    that every operator is busy and leaves a message, as a caller whose wait ran out."""
    phone = phone_ports.phone(OPERATOR)
    add_operator(small, phone, "Tổng đài viên quá tải")
    ringing = start_uas(phone.port, hangup="noanswer", workdir=workdir / "op")
    waiting = None
    try:
        hotline(small, "operators", "login", OPERATOR)
        waiting = start(small, [Wait(menu_starts(small)), Keys("0"), AwaitHangup(150)], caller="0961000011",
                        workdir=workdir / "first")
        asterisk = small.asterisk
        assert asterisk is not None
        wait_for(lambda: re.search(r"has 1 calls \(max 1\)", asterisk.rx("queue show hotline")), 40,
                 "the first caller waiting in the queue of one")
        to_message = (prompt_seconds(small, "to_operator", "operators_busy", "leave_message") + 1.0 + 1.5)
        second = call(small, [Wait(menu_starts(small)), Keys("0"), Wait(to_message), Speak(speech), Keys("#"),
                              AwaitHangup(60)], caller="0961000012", workdir=workdir / "second")
        assert second.ok and second.ended_by_remote, second.problems
        # The first caller is still waiting: hang them up from Asterisk.
        first_id = small.call_rows("0961000011")[0]["call_id"]
        small.ari(f"/channels/{first_id}", "DELETE")
        assert waiting.result(20).ended_by_remote
    finally:
        if waiting is not None:
            waiting.terminate()
        ringing.terminate()
        hotline(small, "operators", "logout", OPERATOR)
        hotline(small, "operators", "remove", OPERATOR)
    row = small.ended_call("0961000012")
    assert row["queue_outcome"] == "full" and row["disposition"] == "voicemail"
    [message] = row["voicemails"]
    assert message["duration"] > 5 and message["ticket"]
