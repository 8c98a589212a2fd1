"""An operator calls a citizen back with the answer (real Asterisk, SIPp phones, the console's Flask app).

The ticket page's "Gọi cho công dân" rings the operator's own phone (a SIPp phone here) through AMI Originate;
picked up, that channel calls the citizen through the dialplan's [hotline-outbound] and the stack's [callback]
dial (a SIPp phone on the citizens' port, which speaks). What a user checks: the citizen's phone rang with the
hotline's number, the call is recorded for about as long as they talked, its row is an outbound call of the
operator to that number, the ticket's timeline has the call, and "relayed" closes the ticket. An international
number dialled from an operator's phone (the console bypassed) is refused by the dialplan: the citizen's phone
never rings, and the refused attempt is a row. A second call out from the same operator's phone while the first is
up is refused too ([callback] max_out_per_operator 1: toll fraud with a stolen password), and once the first is
over the operator calls out again.
"""
from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.adapters.ami import AmiClient, SyncAmi, ami_client
from hotline.adapters.db.models import AccessLog
from hotline.domain.vocabulary import Context, Disposition
from operator_console import create_app
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, citizen_port, wait_for
from tooling.sipp.pcap import write_audio_pcap
from tooling.sipp.runner import DeskProcess, start_uas

pytestmark = pytest.mark.asterisk

PASSWORD = "mật-khẩu-gọi-ra"
_OPERATORS = itertools.count(1)
CITIZEN = "0912345678"
TALK = 6.0


class Operator(NamedTuple):
    name: str          # the endpoint
    user: str          # the console user
    phone: DeskProcess


@pytest.fixture()
def operator(open_hours: Stack, workdir: Path, phone_ports: Phones) -> Iterator[Operator]:
    """An operator of this test's own (a removed operator's name is not taken again) with a SIPp phone."""
    n = next(_OPERATORS)
    name, user = f"op-out-{n}", f"out.{n}"
    add_operator(open_hours, phone_ports.phone(name), "Lê Thị Mai")
    hotline(open_hours, "users", "add", user, "--name", "Lê Thị Mai", "--role", "operator", "--operator", name,
            "--password", PASSWORD)
    phone = start_uas(phone_ports.port(name), ring_seconds=1, talk_seconds=120, hangup="remote",
                      workdir=workdir / "op")
    try:
        yield Operator(name, user, phone)
    finally:
        phone.terminate()
        hotline(open_hours, "users", "disable", user)
        hotline(open_hours, "operators", "remove", name)


def _signed_in(stack: Stack, user: str) -> FlaskClient:
    client = create_app(stack.ctx).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    assert client.post("/login", data={"username": user, "password": PASSWORD,
                                       "csrf_token": token.group(1)}).status_code == 302
    return client


