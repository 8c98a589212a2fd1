"""The console's repeat callers, probable duplicates, merges and hotspots, through Flask's test client: a ticket's
page lists its caller's other open tickets and its duplicate flag with links, the inbox marks the flag, a merge
from the page joins the duplicate onto the kept ticket; the softphone's card gets the caller's open tickets
whatever way the number is written; the wallboard, the report page, its CSV and ``hotline report`` list the
hotspots in Vietnamese. On SQLite and PostgreSQL (``database_url``).
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from click.testing import CliRunner

from hotline.cli.main import main
from hotline.services.tickets import Citizen
from tests.unit.test_console import console_env, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

POTHOLE = "Đường Nguyễn Huệ trước nhà số 12 có ổ gà rất lớn, xe máy té ngã nhiều lần"
STREET = "Số 12 đường Nguyễn Huệ, phường 1, thành phố Cao Lãnh"


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_repeat_caller_s_ticket_page_lists_their_open_tickets_and_its_flag(world: dict[str, Any]) -> None:
    svc = world["svc"]
    again = svc.tickets.create(channel="voicemail", caller="+84912345678", content="Đèn đường vẫn chưa sửa")
    assert again["duplicate_of"] == world["mine"] and again["duplicate_reason"] == "caller"
    op = sign_in(world["app"], "lan")
    page = op.get(f"/tickets/{again['code']}").get_data(as_text=True)
    words = text_of(page)
    assert "Người gọi này có 1 yêu cầu đang xử lý" in words
    assert f'href="/tickets/{world["mine"]}"' in page
    assert f"Có thể trùng với phiếu {world['mine']} (cùng người gửi)" in words
    assert f"Gộp phiếu này vào phiếu {world['mine']}" in words
    inbox = op.get("/tickets/").get_data(as_text=True)
    assert f"Có thể trùng phiếu {world['mine']}" in text_of(inbox)
    kept = text_of(op.get(f"/tickets/{world['mine']}").get_data(as_text=True))
    assert f"Phiếu có thể trùng với phiếu này: {again['code']}" in kept
    agency = text_of(sign_in(world["app"], "xd").get(f"/tickets/{world['mine']}").get_data(as_text=True))
    assert "yêu cầu đang xử lý" not in agency and "có thể trùng" not in agency.lower()


def test_a_merge_from_the_page_closes_the_duplicate_and_joins_its_content(world: dict[str, Any]) -> None:
    svc = world["svc"]
    app = world["app"]
    app.config["WTF_CSRF_ENABLED"] = False
    again = svc.tickets.create(channel="voicemail", caller="0912345678", content="Đèn đường vẫn chưa sửa, tối om")
    op = sign_in(app, "lan")
    done = op.post(f"/tickets/{again['code']}/merge", data={"into": world["mine"]}, follow_redirects=True)
    words = text_of(done.get_data(as_text=True))
    assert f"Đã gộp phiếu vào phiếu {world['mine']}." in words
    assert f"Phiếu này đã được gộp vào phiếu {world['mine']}" in words
    assert svc.tickets.get(again["code"])["status"] == "duplicate"
    kept = text_of(op.get(f"/tickets/{world['mine']}").get_data(as_text=True))
    assert f"Gộp phiếu trùng vào phiếu này · lan — từ phiếu {again['code']} (Hộp thư thoại): " \
           "Đèn đường vẫn chưa sửa, tối om" in kept
    assert "Phiếu đã gộp vào phiếu này:" in kept
    refused = op.post(f"/tickets/{world['other']}/merge", data={"into": "0000000"}, follow_redirects=True)
    assert "Không thực hiện được: Không có phiếu mã 0000000." in text_of(refused.get_data(as_text=True))


def test_the_call_card_gets_the_caller_s_open_tickets_whatever_the_number_s_form(world: dict[str, Any]) -> None:
    op = sign_in(world["app"], "lan")
    got = op.get("/phone/history?number=84912345678").get_json()
    assert [t["code"] for t in got["open"]] == [world["mine"]]
    assert got["open"][0]["status_vi"] == "Đã chuyển cơ quan có thẩm quyền"
    assert op.get("/phone/history?number=0900000000").get_json()["open"] == []


def test_the_wallboard_the_report_page_and_the_command_list_the_hotspots(world: dict[str, Any]) -> None:
    svc, ctx = world["svc"], world["ctx"]
    now = ctx.clock.now()
    codes = [svc.tickets.create(channel="web", caller=f"09{i}1000222", content=POTHOLE, category="infrastructure",
                                received_at=now - timedelta(days=i, hours=1), citizen=Citizen(address=STREET))["code"]
             for i in range(3)]
    sup = sign_in(world["app"], "binh")
    wall = sup.get("/wallboard/").get_data(as_text=True)
    words = text_of(wall)
    assert "Điểm nóng 7 ngày qua (từ 3 phiếu cùng lĩnh vực, cùng địa điểm)" in words
    place = "Đường Nguyễn Huệ, Phường 1, Thành phố Cao Lãnh"      # the address's street and ward, never the address
    assert f"3 phiếu · {ctx.categories.get('infrastructure').name} · {place}" in words and STREET not in words
    assert all(f'href="/tickets/{c}"' in wall for c in codes)
    report = text_of(sup.get("/reports/").get_data(as_text=True))
    assert "Điểm nóng: từ 3 phiếu cùng lĩnh vực, cùng địa điểm trong 7 ngày" in report
    assert place in report and STREET not in report and ", ".join(codes) in report
    csv = sup.get("/reports/export.csv").get_data(as_text=True)
    assert place in csv and STREET not in csv
    env = console_env(world["tmp"], ctx.settings.database.url)
    said = CliRunner().invoke(main, ["report", "--from", "2026-11-19", "--to", "2026-11-25"], env=env)
    assert said.exit_code == 0, said.output
    assert "Điểm nóng: từ 3 phiếu cùng lĩnh vực, cùng địa điểm trong 7 ngày đến 25/11/2026 09:00" in said.output
    assert place in said.output and STREET not in said.output and ", ".join(codes) in said.output
    as_json = CliRunner().invoke(main, ["report", "--from", "2026-11-19", "--to", "2026-11-25", "--json"], env=env)
    [spot] = json.loads(as_json.output)["hotspots"]["rows"]
    assert (spot["category"], spot["count"], spot["codes"], spot["place"]) == ("infrastructure", 3, codes, place)
