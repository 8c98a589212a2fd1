"""The operator queue's fairness rules with real callers (SIPp) through the IVR into app_queue.

Longest-idle operator first, the position announced to a waiting caller, an abandon in the
queue recorded as such, a paused operator never rung, and the wrap-up delaying the next call
(and no more than that: the monitor wakes the waiting caller when the wrap-up ends).
Operator phones are SIPp UAS; what they received (their ``-trace_msg`` files) is the ground truth.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.calls import menu_starts, start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phone, Phones
from tests.support.queue import byes_sent, invites, joins_queue
from tests.support.stack import Stack
from tooling.sipp.runner import DeskProcess, start_uas
from tooling.sipp.scenario import HangUp, Keys, Step, Wait

pytestmark = pytest.mark.asterisk

NAMES = ("op-qf-an", "op-qf-binh")
# A free operator is rung at once (announce-to-first-user = no); this margin covers the IVR's
# timing estimate, app_queue's `retry` and a busy 2-core CI machine.
RING_AFTER_JOIN = 4.0
# A waiting caller woken by the monitor when an operator is free rings them within tens of
# milliseconds (bench/ivr_load --queue); this margin is for a busy 2-core CI machine.
WOKEN_WITHIN = 0.5


@pytest.fixture()
def operators(open_hours: Stack, phone_ports: Phones) -> Iterator[list[str]]:
    for phone in phone_ports.phones(*NAMES).values():
        add_operator(open_hours, phone, f"Tổng đài viên {phone.name}")
    yield list(NAMES)
    for name in NAMES:
        if _state(open_hours, name) != "logged_out":
            hotline(open_hours, "operators", "logout", name)
        hotline(open_hours, "operators", "remove", name)


def _state(stack: Stack, name: str) -> str:
    return {r["name"]: r["state"] for r in json.loads(hotline(stack, "operators", "list", "--json"))}[name]


def _queue_then_hang_up(stack: Stack, after_join: float, late: float = 0.0) -> list[Step]:
    """Press 0 ``late`` seconds into the menu; hang up ``after_join`` seconds after joining the queue."""
    return [Wait(menu_starts(stack) + late), Keys("0"),
            Wait(joins_queue(stack) - menu_starts(stack) + after_join), HangUp()]


def _at(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _phone(workdir: Path, phone: Phone, **options: object) -> DeskProcess:
    return start_uas(phone.port, workdir=workdir / phone.name, **options)  # type: ignore[arg-type]


def _queue_channel(stack: Stack, call_id: str) -> str:
    """The caller's channel name, from the [hotline-queue] NoOp that names the call (verbose 3)."""
    log = (stack.state / "log" / "messages.log").read_text(encoding="utf-8", errors="replace")
    found = re.search(r'NoOp\("([^"]+)", "queue: ' + re.escape(call_id), log)
    assert found, f"no [hotline-queue] entry for {call_id} in Asterisk's messages.log"
    return found.group(1)


def _played(stack: Stack, channel: str) -> list[str]:
    """Sound files Asterisk played to ``channel`` (file.c logs each at verbose 3)."""
    log = (stack.state / "log" / "messages.log").read_text(encoding="utf-8", errors="replace")
    return re.findall(r"<" + re.escape(channel) + r"> Playing '([^'.]+)", log)


