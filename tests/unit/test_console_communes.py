"""The console with a merged province's directory (samples/dong-thap-2025: 17 departments, 102 communes):
the softphone finds a commune by name without diacritics, the forms list every desk grouped by kind, and
the reports name 100+ agencies."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.config.settings import REPO_ROOT
from hotline.context import load_context
from hotline.domain.clock import fake_clock_env
from hotline.domain.directory import load_directory
from operator_console import create_app
from tests.unit.test_console import OPERATORS, PASSWORD, ROLES, closed_port, sign_in

SAMPLE = REPO_ROOT / "samples" / "dong-thap-2025"


def test_directory_search_ignores_diacritics_and_case() -> None:
    d = load_directory(SAMPLE / "transfer_directory")
    assert [a.name for a in d.search("my tho")] == ["Phường Mỹ Tho", "Xã Mỹ Thọ"]
    assert [a.name for a in d.search("Mỹ Thọ")][0] == "Xã Mỹ Thọ"          # as written first
    assert [a.name for a in d.search("  MY   THO ")] == ["Phường Mỹ Tho", "Xã Mỹ Thọ"]
    assert [a.name for a in d.search("dao thanh")] == ["Phường Đạo Thạnh"]  # đ folds to d
    assert [a.name for a in d.search("tu phap")] == ["Sở Tư pháp"]
    assert [a.code for a in d.search("commune:002")] == ["002"]
    assert [a.code for a in d.search("002")] == ["002"]
    assert d.search("") == [] and d.search("ho my") == []                  # each word starts a word of the name
    assert len(d.search("xa", limit=50)) == 50


@pytest.fixture()
def world(tmp_path: Path, database_url: str) -> dict[str, Any]:
    env = {"HOTLINE_SETTINGS": str(SAMPLE / "province.toml"), "HOTLINE_STATE_DIR": str(tmp_path / "state"),
           "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec"), "HOTLINE_DATABASE_URL": database_url,
           "HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0",
           **fake_clock_env(datetime.fromisoformat("2026-11-25T09:00:00+07:00"))}
    ctx = load_context(env=env)
    ctx.settings.asterisk.ami_port = closed_port()
    app = create_app(ctx, testing=True)
    svc = app.extensions["hotline"]
    for name, role in ROLES.items():
        svc.users.add(name, f"Người dùng {name}", role, PASSWORD, agency="commune:002" if name == "xd" else None,
                      operator=OPERATORS.get(name))
    return {"app": app, "ctx": ctx, "svc": svc}


def test_the_softphone_finds_a_commune_by_name_without_diacritics(world: dict[str, Any]) -> None:
    op = sign_in(world["app"], "lan")
    page = op.get("/phone/").get_data(as_text=True)
    assert 'id="xfer-search"' in page and "<datalist" not in page        # no 121-entry list in the page
    found = op.get("/phone/directory?q=my%20tho").get_json()["agencies"]
    assert found[0] == {"target": "commune:002", "kind": "commune", "code": "002", "name": "Phường Mỹ Tho",
                        "kind_label": "Xã, phường, đặc khu"}
    assert [a["name"] for a in found] == ["Phường Mỹ Tho", "Xã Mỹ Thọ"]
    assert op.get("/phone/directory").get_json() == {"agencies": []}
    assert len(op.get("/phone/directory?q=xa&limit=500").get_json()["agencies"]) == 50
    assert sign_in(world["app"], "xd").get("/phone/directory?q=my").status_code == 403   # agencies have no phone


def test_forms_list_every_desk_grouped_by_kind(world: dict[str, Any]) -> None:
    svc = world["svc"]
    ticket = svc.tickets.create(channel="phone", caller="0912345678", content="Hỏi thủ tục đăng ký hộ tịch",
                                category="procedures", actor="lan")
    sup = sign_in(world["app"], "binh")
    page = sup.get(f"/tickets/{ticket['code']}").get_data(as_text=True)
    assert '<optgroup label="Xã, phường, đặc khu">' in page and '<optgroup label="Sở, ngành">' in page
    assert len(re.findall(r'<option value="commune:\d{3}"', page)) == 102
    assert '<option value="commune:002" >Phường Mỹ Tho (mã 002)</option>' in page
    inbox = sup.get("/tickets/?agency=commune:002").get_data(as_text=True)
    assert '<option value="commune:002" selected>Phường Mỹ Tho (mã 002)</option>' in inbox


def test_reports_name_every_one_of_100_plus_agencies(world: dict[str, Any]) -> None:
    svc, d = world["svc"], world["ctx"].directory
    communes = d.of_kind("commune")
    for agency in communes:
        t = svc.tickets.create(channel="phone", caller="0912345678", content=f"Hỏi {agency.name}",
                               category="procedures", actor="lan")
        svc.tickets.assign(t["code"], f"commune:{agency.code}", actor="lan")
    sup = sign_in(world["app"], "binh")
    text = sup.get("/reports/?from=2026-11-01&to=2026-11-30&by=month").get_data(as_text=True)
    missing = [a.name for a in communes if a.name not in text]
    assert not missing, missing
    csv = sup.get("/reports/export.csv?from=2026-11-01&to=2026-11-30&by=month").get_data(as_text=True)
    assert all(a.name in csv for a in communes)
