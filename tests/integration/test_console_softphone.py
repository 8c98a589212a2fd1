"""The console in a real headless Chromium against the real Asterisk: the operator's softphone.

An operator signs in, the page registers over WebSocket (Asterisk's contact list shows it), goes
available, a SIPp caller presses 0, the page rings with the caller's number, the test clicks
answer, audio flows both ways (Asterisk's RTP counters of the operator's WebRTC channel), keys
from the page's keypad reach Asterisk, the operator writes a ticket during the call and sends the
caller on to a SIPp desk (blind; and, in a second call, attended; in a third, the operator
consults the desk and goes back to the caller); hold gives the caller Asterisk's hold music until
the operator takes them back; the Call, Transfer and Ticket rows show it all. Screenshots go to test-artifacts/console/.
"""
from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ari_events import AriEvents
from tests.support.browser import MEDIA_ARGS, chromium_page, serve_console, shot, sign_in
from tests.support.calls import start
from tests.support.cli import hotline
from tests.support.stack import ROOT, Stack, desk_ports, wait_for
from tooling.sipp.runner import CallerProcess, DeskProcess, start_uas

from .test_operator_transfers import caller_steps

pytestmark = pytest.mark.asterisk

OPERATOR, USER, PASSWORD = "op-web-lan", "lan.web", "mật-khẩu-thử-nghiệm"
CALLER = "0950000555"
DESK = "desk-d02"
_users = itertools.count(1)


@pytest.fixture()
def console(open_hours: Stack) -> Iterator[str]:
    """`hotline console` of the stack, with a web operator and a new user who is that operator."""
    global USER
    USER = f"lan.web{next(_users)}"
    hotline(open_hours, "operators", "add", OPERATOR, "--name", "Nguyễn Thị Lan", "--web")
    hotline(open_hours, "users", "add", USER, "--name", "Nguyễn Thị Lan", "--role", "operator",
            "--operator", OPERATOR, "--password", PASSWORD)
    try:
        with serve_console(open_hours) as url:
            yield url
    finally:
        for args in (("operators", "logout", OPERATOR), ("operators", "remove", OPERATOR)):
            subprocess.run([sys.executable, "-m", "hotline.cli.main", *args], cwd=ROOT, env=open_hours.app_env,
                           capture_output=True, timeout=60)
        hotline(open_hours, "users", "disable", USER)


@pytest.fixture()
def page(console: str) -> Iterator[Any]:
    with chromium_page("softphone", *MEDIA_ARGS, permissions=("microphone",)) as pg:
        yield pg


def rtp_counts(stack: Stack, endpoint: str) -> tuple[int, int]:
    """Received and sent RTP packets of ``endpoint``'s channel (`pjsip show channelstats`)."""
    assert stack.asterisk is not None
    return channel_rtp(stack.asterisk.rx("pjsip show channelstats"), endpoint)


def channel_rtp(out: str, endpoint: str) -> tuple[int, int]:
    """Received and sent RTP packets of ``endpoint``'s channel in `pjsip show channelstats`'s output ``out``."""
    for line in out.splitlines():
        if endpoint in line:
            numbers = [int(n) for n in re.findall(r"(?<![\w.:/-])(\d+)(?![\w.:/-])", line.split(endpoint, 1)[1])]
            if len(numbers) >= 2:
                return numbers[0], numbers[-1] if len(numbers) < 4 else numbers[3]
    return 0, 0


def _messages_size(stack: Stack) -> int:
    return (stack.state / "log" / "messages.log").stat().st_size


def _messages_since(stack: Stack, mark: int) -> str:
    with (stack.state / "log" / "messages.log").open("rb") as f:
        f.seek(mark)
        return f.read().decode("utf-8", errors="replace")


def open_phone(page: Any, console: str) -> None:
    """Sign in as the operator and open the softphone until it has registered to Asterisk."""
    sign_in(page, console, USER, PASSWORD)
    page.goto(console + "/phone/")
    page.wait_for_selector('#reg-state[data-state="registered"]')


def consult_a_desk(stack: Stack, console: str, page: Any, speech: Path, workdir: Path, number: str,
                   desk: DeskProcess) -> CallerProcess:
    """The operator answers a caller from ``number`` in the page and consults department 02's desk."""
    open_phone(page, console)
    page.click("#btn-available")
    page.wait_for_selector('#op-state[data-state="available"]')
    caller = start(stack, caller_steps(stack, speech, 6), caller=number, workdir=workdir)
    try:
        page.wait_for_selector('#call-card[data-state="ringing"]', timeout=60_000)
        page.click("#btn-answer")
        page.wait_for_selector('#call-card[data-state="talking"]')
        page.fill("#xfer-search", "department:02")
        page.click("#btn-attended")
        page.wait_for_selector("#btn-back:not([hidden])")
        wait_for(lambda: desk.answered == 1, 30, "the desk to answer the operator's consultation")
    except BaseException:
        caller.terminate()
        desk.terminate()
        raise
    return caller


