"""An operator sends the caller on to a one-stop desk: blind, attended, and a desk that does not answer."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.calls import menu_starts, prompt_seconds, start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, desk_ports, wait_for
from tooling.sipp.runner import DeskProcess, start_uas
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

OPERATOR = "op-x-an"
DESK = "desk-d02"      # department 02 in the shipped directory


@pytest.fixture()
def operator(open_hours: Stack, workdir: Path, phone_ports: Phones) -> Iterator[DeskProcess]:
    """A logged-in operator whose phone answers every call and waits for the other side to hang up."""
    add_operator(open_hours, phone_ports.phone(OPERATOR), "Tổng đài viên An")
    phone = start_uas(phone_ports.port(OPERATOR), ring_seconds=1, talk_seconds=60, hangup="remote",
                      workdir=workdir / "op")
    try:
        hotline(open_hours, "operators", "login", OPERATOR)
        yield phone
    finally:
        hangup_operator(open_hours)    # a channel left over would keep the operator busy in the next test
        phone.terminate()
        hotline(open_hours, "operators", "logout", OPERATOR)
        hotline(open_hours, "operators", "remove", OPERATOR)


def to_queue(stack: Stack) -> float:
    return menu_starts(stack) + prompt_seconds(stack, "to_operator") + 1.0


def caller_steps(stack: Stack, speech: Path, talks: int) -> list:
    """Press 0, then speak ``talks`` times (RTP flows in every part of the call), then wait for the end."""
    return [Wait(menu_starts(stack)), Keys("0"), Wait(to_queue(stack) - menu_starts(stack)),
            *[Speak(speech) for _ in range(talks)], AwaitHangup(90)]


def transfer_to_desk(stack: Stack, operator: DeskProcess, caller: str, *options: str) -> str:
    """Once the operator has answered ``caller`` (and the call log says so), ``hotline transfer`` it to the
    department 02 desk; returns what the command printed."""
    wait_for(lambda: operator.answered == 1, 60, "the operator to answer")
    rows = wait_for(lambda: stack.call_rows(caller), 20, f"the call from {caller} in the log")
    wait_for(lambda: stack.call_rows(caller)[0]["queue_answered_at"], 10, "queue answer logged")
    return hotline(stack, "transfer", str(rows[0]["call_id"]), "02", "--to", "department", "--operator", OPERATOR,
                   *options)


def test_blind_transfer_to_a_department_desk(open_hours: Stack, operator: DeskProcess, workdir: Path,
                                             speech: Path) -> None:
    with (start_uas(desk_ports()[DESK], ring_seconds=1, talk_seconds=5, hangup="local",
                    workdir=workdir / "desk") as desk,
          start(open_hours, caller_steps(open_hours, speech, 3), caller="0950000101", workdir=workdir) as caller):
        assert "blind" in transfer_to_desk(open_hours, operator, "0950000101")
        wait_for(lambda: desk.answered == 1, 20, "the desk to answer")
        result = caller.result(60)
        assert result.ok and result.ended_by_remote, result.problems
    row = open_hours.ended_call("0950000101")
    [transfer] = row["transfers"]
    assert transfer["kind"] == "blind" and transfer["target"] == "department:02"
    assert transfer["requested_by"] == OPERATOR and transfer["outcome"] == "answered"
    assert transfer["answered_at"] and transfer["ended_at"]
    assert row["transfer_target"] == "department:02" and row["transfer_outcome"] == "answered"
    assert row["operator"] == OPERATOR
    # One recording: IVR, the operator (until the transfer), the desk's 5 s.
    assert row["recording"]["duration"] >= to_queue(open_hours) + 5


def test_attended_transfer_operator_hangs_up_and_caller_joins_desk(open_hours: Stack, operator: DeskProcess,
                                                                   workdir: Path, speech: Path) -> None:
    with (start_uas(desk_ports()[DESK], ring_seconds=1, talk_seconds=12, hangup="local",
                    workdir=workdir / "desk") as desk,
          start(open_hours, caller_steps(open_hours, speech, 4), caller="0950000102", workdir=workdir) as caller):
        transfer_to_desk(open_hours, operator, "0950000102", "--attended")
        wait_for(lambda: desk.answered == 1, 20, "the desk to answer the consultation")
        # The operator's phone hangs up the original call and the consultation: the caller joins the desk.
        # (SIPp's UAS cannot send BYE on demand: the test hangs up the operator's channels through AMI.)
        hangup_operator(open_hours)
        result = caller.result(60)
        assert result.ok and result.ended_by_remote, result.problems
    row = open_hours.ended_call("0950000102")
    [transfer] = row["transfers"]
    assert transfer["kind"] == "attended" and transfer["target"] == "department:02"
    assert transfer["outcome"] == "answered" and transfer["answered_at"]
    assert desk.outcomes() == ["local_bye"]


def test_desk_no_answer_sends_caller_back_to_the_queue(open_hours: Stack, operator: DeskProcess, workdir: Path,
                                                       speech: Path) -> None:
    ring = open_hours.ctx.settings.ivr.transfer_ring_seconds
    with (start_uas(desk_ports()[DESK], hangup="noanswer", workdir=workdir / "desk") as desk,
          start(open_hours, caller_steps(open_hours, speech, 6), caller="0950000103", workdir=workdir) as caller):
        transfer_to_desk(open_hours, operator, "0950000103")
        wait_for(lambda: desk.invites == 1, 20, "the desk to ring")
        # The desk never answers: desk_unavailable, then the queue rings the operator again.
        wait_for(lambda: operator.answered == 2, ring + 40, "the operator to answer the caller again")
        hangup_operator(open_hours)
        caller.result(90)
    row = open_hours.ended_call("0950000103")
    [transfer] = row["transfers"]
    assert transfer["kind"] == "blind" and transfer["outcome"] == "noanswer"
    assert transfer["answered_at"] is None and transfer["ended_at"]
    assert row["transfer_outcome"] == "noanswer"


def hangup_operator(stack: Stack) -> None:
    """Hang up every channel of the operator's phone (what a real phone's hang-up key does)."""
    import asyncio

    from hotline.adapters.ami import ami_client

    async def work() -> None:
        async with ami_client(stack.ctx.settings, stack.ctx.secrets) as client:
            for row in await client.channels():
                if row.get("Channel", "").startswith(f"PJSIP/{OPERATOR}-"):
                    await client.action("Hangup", Channel=row["Channel"])
    asyncio.run(work())
