"""Repeat callers, probable duplicates, merging and hotspots in a real headless Chromium, on the console served by
waitress as `hotline console` serves it (a real database, the machine's Redis; no Asterisk needed).

A caller with an open ticket leaves a voicemail from the same number written another way: the operator opens the
voicemail's ticket, reads "Người gọi này có 1 yêu cầu đang xử lý" and the probable-duplicate flag, follows its
link, comes back and merges; the kept ticket's timeline holds the message's text. Two like reports of one place
from different citizens are flagged in the inbox. The softphone's call card (phone.js's own history script) shows
the caller's open ticket. A supervisor sees a hotspot of three reports on the wallboard, its place the ward and
the district, not the address written. Screenshots go to test-artifacts/console/.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from ari_app.audio import audio_facts
from hotline.adapters.db.models import Role, VoicemailStatus
from hotline.adapters.db.repository import CallRepository
from hotline.services.tickets import Citizen
from tests.support.audio import write_wav
from tests.support.browser import console_served, shot, signed_in, site_context

NUMBER = "0912000888"
STREET = "Số 12 đường Nguyễn Huệ, phường 1, thành phố Cao Lãnh"
POTHOLE = "Đường Nguyễn Huệ trước nhà số 12 có ổ gà rất lớn, xe máy té ngã nhiều lần"
POTHOLE_AGAIN = "Ổ gà lớn trên đường Nguyễn Huệ gần nhà số 12, rất nguy hiểm cho xe máy"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("duplicates")
    with console_served(site_context(tmp), (("binh", Role.SUPERVISOR), ("lan", Role.OPERATOR))) as served:
        yield {**served, "tmp": tmp, "repo": CallRepository(served["svc"].sessions)}


def voicemail_ticket(site: dict[str, Any], call_id: str, caller: str) -> dict[str, Any]:
    """A caller's message as the IVR leaves it: its call, its audio, its ticket."""
    repo, tmp, now = site["repo"], site["tmp"], site["ctx"].clock.now()
    repo.start_call(call_id, channel_id=call_id, caller=caller, dialled="1022", started_at=now)
    path = write_wav(tmp / "rec" / f"2026/11/25/{call_id}.voicemail.wav", 5.0)
    vm = repo.add_voicemail(call_id, audio_facts(path, tmp / "rec"), status=VoicemailStatus.PENDING,
                            ended_by="pound", created_at=now)
    ticket = site["svc"].tickets.for_voicemail(vm)
    assert ticket is not None
    return dict(ticket)


def test_an_operator_sees_the_repeat_caller_and_the_flag_follows_it_and_merges(browser: Any,
                                                                               site: dict[str, Any]) -> None:
    svc = site["svc"]
    first = svc.tickets.create(channel="phone", caller=NUMBER, content="Đèn đường hẻm 5 Lê Lợi không sáng",
                               category="infrastructure", actor="lan")
    svc.tickets.assign(first["code"], "department:03", actor="lan")
    message = voicemail_ticket(site, "hotline1-70", "84" + NUMBER[1:])     # the same number, another form
    page = signed_in(browser, site["url"], "lan")
    page.goto(site["url"] + f"/tickets/{message['code']}")
    repeat = page.locator("#repeat-caller")
    assert "Người gọi này có 1 yêu cầu đang xử lý" in repeat.inner_text()
    assert repeat.locator("a").all_text_contents() == [first["code"]]
    flag = page.locator("#duplicate-flag")
    assert f"Có thể trùng với phiếu {first['code']} (cùng người gửi)." in flag.inner_text()
    shot(page, "duplicate-flag")
    flag.locator(f"a:text('{first['code']}')").click()                   # the link leads to the other ticket
    page.wait_for_url(site["url"] + f"/tickets/{first['code']}")
    assert page.locator("h1").inner_text().startswith(f"Phiếu {first['code']}")
    assert f"Phiếu có thể trùng với phiếu này: {message['code']}" in page.locator("#related").inner_text()
    page.go_back()
    page.click(f"#duplicate-flag button:text('Gộp phiếu này vào phiếu {first['code']}')")
    page.wait_for_selector("#merged-into")
    assert f"Đã gộp phiếu vào phiếu {first['code']}." in page.inner_text("main")
    assert "Trùng với phản ánh khác" in page.inner_text("h1")
    page.click(f"#merged-into a:text('{first['code']}')")
    page.wait_for_url(site["url"] + f"/tickets/{first['code']}")
    timeline = page.locator(".timeline li").all_inner_texts()
    assert any("Gộp phiếu trùng vào phiếu này · lan" in line and f"từ phiếu {message['code']} (Hộp thư thoại)" in line
               for line in timeline), timeline
    assert message["code"] in page.locator("#related").inner_text()
    shot(page, "merged")
    assert svc.tickets.get(message["code"])["merged_into"] == first["code"]


