"""`hotline report` against the ground truth of a scripted run of 20 real calls.

The expected figures come from what the test itself makes happen and from what the SIPp
phones saw (their -trace_msg files), never from the hotline's database: 11 callers hang up
in the IVR, one reaches a desk that answers and one a busy desk, and 7 press 0. Two operators
answer the first two at once (service level: within 20 s); three more callers abandon while
both operators talk (one of them within 5 s); the last two wait past the operators' talk and
wrap-up (answered, but after more than 20 s). The operators hang up first and the callers
rate: 1, 2, 3, and one hangs up during the survey.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.calls import menu_starts, prompt_seconds, start
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.queue import answers, joins_queue
from tests.support.stack import Stack, desk_ports
from tooling.sipp.runner import CallerProcess, DeskProcess, start_uas
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Step, Wait

pytestmark = pytest.mark.asterisk

DAY = "2026-11-26"                     # a Thursday no other test uses: the report covers this run only
NAMES = ("op-rg-an", "op-rg-binh")
TALK = 20.0                            # each operator talks 20 s, then hangs up


@pytest.fixture()
def staffed(stack: Stack, phone_ports: Phones) -> Iterator[Stack]:
    stack.set_clock(datetime.fromisoformat(f"{DAY}T10:00:00+07:00"))
    for phone in phone_ports.phones(*NAMES).values():
        add_operator(stack, phone, f"Tổng đài viên {phone.name}")
    yield stack
    for name in NAMES:
        hotline(stack, "operators", "remove", name)


def queue_caller(stack: Stack, offset: float, after_join: list[Step]) -> list[Step]:
    """Press 0 as the menu starts; ``offset`` s later than the first wave; then ``after_join``."""
    join = joins_queue(stack)
    return [*([Wait(offset)] if offset else []), Wait(menu_starts(stack)), Keys("0"),
            Wait(join - menu_starts(stack)), *after_join]


def rate(key: str, start: float, until: float) -> list[Step]:
    """Press ``key`` every 2 s from ``start`` until ``until`` s after joining the queue: while the
    operator talks the key goes to their phone (ignored); the first one after the operator hangs
    up answers the survey, and the call ends soon after."""
    steps: list[Step] = [Wait(start)]
    for _ in range(int((until - start) / 2)):
        steps += [Keys(key), Wait(1.7)]
    return [*steps, AwaitHangup(30)]


def test_report_matches_the_ground_truth_of_twenty_calls(staffed: Stack, workdir: Path,
                                                        phone_ports: Phones) -> None:
    stack = staffed
    wrapup = stack.ctx.settings.queue.wrapup_seconds
    # Measured on this machine: the late callers are answered 40-50 s after joining (talk 20 s,
    # wrap-up 15 s, then app_queue's retry and announcements); they leave or rate well after.
    script: dict[str, list[Step]] = {
        "0961000001": queue_caller(stack, 0, rate("1", 10, 45)),
        "0961000002": queue_caller(stack, 0, rate("2", 10, 45)),
        "0961000003": queue_caller(stack, 2, [Wait(2.0), HangUp()]),           # short abandon
        "0961000004": queue_caller(stack, 2, [Wait(8.0), HangUp()]),
        "0961000005": queue_caller(stack, 2, [Wait(12.0), HangUp()]),
        "0961000006": queue_caller(stack, 4, rate("3", 30, 110)),
        "0961000007": queue_caller(stack, 4, [Wait(75), HangUp()]),    # answered, leaves before rating
        "0961000008": [Wait(menu_starts(stack)), Keys("3"), Wait(2), Keys("01"), AwaitHangup(60)],
        "0961000009": [Wait(menu_starts(stack)), Keys("3"), Wait(2), Keys("02"),
                       Wait(prompt_seconds(stack, "transferring") + 3), HangUp()],
    }
    for n in range(11):                 # hang up in the IVR, from the welcome to the menu
        script[f"09620000{n:02d}"] = [Wait(2.0 + n), HangUp()]
    assert len(script) == 20
    phones: dict[str, DeskProcess] = {}
    desks: list[DeskProcess] = []
    callers: dict[str, CallerProcess] = {}
    try:
        for name in NAMES:
            phones[name] = start_uas(phone_ports.port(name), ring_seconds=1, talk_seconds=TALK, hangup="local",
                                     workdir=workdir / name)
            hotline(stack, "operators", "login", name)
        desks.append(start_uas(desk_ports()["desk-d01"], ring_seconds=1, talk_seconds=3, hangup="local",
                               workdir=workdir / "desk01"))
        desks.append(start_uas(desk_ports()["desk-d02"], hangup="busy", workdir=workdir / "desk02"))
        for number, steps in script.items():
            callers[number] = start(stack, steps, caller=number, workdir=workdir / number)
        results = {number: process.result(240) for number, process in callers.items()}
    finally:
        for process in [*callers.values(), *phones.values(), *desks]:
            process.terminate()
        for name in NAMES:
            hotline(stack, "operators", "logout", name)
    assert all(r.ok for r in results.values()), {n: r.problems for n, r in results.items() if not r.ok}
    rows = {number: stack.ended_call(number) for number in script}   # every call closed, recording logged
    facts = {n: (r["disposition"], r["queue_outcome"], r["survey_score"], r["queued_at"], r["queue_answered_at"],
                 r["ended_at"]) for n, r in rows.items() if n.startswith("0961")}

    # Ground truth from the operator phones: who picked up whom.
    picked = {name: [m.caller for m in answers(p.messages_path)] for name, p in phones.items()}
    answered = sorted(c for callers_ in picked.values() for c in callers_)
    assert answered == ["0961000001", "0961000002", "0961000006", "0961000007"], picked
    assert desks[0].answered == 1 and desks[1].invites == 1

    report = json.loads(hotline(stack, "report", "--from", DAY, "--to", DAY, "--json"))
    total = report["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["short_abandoned"]) == (7, 4, 3, 1)
    assert total["answered_within_20s"] == 2 and total["service_level"] == pytest.approx(2 / 7, abs=1e-4)
    assert total["surveys"] == 3, "\n".join(f"{n}: {v}" for n, v in facts.items())
    assert (total["satisfied_share"], total["normal_share"], total["not_satisfied_share"]) == \
        pytest.approx((1 / 3, 1 / 3, 1 / 3), abs=1e-4)   # the report rounds to 4 places
    assert total["aht_seconds"] == pytest.approx(TALK + wrapup, abs=1.5)
    assert report["transfers"] == [
        {"target": "department:01", "attempts": 1, "answered": 1, "answer_rate": 1.0},
        {"target": "department:02", "attempts": 1, "answered": 0, "answer_rate": 0.0},
    ]
    [day] = report["days"]
    assert day["day"] == DAY and day["offered"] == 7
    by_operator = {row["operator"]: row["answered"] for row in report["operators"]}
    assert by_operator == {name: len(c) for name, c in picked.items() if c}
