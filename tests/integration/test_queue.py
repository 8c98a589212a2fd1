"""Callers through the real IVR into the real app_queue, answered by SIPp operator phones."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.calls import call, menu_starts, prompt_seconds
from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack
from tooling.sipp.runner import start_uas
from tooling.sipp.scenario import AwaitHangup, HangUp, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

NAMES = ("op-q-an", "op-q-bao")


@pytest.fixture()
def operators(open_hours: Stack, phone_ports: Phones) -> Iterator[dict[str, int]]:
    phones = phone_ports.phones(*NAMES)
    for phone in phones.values():
        add_operator(open_hours, phone, f"Tổng đài viên {phone.name}")
    yield {name: phone.port for name, phone in phones.items()}
    for name in phones:
        hotline(open_hours, "operators", "remove", name)


def to_queue(stack: Stack) -> float:
    """Seconds from answer until a caller who pressed 0 at the menu is queued."""
    return menu_starts(stack) + prompt_seconds(stack, "to_operator") + 1.0


@pytest.mark.postgres_calls
def test_operator_answers_hangs_up_and_the_caller_rates_the_call(open_hours: Stack, operators: dict[str, int],
                                                                  workdir: Path, speech: Path) -> None:
    phone = start_uas(operators["op-q-an"], ring_seconds=1, talk_seconds=4, hangup="local", workdir=workdir / "op")
    try:
        hotline(open_hours, "operators", "login", "op-q-an")
        # The caller talks to the operator; the operator hangs up after 4 s; the caller presses 1
        # while the survey question plays.
        result = call(open_hours, [Wait(menu_starts(open_hours)), Keys("0"),
                                   Wait(to_queue(open_hours) - menu_starts(open_hours)),
                                   Speak(speech), Keys("1"), AwaitHangup(40)],
                      caller="0950000001", workdir=workdir)
        assert result.ok and result.ended_by_remote, result.problems
        assert phone.answered == 1
    finally:
        hotline(open_hours, "operators", "logout", "op-q-an")
        phone.terminate()
    row = open_hours.ended_call("0950000001")
    assert row["disposition"] == "answered"
    assert row["operator"] == "op-q-an" and row["queue_outcome"] == "answered"
    assert row["survey_score"] == 1
    assert row["queued_at"] and row["queue_answered_at"] and row["queued_at"] <= row["queue_answered_at"]
    # One recording holds IVR, queue, the talk with the operator and the survey.
    assert row["recording"]["duration"] >= to_queue(open_hours) + 4


def test_caller_hanging_up_first_stores_no_survey(open_hours: Stack, operators: dict[str, int], workdir: Path,
                                                  speech: Path) -> None:
    phone = start_uas(operators["op-q-an"], ring_seconds=1, talk_seconds=30, hangup="remote",
                      workdir=workdir / "op")
    try:
        hotline(open_hours, "operators", "login", "op-q-an")
        result = call(open_hours, [Wait(menu_starts(open_hours)), Keys("0"),
                                   Wait(to_queue(open_hours) - menu_starts(open_hours)), Speak(speech), HangUp()],
                      caller="0950000002", workdir=workdir)
        assert result.ok, result.problems
    finally:
        hotline(open_hours, "operators", "logout", "op-q-an")
        phone.terminate()
    row = open_hours.ended_call("0950000002")
    assert row["disposition"] == "answered" and row["survey_score"] is None
    assert row["hangup_by"] == "caller"


def test_no_operator_logged_in_offers_voicemail(open_hours: Stack, workdir: Path, speech: Path) -> None:
    busy = prompt_seconds(open_hours, "operators_busy", "leave_message") + 1.5
    result = call(open_hours, [Wait(menu_starts(open_hours)), Keys("0"),
                               Wait(to_queue(open_hours) - menu_starts(open_hours) + busy), Speak(speech), Keys("#"),
                               AwaitHangup(60)],   # the ticket code read back twice, then message_saved
                  caller="0950000003", workdir=workdir)
    assert result.ok and result.ended_by_remote, result.problems
    row = open_hours.ended_call("0950000003")
    assert row["queue_outcome"] == "empty"
    assert row["disposition"] == "voicemail"
    [vm] = row["voicemails"]
    assert vm["status"] == "pending" and vm["duration"] > 5
