"""The one intake path of voice messages: every file kept as a row, the too-short rule, one ticket,
its work queued (or left to the worker's sweep when there is no queue or Redis is down)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from hotline.adapters.db.repository import AudioFacts, CallRepository
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env
from hotline.intake.voice import MessageIntake
from hotline.services.tickets import TicketService


class Jobs:
    """Records what would go on the worker's queue; ``down``: Redis does not answer."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.queued: list[tuple[str, Any]] = []

    def transcription(self, voicemail_id: int) -> None:
        if self.down:
            raise redis.ConnectionError("refused")
        self.queued.append(("transcription", voicemail_id))

    def after_change(self, ticket: dict[str, Any]) -> None:
        """Its milestones, and its agency's e-mail when it is assigned (JobQueue.after_change)."""
        self.queued.append(("milestones", ticket["id"]))
        if ticket["status"] == "assigned":
            self.queued.append(("notification", ticket["id"]))


@pytest.fixture()
def service(tmp_path: Path, database_url: str) -> TicketService:
    """Tickets on a fresh database, with a call to leave messages on."""
    ctx = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url,
                            **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00"))})
    tickets = ctx.tickets()
    CallRepository(tickets.sessions).start_call("hotline1-1", channel_id="hotline1-1", caller="0912345678",
                                                dialled="1022", started_at=ctx.clock.now())
    return tickets


def intake(service: TicketService, jobs: Jobs | None) -> MessageIntake:
    return MessageIntake(CallRepository(service.sessions), service, 2.0, service.now, jobs)  # type: ignore[arg-type]


def facts(seconds: float, name: str = "hotline1-1.voicemail.wav") -> AudioFacts:
    return AudioFacts(f"2026/11/25/{name}", seconds, "ab" * 32, int(seconds * 16_000) + 44)


def test_a_message_is_a_row_a_ticket_and_queued_work(service: TicketService) -> None:
    jobs = Jobs()
    saved = intake(service, jobs).take("hotline1-1", facts(12.0), ended_by="pound")
    assert saved.ticket is not None and saved.ticket_code == saved.ticket["code"]
    assert saved.ticket["channel"] == "voicemail" and saved.ticket["voicemail"]["status"] == "pending"
    assert jobs.queued == [("transcription", saved.voicemail_id), ("milestones", saved.ticket["id"])]


def test_a_message_for_an_agency_is_a_ticket_of_its_category_assigned_to_it(service: TicketService) -> None:
    """Key 6's message (the flow's postal_message node): category postal, the post office, its e-mail queued."""
    jobs = Jobs()
    saved = intake(service, jobs).take("hotline1-1", facts(12.0), ended_by="pound", category="postal",
                                       agency="postal_service:01")
    assert saved.ticket is not None
    assert (saved.ticket["category"], saved.ticket["agency"], saved.ticket["status"]) == \
        ("postal", "postal_service:01", "assigned")
    assert saved.ticket["deadline_hours"] == 8
    assert jobs.queued == [("transcription", saved.voicemail_id), ("milestones", saved.ticket["id"]),
                           ("notification", saved.ticket["id"])]
    full = service.get(saved.ticket["code"])
    assert full is not None and [e["action"] for e in full["events"]] == ["created", "assigned"]


def test_a_message_whose_ticket_the_sweep_makes_keeps_its_category_and_agency(service: TicketService) -> None:
    """The app died between the message's row and its ticket: the sweep's ticket is the same as the app's."""
    repo = CallRepository(service.sessions)
    voicemail_id = repo.add_voicemail("hotline1-1", facts(12.0), status="pending", ended_by="pound",
                                      created_at=service.now(), category="postal", agency="postal_service:01")
    ticket = service.for_voicemail(voicemail_id)
    assert ticket is not None and (ticket["category"], ticket["agency"]) == ("postal", "postal_service:01")


def test_saved_twice_it_is_still_one_row_and_one_ticket(service: TicketService) -> None:
    messages = intake(service, None)
    first = messages.save("hotline1-1", facts(12.0), ended_by="hangup")
    again = messages.save("hotline1-1", facts(12.0), ended_by="hangup")
    assert (again.voicemail_id, again.ticket_code) == (first.voicemail_id, first.ticket_code)


def test_a_too_short_message_is_kept_as_a_row_without_ticket_or_work(service: TicketService) -> None:
    jobs = Jobs()
    saved = intake(service, jobs).take("hotline1-1", facts(1.5), ended_by="hangup")
    assert saved.ticket is None and saved.ticket_code is None
    [row] = CallRepository(service.sessions).get("hotline1-1")["voicemails"]  # type: ignore[index]
    assert row["status"] == "too_short" and row["ended_by"] == "hangup" and jobs.queued == []


@pytest.mark.parametrize("jobs", [None, Jobs(down=True)], ids=["no queue", "Redis down"])
def test_without_a_queue_the_ticket_is_made_and_the_work_left_to_the_sweep(
        service: TicketService, jobs: Jobs | None) -> None:
    saved = intake(service, jobs).take("hotline1-1", facts(12.0), ended_by="fallback")
    assert saved.ticket is not None and service.get(saved.ticket["code"]) is not None
