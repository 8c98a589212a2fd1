"""Agencies see a caller's number only as its last 3 digits and can never find a ticket by the number
(issue 13, item 5): otherwise ~1,000 scripted searches would recover any masked number. On the console's
real views and API, on SQLite and PostgreSQL (the ``world`` of test_console)."""
from __future__ import annotations

from typing import Any

import pytest

from hotline.adapters.db.models import Role
from operator_console.permissions import mask_number
from tests.unit.test_console import CALLER, sign_in, world  # noqa: F401  (world: the fixture)


@pytest.mark.parametrize(("number", "role", "shown"), [
    ("0912345678", Role.AGENCY, "*******678"),
    ("+84912345678", Role.AGENCY, "*********678"),
    ("02773856123", None, "********123"),
    ("123", Role.AGENCY, "***"),
    ("", Role.AGENCY, ""),
    (None, Role.AGENCY, ""),
    ("0912345678", Role.OPERATOR, "0912345678"),
    ("0912345678", Role.SUPERVISOR, "0912345678"),
    ("0912345678", Role.ADMIN, "0912345678"),
])
def test_the_mask_keeps_only_the_last_three_digits(number: str | None, role: str | None, shown: str) -> None:
    assert mask_number(number, role) == shown


def test_an_agency_never_finds_a_ticket_by_the_callers_number(world: dict[str, Any]) -> None:  # noqa: F811
    app, svc, mine = world["app"], world["svc"], world["mine"]
    agency = sign_in(app, "xd")
    for search in (CALLER, CALLER[:4], "678", f"{CALLER} đường"):
        page = agency.get(f"/tickets/?search={search}").get_data(as_text=True)
        assert mine not in page, search
    assert mine in agency.get("/tickets/?search=đường").get_data(as_text=True)     # its words still find it
    assert mine in agency.get(f"/tickets/?search={mine}").get_data(as_text=True)   # and its code
    token = svc.users.issue_token("xd")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/api/tickets?search={CALLER}", headers=bearer).get_json()["tickets"] == []
    assert [t["code"] for t in api.get("/api/tickets?search=hẻm", headers=bearer).get_json()["tickets"]] == [mine]
    operator = sign_in(app, "lan")                                     # who sees numbers may search by them
    assert mine in operator.get(f"/tickets/?search={CALLER}").get_data(as_text=True)
    supervisor = svc.users.issue_token("binh")
    found = api.get(f"/api/tickets?search={CALLER}", headers={"Authorization": f"Bearer {supervisor}"})
    assert [t["code"] for t in found.get_json()["tickets"]] == [mine]
