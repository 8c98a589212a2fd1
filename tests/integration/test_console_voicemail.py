"""A Saturday caller's voicemail reaches an operator's open inbox, end to end.

The real SIPp caller leaves a message with the real Asterisk and ARI app, which make the ticket
the moment the message is saved; `hotline console` of the same stack serves the inbox that a real
headless Chromium keeps open; the row appears without reloading within 2 s of the ticket's
commit. Then the real RQ worker transcribes the message (Vosk) and the ticket's page shows the
operator the transcript's words (the audio player is for supervisors: the recordings' rule).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.browser import chromium_page, serve_console, shot, sign_in
from tests.support.calls import recording_starts, start
from tests.support.cli import hotline
from tests.support.speech_vi import joined_message, samples
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Wait

from .test_voicemail_tickets import SATURDAY, readback_seconds, ticket_of, transcribed

pytestmark = pytest.mark.asterisk

T = TypeVar("T")
USER, PASSWORD = "mai.inbox", "mật-khẩu-hộp-thư"
CALLER = "0940000777"


def appeared(condition: Callable[[], T | None], timeout: float, what: str) -> tuple[float, T]:
    """``wait_for`` ``condition`` (every 20 ms); also return when the last poll that missed it began
    (so the time from there on is an upper bound of the time since it became true)."""
    missed = [time.monotonic()]

    def probe() -> T | None:
        began = time.monotonic()
        found = condition()
        if found is None:
            missed[0] = began
        return found
    found = wait_for(probe, timeout, what, interval=0.02)
    return missed[0], found


@pytest.fixture()
def inbox(stack: Stack) -> Iterator[tuple[str, Any]]:
    """An operator signed in to the stack's console, with the inbox open (the clock: a Saturday)."""
    stack.set_clock(SATURDAY)
    stack.start_worker()
    hotline(stack, "users", "add", USER, "--name", "Lê Thị Mai", "--role", "operator", "--password", PASSWORD)
    try:
        with serve_console(stack) as url, chromium_page("inbox") as page:
            sign_in(page, url, USER, PASSWORD)
            page.goto(url + "/tickets/")
            page.wait_for_selector("#inbox[data-live='1']")
            yield url, page
    finally:
        hotline(stack, "users", "disable", USER)


def test_a_voicemail_ticket_appears_in_an_open_inbox_within_2_s(stack: Stack, inbox: tuple[str, Any],
                                                                workdir: Path) -> None:
    url, page = inbox
    message = joined_message(workdir / "vi.wav", samples()[:2])
    caller = start(stack, [Wait(recording_starts(stack)), Speak(message), Wait(1), Keys("#"),
                           AwaitHangup(readback_seconds(stack) + 15)], caller=CALLER, workdir=workdir)
    try:
        call_id = str(wait_for(lambda: (stack.call_rows(CALLER) or [{}])[0].get("call_id"), 60,
                               "the call in the call log"))

        since, ticket = appeared(lambda: ticket_of(stack, call_id), 60, "the voicemail's ticket in the database")
        page.wait_for_selector(f"#inbox a:text('{ticket['code']}')", timeout=3_000)
        seen = time.monotonic() - since
        assert seen < 2.0, f"the ticket reached the open inbox {seen:.2f} s after its commit"
        assert "Hộp thư thoại" in page.text_content(f"#inbox tr:has(a:text('{ticket['code']}'))")
        shot(page, "inbox-voicemail")
        result = caller.result(90)
        assert result.ok and result.ended_by_remote, result.problems
    finally:
        caller.terminate()
    done = transcribed(stack, call_id)
    words = [w["word"] for w in done["voicemail"]["words"]]
    assert done["voicemail"]["status"] == "transcribed" and words
    page.goto(url + f"/tickets/{done['code']}")
    assert page.locator("#transcript span").all_text_contents() == words
    assert page.locator("audio").count() == 0          # replaying recordings is for supervisors only
