"""A supervisor listens to, whispers to and barges into an operator's call from the wallboard (real Asterisk, SIPp).

The console (its Flask app, on the stack's settings) originates a call to the supervisor's own
phone (a SIPp phone here); when it answers, Asterisk's ChanSpy joins the operator's channel.
Asterisk's channel list shows it, and the AccessLog has who did it.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.adapters.db.models import AccessLog
from operator_console import create_app
from tests.support.calls import start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, wait_for
from tooling.sipp.runner import DeskProcess, start_uas

from .test_operator_transfers import caller_steps

pytestmark = pytest.mark.asterisk

OPERATOR, SUPERVISOR_PHONE = "op-sv-hoa", "sup-sv-binh"
PASSWORD = "mật-khẩu-giám-sát"


@pytest.fixture()
def phones(open_hours: Stack, workdir: Path, phone_ports: Phones) -> Iterator[tuple[DeskProcess, DeskProcess]]:
    add_operator(open_hours, phone_ports.phone(OPERATOR), "Tổng đài viên Hoa")
    add_operator(open_hours, phone_ports.phone(SUPERVISOR_PHONE), "Giám sát viên Bình")
    hotline(open_hours, "users", "add", "binh.sv", "--name", "Trần Văn Bình", "--role", "supervisor",
            "--operator", SUPERVISOR_PHONE, "--password", PASSWORD)
    op = start_uas(phone_ports.port(OPERATOR), ring_seconds=1, talk_seconds=60, hangup="remote",
                   workdir=workdir / "op")
    sup = start_uas(phone_ports.port(SUPERVISOR_PHONE), ring_seconds=1, talk_seconds=60, hangup="remote",
                    workdir=workdir / "sup")
    try:
        hotline(open_hours, "operators", "login", OPERATOR)
        yield op, sup
    finally:
        op.terminate()
        sup.terminate()
        hotline(open_hours, "operators", "logout", OPERATOR)
        for name in (OPERATOR, SUPERVISOR_PHONE):
            hotline(open_hours, "operators", "remove", name)
        hotline(open_hours, "users", "disable", "binh.sv")


def _spying(stack: Stack) -> list[str]:
    assert stack.asterisk is not None
    return [line for line in stack.asterisk.rx("core show channels concise").splitlines()
            if line.startswith(f"PJSIP/{SUPERVISOR_PHONE}-") and "!ChanSpy!" in line]


def test_supervisor_listens_whispers_and_barges_each_logged(open_hours: Stack, phones: tuple[DeskProcess, DeskProcess],
                                                       workdir: Path, speech: Path) -> None:
    op, sup = phones
    app = create_app(open_hours.ctx)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    assert client.post("/login", data={"username": "binh.sv", "password": PASSWORD,
                                       "csrf_token": token.group(1)}).status_code == 302
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/wallboard/").get_data(as_text=True))
    assert csrf
    caller = start(open_hours, caller_steps(open_hours, speech, 6), caller="0950000777", workdir=workdir)
    try:
        wait_for(lambda: op.answered == 1, 60, "the operator to answer")
        for n, (mode, options) in enumerate((("listen", "qE"), ("whisper", "qEw"), ("barge", "qEB")), start=1):
            got = client.post("/wallboard/spy", json={"operator": OPERATOR, "mode": mode},
                              headers={"X-CSRFToken": csrf.group(1)})
            assert got.status_code == 200, got.get_data(as_text=True)
            wait_for(lambda n=n: sup.answered == n, 20, f"the supervisor's phone to answer ({mode})")
            lines = wait_for(lambda n=n: (lambda found: found if len(found) == n else None)(_spying(open_hours)), 10,
                             f"ChanSpy ({mode}) on the supervisor's channel")
            # `core show channels concise`: channel!context!exten!priority!state!application!data!...; ChanSpy is
            # given the operator's exact channel (a prefix would also match an operator named op-sv-hoa-2)
            spied = [line.split("!")[6] for line in lines]
            assert any(re.fullmatch(rf"PJSIP/{OPERATOR}-[0-9a-f]{{8}},{options}", data) for data in spied), lines
        invite = [m for m in sup.messages_path.read_text(errors="replace").split("\n") if m.startswith("From:")]
        assert any("1022" in m for m in invite)
    finally:
        caller.terminate()
    with open_hours.ctx.sessions()() as s:
        rows = [(a.username, a.action, a.resource, (a.detail or {}).get("phone"))
                for a in s.scalars(select(AccessLog).where(AccessLog.username == "binh.sv"))]
    assert rows == [("binh.sv", mode, f"PJSIP/{OPERATOR}", SUPERVISOR_PHONE) for mode in ("listen", "whisper", "barge")]
