"""The ticket-status AGI route, try by try: check digit first, then the database; what is said.

The AGI object is a recording stand-in for pyst2's (the real one runs against the real Asterisk
in tests/integration/test_ticket_status.py); the flow is the shipped one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asterisk.agi import AGIResultHangup

from agi.ticket_status import TicketStatusHandlers
from hotline.domain.flows.loader import load_flow
from hotline.domain.tickets import codes

ROOT = Path(__file__).resolve().parents[2]
KNOWN = "3077345"          # a Damm-valid code
UNKNOWN = "1234566"        # valid check digit, no ticket
MISTYPED = "3077346"       # one digit off: the check digit catches it
assert codes.is_valid(KNOWN, 7) and codes.is_valid(UNKNOWN, 7) and not codes.is_valid(MISTYPED, 7)


class FakeAGI:
    """Keys the caller types at each GET DATA; records what was played and set."""

    def __init__(self, *typed: str, hang_up_after: int | None = None) -> None:
        self.typed = list(typed)
        self.heard: list[str] = []
        self.vars: dict[str, str] = {}
        self.env = {"agi_uniqueid": "hotline1-1.1", "agi_callerid": "0912345678"}
        self.hang_up_after = hang_up_after

    def get_data(self, path: str, timeout: int, max_digits: int) -> str:
        assert (timeout, max_digits) == (6000, 7)
        self.heard.append("ask:" + Path(path).name)
        if self.hang_up_after is not None and len(self.typed) <= self.hang_up_after:
            raise AGIResultHangup("User hungup during execution")
        return self.typed.pop(0)

    def stream_file(self, path: str) -> str:
        self.heard.append(Path(path).name)
        return ""

    def set_variable(self, name: str, value: str) -> None:
        self.vars[name] = value


class Tickets:
    def __init__(self, **tickets: dict[str, Any]) -> None:
        self.tickets = tickets
        self.asked: list[str] = []

    def phone_status(self, code: str) -> dict[str, Any] | None:
        self.asked.append(code)
        return self.tickets.get(f"t{code}")


def handlers(tmp_path: Path, tickets: Tickets) -> TicketStatusHandlers:
    (tmp_path / "agency_department_01.wav").write_bytes(b"RIFF")
    return TicketStatusHandlers(tickets, load_flow(ROOT / "ivr_flows" / "hotline_1022.yaml"), tmp_path, 7)


def ticket(status: str, agency: bool = True, ready: bool = False) -> dict[str, Any]:
    return {"code": KNOWN, "status": status, "answer_ready": ready,
            "agency": {"kind": "department", "code": "01", "name": "Sở Tư pháp"} if agency else None}


def test_a_known_code_reads_status_agency_and_answer_ready(tmp_path: Path) -> None:
    tickets = Tickets(**{f"t{KNOWN}": ticket("answered", ready=True)})
    agi = FakeAGI(KNOWN)
    handlers(tmp_path, tickets).ticket_status(agi, ["hotline1-1.1", "ticket_status"])
    assert agi.heard == ["ask:ticket_enter_code", "ticket_status_answered", "ticket_agency", "agency_department_01",
                         "ticket_answer_ready"]
    assert agi.vars == {"TICKET_OUTCOME": "found", "TICKET_KEYS": KNOWN}


def test_a_new_ticket_has_no_agency_and_no_answer_yet(tmp_path: Path) -> None:
    agi = FakeAGI(KNOWN)
    handlers(tmp_path, Tickets(**{f"t{KNOWN}": ticket("new", agency=False)})).ticket_status(agi, ["c", "ticket_status"])
    assert agi.heard[1:] == ["ticket_status_new", "ticket_answer_not_ready"]


@pytest.mark.parametrize("status", ["out_of_scope", "duplicate"])
def test_a_ticket_ended_without_an_answer_says_only_its_status_and_agency(tmp_path: Path, status: str) -> None:
    agi = FakeAGI(KNOWN)
    handlers(tmp_path, Tickets(**{f"t{KNOWN}": ticket(status)})).ticket_status(agi, ["c", "ticket_status"])
    assert agi.heard[1:] == [f"ticket_status_{status}", "ticket_agency", "agency_department_01"]


def test_a_mistyped_code_never_reaches_the_database_and_the_second_try_may_succeed(tmp_path: Path) -> None:
    tickets = Tickets(**{f"t{KNOWN}": ticket("in_progress")})
    agi = FakeAGI(MISTYPED, KNOWN)
    handlers(tmp_path, tickets).ticket_status(agi, ["c", "ticket_status"])
    assert tickets.asked == [KNOWN]
    assert agi.heard[:3] == ["ask:ticket_enter_code", "ticket_code_invalid", "ask:ticket_enter_code"]
    assert agi.vars == {"TICKET_OUTCOME": "found", "TICKET_KEYS": f"{MISTYPED}-{KNOWN}"}


def test_three_failed_tries_say_why_each_time_then_give_up(tmp_path: Path) -> None:
    tickets = Tickets()
    agi = FakeAGI(UNKNOWN, "", "12345")
    handlers(tmp_path, tickets).ticket_status(agi, ["c", "ticket_status"])
    assert tickets.asked == [UNKNOWN]          # silence and a too-short code are not looked up
    assert agi.heard == ["ask:ticket_enter_code", "ticket_code_unknown", "ask:ticket_enter_code", "ticket_no_input",
                         "ask:ticket_enter_code", "ticket_code_invalid", "ticket_too_many_tries"]
    assert agi.vars == {"TICKET_OUTCOME": "failed", "TICKET_KEYS": f"{UNKNOWN}--12345"}


def test_a_database_error_ends_the_lookup_with_error(tmp_path: Path) -> None:
    class Broken(Tickets):
        def phone_status(self, code: str) -> dict[str, Any] | None:
            raise OSError("database is down")
    agi = FakeAGI(KNOWN)
    handlers(tmp_path, Broken()).ticket_status(agi, ["c", "ticket_status"])
    assert agi.vars["TICKET_OUTCOME"] == "error" and agi.heard == ["ask:ticket_enter_code"]


def test_the_caller_hanging_up_ends_the_route_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    agi = FakeAGI(UNKNOWN, hang_up_after=0)
    with caplog.at_level("INFO", logger="agi.ticket_status"):
        handlers(tmp_path, Tickets()).ticket_status(agi, ["hotline1-1.1", "ticket_status"])
    assert agi.vars == {"TICKET_OUTCOME": "unknown", "TICKET_KEYS": UNKNOWN}
    assert "call=hotline1-1.1 ticket_status: the caller hung up (codes keyed: 1;" in caplog.text


def test_one_log_line_per_lookup_with_the_call_id_never_the_callers_number(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    agi = FakeAGI(MISTYPED, KNOWN)
    with caplog.at_level("INFO", logger="agi.ticket_status"):
        handlers(tmp_path, Tickets(**{f"t{KNOWN}": ticket("assigned")})).ticket_status(agi, ["hotline1-1.1", ""])
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["call=hotline1-1.1 ticket_status try 1/3: invalid",
                     f"call=hotline1-1.1 ticket_status try 2/3: found code={KNOWN} status=assigned"]
    assert "0912345678" not in caplog.text