def test_operator_answers_in_the_browser_writes_a_ticket_and_transfers(open_hours: Stack, console: str, page: Any,
                                                                      workdir: Path, speech: Path) -> None:
    open_phone(page, console)
    assert open_hours.asterisk is not None
    asterisk = open_hours.asterisk
    contact = wait_for(lambda: next((line for line in asterisk.rx("pjsip show contacts").splitlines()
                                     if f"Contact:  {OPERATOR}/sip:" in line), None), 10,
                       "the softphone in Asterisk's contacts")
    assert "127.0.0.1" in contact                    # the browser's WebSocket connection, registered
    page.click("#btn-available")
    page.wait_for_selector('#op-state[data-state="available"]')
    shot(page, "softphone-ready")

    desk = start_uas(desk_ports()[DESK], ring_seconds=1, talk_seconds=5, hangup="local", workdir=workdir / "desk")
    caller = start(open_hours, caller_steps(open_hours, speech, 6), caller=CALLER, workdir=workdir)
    events = AriEvents(open_hours).__enter__()
    try:
        page.wait_for_selector('#call-card[data-state="ringing"]', timeout=60_000)
        assert page.text_content("#caller") == CALLER
        call_id = page.get_attribute("#call-card", "data-call-id")
        assert call_id and call_id in {r["call_id"] for r in open_hours.call_rows(CALLER)}
        shot(page, "softphone-ringing")
        assert page.text_content("#btn-hangup") == "Từ chối"        # ringing: the red button declines it
        page.click("#btn-answer")
        page.wait_for_selector('#call-card[data-state="talking"]')
        assert page.text_content("#btn-hangup") == "Kết thúc"
        received, sent = wait_for(lambda: (lambda c: c if c[0] > 50 and c[1] > 50 else None)(
            rtp_counts(open_hours, OPERATOR)), 20, "RTP both ways on the operator's channel")
        assert received > 50 and sent > 50
        # The keypad: Asterisk receives the keys on the operator's channel (RFC 4733 from the browser).
        page.click('.dtmf .key[data-key="5"]')
        page.click('.dtmf .key[data-key="#"]')
        keys = wait_for(lambda: (lambda k: k if len(k) >= 2 else None)(
            [e["digit"] for e in events.events if e.get("type") == "ChannelDtmfReceived"
             and e["channel"]["name"].startswith(f"PJSIP/{OPERATOR}-")]), 10, "the keys on the operator's channel")
        assert keys[:2] == ["5", "#"]
        # Hold: a re-INVITE (sendonly); the caller hears Asterisk's hold music until taken back.
        log_mark = _messages_size(open_hours)
        page.click("#btn-hold")
        page.wait_for_selector('#btn-hold[aria-pressed="true"]')
        assert page.get_attribute("#call-card", "data-hold") == "true"
        wait_for(lambda: re.search(r"Started music on hold, class '\w+', on channel 'PJSIP/anonymous-",
                                   _messages_since(open_hours, log_mark)), 10, "hold music for the caller")
        page.click("#btn-hold")
        page.wait_for_selector('#btn-hold[aria-pressed="false"]')
        assert page.text_content("#call-msg") == "Đã nối lại với người gọi."
        wait_for(lambda: "Stopped music on hold" in _messages_since(open_hours, log_mark), 10,
                 "the caller taken back off hold")
        page.click("#btn-mute")
        page.wait_for_selector('#btn-mute[aria-pressed="true"]')
        assert page.text_content("#btn-mute") == "Bật tiếng"
        page.fill("#ticket-content", "Ông Bình hỏi thủ tục cấp giấy phép xây dựng nhà ở riêng lẻ")
        page.select_option("#ticket-category", "procedures")
        page.click("#ticket-form button[type=submit]")
        page.wait_for_selector("#ticket-msg[data-code]")
        code = page.get_attribute("#ticket-msg", "data-code")
        shot(page, "softphone-talking")
        page.fill("#xfer-search", "department:02")
        page.click("#btn-blind")
        wait_for(lambda: desk.answered == 1, 30, "the desk to answer the transfer")
        page.wait_for_selector('#call-card[data-state="ended"]')
        result = caller.result(90)
        assert result.ok and result.ended_by_remote, result.problems
    finally:
        events.__exit__(None, None, None)
        caller.terminate()
        desk.terminate()
    row = open_hours.ended_call(CALLER)
    assert row["operator"] == OPERATOR and row["queue_answered_at"]
    [transfer] = row["transfers"]
    assert (transfer["kind"], transfer["target"], transfer["requested_by"], transfer["outcome"]) == \
        ("blind", "department:02", OPERATOR, "answered")
    ticket = open_hours.ctx.tickets().get(str(code))
    assert ticket is not None and ticket["call_id"] == call_id and ticket["caller"] == CALLER
    assert ticket["category"] == "procedures" and "giấy phép xây dựng" in ticket["content"]
    assert [e["actor"] for e in ticket["events"]] == [USER]


