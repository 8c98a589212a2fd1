"""A merged province on the two-tier structure (issue 14, item 6): the sample samples/dong-thap-2025 (102
communes and wards with 3-digit codes) on a stack of its own, with the real ARI app, SIPp callers, a SIPp
ward desk and a SIPp operator phone. Key 4 and a ward's code reach that ward's one-stop desk; a caller who
does not know the code presses * and is put through to an operator (who finds the ward by name in the
softphone's search: tests/unit/test_console_communes.py)."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.calls import call, menu_starts, prompt_seconds, talk_to_desk
from tests.support.cli import add_operator, hotline
from tests.support.ports import FIRST_PHONE_PORT, Phones
from tests.support.stack import ROOT, Stack, desk_ports, shifted_port, stack_index, wait_for
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

SAMPLE = ROOT / "samples" / "dong-thap-2025"
PORT_INDEX = 20 + stack_index()         # beside the worker's own stack and the fault tests' (10, 15)
STAFFED = datetime.fromisoformat("2026-11-25T10:00:00+07:00")     # a Wednesday, 10:00


@pytest.fixture(scope="module")
def merged() -> Iterator[Stack]:
    base = Path(tempfile.mkdtemp(prefix="hotline-merged-", dir="/var/tmp"))
    base.chmod(0o755)       # Asterisk, as its own user, reaches the state directory
    stack = Stack(base, port_index=PORT_INDEX, settings=SAMPLE / "province.toml",
                  directory=SAMPLE / "transfer_directory")
    try:
        stack.fake_now = STAFFED
        stack.start()
        yield stack
    finally:
        stack.stop()
        artifacts = ROOT / "test-artifacts" / "integration-logs" / "merged-province"
        artifacts.mkdir(parents=True, exist_ok=True)
        for log in [*stack.logs.glob("*.log"), *(stack.state / "log").glob("*.log")]:
            shutil.copy(log, artifacts / log.name)
        shutil.rmtree(base, ignore_errors=True)


def test_the_sample_is_the_merged_province(merged: Stack) -> None:
    directory = merged.ctx.directory
    communes = [e for e in directory.entries if e.kind == "commune"]
    assert len(communes) == 102 and all(len(e.code) == 3 for e in communes)
    assert not [e for e in directory.entries if e.kind == "district"]
    ward = directory.find("commune", "002")
    assert ward is not None and ward.name == "Phường Mỹ Tho"


def test_a_ward_s_three_digit_code_reaches_its_desk(merged: Stack, tmp_path: Path, speech: Path) -> None:
    with start_uas(desk_ports(PORT_INDEX)["desk-c002"], ring_seconds=1, talk_seconds=3, hangup="local",
                   workdir=tmp_path / "desk") as desk:
        result = call(merged, talk_to_desk(merged, "4", "002", speech), caller="0910000402", workdir=tmp_path)
        assert result.ok and result.ended_by_remote, result.problems
        wait_for(lambda: desk.answered == 1, 10, "the ward's desk to have answered one call")
    row = merged.ended_call("0910000402")
    assert row["disposition"] == "transferred" and row["transfer_outcome"] == "answered"
    assert row["transfer_target"] == "commune:002"
    assert [s["keys"] for s in row["ivr_path"]] == ["4", "002"]
    assert row["recording"]["duration"] >= menu_starts(merged) + 3


def test_star_puts_a_caller_who_does_not_know_the_code_through_to_an_operator(
        merged: Stack, tmp_path: Path, speech: Path) -> None:
    phone = Phones(shifted_port(FIRST_PHONE_PORT, PORT_INDEX)).phone("op-xa-an")
    add_operator(merged, phone, "Tổng đài viên Xã An")
    operator = start_uas(phone.port, ring_seconds=1, talk_seconds=3, hangup="local", workdir=tmp_path / "op")
    try:
        hotline(merged, "operators", "login", "op-xa-an")
        to_operator = prompt_seconds(merged, "commune_by_name") + 2
        result = call(merged, [Wait(menu_starts(merged)), Keys("4"), Wait(2), Keys("*"), Wait(to_operator),
                               Speak(speech), AwaitHangup(60)],
                      caller="0910000403", workdir=tmp_path)
        assert result.ok and result.ended_by_remote, result.problems
        wait_for(lambda: operator.answered == 1, 10, "the operator to have answered one call")
    finally:
        hotline(merged, "operators", "logout", "op-xa-an")
        operator.terminate()
    row = merged.ended_call("0910000403")
    assert row["operator"] == "op-xa-an" and row["queue_outcome"] == "answered"
    assert [s["keys"] for s in row["ivr_path"]][:2] == ["4", "*"]
    assert row["transfer_target"] is None
