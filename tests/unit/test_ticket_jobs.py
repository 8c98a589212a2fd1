"""A ticket's follow-up jobs are scheduled by the ticket service itself, on a real Redis: a ticket
forwarded in the console gets the same jobs (the agency's e-mail, its reminders) as one forwarded
with ``hotline tickets assign``, without waiting for the worker's sweep."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from rq import Queue
from rq.registry import ScheduledJobRegistry

from hotline.adapters.db.models import Role
from hotline.cli.main import main
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env
from operator_console import create_app
from tests.support.redis_server import redis_server

from .test_console import PASSWORD, csrf_of, sign_in


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture()
def env(tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    yield {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec"),
           "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/hotline.db", "HOTLINE_REDIS_URL": redis_url,
           **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00"))}
    redis.Redis.from_url(redis_url).flushdb()


def scheduled(env: dict[str, str]) -> tuple[list[str], list[str]]:
    """The job ids waiting on the worker's queue, and those scheduled for later."""
    connection = redis.Redis.from_url(env["HOTLINE_REDIS_URL"])
    name = load_context(env=env).settings.transcription.queue
    return (sorted(Queue(name, connection=connection).job_ids),
            sorted(ScheduledJobRegistry(name, connection=connection).get_job_ids()))


def milestones(ticket: dict[str, Any]) -> list[str]:
    return sorted(f"{n}-{ticket['id']}-" for n in ("escalate", "remind_50", "remind_80"))


def test_a_ticket_assigned_in_the_console_schedules_the_agency_e_mail_and_its_reminders(env: dict[str, str]) -> None:
    ctx = load_context(env=env)
    app = create_app(ctx, testing=True)
    svc = app.extensions["hotline"]
    svc.users.add("binh", "Người dùng binh", Role.SUPERVISOR, PASSWORD)
    ticket = svc.tickets.create(channel="phone", caller="0912345678", content="Đèn đường hẻm 12 không sáng",
                                actor="binh")
    assert scheduled(env)[0] == []          # a new ticket: its reminders only, for later
    client = sign_in(app, "binh")
    answer = client.post(f"/tickets/{ticket['code']}/assign",
                         data={"agency": "department:03", "csrf_token": csrf_of(client)})
    assert answer.status_code == 302
    assert svc.tickets.get(ticket["code"])["status"] == "assigned"
    waiting, later = scheduled(env)
    assert waiting == [f"notify-{ticket['id']}"]
    assert [j.rsplit("-", 1)[0] + "-" for j in later] == milestones(ticket)


def test_the_command_line_schedules_the_same_jobs(env: dict[str, str]) -> None:
    def hotline(*args: str) -> str:
        result = CliRunner().invoke(main, ["tickets", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout
    ticket = json.loads(hotline("create", "--content", "Hỏi thủ tục cấp đổi bằng lái", "--json"))
    hotline("assign", ticket["code"], "department:03")
    waiting, later = scheduled(env)
    assert waiting == [f"notify-{ticket['id']}"]
    assert [j.rsplit("-", 1)[0] + "-" for j in later] == milestones(ticket)
