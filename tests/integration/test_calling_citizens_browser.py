"""An operator calls a citizen back from a ticket's page in a real headless Chromium, on the softphone (real Asterisk).

The operator's softphone is open in one tab (registered to Asterisk over WebSocket); in another tab the ticket's
page's "Gọi cho công dân" makes Asterisk ring the softphone, which shows who is to be called; the operator answers in
the page, the citizen's SIPp phone rings with the hotline's number and answers, they talk, the citizen hangs up. The
call is recorded, is an outbound row of the operator, and is on the ticket's timeline; the operator then records
"Không nghe máy" on the page and the ticket stays open.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import shot
from tests.support.stack import Stack, citizen_port, wait_for
from tooling.sipp.pcap import write_audio_pcap
from tooling.sipp.runner import start_uas

from . import test_console_softphone as softphone
from .test_console_softphone import console as console
from .test_console_softphone import page as page

pytestmark = pytest.mark.asterisk

CITIZEN = "0987654321"


def test_the_ticket_pages_button_rings_the_softphone_then_the_citizen(open_hours: Stack, console: str, page: Any,
                                                                      workdir: Path, speech: Path) -> None:
    tickets = open_hours.ctx.tickets(open_hours.ctx.sessions())
    code = tickets.create(channel="voicemail", caller=CITIZEN, content="Hỏi lịch tiếp công dân của Sở.",
                          actor="cli")["code"]
    softphone.open_phone(page, console)
    citizen = start_uas(citizen_port(open_hours.port_index), ring_seconds=1, talk_seconds=5, hangup="local",
                        workdir=workdir / "citizen", speak=write_audio_pcap(workdir / "citizen.pcap", speech))
    ticket_page = page.context.new_page()
    try:
        ticket_page.goto(f"{console}/tickets/{code}")
        assert ticket_page.input_value("#call-citizen input[name=number]") == CITIZEN
        ticket_page.click("#call-citizen button[type=submit]")
        ticket_page.wait_for_selector("text=Máy của bạn sẽ đổ chuông")
        page.wait_for_selector('#call-card[data-state="ringing"][data-direction="out"]', timeout=30_000)
        assert page.text_content("#caller") == CITIZEN
        shot(page, "softphone-calling-out")
        page.click("#btn-answer")
        wait_for(lambda: citizen.answered == 1, 30, "the citizen's phone to answer")
        page.wait_for_selector('#call-card[data-state="talking"]')
        page.wait_for_selector('#call-card[data-state="ended"]', timeout=30_000)     # the citizen hung up
        call_id = next(e for e in tickets.get(code)["events"] if e["action"] == "call_placed")["detail"]["call_id"]
        row = wait_for(lambda: (lambda r: r if r and r["recording"] else None)(open_hours.repo.get(call_id)), 60,
                       "the call out's row with its recording")
    finally:
        citizen.terminate()
    assert (row["direction"], row["operator"], row["caller"], row["disposition"]) == (
        "out", softphone.OPERATOR, CITIZEN, "out_answered")
    assert 3.5 <= row["recording"]["duration"] <= 7.5, row["recording"]
    assert any(open_hours.ctx.settings.callback_caller_id in line
               for line in citizen.messages_path.read_text(errors="replace").splitlines() if line.startswith("From:"))

    ticket_page.reload()
    assert "Kết quả cuộc gọi số" in ticket_page.text_content("#call-outcome")
    ticket_page.check("#call-outcome input[value=no_answer]")
    ticket_page.click("#call-outcome button[type=submit]")
    ticket_page.wait_for_selector("text=Đã ghi kết quả cuộc gọi: Không nghe máy.")
    timeline = ticket_page.text_content(".timeline") or ""
    assert f"Gọi cho công dân · {softphone.USER} — số {CITIZEN}" in timeline
    assert f"Kết quả cuộc gọi cho công dân · {softphone.USER} — Không nghe máy" in timeline
    shot(ticket_page, "ticket-call-outcome")
    assert tickets.get(code)["status"] == "new"
