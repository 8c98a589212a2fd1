"""A repeat caller on the real stack: a citizen with an open ticket calls again (a SIPp phone through the real
Asterisk, the ARI application and app_queue), and the operator's softphone in a real headless Chromium rings
with a call card that says "Người gọi này có 1 yêu cầu đang xử lý" with a link to that ticket. The operator
answers and ends the call. Screenshot: test-artifacts/console/softphone-repeat-caller.png.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import shot
from tests.support.calls import start
from tests.support.stack import Stack

from .test_console_softphone import console as console  # noqa: F401  (the same fixtures, re-used)
from .test_console_softphone import open_phone
from .test_console_softphone import page as page  # noqa: F401
from .test_operator_transfers import caller_steps

pytestmark = pytest.mark.asterisk

NUMBER = "0950000888"


def test_a_repeat_caller_s_card_shows_their_open_ticket(open_hours: Stack, console: str, page: Any,  # noqa: F811
                                                        workdir: Path, speech: Path) -> None:
    tickets = open_hours.ctx.tickets()
    ticket = tickets.create(channel="voicemail", caller=NUMBER, content="Hỏi tiến độ cấp giấy chứng nhận quyền "
                            "sử dụng đất", category="procedures")
    closed = tickets.create(channel="phone", caller=NUMBER, content="Hỏi giờ làm việc", category="procedures")
    tickets.close(closed["code"], actor="cli", status="out_of_scope")
    open_phone(page, console)
    page.click("#btn-available")
    page.wait_for_selector('#op-state[data-state="available"]')
    caller = start(open_hours, caller_steps(open_hours, speech, 3), caller=NUMBER, workdir=workdir)
    try:
        page.wait_for_selector('#call-card[data-state="ringing"]', timeout=60_000)
        assert page.text_content("#caller") == NUMBER
        card = page.locator('#history p[data-kind="open"]')
        card.wait_for(timeout=10_000)
        assert card.inner_text() == f"Người gọi này có 1 yêu cầu đang xử lý: {ticket['code']}"
        assert card.locator("a").get_attribute("href") == f"/tickets/{ticket['code']}"
        shot(page, "softphone-repeat-caller")
        page.click("#btn-answer")
        page.wait_for_selector('#call-card[data-state="talking"]')
        page.click("#btn-hangup")
        page.wait_for_selector('#call-card[data-state="ended"]')
        result = caller.result(90)
        assert result.ok and result.ended_by_remote, result.problems
    finally:
        caller.terminate()
    row = open_hours.ended_call(NUMBER)
    assert row["queue_answered_at"] and row["operator"]
