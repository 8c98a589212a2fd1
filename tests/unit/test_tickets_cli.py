"""``hotline tickets`` end to end on a real database, with Redis down: nothing is lost, errors say what to do."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hotline.cli.main import main
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env


@pytest.fixture()
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    # Port 1 refuses at once: the CLI must still change the ticket, and leave the rest to the sweep.
    # The fake clock starts now (its anchor), not when this test process imported the clock.
    return {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url,
            "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0",
            **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00"))}


def run(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, ["tickets", *args], env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args and code == 0 else result


def test_an_operator_writes_forwards_answers_and_closes_a_ticket(env: dict[str, str]) -> None:
    created = run(env, "create", "--content", "Đèn đường hẻm 12 Nguyễn Huệ không sáng", "--caller", "0912000111",
                  "--category", "infrastructure", "--by", "op-lan", "--json")
    code = created["code"]
    assert created["status"] == "new" and created["deadline_hours"] == 8 and created["channel"] == "phone"
    # Wednesday 09:00 + 8 working hours (07:00-11:30, 13:30-17:00) = Thursday 09:00.
    due = datetime.fromisoformat(created["due_at"])
    assert timedelta(0) <= due - datetime.fromisoformat("2026-11-26T09:00:00+07:00") < timedelta(minutes=1)
    assigned = run(env, "assign", code, "department:03", "--by", "op-lan", "--json")
    assert assigned["status"] == "assigned" and assigned["agency"] == "department:03"
    run(env, "answer", code, "--text", "Đã thay bóng đèn ngày 26/11", "--by", "desk-d03", "--json")
    closed = run(env, "close", code, "--by", "op-lan", "--json")
    assert closed["status"] == "closed" and closed["answer"] == "Đã thay bóng đèn ngày 26/11"
    shown = run(env, "show", code, "--json")
    assert [(e["actor"], e["action"]) for e in shown["events"]] == [
        ("op-lan", "created"), ("op-lan", "assigned"), ("desk-d03", "answered"), ("op-lan", "closed")]
    assert [t["code"] for t in run(env, "list", "--status", "closed", "--json")] == [code]
    text = run(env, "show", code).output
    assert "Đã kết thúc" in text and "Sở Xây dựng" in text     # Vietnamese for the people who read it
    # Redis was down all along: the forwarding e-mail is still owed, and the sweep will send it.
    ctx = load_context(env={**env})
    assert ctx.tickets().get(code)["notified_at"] is None


def test_mistakes_are_refused_with_what_to_do(env: dict[str, str]) -> None:
    code = run(env, "create", "--content", "Hỏi thủ tục cấp đổi giấy phép lái xe", "--json")["code"]
    bad_agency = run(env, "assign", code, "department:99", code=2)
    assert "no agency 'department:99'" in bad_agency.output and "hotline directory" in bad_agency.output
    early_close = run(env, "close", code, code=2)
    assert "it can become" in early_close.output
    missing = run(env, "show", "1234567", code=2)
    assert "hotline tickets list" in missing.output
    assert run(env, "deadline", code, "48", "--json")["deadline_hours"] == 48
