"""Key 5: real SIPp callers key a ticket code; the real AGI server looks it up in the real call log's
database and Asterisk reads the status back. What the caller heard is what Asterisk played to the
caller's channel (its messages.log), in order; the call log says where the caller went."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.domain.tickets import codes
from tests.support.calls import call, menu_starts, prompt_seconds, start
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import HangUp, Keys, Step, Wait

pytestmark = pytest.mark.asterisk

DIGITS = 7


def _ticket(stack: Stack, *, answered: bool, agency: str = "department:01") -> str:
    """A ticket in the stack's database (with a caller and content that must never be read out)."""
    tickets = stack.ctx.tickets(stack.repo.sessions)
    created = tickets.create(channel="phone", caller="0912000111", content="Hỏi về cấp giấy phép xây dựng nhà ở.",
                             agency=agency)
    if answered:
        tickets.answer(created["code"], "Hồ sơ đã được cấp phép.", actor="op-lan")
    return str(created["code"])


def _unknown_code(stack: Stack) -> str:
    """A well-formed code (right check digit) that no ticket has."""
    tickets = stack.ctx.tickets(stack.repo.sessions)
    return next(c for c in (codes.new_code(DIGITS) for _ in range(100)) if tickets.get(c) is None)


def _mistyped(code: str) -> str:
    """One digit off: the check digit refuses it before the database is asked."""
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert not codes.is_valid(wrong, DIGITS)
    return wrong


def _channel(stack: Stack, call_id: str) -> str:
    """The caller's channel name, from the [hotline-ticket-status] NoOp that names the call (verbose 3)."""
    def found() -> str | None:
        log = (stack.state / "log" / "messages.log").read_text(encoding="utf-8", errors="replace")
        match = re.search(r'NoOp\("([^"]+)", "ticket status: ' + re.escape(call_id), log)
        return match.group(1) if match else None
    return wait_for(found, 10, f"the [hotline-ticket-status] entry of {call_id} in messages.log")


def _heard(stack: Stack, call_id: str) -> list[str]:
    """The prompts Asterisk played to the caller, from the first request for a ticket code on."""
    log = (stack.state / "log" / "messages.log").read_text(encoding="utf-8", errors="replace")
    played = [Path(p).name for p in
              re.findall(r"<" + re.escape(_channel(stack, call_id)) + r"> Playing '([^']+)\.[a-z0-9]+'", log)]
    assert "ticket_enter_code" in played, played
    return played[played.index("ticket_enter_code"):]


def _readback(stack: Stack, *names: str) -> float:
    return prompt_seconds(stack, *names) + 2.0


def _ask_then_key(stack: Stack, code: str) -> list[Step]:
    """Key 5 as the menu starts, then the code while the AGI server asks for it."""
    return [Wait(menu_starts(stack)), Keys("5"), Wait(2), Keys(code)]


def _keys(row: dict) -> list[tuple[str, str]]:
    return [(s["node"], s["keys"]) for s in row["ivr_path"]]


