"""Tickets as pure code: deadlines in working hours, reminder instants, codes, moves, audit trail, categories.

Everything that touches the database runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.adapters.db import open_database
from hotline.adapters.db.models import Ticket, TicketEvent, TicketStatus, Voicemail, VoicemailStatus
from hotline.adapters.db.repository import AudioFacts, CallRepository
from hotline.config.settings import REPO_ROOT, HolidaySettings, Settings, load_settings
from hotline.domain.calendar import HolidayCalendar
from hotline.domain.directory import Directory, load_directory
from hotline.domain.errors import ConfigErrors
from hotline.domain.tickets import codes
from hotline.domain.tickets.categories import Categories, load_categories
from hotline.domain.tickets.deadlines import DeadlineClock
from hotline.services.tickets import TicketError, TicketService

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=VN)


class FakeClock:
    """A hotline clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


SETTINGS = """\
[province]
name = "Đồng Tháp"
area_code = "0277"

[agency_hours]
days = ["mon", "tue", "wed", "thu", "fri"]
periods = [["07:00", "11:30"], ["13:30", "17:00"]]

[holidays]
computed = true
extra = [
  { date = 2026-10-19, name = "Nghỉ lễ của tỉnh (thứ Hai)" },
]
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path = tmp_path_factory.mktemp("settings") / "province.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    return load_settings(path, env={})


@pytest.fixture(scope="module")
def deadlines(settings: Settings) -> DeadlineClock:
    return DeadlineClock(settings.agency_hours, HolidayCalendar(settings.holidays), settings.tz)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(REPO_ROOT / "transfer_directory")


@pytest.fixture(scope="module")
def categories() -> Categories:
    return load_categories(REPO_ROOT / "ticket_categories.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 11, 25, 9, 0))   # a Wednesday morning


@pytest.fixture
def service(database_url: str, clock: FakeClock, deadlines: DeadlineClock, categories: Categories,
            directory: Directory) -> TicketService:
    return TicketService(open_database(database_url), clock, deadlines, categories, directory)


# -- deadlines ---------------------------------------------------------------------

def test_friday_16h_with_8_working_hours_is_due_tuesday_16h_when_monday_is_a_holiday(
        deadlines: DeadlineClock) -> None:
    friday = at(2026, 10, 16, 16, 0)
    assert friday.weekday() == 4
    assert deadlines.calendar.is_holiday(date(2026, 10, 19))       # the settings file's [holidays] extra
    assert deadlines.due(friday, 8) == at(2026, 10, 20, 16, 0)     # 1 h Friday, Monday off, 7 h Tuesday


def test_without_the_holiday_the_same_ticket_is_due_monday(deadlines: DeadlineClock) -> None:
    plain = DeadlineClock(deadlines.agency_hours, HolidayCalendar(HolidaySettings()), VN)
    assert plain.due(at(2026, 10, 16, 16, 0), 8) == at(2026, 10, 19, 16, 0)


def test_tet_2027_days_are_the_holidays_library_ones(deadlines: DeadlineClock) -> None:
    cal = deadlines.calendar
    days = [date(2027, 1, 30) + timedelta(days=i) for i in range(20)]
    assert [d for d in days if cal.is_holiday(d)] == [date(2027, 2, 4) + timedelta(days=i) for i in range(7)]
    assert cal.holiday_name(date(2027, 2, 6)) == "Tết Nguyên Đán"
    # the last working day before Tết is Wednesday 3 February 2027; work resumes Thursday 11 February
    assert cal.is_working_day(date(2027, 2, 3), [0, 1, 2, 3, 4])
    assert not cal.is_working_day(date(2027, 2, 4), [0, 1, 2, 3, 4])
    assert cal.is_working_day(date(2027, 2, 11), [0, 1, 2, 3, 4])


def test_48_hour_ticket_received_just_before_tet_2027_skips_the_whole_holiday(
        deadlines: DeadlineClock) -> None:
    received = at(2027, 2, 3, 16, 0)
    # 1 h on 3/2, nothing from 4/2 to 10/2 (Tết) nor on the weekend 13-14/2, 8 h a working day:
    # Thu 11 (9), Fri 12 (17), Mon 15 (25), Tue 16 (33), Wed 17 (41), Thu 18: 7 h -> 16:00
    assert deadlines.due(received, 48) == at(2027, 2, 18, 16, 0)
    for instant in deadlines.milestones(received, 48).values():
        assert not date(2027, 2, 4) <= instant.date() <= date(2027, 2, 10)
    # the very last working minute before Tết
    assert deadlines.due(at(2027, 2, 3, 16, 59), 48) == at(2027, 2, 18, 16, 59)


def test_the_service_gives_a_ticket_its_deadline_from_its_category(service: TicketService) -> None:
    friday = service.create(channel="phone", content="Hỏi thủ tục", category="procedures",
                            received_at=at(2026, 10, 16, 16, 0))
    assert friday["deadline_hours"] == 8
    assert datetime.fromisoformat(friday["due_at"]) == at(2026, 10, 20, 16, 0)
    tet = service.create(channel="phone", content="Phản ánh cán bộ", category="officials",
                         received_at=at(2027, 2, 3, 16, 0))
    assert tet["deadline_hours"] == 48
    assert datetime.fromisoformat(tet["due_at"]) == at(2027, 2, 18, 16, 0)


def test_set_deadline_recomputes_due_at_and_clears_the_reminders(service: TicketService) -> None:
    t = service.create(channel="phone", content="x", received_at=at(2026, 11, 25, 9, 0))
    service.record(t["id"], "worker", "remind_50", {}, reminded_50_at=at(2026, 11, 25, 15, 0))
    changed = service.set_deadline(t["code"], 48, actor="gs-hoa")
    assert changed["deadline_hours"] == 48
    assert datetime.fromisoformat(changed["due_at"]) == at(2026, 12, 3, 9, 0)   # six days of 8 h
    assert changed["reminded_50_at"] is None
    with pytest.raises(TicketError, match="positive number of working hours"):
        service.set_deadline(t["code"], 0, actor="gs-hoa")


# -- reminder and escalation instants ----------------------------------------------

def test_reminders_at_50_and_80_percent_cross_the_lunch_break_and_a_night(deadlines: DeadlineClock) -> None:
    # Wednesday 09:00, 8 working hours: 2.5 h to 11:30, lunch, 1.5 h -> 15:00 (50 %, 4 h);
    # 6 h by 17:00, the night, 0.4 h -> Thursday 07:24 (80 %, 6.4 h); 8 h -> Thursday 09:00.
    assert deadlines.milestones(at(2026, 11, 25, 9, 0), 8) == {
        "remind_50": at(2026, 11, 25, 15, 0),
        "remind_80": at(2026, 11, 26, 7, 24),
        "escalate": at(2026, 11, 26, 9, 0),
    }


def test_instants_received_out_of_hours_count_from_the_next_working_period(deadlines: DeadlineClock) -> None:
    # a voicemail left Saturday night: the clock starts Monday 07:00
    assert deadlines.milestones(at(2026, 11, 28, 22, 0), 8) == {
        "remind_50": at(2026, 11, 30, 11, 0),
        "remind_80": at(2026, 11, 30, 15, 24),
        "escalate": at(2026, 11, 30, 17, 0),     # exactly the whole of Monday's working time
    }
    # received during lunch: counted from 13:30 (3.5 h to 17:00, then 0.5 h on Thursday)
    assert deadlines.milestones(at(2026, 11, 25, 12, 0), 8)["remind_50"] == at(2026, 11, 26, 7, 30)


def test_48_hour_instants(deadlines: DeadlineClock) -> None:
    m = deadlines.milestones(at(2026, 11, 25, 9, 0), 48)
    # Wednesday 6 h, Thursday and Friday 8 h each (22), Monday 2 h -> 24 h
    assert m["remind_50"] == at(2026, 11, 30, 9, 0)
    # Monday 8 (30), Tuesday 8 (38), Wednesday 0.4 h -> 38.4 h
    assert m["remind_80"] == at(2026, 12, 2, 7, 24)
    assert m["escalate"] == at(2026, 12, 3, 9, 0)


# -- codes ---------------------------------------------------------------------------

def test_codes_are_digits_of_the_right_length_with_a_check_digit() -> None:
    for digits in (5, 7, 10):
        for _ in range(200):
            code = codes.new_code(digits)
            assert code.isdigit() and len(code) == digits
            assert codes.is_valid(code, digits)
    assert not codes.is_valid("123456", 7)
    assert not codes.is_valid("12345a7", 7)
    assert not codes.is_valid(" 123456", 7)


def test_the_check_digit_catches_every_changed_digit_and_every_swap_of_neighbours() -> None:
    for _ in range(300):
        code = codes.new_code(7)
        for i, digit in enumerate(code):
            for other in "0123456789":
                if other != digit:
                    assert not codes.is_valid(code[:i] + other + code[i + 1:], 7), (code, i, other)
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
                assert not codes.is_valid(swapped, 7), (code, i)


def test_service_codes_are_valid_and_unique(service: TicketService) -> None:
    made = {service.create(channel="phone", content=str(n))["code"] for n in range(30)}
    assert len(made) == 30
    assert all(codes.is_valid(c, service.code_digits) for c in made)


# -- status moves --------------------------------------------------------------------

def test_the_usual_life_of_a_ticket(service: TicketService, clock: FakeClock) -> None:
    t = service.create(channel="phone", caller="0912345678", content="Hỏi về đất đai", actor="op-lan")
    assert t["status"] == TicketStatus.NEW
    assert service.assign(t["code"], "provincial_office:01", actor="op-lan")["status"] == TicketStatus.ASSIGNED
    assert service.assign(t["code"], "department:03", actor="vp-nguyen")["agency"] == "department:03"
    assert service.start(t["code"], actor="xd-le")["status"] == TicketStatus.IN_PROGRESS
    answered = service.answer(t["code"], "  Đã trả lời  ", actor="xd-le")
    assert answered["status"] == TicketStatus.ANSWERED and answered["answer"] == "Đã trả lời"
    assert datetime.fromisoformat(answered["answered_at"]) == clock()
    closed = service.close(t["code"], actor="op-lan")
    assert closed["status"] == TicketStatus.CLOSED and closed["closed_at"]


@pytest.mark.parametrize("steps, refused, message", [
    ([], "close", "is new; it can become assigned, in_progress, answered, out_of_scope, duplicate"),
    (["close_out_of_scope"], "start", "is out_of_scope; it can become nothing: it is finished"),
    (["answer", "close"], "assign", "is closed; it can become nothing: it is finished"),
    (["answer"], "assign", "is answered; it can become closed, in_progress"),
    (["start"], "start", "is in_progress; it can become assigned, answered, out_of_scope, duplicate"),
])
def test_moves_that_are_refused_say_what_is_allowed(service: TicketService, steps: list[str], refused: str,
                                                    message: str) -> None:
    code = service.create(channel="phone", content="x")["code"]
    actions: dict[str, Any] = {
        "close": lambda: service.close(code, actor="op"),
        "close_out_of_scope": lambda: service.close(code, actor="op", status=TicketStatus.OUT_OF_SCOPE),
        "start": lambda: service.start(code, actor="op"),
        "answer": lambda: service.answer(code, "Trả lời", actor="op"),
        "assign": lambda: service.assign(code, "department:01", actor="op"),
    }
    for step in steps:
        actions[step]()
    before = service.get(code)
    with pytest.raises(TicketError) as err:
        actions[refused]()
    assert f"ticket {code} {message}" in str(err.value)
    assert service.get(code) == before        # nothing changed, no event written


def test_other_refusals_say_what_to_do(service: TicketService) -> None:
    code = service.create(channel="phone", content="x")["code"]
    with pytest.raises(TicketError, match="an answer needs its text"):
        service.answer(code, "   ", actor="op")
    with pytest.raises(TicketError, match="cannot close as 'assigned'; use closed, out_of_scope or duplicate"):
        service.close(code, actor="op", status=TicketStatus.ASSIGNED)
    with pytest.raises(TicketError, match="no ticket '0000000'"):
        service.start("0000000", actor="op")
    with pytest.raises(LookupError, match="no ticket category 'nope'; the categories are: procedures"):
        service.set_category(code, "nope", actor="op")


@pytest.mark.parametrize("agency", ["department:99", "ward:01", "department", "", "Sở Tư pháp"])
def test_assign_to_an_unknown_agency_is_refused(service: TicketService, agency: str) -> None:
    code = service.create(channel="phone", content="x")["code"]
    before = service.get(code)
    with pytest.raises(TicketError, match=r"no agency .* in the transfer directory; write KIND:CODE such as "
                                          r"department:01 or provincial_office:01"):
        service.assign(code, agency, actor="op")
    assert service.get(code) == before
    with pytest.raises(TicketError, match="no agency"):
        service.create(channel="phone", content="x", agency=agency)


def test_provincial_office_receives_tickets_of_unclear_competence(service: TicketService,
                                                                  directory: Directory) -> None:
    t = service.create(channel="phone", content="Nhiều cơ quan", agency="provincial_office:01", actor="op-lan")
    assert t["status"] == TicketStatus.ASSIGNED and t["agency"] == "provincial_office:01"
    office = service.agency(t["agency"])
    assert office is directory.provincial_office and len(office.focal_points) == 2
    status = service.phone_status(t["code"])
    assert status == {"code": t["code"], "status": "assigned", "answer_ready": False,
                      "agency": {"kind": "provincial_office", "code": "01", "name": office.name}}


# -- audit trail -----------------------------------------------------------------------

def test_each_change_writes_an_event_with_actor_and_time(service: TicketService, clock: FakeClock) -> None:
    start = clock()
    t = service.create(channel="phone", content="x", actor="op-lan", received_at=start)
    clock.advance(minutes=5)
    service.assign(t["code"], "department:01", actor="op-lan", note="Thuộc Sở Tư pháp")
    clock.advance(minutes=5)
    service.set_category(t["code"], "officials", actor="gs-hoa")
    clock.advance(minutes=5)
    service.set_deadline(t["code"], 48, actor="gs-hoa")
    clock.advance(minutes=5)
    service.record(t["id"], "worker", "notified", {"to": ["a@example.gov.vn"]}, notified_at=clock())
    clock.advance(minutes=5)
    service.start(t["code"], actor="tp-nguyen")
    clock.advance(minutes=5)
    service.answer(t["code"], "Trả lời", actor="tp-nguyen")
    clock.advance(minutes=5)
    service.close(t["code"], actor="op-lan", note="Đã báo công dân")
    events = service.get(t["code"])["events"]  # type: ignore[index]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("created", "op-lan"), ("assigned", "op-lan"), ("category", "gs-hoa"), ("deadline", "gs-hoa"),
        ("notified", "worker"), ("in_progress", "tp-nguyen"), ("answered", "tp-nguyen"), ("closed", "op-lan")]
    assert [datetime.fromisoformat(e["at"]) for e in events] == [start + timedelta(minutes=5 * i)
                                                                 for i in range(8)]
    assert events[1]["detail"] == {"from": "new", "agency": "department:01", "note": "Thuộc Sở Tư pháp"}
    assert events[6]["detail"] == {"from": "in_progress", "answer": "Trả lời"}
    assert events[3]["detail"]["deadline_hours"] == 48


def test_a_ticket_created_already_assigned_has_both_events(service: TicketService) -> None:
    t = service.create(channel="phone", content="x", agency="department:02", actor="op-lan")
    events = service.get(t["code"])["events"]  # type: ignore[index]
    assert [(e["action"], e["actor"]) for e in events] == [("created", "op-lan"), ("assigned", "op-lan")]


# -- calls, recordings and voicemail ------------------------------------------------------

def _call(service: TicketService, call_id: str) -> CallRepository:
    repo = CallRepository(service.sessions)
    t0 = at(2026, 11, 25, 8, 0)
    repo.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=t0)
    repo.add_recording(call_id, AudioFacts(f"2026/11/25/{call_id}.wav", 30.0, "ab" * 32, 480_044), t0)
    return repo


def test_a_ticket_from_a_call_carries_its_recording(service: TicketService) -> None:
    _call(service, "hotline1-1.1")
    t = service.create(channel="phone", content="x", call_id="hotline1-1.1")
    assert t["call_id"] == "hotline1-1.1" and t["recording"] == "2026/11/25/hotline1-1.1.wav"
    assert service.by_id(t["id"])["recording"] == "2026/11/25/hotline1-1.1.wav"  # type: ignore[index]
    with pytest.raises(TicketError, match="no call 'nope' in the call log"):
        service.create(channel="phone", content="x", call_id="nope")


def test_for_voicemail_makes_one_ticket_per_voicemail(service: TicketService, database_url: str,
                                                      deadlines: DeadlineClock, categories: Categories,
                                                      directory: Directory, clock: FakeClock) -> None:
    repo = _call(service, "hotline1-2.1")
    vm_id = repo.add_voicemail("hotline1-2.1", AudioFacts("2026/11/25/hotline1-2.1.voicemail.wav", 12.0,
                                                          "cd" * 32, 192_044),
                               status=VoicemailStatus.PENDING, ended_by="pound", created_at=at(2026, 11, 24, 23, 30))
    first = service.for_voicemail(vm_id)
    assert first is not None and first["channel"] == "voicemail" and first["caller"] == "0912345678"
    assert datetime.fromisoformat(first["received_at"]) == at(2026, 11, 24, 23, 30)
    assert first["voicemail"]["id"] == vm_id
    again = service.for_voicemail(vm_id)
    other_process = TicketService(open_database(database_url), clock, deadlines, categories, directory)
    assert again is not None and again["code"] == first["code"]
    assert other_process.for_voicemail(vm_id)["code"] == first["code"]  # type: ignore[index]
    with service.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket).where(Ticket.voicemail_id == vm_id)) == 1
        assert s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == first["id"])) == 1


def test_a_too_short_voicemail_makes_no_ticket(service: TicketService) -> None:
    repo = _call(service, "hotline1-3.1")
    vm_id = repo.add_voicemail("hotline1-3.1", AudioFacts("2026/11/25/hotline1-3.1.voicemail.wav", 0.8,
                                                          "ef" * 32, 12_844),
                               status=VoicemailStatus.TOO_SHORT, ended_by="hangup", created_at=at(2026, 11, 24, 23))
    assert service.for_voicemail(vm_id) is None
    assert service.for_voicemail(vm_id) is None
    with pytest.raises(TicketError, match="no voicemail 999"):
        service.for_voicemail(999)


def test_overdue_lists_open_tickets_past_their_deadline(service: TicketService, clock: FakeClock) -> None:
    late = service.create(channel="phone", content="late", received_at=at(2026, 11, 24, 8, 0))
    service.create(channel="phone", content="fresh")
    done = service.create(channel="phone", content="done", received_at=at(2026, 11, 24, 8, 0))
    service.answer(done["code"], "xong", actor="op")
    clock.advance(days=1)
    assert [t["code"] for t in service.list(overdue=True)] == [late["code"]]


# -- categories file -------------------------------------------------------------------

def test_the_shipped_categories_load(categories: Categories) -> None:
    assert categories.default.code == "procedures" and categories.default.deadline_hours == 8
    assert len(categories) == 7 and {c.deadline_hours for c in categories.entries} == {8.0, 48.0}


@pytest.mark.parametrize("text, line, message", [
    ("categories:\n  - code: procedures\n    name: \"Thủ tục\"\n    deadline_hours: 12\n", 4,
     "deadline_hours 12 of procedures is neither 8 nor 48 — write deadline_hours: 8 or deadline_hours: 48"),
    ("categories:\n  - code: Thủ tục\n    name: x\n    deadline_hours: 8\n", 2,
     "code 'Thủ tục' is not a short lower-case name"),
    ("categories:\n  - code: a\n    name: x\n    deadline_hours: 8\n    colour: red\n", 5,
     "unknown key 'colour'"),
    ("categories:\n  - code: a\n    name: \"\"\n    deadline_hours: 8\n", 3, "category a has no name"),
    ("categories:\n  - code: a\n    name: x\n    deadline_hours: 8\n  - code: a\n    name: y\n"
     "    deadline_hours: 48\n", 5, "category a appears twice"),
    ("categories:\n  - just a string\n", 2, "an entry is not a mapping"),
    ("kinds: []\n", 1, "no 'categories:' list"),
])
def test_a_mistake_in_the_categories_file_names_file_and_line(tmp_path: Path, text: str, line: int,
                                                              message: str) -> None:
    path = tmp_path / "ticket_categories.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as err:
        load_categories(path)
    assert f"{path}:{line}: {message}" in str(err.value)


def test_every_mistake_in_the_categories_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ticket_categories.yaml"
    path.write_text("categories:\n  - code: a\n    name: x\n    deadline_hours: 9\n"
                    "  - code: B\n    name: y\n    deadline_hours: 8\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as err:
        load_categories(path)
    assert [(e.line, e.file) for e in err.value.errors] == [(4, str(path)), (5, str(path))]


def test_transcribe_again_puts_a_finished_message_back_and_refuses_what_cannot_be(service: TicketService) -> None:
    repo = _call(service, "hotline1-9.1")
    vm_id = repo.add_voicemail("hotline1-9.1", AudioFacts("2026/11/25/hotline1-9.1.voicemail.wav", 12.0,
                                                          "aa" * 32, 192_044),
                               status=VoicemailStatus.PENDING, ended_by="pound", created_at=at(2026, 11, 24, 23, 30))
    code = service.for_voicemail(vm_id)["code"]  # type: ignore[index]
    with pytest.raises(TicketError, match="already waiting") as waiting:
        service.transcribe_again(code, actor="admin")
    assert "đang chờ" in waiting.value.vi
    with service.sessions.begin() as s:
        vm = s.get(Voicemail, vm_id)
        assert vm is not None
        vm.status, vm.attempts, vm.model, vm.error = VoicemailStatus.FAILED, 5, "model", "boom"
    again = service.transcribe_again(code, actor="admin")
    assert again["voicemail"]["status"] == "pending" and again["voicemail"]["error"] is None
    events = service.get(code)["events"]  # type: ignore[index]
    assert events[-1]["action"] == "transcribe_again" and events[-1]["actor"] == "admin"
    assert events[-1]["detail"] == {"model": "model", "status": "failed"}
    with service.sessions() as s:
        assert s.get(Voicemail, vm_id).attempts == 0  # type: ignore[union-attr]
    plain = service.create(channel="phone", content="x")
    with pytest.raises(TicketError, match="has no voice message"):
        service.transcribe_again(plain["code"], actor="admin")


# -- calling the citizen back ----------------------------------------------------------

def test_a_call_to_the_citizen_is_on_the_timeline_and_relayed_closes_the_answered_ticket(
        service: TicketService) -> None:
    code = service.create(channel="phone", caller="0912345678", content="Hỏi thủ tục.", actor="lan")["code"]
    service.call_placed(code, call_id="out-1", number="0912345678", actor="lan")
    with pytest.raises(TicketError) as refused:          # nothing to relay yet
        service.call_outcome(code, "relayed", actor="lan", call_id="out-1")
    assert refused.value.vi is not None and "chỉ phiếu «Đã có kết quả trả lời»" in refused.value.vi
    service.call_outcome(code, "no_answer", actor="lan", call_id="out-1")
    service.call_outcome(code, "wrong_number", actor="lan", call_id="out-1")
    assert service.get(code)["status"] == "new"
    service.answer(code, "Hồ sơ nộp tại Sở Tư pháp.", actor="binh")
    service.call_placed(code, call_id="out-2", number="0912345678", actor="lan")
    closed = service.call_outcome(code, "relayed", actor="lan", call_id="out-2")
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    events = [(e["action"], e["detail"].get("outcome") or e["detail"].get("call_id"))
              for e in service.get(code)["events"]]
    assert events[1:] == [("call_placed", "out-1"), ("call_outcome", "no_answer"), ("call_outcome", "wrong_number"),
                          ("answered", None), ("call_placed", "out-2"), ("call_outcome", "relayed"),
                          ("closed", "out-2")]
    with pytest.raises(TicketError):
        service.call_outcome(code, "maybe", actor="lan")
