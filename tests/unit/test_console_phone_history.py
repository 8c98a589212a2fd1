"""The caller's history on the softphone's call card (``/phone/history``): a number's two earlier calls
and its ticket, newest first, in Vietnamese and in the province's time; the ringing call itself and other
numbers' calls and tickets left out; only the roles that see numbers whole may ask, and the number is
never sent back. The card's script (static/history.js) is the one phone.js uses; the browser test
(tests/integration/test_console_browser.py) renders it in the page.

On SQLite and PostgreSQL (``database_url``), through Flask's test client.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hotline.adapters.db.models import Role
from hotline.adapters.db.repository import CallRepository
from hotline.config.secrets import Secrets
from hotline.domain.vocabulary import Disposition
from operator_console.permissions import FULL_NUMBERS, PERMISSIONS
from tests.unit.test_console import PASSWORD, ROLES, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

NUMBER, OTHER = "0977000111", "0988000222"


def seed(world: dict[str, Any]) -> str:
    """Two earlier calls of NUMBER (answered by op-lan; a voicemail that made a ticket, forwarded to the
    Department of Construction), its call ringing now, and a call and a ticket of another number between them."""
    svc = world["svc"]
    repo = CallRepository(svc.sessions)
    for call_id, number, at, disposition in (
            ("hotline1-40", NUMBER, "2026-11-20T08:15:00+07:00", Disposition.ANSWERED),
            ("hotline1-41", NUMBER, "2026-11-23T16:40:00+07:00", Disposition.VOICEMAIL),
            ("hotline1-42", OTHER, "2026-11-24T10:00:00+07:00", Disposition.ABANDONED_QUEUE),
            ("hotline1-43", NUMBER, "2026-11-25T09:00:00+07:00", Disposition.TO_QUEUE)):     # ringing now
        started = datetime.fromisoformat(at)
        repo.start_call(call_id, channel_id=call_id, caller=number, dialled="1022", started_at=started,
                        disposition=disposition)
    repo.update("hotline1-40", operator="op-lan", talk_seconds=95.0)
    ticket = svc.tickets.create(channel="voicemail", caller=NUMBER, content="Hỏi tiến độ cấp phép xây dựng nhà ở",
                                category="procedures", actor="worker", call_id="hotline1-41",
                                received_at=datetime.fromisoformat("2026-11-23T16:41:00+07:00"))
    svc.tickets.assign(ticket["code"], "department:03", actor="lan")
    svc.tickets.create(channel="phone", caller=OTHER, content="Hỏi thủ tục khác", actor="lan")
    return str(ticket["code"])


def test_the_card_gets_two_earlier_calls_and_the_ticket_newest_first(world: dict[str, Any]) -> None:
    code = seed(world)
    op = sign_in(world["app"], "lan")
    got = op.get(f"/phone/history?number={NUMBER}&call=hotline1-43")
    assert got.status_code == 200
    h = got.get_json()
    assert h["tickets"] == [{"code": code, "received_at": "2026-11-23T09:41:00+00:00",
                             "received_vi": "23/11/2026 16:41", "status": "assigned",
                             "status_vi": "Đã chuyển cơ quan có thẩm quyền",
                             "content": "Hỏi tiến độ cấp phép xây dựng nhà ở"}]
    assert [(c["call_id"], c["started_vi"], c["disposition_vi"]) for c in h["calls"]] == [
        ("hotline1-41", "23/11/2026 16:40", "Để lại lời nhắn"),
        ("hotline1-40", "20/11/2026 08:15", "Tổng đài viên đã trả lời")]
    assert (h["calls"][1]["operator"], h["calls"][1]["talk_seconds"], h["calls"][1]["disposition"]) == (
        "op-lan", 95.0, "answered")
    assert NUMBER not in got.get_data(as_text=True) and OTHER not in got.get_data(as_text=True)
    # without the ringing call's id, the ringing call comes first (as "Vào hàng đợi")
    every = op.get(f"/phone/history?number={NUMBER}").get_json()["calls"]
    assert [c["call_id"] for c in every] == ["hotline1-43", "hotline1-41", "hotline1-40"]
    assert every[0]["disposition_vi"] == "Vào hàng đợi"
    assert op.get("/phone/history?number=0900000000").get_json() == {"tickets": [], "open": [], "calls": []}


def test_only_the_roles_that_see_numbers_whole_ask_for_a_history(world: dict[str, Any]) -> None:
    seed(world)
    assert PERMISSIONS["calls.view"] == FULL_NUMBERS                 # nothing to mask: the others may not ask
    for name, role in ROLES.items():
        got = sign_in(world["app"], name).get(f"/phone/history?number={NUMBER}&call=hotline1-43")
        if role == Role.AGENCY:
            assert got.status_code == 403
        else:
            assert [c["call_id"] for c in got.get_json()["calls"]] == ["hotline1-41", "hotline1-40"], name


def test_the_softphone_page_loads_the_card_script(world: dict[str, Any]) -> None:
    op = sign_in(world["app"], "lan")
    assert 'id="history"' in op.get("/phone/").get_data(as_text=True)
    phone = op.get("/static/phone.js").get_data(as_text=True)
    assert 'import { showHistory } from "./history.js";' in phone
    assert 'showHistory($("history"), caller, callId)' in phone
    script = op.get("/static/history.js")
    assert script.status_code == 200 and "javascript" in script.mimetype
    assert "/phone/history?" in script.get_data(as_text=True)
    world["svc"].users.add("ha", "Tổng đài viên chưa có máy", Role.OPERATOR, PASSWORD)
    phoneless = sign_in(world["app"], "ha").get("/phone/account")          # the page says why, in Vietnamese
    assert phoneless.status_code == 409 and phoneless.get_json()["message"].startswith(
        "Tài khoản này chưa gắn với máy tổng đài viên nào")


def test_an_operator_without_a_sip_password_is_told_what_to_run_when_the_console_may_not_make_one(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `hotline up` and systemd the console runs as `hotline`, and secrets.toml is root's: a password
    it would have to generate cannot be saved. (Root, which runs these tests, may write anywhere: the
    refusal the system gives the `hotline` user is put in its place.)"""
    op = sign_in(world["app"], "lan")
    assert op.get("/phone/account").get_json()["password"]          # one saved already: served as before

    def refused(secrets: Secrets, name: str) -> str:
        raise PermissionError(13, "Permission denied", str(secrets.path))
    monkeypatch.setattr(Secrets, "endpoint_password", refused)
    got = op.get("/phone/account")
    assert got.status_code == 503 and got.get_json()["error"] == "no_sip_account"
    assert "hotline operators add op-lan" in got.get_json()["message"]
    assert got.get_json()["message"].startswith("Điện thoại viên này chưa có tài khoản SIP")