def test_like_reports_of_one_place_are_flagged_in_the_inbox(browser: Any, site: dict[str, Any]) -> None:
    svc = site["svc"]
    a = svc.tickets.create(channel="web", caller="0933000111", content=POTHOLE, category="infrastructure",
                           citizen=Citizen(address=STREET), actor="web")
    b = svc.tickets.create(channel="web", caller="0944000222", content=POTHOLE_AGAIN, category="infrastructure",
                           citizen=Citizen(address="số 12 Nguyễn Huệ, Phường 1"), actor="web")
    page = signed_in(browser, site["url"], "lan")
    page.goto(site["url"] + "/tickets/")
    row = page.locator("#inbox tbody tr", has=page.locator(f"a:text('{b['code']}')")).first
    assert f"Có thể trùng phiếu {a['code']}" in row.inner_text()
    row.locator(f".dup-flag a:text('{a['code']}')").click()
    page.wait_for_url(site["url"] + f"/tickets/{a['code']}")
    shot(page, "inbox-duplicate")


def test_the_call_card_shows_the_caller_s_open_ticket(browser: Any, site: dict[str, Any]) -> None:
    number = "0977000999"
    ticket = site["svc"].tickets.create(channel="phone", caller=number, content="Hỏi tiến độ cấp sổ đỏ",
                                        category="procedures", actor="lan")
    page = signed_in(browser, site["url"], "lan")
    page.goto(site["url"] + "/phone/")
    page.wait_for_selector('#reg-state[data-state="failed"]')          # no Asterisk here: nothing rings
    page.evaluate("""async ([number, call]) => {
        const { showHistory } = await import("/static/history.js");
        document.getElementById("call-card").hidden = false;
        document.getElementById("caller").textContent = number;
        await showHistory(document.getElementById("history"), number, call);
    }""", ["+84" + number[1:], "hotline1-99"])
    page.wait_for_selector('#history[data-loaded="1"]')
    card = page.locator('#history p[data-kind="open"]')
    assert card.inner_text() == f"Người gọi này có 1 yêu cầu đang xử lý: {ticket['code']}"
    assert card.locator("a").get_attribute("href") == f"/tickets/{ticket['code']}"
    shot(page, "call-card-open")


def test_a_supervisor_sees_the_hotspot_on_the_wallboard(browser: Any, site: dict[str, Any]) -> None:
    svc, now = site["svc"], site["ctx"].clock.now()
    place = "Chợ phường 2, thành phố Sa Đéc"
    codes = [svc.tickets.create(channel="web", caller=f"09{i}5000333", content=f"Rác thải ùn ứ ở chợ, lần {i}",
                                category="public_services", received_at=now - timedelta(days=2 * i),
                                citizen=Citizen(address=place), actor="web")["code"] for i in range(3)]
    page = signed_in(browser, site["url"], "binh")
    page.goto(site["url"] + "/wallboard/")
    spot = page.locator("#w-hotspots li[data-category='public_services']")
    spot.wait_for()
    said = spot.inner_text()
    assert said.startswith("3 phiếu · ") and "Phường 2, Thành phố Sa Đéc" in said and place not in said
    assert spot.locator("a").all_text_contents() == codes
    assert "Điểm nóng 7 ngày qua" in page.inner_text("#w-hotspots-h")
    shot(page, "wallboard-hotspot")
