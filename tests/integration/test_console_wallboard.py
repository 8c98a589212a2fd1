"""The wallboard shows a supervisor what Asterisk does, through the monitor, end to end.

An operator (a SIPp phone) logs in, pauses for a meeting, resumes and logs out with `hotline operators`,
which drives app_queue over AMI; the stack's own monitor process (`python -m monitor`) hears app_queue's
events and publishes on the stack's Redis (`[redis] live_channel`); `hotline console` of the same stack
streams it to a supervisor's wallboard open in a real headless Chromium. Each state reaches the page, in
Vietnamese, within a few seconds of the command (bench/console_load --wallboard measures the milliseconds).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium_page, serve_console, shot, sign_in
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack
from tooling.sipp.runner import start_uas

pytestmark = pytest.mark.asterisk

OPERATOR = "op-wb-mai"
USER, PASSWORD = "giamsat.wb", "mật-khẩu-bảng-giám-sát"
#: How long a change may take from the command's end to the page (the monitor's, Redis's and the SSE's part).
DEADLINE_MS = 5_000


@pytest.fixture()
def wallboard(stack: Stack, workdir: Path, phone_ports: Phones) -> Iterator[Any]:
    """A supervisor's wallboard open on the stack's console, and an operator with a SIPp phone, logged out."""
    add_operator(stack, phone_ports.phone(OPERATOR), "Phạm Thị Mai")
    hotline(stack, "users", "add", USER, "--name", "Trần Văn Giám", "--role", "supervisor", "--password", PASSWORD)
    phone = start_uas(phone_ports.port(OPERATOR), ring_seconds=1, talk_seconds=5, workdir=workdir / "phone")
    try:
        assert stack.procs["monitor"].poll() is None, "the stack's monitor is not running"
        with serve_console(stack) as url, chromium_page("wallboard-live") as page:
            sign_in(page, url, USER, PASSWORD)
            page.goto(url + "/wallboard/")
            page.wait_for_selector('#live-state[data-state="up"]')
            yield page
    finally:
        phone.terminate()
        listed = {row["name"]: row for row in json.loads(hotline(stack, "operators", "list", "--json"))}
        if listed[OPERATOR]["state"] != "logged_out":
            hotline(stack, "operators", "logout", OPERATOR)
        hotline(stack, "operators", "remove", OPERATOR)
        hotline(stack, "users", "disable", USER)


def test_an_operators_state_in_asterisk_reaches_the_wallboard_through_the_monitor(stack: Stack,
                                                                                 wallboard: Any) -> None:
    page, row = wallboard, f'#w-ops tr[data-operator="{OPERATOR}"]'
    for command, state, shown in ((("login", OPERATOR), "available", "Sẵn sàng"),
                                  (("pause", OPERATOR, "--reason", "meeting"), "paused", "Tạm nghỉ (họp)"),
                                  (("resume", OPERATOR), "available", "Sẵn sàng"),
                                  (("logout", OPERATOR), "logged_out", "Chưa vào ca")):
        hotline(stack, "operators", *command)
        page.wait_for_selector(f'{row}[data-state="{state}"]', timeout=DEADLINE_MS)
        assert page.text_content(f"{row} td:nth-child(2)") == shown, command
        if state == "paused":
            shot(page, "wallboard-live")
    assert page.text_content("#live-state") == "trực tuyến"
