"""Hanging up at every stage leaves nothing behind and closes the call with the right disposition."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.calls import call, menu_starts, prompt_seconds
from tests.support.stack import Stack, desk_ports, wait_for
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import HangUp, Keys, Step, Wait

pytestmark = pytest.mark.asterisk


def _steps(stack: Stack, stage: str) -> list[Step]:
    menu = menu_starts(stack)
    return {
        "welcome": [Wait(2), HangUp()],
        "main_menu": [Wait(menu + 3), HangUp()],
        "code_entry": [Wait(menu), Keys("3"), Wait(3), HangUp()],
        "half_code": [Wait(menu), Keys("3"), Wait(2), Keys("0"), Wait(1), HangUp()],
        "desk_ringing": [Wait(menu), Keys("4"), Wait(2), Keys("01"),
                         Wait(prompt_seconds(stack, "transferring") + 3), HangUp()],
        "with_desk": [Wait(menu), Keys("4"), Wait(2), Keys("01"),
                      Wait(prompt_seconds(stack, "transferring") + 8), HangUp()],
        "queue": [Wait(menu), Keys("0"), Wait(prompt_seconds(stack, "to_operator") + 2), HangUp()],
    }[stage]


@pytest.mark.parametrize("stage, disposition", [
    ("welcome", "abandoned_ivr"),
    ("main_menu", "abandoned_ivr"),
    ("code_entry", "abandoned_ivr"),
    ("half_code", "abandoned_ivr"),
    ("desk_ringing", "abandoned_ivr"),
    ("with_desk", "transferred"),
    ("queue", "to_queue"),
])
def test_hangup_at_each_stage(open_hours: Stack, workdir: Path, stage: str, disposition: str) -> None:
    # The district 01 desk rings for 6 s, then talks until the caller leaves.
    desk = start_uas(desk_ports()["desk-h01"], ring_seconds=6, talk_seconds=60, hangup="remote",
                     workdir=workdir / "desk")
    caller = f"0920000{abs(hash(stage)) % 1000:03d}"
    try:
        result = call(open_hours, _steps(open_hours, stage), caller=caller, workdir=workdir)
        assert result.ok, result.problems
        row = open_hours.ended_call(caller)
    finally:
        desk.terminate()
    assert row["disposition"] == disposition, row
    if stage in ("desk_ringing", "with_desk"):
        assert row["transfer_target"] == "district:01"
    if stage == "with_desk":
        assert row["transfer_outcome"] == "answered"
    call_id = row["call_id"]
    wait_for(lambda: all(not c["id"].startswith(call_id) for c in open_hours.channels()), 10,
             "no channel of the call left in Asterisk")
    wait_for(lambda: all(call_id not in b["id"] for b in open_hours.bridges()), 10, "no bridge left")