def test_operator_consults_a_desk_then_completes_the_transfer(open_hours: Stack, console: str, page: Any,
                                                             workdir: Path, speech: Path) -> None:
    """Attended: the operator talks to the desk first (Atxfer), then hangs up and the caller is the desk's."""
    desk = start_uas(desk_ports()[DESK], ring_seconds=1, talk_seconds=8, hangup="local", workdir=workdir / "desk")
    caller = consult_a_desk(open_hours, console, page, speech, workdir, "0950000556", desk)
    try:
        operator_hangs_up(page, caller)                    # the operator leaves: the caller joins the desk
    finally:
        caller.terminate()
        desk.terminate()
    row = open_hours.ended_call("0950000556")
    [transfer] = row["transfers"]
    assert (transfer["kind"], transfer["target"], transfer["requested_by"], transfer["outcome"]) == \
        ("attended", "department:02", OPERATOR, "answered")
    desk_invites = [m for m in desk.messages_path.read_text(errors="replace").split("\n") if m.startswith("INVITE ")]
    assert len(desk_invites) == 1                          # the consultation, then the caller on the same call


def operator_hangs_up(page: Any, caller: CallerProcess) -> None:
    """The operator's hang-up button ends their part; the caller's call ends without a SIPp error."""
    page.click("#btn-hangup")
    page.wait_for_selector('#call-card[data-state="ended"]')
    result = caller.result(90)
    assert result.ok and result.ended_by_remote, result.problems


def _bridge_of(stack: Stack, channel_prefix: str = "", uniqueid: str = "") -> str:
    """The bridge id of a channel in `core show channels concise` (by name prefix or by unique id)."""
    assert stack.asterisk is not None
    for line in stack.asterisk.rx("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) >= 14 and ((channel_prefix and fields[0].startswith(channel_prefix))
                                  or (uniqueid and fields[13] == uniqueid)):
            return fields[12]
    return ""


def test_operator_consults_a_desk_then_goes_back_to_the_caller(open_hours: Stack, console: str, page: Any,
                                                              workdir: Path, speech: Path) -> None:
    """Attended, then 'back to the caller': the desk is hung up and the operator talks to the caller again."""
    desk = start_uas(desk_ports()[DESK], ring_seconds=1, hangup="remote", workdir=workdir / "desk")
    number = "0950000557"
    caller = consult_a_desk(open_hours, console, page, speech, workdir, number, desk)
    try:
        call_id = str(page.get_attribute("#call-card", "data-call-id"))
        page.click("#btn-back")
        page.wait_for_selector("#btn-back[hidden]", state="attached")
        assert page.text_content("#call-msg") == "Đã quay lại với người gọi."
        wait_for(lambda: desk.outcomes() == ["remote_bye"], 15, "the desk's consultation hung up")
        bridged = wait_for(lambda: (lambda b: b if b and b == _bridge_of(open_hours, uniqueid=call_id) else None)(
            _bridge_of(open_hours, channel_prefix=f"PJSIP/{OPERATOR}-")), 15, "the operator back with the caller")
        assert bridged
        assert page.get_attribute("#call-card", "data-state") == "talking"
        operator_hangs_up(page, caller)                    # the caller hears the survey, then Asterisk ends
    finally:
        caller.terminate()
        desk.terminate()
    row = open_hours.ended_call(number)
    assert row["operator"] == OPERATOR
    [transfer] = row["transfers"]
    # The desk answered the consultation; the operator went back, the caller was not transferred.
    assert (transfer["kind"], transfer["target"], transfer["requested_by"], transfer["outcome"]) == \
        ("attended", "department:02", OPERATOR, "returned")
    assert transfer["answered_at"] and transfer["ended_at"] and row["disposition"] == "answered"
