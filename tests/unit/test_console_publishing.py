"""The console's page of published answers (operator_console/publishing.py) through Flask's test client, on
SQLite and PostgreSQL: supervisors only; an answered ticket is listed with its words redacted and what was taken
out marked; approving a text that still holds a phone number is refused in Vietnamese (the text kept); approving
the redacted text publishes it and withdrawing takes it off, each a TicketEvent; the list shown is an AccessLog
row; a form without its CSRF token is refused."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hotline.adapters.db.models import AccessLog
from tests.unit.test_console import sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

QUESTION = "Tôi là Trần Văn Bình, gọi 0912 345 678: đèn đường hẻm 12 không sáng."
ANSWER = "Điện lực đã thay bóng ngày 26/11; anh Bình cần gì thêm xin gọi 1022."


def answered(world: dict[str, Any]) -> str:
    t = world["svc"].tickets
    code = t.create(channel="phone", caller="0912345678", content=QUESTION, category="infrastructure",
                    actor="lan")["code"]
    t.answer(code, ANSWER, actor="binh")
    return str(code)


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_only_supervisors_and_admins_open_it(world: dict[str, Any]) -> None:
    assert sign_in(world["app"], "lan").get("/publishing/").status_code == 403
    assert sign_in(world["app"], "xd").get("/publishing/").status_code == 403
    assert sign_in(world["app"], "an").get("/publishing/").status_code == 200


def test_a_supervisor_approves_the_redacted_text_and_withdraws_it(world: dict[str, Any]) -> None:
    code = answered(world)
    sup = sign_in(world["app"], "binh")
    page = sup.get("/publishing/").get_data(as_text=True)
    assert f"Phiếu {code}" in page and "Duyệt công bố" in page
    assert "Tôi là <mark>[họ tên]</mark>, gọi <mark>[số điện thoại]</mark>" in page
    assert "Đã lược bỏ: <mark>0912 345 678</mark>, <mark>Trần Văn Bình</mark>, <mark>Bình</mark>" in page
    assert "anh <mark>[họ tên]</mark> cần gì thêm" in page
    refused = sup.post(f"/publishing/{code}/approve", data={"csrf_token": token(page), "question": QUESTION,
                                                           "answer": "Đã thay bóng."})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Chưa công bố: nội dung vẫn còn số điện thoại" in text
    assert QUESTION in text                                           # what the supervisor wrote, kept
    question = "Tôi là [họ tên], gọi [số điện thoại]: đèn đường hẻm 12 không sáng."
    ok = sup.post(f"/publishing/{code}/approve", data={"csrf_token": token(page), "question": question,
                                                      "answer": "Điện lực đã thay bóng ngày 26/11."})
    assert ok.status_code == 302
    after = sup.get("/publishing/").get_data(as_text=True)
    assert "Đang công bố (1)" in after and "Chờ duyệt (0)" in after and "Gỡ" in after
    assert world["svc"].publishing.published()[0]["question"] == question
    gone = sup.post(f"/publishing/{code}/withdraw", data={"csrf_token": token(after)})
    assert gone.status_code == 302 and world["svc"].publishing.published() == []
    events = [(e["action"], e["actor"]) for e in world["svc"].tickets.get(code)["events"]]
    assert events[-2:] == [("published", "binh"), ("unpublished", "binh")]
    with world["svc"].sessions() as s:
        reads = s.scalars(select(AccessLog).where(AccessLog.resource == "publishing")).all()
    assert reads and all(r.username == "binh" for r in reads) and code in reads[0].detail["codes"]


def test_a_form_without_its_token_is_refused(world: dict[str, Any]) -> None:
    code = answered(world)
    got = sign_in(world["app"], "binh").post(f"/publishing/{code}/approve", data={"question": "a", "answer": "b"})
    assert got.status_code == 400 and world["svc"].publishing.published() == []