def _csrf(client: FlaskClient, code: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/tickets/{code}").get_data(as_text=True))
    assert found
    return found.group(1)


def test_operator_relays_the_answer_by_phone_recorded_and_on_the_ticket(
        open_hours: Stack, operator: Operator, workdir: Path, speech: Path) -> None:
    tickets = open_hours.ctx.tickets(open_hours.ctx.sessions())
    code = tickets.create(channel="phone", caller=CITIZEN, content="Hỏi thủ tục cấp đổi giấy phép lái xe.",
                          actor="cli")["code"]
    tickets.answer(code, "Hồ sơ nộp tại Sở Giao thông vận tải, thời hạn 5 ngày làm việc.", actor="cli")
    pcap = write_audio_pcap(workdir / "citizen.pcap", speech)
    citizen = start_uas(citizen_port(open_hours.port_index), ring_seconds=2, talk_seconds=TALK, hangup="local",
                        workdir=workdir / "citizen", speak=pcap)
    try:
        client = _signed_in(open_hours, operator.user)
        page = client.post(f"/tickets/{code}/call", data={"number": "+84 912 345 678",
                                                            "csrf_token": _csrf(client, code)},
                           follow_redirects=True).get_data(as_text=True)
        assert "Máy của bạn sẽ đổ chuông" in page, page
        wait_for(lambda: operator.phone.answered == 1, 30, "the operator's phone to ring and answer")
        wait_for(lambda: citizen.answered == 1, 30, "the citizen's phone to ring and answer")
        event = next(e for e in tickets.get(code)["events"] if e["action"] == "call_placed")
        call_id = event["detail"]["call_id"]
        row = wait_for(lambda: (lambda r: r if r and r["recording"] else None)(open_hours.repo.get(call_id)), 60,
                       "the call out's row with its recording")
    finally:
        citizen.terminate()
    invite = citizen.messages_path.read_text(errors="replace")
    assert f"INVITE sip:{CITIZEN}@" in invite                      # the number in its national form
    from_lines = [line for line in invite.splitlines() if line.startswith("From:")]
    assert any(open_hours.ctx.settings.callback_caller_id in line for line in from_lines), from_lines
    assert (row["direction"], row["operator"], row["caller"], row["disposition"]) == (
        "out", operator.name, CITIZEN, Disposition.OUT_ANSWERED)
    assert row["answered_at"] and row["ended_at"]
    assert TALK - 1.5 <= row["recording"]["duration"] <= TALK + 2.0, row["recording"]
    assert TALK - 1.5 <= row["talk_seconds"] <= TALK + 2.0
    assert (open_hours.recordings / row["recording"]["path"]).stat().st_size > 8000 * TALK   # audio, not a header

    # after the call: "Đã thông báo kết quả" closes the ticket, through the ticket's life cycle
    page = client.post(f"/tickets/{code}/call-outcome", data={"outcome": "relayed", "call_id": call_id,
                                                              "csrf_token": _csrf(client, code)},
                       follow_redirects=True).get_data(as_text=True)
    assert "Đã ghi kết quả cuộc gọi: Đã thông báo kết quả." in page
    done = tickets.get(code)
    assert done["status"] == "closed"
    assert [e["action"] for e in done["events"]][-3:] == ["call_placed", "call_outcome", "closed"]
    assert "Gọi cho công dân" in page and "Kết quả cuộc gọi cho công dân" in page
    with open_hours.ctx.sessions()() as s:
        logged = [(a.action, a.resource, a.call_id, (a.detail or {}).get("ticket"))
                  for a in s.scalars(select(AccessLog).where(AccessLog.username == operator.user))
                  if a.action == "call_out"]
    assert logged == [("call_out", "tel:*******678", call_id, code)]     # the AccessLog keeps numbers masked


def test_the_console_refuses_international_and_premium_numbers_in_vietnamese(
        open_hours: Stack, operator: Operator) -> None:
    client = _signed_in(open_hours, operator.user)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/phone/").get_data(as_text=True))
    assert csrf
    for number, words in (("0012025550123", "Không được gọi số quốc tế"), ("19001234", "đầu số 1900")):
        got = client.post("/phone/call", json={"number": number}, headers={"X-CSRFToken": csrf.group(1)})
        assert got.status_code == 409 and words in got.get_json()["message"], got.get_json()
    assert operator.phone.invites == 0          # nothing was asked of Asterisk


def _phone_dials(stack: Stack, operator: Operator, number: str) -> str:
    """The operator's own phone dials ``number`` (its endpoint's context, the console out of the way): AMI
    Originate rings it, then it dials; the call's id."""
    call_id = f"out-test-{uuid.uuid4().hex[:12]}"

    async def dial(client: AmiClient) -> None:
        await client.originate(f"PJSIP/{operator.name}", Context.FROM_OPERATORS, exten=number, channel_id=call_id)
    SyncAmi(lambda: ami_client(stack.ctx.settings, stack.ctx.secrets.for_ami("console"))).run(dial)
    return call_id


def test_the_dialplan_refuses_an_international_number_when_the_console_is_bypassed(
        open_hours: Stack, operator: Operator, workdir: Path) -> None:
    citizen = start_uas(citizen_port(open_hours.port_index), ring_seconds=1, talk_seconds=3, hangup="local",
                        workdir=workdir / "citizen")
    try:
        # the operator's phone dials 00… itself: its endpoint's own context, no console in between
        call_id = _phone_dials(open_hours, operator, "0012025550123")
        wait_for(lambda: operator.phone.answered == 1, 30, "the operator's phone to answer")
        row = wait_for(lambda: open_hours.repo.get(call_id), 30, "the refused attempt's row")
        wait_for(lambda: operator.phone.outcomes() == ["remote_bye"], 30, "the dialplan to hang up on the operator")
    finally:
        citizen.terminate()
    assert (row["direction"], row["disposition"], row["caller"], row["operator"]) == (
        "out", Disposition.OUT_REFUSED, "0012025550123", operator.name)
    assert citizen.invites == 0                 # the citizen's side never rang


def test_an_operators_phone_dialling_plus_84_reaches_the_citizen_in_the_national_form(
        open_hours: Stack, operator: Operator, workdir: Path) -> None:
    """The dialplan's own normalisation (+84 → 0), with the console out of the way."""
    citizen = start_uas(citizen_port(open_hours.port_index), ring_seconds=1, talk_seconds=2, hangup="local",
                        workdir=workdir / "citizen")
    try:
        call_id = _phone_dials(open_hours, operator, "+84912345678")
        wait_for(lambda: citizen.answered == 1, 30, "the citizen's phone to answer")
        row = wait_for(lambda: (lambda r: r if r and r["ended_at"] else None)(open_hours.repo.get(call_id)), 30,
                       "the call out's row, closed")
    finally:
        citizen.terminate()
    assert "INVITE sip:0912345678@" in citizen.messages_path.read_text(errors="replace")
    assert (row["direction"], row["disposition"], row["caller"], row["operator"]) == (
        "out", Disposition.OUT_ANSWERED, "0912345678", operator.name)


def test_a_second_call_out_from_the_same_operator_is_refused_while_the_first_is_up(
        open_hours: Stack, operator: Operator, workdir: Path) -> None:
    """[callback] max_out_per_operator (1): the dialplan counts each operator's calls out (GROUP_COUNT)."""
    assert open_hours.ctx.settings.callback.max_out_per_operator == 1
    citizen = start_uas(citizen_port(open_hours.port_index), ring_seconds=1, talk_seconds=15, hangup="local",
                        workdir=workdir / "citizen")
    try:
        first = _phone_dials(open_hours, operator, CITIZEN)
        wait_for(lambda: citizen.answered == 1, 30, "the citizen's phone to answer the first call out")
        second = _phone_dials(open_hours, operator, "0987654321")
        refused = wait_for(lambda: open_hours.repo.get(second), 30, "the second call out's row")
        wait_for(lambda: operator.phone.outcomes() == ["remote_bye"], 30, "the dialplan to hang up the second call")
        assert (refused["direction"], refused["disposition"], refused["caller"], refused["operator"]) == (
            "out", Disposition.OUT_REFUSED, "0987654321", operator.name)
        up = open_hours.repo.get(first)
        assert up is not None and up["answered_at"] and up["ended_at"] is None      # the first one is still up
        assert citizen.invites == 1                                                 # the second never went out
        done = wait_for(lambda: (lambda r: r if r and r["ended_at"] else None)(open_hours.repo.get(first)), 40,
                        "the first call out to end (the citizen hangs up)")
        assert done["disposition"] == Disposition.OUT_ANSWERED
        # the first one over, the operator's phone calls out again: nothing of the refused call is counted
        third = _phone_dials(open_hours, operator, CITIZEN)
        wait_for(lambda: citizen.answered == 2, 30, "the citizen's phone to answer the third call out")
        again = wait_for(lambda: open_hours.repo.get(third), 30, "the third call out's row")
        assert again["disposition"] != Disposition.OUT_REFUSED
    finally:
        citizen.terminate()