def test_longest_idle_first_position_announced_abandon_recorded(open_hours: Stack, operators: list[str],
                                                                 workdir: Path, phone_ports: Phones) -> None:
    an, binh = operators
    phones = {an: _phone(workdir, phone_ports.phone(an), ring_seconds=1, talk_seconds=30, hangup="remote"),
              binh: _phone(workdir, phone_ports.phone(binh), ring_seconds=1, talk_seconds=30, hangup="remote")}
    callers = []
    try:
        # An takes (and ends) a call first; Bình logs in afterwards and has taken none: once An's
        # wrap-up is over both are free, and Bình has been idle the longest.
        hotline(open_hours, "operators", "login", an)
        warm = start(open_hours, _queue_then_hang_up(open_hours, RING_AFTER_JOIN + 4),
                     caller="0951000100", workdir=workdir / "c0")
        warm.result(90)
        assert phones[an].answered == 1
        hotline(open_hours, "operators", "login", binh)

        # Three callers press 0 a second apart (the same IVR, keys 1 s later each: a fixed order):
        # the first two talk a few seconds; the third waits behind them and leaves while both
        # operators are still in wrap-up.
        leave = RING_AFTER_JOIN + 6
        for index in range(3):
            callers.append(start(open_hours, _queue_then_hang_up(open_hours, leave - index, late=index),
                                 caller=f"095100010{index + 1}", workdir=workdir / f"c{index + 1}"))
        for process in callers:
            process.result(120)
    finally:
        for process in callers:
            process.terminate()
        for phone in phones.values():
            phone.terminate()

    warm_row, first, second, third = (open_hours.ended_call(f"095100010{i}") for i in (0, 1, 2, 3))
    # The IVR takes longer than the wrap-up: An was free again when the three callers queued.
    wrapup = open_hours.ctx.settings.queue.wrapup_seconds
    assert (_at(first["queued_at"]) - _at(warm_row["ended_at"])).total_seconds() >= wrapup
    # The longest-idle operator (Bình) was rung first, for the first caller; An took the second.
    binh_invites = invites(phones[binh].messages_path)
    an_invites = invites(phones[an].messages_path)
    assert [m.caller for m in binh_invites] == ["0951000101"], binh_invites
    assert [m.caller for m in an_invites] == ["0951000100", "0951000102"], an_invites
    assert binh_invites[0].at < an_invites[1].at
    assert (first["operator"], second["operator"]) == (binh, an)
    assert first["disposition"] == second["disposition"] == "answered"

    # The third caller heard its position while both operators were talking, then hung up.
    heard = _played(open_hours, _queue_channel(open_hours, third["call_id"]))
    assert {"queue-youarenext", "queue-thereare"} & set(heard), heard
    assert third["disposition"] == "abandoned_queue" and third["queue_outcome"] == "abandoned"
    assert third["queued_at"] and third["queue_left_at"] and not third["queue_answered_at"]
    assert third["operator"] is None


def test_paused_operator_never_rung_and_wrap_up_delays_the_next_call(open_hours: Stack, operators: list[str],
                                                                     workdir: Path, phone_ports: Phones) -> None:
    an, binh = operators
    wrapup = open_hours.ctx.settings.queue.wrapup_seconds
    phones = {an: _phone(workdir, phone_ports.phone(an), ring_seconds=1, talk_seconds=30, hangup="remote"),
              binh: _phone(workdir, phone_ports.phone(binh), ring_seconds=1, talk_seconds=3, hangup="local")}
    callers = []
    try:
        hotline(open_hours, "operators", "login", an)
        hotline(open_hours, "operators", "login", binh)
        hotline(open_hours, "operators", "pause", an, "--reason", "break")
        # The first caller talks 3 s with Bình (who hangs up) and leaves during the survey; the
        # second queues a moment later and waits out Bình's wrap-up.
        callers.append(start(open_hours, _queue_then_hang_up(open_hours, RING_AFTER_JOIN + 6),
                             caller="0951000201",
                             workdir=workdir / "d1"))
        callers.append(start(open_hours, _queue_then_hang_up(open_hours, RING_AFTER_JOIN * 2 + wrapup + 8, late=1.5),
                             caller="0951000202", workdir=workdir / "d2"))
        phones[binh].wait_for(r"^INVITE ", wrapup + 60, count=2)
        for process in callers:
            process.result(wrapup + 90)
        assert _state(open_hours, an) == "paused"
    finally:
        for process in callers:
            process.terminate()
        for phone in phones.values():
            phone.terminate()

    assert phones[an].invites == 0 and not invites(phones[an].messages_path)
    got = invites(phones[binh].messages_path)
    assert [m.caller for m in got] == ["0951000201", "0951000202"]
    [bye] = byes_sent(phones[binh].messages_path)[:1]
    # app_queue's wrapuptime counts from the end of the first call, in whole seconds: it keeps
    # the member's last call as a time_t and rings again once time(NULL) >= lastcall + wrapuptime,
    # so the second INVITE comes more than wrapup - 1 s after the BYE (seen in CI: 14.29 s for
    # 15 s). The monitor wakes the waiting caller at that instant (monitor/waker.py), so it comes
    # no later than the wrap-up: left to itself app_queue would look again only after its
    # `retry` (2 s) or the announcement the caller was hearing (up to ~12 s).
    gap = (got[1].at - bye.at).total_seconds()
    assert wrapup - 1.0 < gap <= wrapup + WOKEN_WITHIN, gap
    rows = [open_hours.ended_call(f"095100020{i}") for i in (1, 2)]
    assert [r["operator"] for r in rows] == [binh, binh]
