"""Operators against the real Asterisk: the command line, app_queue's view over AMI, SIPp phones.

Operators are added with a fixed contact (a SIPp UAS standing in for the phone); a caller
is placed straight into [hotline-queue] with an AMI Originate of a Local channel, so these
checks need neither the IVR nor a citizen's phone.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from hotline.adapters.ami import QueueMember, ami_client
from hotline.domain.vocabulary import QUEUE_NAME
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, wait_for
from tooling.sipp.runner import start_uas

NAMES = ("op-it-lan", "op-it-binh")


def members(stack: Stack) -> dict[str, QueueMember]:
    async def status() -> list[QueueMember]:
        async with ami_client(stack.ctx.settings, stack.ctx.secrets) as client:
            return await client.queue_status(QUEUE_NAME)
    return {m.name: m for m in asyncio.run(status())}


def listed(stack: Stack) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(hotline(stack, "operators", "list", "--json"))}


@pytest.fixture()
def operators(stack: Stack, phone_ports: Phones) -> Iterator[list[str]]:
    names = list(NAMES)
    for phone in phone_ports.phones(*NAMES).values():
        add_operator(stack, phone, f"Điện thoại viên {phone.name}")
    yield names
    for name in names:
        hotline(stack, "operators", "remove", name)


def test_login_pause_resume_logout_reach_app_queue(stack: Stack, operators: list[str]) -> None:
    name = operators[0]
    assert stack.asterisk is not None
    assert f"{name}/sip:{name}@127.0.0.1" in stack.asterisk.rx(f"pjsip show aor {name}")   # PJSIP reloaded
    assert listed(stack)[name]["state"] == "logged_out" and name not in members(stack)

    hotline(stack, "operators", "login", name)
    member = members(stack)[name]
    assert (member.interface, member.state_interface, member.paused) == (f"PJSIP/{name}", f"PJSIP/{name}", False)
    assert listed(stack)[name]["state"] == "available"

    hotline(stack, "operators", "pause", name, "--reason", "break")
    member = members(stack)[name]
    assert member.paused and member.paused_reason == "break"
    assert (listed(stack)[name]["state"], listed(stack)[name]["reason"]) == ("paused", "break")

    hotline(stack, "operators", "resume", name)
    assert not members(stack)[name].paused and listed(stack)[name]["state"] == "available"

    hotline(stack, "operators", "logout", name)
    assert name not in members(stack) and listed(stack)[name]["state"] == "logged_out"


def test_logged_in_operators_return_to_the_queue_after_a_restart(stack: Stack, operators: list[str]) -> None:
    lan, binh = operators
    hotline(stack, "operators", "login", lan)
    hotline(stack, "operators", "login", binh)
    hotline(stack, "operators", "pause", binh, "--reason", "meeting")
    _forget_members(stack, operators)      # as after an Asterisk restart (persistentmembers = no)
    assert not members(stack)
    assert sorted(stack.operators.restore_logins()) == sorted(operators)
    found = members(stack)
    assert not found[lan].paused and found[binh].paused and found[binh].paused_reason == "meeting"
    for name in operators:
        hotline(stack, "operators", "logout", name)


def test_a_paused_operator_is_never_rung(stack: Stack, operators: list[str], phone_ports: Phones) -> None:
    lan, binh = operators
    phones = {name: start_uas(phone_ports.port(name), ring_seconds=1, talk_seconds=4) for name in operators}
    try:
        hotline(stack, "operators", "login", lan)
        hotline(stack, "operators", "login", binh)
        hotline(stack, "operators", "pause", lan, "--reason", "training")
        _queue_caller(stack, max_wait=20)
        wait_for(lambda: phones[binh].answered >= 1, 20, f"{binh}'s phone to answer the queued call")
        wait_for(lambda: listed(stack)[binh]["state"] == "on_call", 10, f"{binh} to be on a call")
        assert phones[lan].invites == 0
        assert listed(stack)[lan]["state"] == "paused"
        # the test's caller hangs up: left on, it would go back to the IVR after the queue as a call the call log
        # never had (refused writes that `hotline status` rightly reports for the rest of this stack's tests)
        _hang_up_queue_caller(stack)
        wait_for(lambda: listed(stack)[binh]["state"] in ("wrap_up", "available"), 20,
                 f"{binh}'s call to end")
    finally:
        for phone in phones.values():
            phone.terminate()
        for name in operators:
            if listed(stack)[name]["state"] != "logged_out":
                hotline(stack, "operators", "logout", name)


def _forget_members(stack: Stack, names: list[str]) -> None:
    async def remove() -> None:
        async with ami_client(stack.ctx.settings, stack.ctx.secrets) as client:
            for name in names:
                await client.queue_remove(QUEUE_NAME, f"PJSIP/{name}")
    asyncio.run(remove())


def _hang_up_queue_caller(stack: Stack) -> None:
    assert stack.asterisk is not None
    for line in stack.asterisk.rx("core show channels concise").splitlines():
        name = line.split("!", 1)[0]
        if name.startswith("Local/s@hotline-queue-"):
            stack.asterisk.rx(f"channel request hangup {name}")


def _queue_caller(stack: Stack, max_wait: int) -> None:
    """A caller straight into [hotline-queue]: a Local channel whose other half just waits."""
    async def originate() -> None:   # the console's account: the only one that may Originate
        async with ami_client(stack.ctx.settings, stack.ctx.secrets.for_ami("console")) as client:
            await client.action("Originate", Channel="Local/s@hotline-queue", Application="Wait", Data="15",
                                Async="true", CallerID="0911000111",
                                Variable=[f"QUEUE_MAX_WAIT={max_wait}", "CALL_ID=it-operators"])
    asyncio.run(originate())
