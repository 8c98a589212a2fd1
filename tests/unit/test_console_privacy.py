"""A citizen's data from the console (issue 13, item 8): an admin downloads the archive of everything kept
about a number, in the AccessLog with the admin's name and address; nobody else may; a wrong number is
said so in Vietnamese. On SQLite and PostgreSQL (the ``world`` of test_console)."""
from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from sqlalchemy import select

from hotline.adapters.db.models import AccessLog
from tests.unit.test_console import CALLER, REC, sign_in, world  # noqa: F401  (world: the fixture)


def form_token(client: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/privacy/").get_data(as_text=True))
    assert found
    return found.group(1)


def test_an_admin_downloads_a_citizens_archive_and_it_is_logged(world: dict[str, Any]) -> None:  # noqa: F811
    admin = sign_in(world["app"], "an")
    page = admin.get("/privacy/")
    assert page.status_code == 200 and "Dữ liệu cá nhân của công dân" in page.get_data(as_text=True)
    got = admin.post("/privacy/export", data={"caller": CALLER, "csrf_token": form_token(admin)},
                     environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert got.status_code == 200 and got.mimetype == "application/zip"
    assert got.headers["Content-Disposition"].startswith("attachment; filename=du-lieu-678-")
    with zipfile.ZipFile(io.BytesIO(got.data)) as z:
        assert set(z.namelist()) == {"muc_luc.json", "muc_luc.csv", f"ghi_am/{REC.rsplit('/', 1)[1]}"}
        index = json.loads(z.read("muc_luc.json"))
    [ticket] = index["Phiếu phản ánh, kiến nghị"]
    assert ticket["Mã phiếu"] == world["mine"] and "Đèn ĐƯỜNG" in ticket["Nội dung"]
    with world["svc"].sessions() as s:
        [row] = s.scalars(select(AccessLog).where(AccessLog.action == "export"))
    assert (row.username, row.remote_addr, row.detail["tickets"]) == ("an", "10.0.0.7", [world["mine"]])
    assert CALLER not in json.dumps(row.detail)
    wrong = admin.post("/privacy/export", data={"caller": "x", "csrf_token": form_token(admin)})
    assert wrong.status_code == 400 and "không phải là số điện thoại" in wrong.get_data(as_text=True)


def test_only_admins_may_export(world: dict[str, Any]) -> None:  # noqa: F811
    for name in ("lan", "binh", "xd"):
        client = sign_in(world["app"], name)
        assert client.get("/privacy/").status_code == 403
        assert client.post("/privacy/export", data={"caller": CALLER}).status_code in (400, 403)