def test_known_code_reads_status_agency_and_answer_then_the_menu(open_hours: Stack, workdir: Path) -> None:
    stack = open_hours
    code = _ticket(stack, answered=True)
    readback = ("ticket_status_answered", "ticket_agency", "agency_department_01", "ticket_answer_ready")
    result = call(stack, [*_ask_then_key(stack, code), Wait(_readback(stack, *readback) + 2), HangUp()],
                  caller="0960000001", workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0960000001")
    assert _heard(stack, row["call_id"]) == ["ticket_enter_code", *readback, "main_menu"]
    assert _keys(row) == [("main", "5"), ("ticket_status", code)]
    assert row["disposition"] == "abandoned_ivr"          # hung up in the main menu afterwards
    assert row["node"] == "main"


def test_unknown_code_is_said_so_and_asked_again(open_hours: Stack, workdir: Path) -> None:
    stack = open_hours
    code, unknown = _ticket(stack, answered=False, agency="district:02"), _unknown_code(stack)
    readback = ("ticket_status_assigned", "ticket_agency", "agency_district_02", "ticket_answer_not_ready")
    steps = [*_ask_then_key(stack, unknown), Wait(prompt_seconds(stack, "ticket_code_unknown") + 1.5), Keys(code),
             Wait(_readback(stack, *readback) + 2), HangUp()]
    result = call(stack, steps, caller="0960000002", workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0960000002")
    assert _heard(stack, row["call_id"]) == ["ticket_enter_code", "ticket_code_unknown", "ticket_enter_code",
                                             *readback, "main_menu"]
    assert _keys(row) == [("main", "5"), ("ticket_status", unknown), ("ticket_status", code)]
    assert row["disposition"] == "abandoned_ivr"


def test_three_failed_tries_go_to_the_operator_queue(open_hours: Stack, workdir: Path) -> None:
    stack = open_hours
    code, unknown = _ticket(stack, answered=False), _unknown_code(stack)
    wrong, also_wrong = _mistyped(code), _mistyped(unknown)
    invalid, unknown_s = prompt_seconds(stack, "ticket_code_invalid"), prompt_seconds(stack, "ticket_code_unknown")
    steps = [*_ask_then_key(stack, wrong), Wait(invalid + 1.5), Keys(unknown), Wait(unknown_s + 1.5),
             Keys(also_wrong), Wait(_readback(stack, "ticket_code_invalid", "ticket_too_many_tries") + 1), HangUp()]
    result = call(stack, steps, caller="0960000003", workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0960000003")
    assert _heard(stack, row["call_id"]) == ["ticket_enter_code", "ticket_code_invalid", "ticket_enter_code",
                                             "ticket_code_unknown", "ticket_enter_code", "ticket_code_invalid",
                                             "ticket_too_many_tries", "to_operator"]
    assert _keys(row) == [("main", "5"), ("ticket_status", wrong), ("ticket_status", unknown),
                          ("ticket_status", also_wrong)]
    assert row["disposition"] == "to_queue"


def test_hanging_up_while_keying_the_code_closes_the_call(open_hours: Stack, workdir: Path) -> None:
    stack = open_hours
    result = call(stack, [Wait(menu_starts(stack)), Keys("5"), Wait(3), Keys("30"), HangUp()],
                  caller="0960000004", workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0960000004")
    assert row["disposition"] == "abandoned_ivr"
    assert _keys(row) == [("main", "5")]
    assert _heard(stack, row["call_id"]) == ["ticket_enter_code"]
    wait_for(lambda: all(not c["id"].startswith(row["call_id"]) for c in stack.channels()), 10,
             "no channel of the call left in Asterisk")


def test_app_restarted_while_the_caller_is_in_the_lookup(open_hours: Stack, workdir: Path) -> None:
    """The first try is silence (the window for the restart); the restarted app adopts the caller,
    who keys the code on the second try, hears the status and comes back to the main menu."""
    stack = open_hours
    code = _ticket(stack, answered=False)
    readback = ("ticket_status_assigned", "ticket_agency", "agency_department_01", "ticket_answer_not_ready")
    second_ask = prompt_seconds(stack, "ticket_enter_code") + 6 + prompt_seconds(stack, "ticket_no_input")
    steps = [Wait(menu_starts(stack)), Keys("5"), Wait(second_ask + 2), Keys(code),
             Wait(_readback(stack, *readback) + 2), HangUp()]
    caller = start(stack, steps, caller="0960000005", workdir=workdir)
    try:
        def in_lookup() -> bool:
            return any(c["caller"]["number"] == "0960000005" and c["dialplan"]["context"] == "hotline-ticket-status"
                       for c in stack.channels())
        wait_for(in_lookup, menu_starts(stack) + 10, "the caller in [hotline-ticket-status]")
        stack.kill("ari_app")
        stack.start_proc("ari_app")
        wait_for(stack.app_registered, 20, "the restarted app to register")
        result = caller.result(120)
        assert result.ok, result.problems
    finally:
        caller.terminate()
        if "ari_app" not in stack.procs:
            stack.start_proc("ari_app")
    row = stack.ended_call("0960000005")
    assert _heard(stack, row["call_id"]) == ["ticket_enter_code", "ticket_no_input", "ticket_enter_code",
                                             *readback, "main_menu"]
    assert _keys(row) == [("main", "5"), ("ticket_status", code)]
    assert row["disposition"] == "abandoned_ivr"
    app_log = (stack.logs / "ari_app.log").read_text(encoding="utf-8", errors="replace")
    assert f"call={row['call_id']} adopted in the ticket lookup" in app_log
