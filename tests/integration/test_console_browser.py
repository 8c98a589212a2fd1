"""The console in a real headless Chromium (Playwright), served by waitress as `hotline console` does,
on a real database and the machine's Redis; no Asterisk needed.

A supervisor replays a recording and seeks in it (the browser's range request gets 206, the
AccessLog has it), an operator is refused the same file, a voicemail's ticket appears in an open
inbox within 2 s, the wallboard shows what the monitor publishes (a call-back waiting among the waiting callers, also
counted apart, and a call out going on), and the report draws its chart.
A click on a recording's waveform seeks its player. The softphone's call card shows a caller's earlier
tickets and calls (phone.js's own history script, from the page; ringing a page needs Asterisk: the
softphone's test). Screenshots of the recordings, the inbox, the wallboard, a report and the call card
go to test-artifacts/console/.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ari_app.audio import audio_facts
from hotline.adapters.db.models import AccessLog, Role, VoicemailStatus
from hotline.adapters.db.repository import CallRepository
from tests.support.audio import write_wav
from tests.support.browser import REDIS_URL, console_served, signed_in, site_context

ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "console"
REC = "2026/11/25/hotline1-7.wav"




@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("console")
    with console_served(site_context(tmp), (("binh", Role.SUPERVISOR), ("lan", Role.OPERATOR))) as served:
        yield {**served, "tmp": tmp, "repo": _filled(served["svc"], served["ctx"], tmp)}


def _filled(svc: Any, ctx: Any, tmp: Path) -> CallRepository:
    """A 10-minute recording of a call and a ticket of the same number."""
    now = ctx.clock.now()
    repo = CallRepository(svc.sessions)
    repo.start_call("hotline1-7", channel_id="hotline1-7", caller="0912000777", dialled="1022", started_at=now,
                    answered_at=now)
    write_wav(tmp / "rec" / REC, 600.0)       # 10 minutes (9.6 MB): a seek far in asks for a new range
    repo.add_recording("hotline1-7", audio_facts(tmp / "rec" / REC, tmp / "rec"), now)
    svc.tickets.create(channel="phone", caller="0912000777", content="Hỏi thủ tục đăng ký khai sinh",
                       category="procedures", actor="lan")
    return repo


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_supervisor_replays_and_seeks_an_operator_is_refused(browser: Any, site: dict[str, Any]) -> None:
    page = signed_in(browser, site["url"], "binh")
    statuses: list[tuple[int, str | None]] = []
    page.on("response", lambda r: statuses.append((r.status, r.request.headers.get("range")))
            if "/recordings/file/" in r.url else None)
    page.goto(site["url"] + "/recordings/")
    page.wait_for_selector("audio")
    page.eval_on_selector("audio", "a => { a.preload = 'metadata'; a.load(); }")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
    assert abs(page.eval_on_selector("audio", "a => a.duration") - 600.0) < 0.5
    page.eval_on_selector("audio", "a => { a.currentTime = 540.0; return a.play(); }")
    page.wait_for_function("() => document.querySelector('audio').currentTime > 540.0")
    page.eval_on_selector("audio", "a => a.pause()")
    box = page.locator("[data-wave]").first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)   # a click on the waveform
    page.wait_for_function("() => Math.abs(document.querySelector('audio').currentTime - 150) < 3")
    shot(page, "recordings")
    assert any(status == 206 for status, _r in statuses), statuses
    with site["svc"].sessions() as s:
        logged = [(a.username, a.action, a.resource, (a.detail or {}).get("range"))
                  for a in s.scalars(select(AccessLog).where(AccessLog.action.in_(("play", "download")))
                                     .order_by(AccessLog.id))]
        searched = s.scalars(select(AccessLog.username).where(AccessLog.action == "recording_list")).all()
    assert "binh" in searched                                   # the search page itself is a read (its numbers)
    assert logged and all(u == "binh" and act == "play" and res == REC for u, act, res, _r in logged)
    assert any(r and r.startswith("bytes=") and r != "bytes=0-" for _u, _a, _res, r in logged), logged
    op = signed_in(browser, site["url"], "lan")
    refused = op.goto(site["url"] + f"/recordings/file/{REC}")
    assert refused is not None and refused.status == 403
    assert "Không có quyền truy cập" in op.text_content("h1")


def test_a_voicemail_ticket_appears_in_an_open_inbox_within_2_s(browser: Any, site: dict[str, Any]) -> None:
    page = signed_in(browser, site["url"], "lan")
    page.goto(site["url"] + "/tickets/")
    page.wait_for_selector("#inbox tbody tr")
    svc, repo, tmp = site["svc"], site["repo"], site["tmp"]
    now = site["ctx"].clock.now()
    repo.start_call("hotline1-8", channel_id="hotline1-8", caller="0933444555", dialled="1022", started_at=now)
    write_wav(tmp / "rec" / "2026/11/25/hotline1-8.voicemail.wav", 8.0)
    facts = audio_facts(tmp / "rec" / "2026/11/25/hotline1-8.voicemail.wav", tmp / "rec")
    voicemail = repo.add_voicemail("hotline1-8", facts, status=VoicemailStatus.PENDING, ended_by="pound",
                                   created_at=now)
    started = time.monotonic()
    ticket = svc.tickets.for_voicemail(voicemail)
    assert ticket is not None
    page.wait_for_selector(f"#inbox a:text('{ticket['code']}')", timeout=2_000)
    assert time.monotonic() - started < 2.0
    assert "Hộp thư thoại" in page.text_content("#inbox tbody tr:first-child")
    shot(page, "inbox")


def test_wallboard_shows_what_the_monitor_publishes(browser: Any, site: dict[str, Any]) -> None:
    import redis
    import redis.asyncio as aioredis

    from monitor.publish import LivePublisher
    site["repo"].start_outbound("out-wall", channel_id="out-wall", number="0933000111", operator="op-lan",
                                started_at=site["ctx"].clock.now(), recording_file=None)    # ringing a citizen now
    page = signed_in(browser, site["url"], "binh")
    page.goto(site["url"] + "/wallboard/")
    page.wait_for_selector('#live-state[data-state="up"]')
    snapshot = {"at": "2026-11-25T02:00:05+00:00", "longest_wait": 42, "by_state": {},
                "callbacks_waiting": 1,
                "waiting": [{"caller": "*******678", "wait": 42, "callback": True},
                            {"caller": "0987000111", "wait": 7, "callback": False}],
                "operators": [{"operator": "op-lan", "state": "on_call", "reason": None, "since": None},
                              {"operator": "op-binh", "state": "paused", "reason": "break", "since": None}]}

    async def publish() -> None:
        live = site["ctx"].settings.redis
        publisher = LivePublisher(aioredis.Redis.from_url(REDIS_URL), live.live_channel, "node-a")
        await publisher.publish([{"type": "operator", "operator": "op-binh", "state": "paused"}], snapshot)
        await publisher.close()
    done = threading.Thread(target=lambda: asyncio.run(publish()))   # Playwright's own loop runs in this thread
    done.start()
    done.join(10)
    page.wait_for_selector('#w-ops tr[data-operator="op-binh"][data-state="paused"]')
    assert page.text_content("#w-waiting") == "2" and page.text_content("#w-longest") == "42 giây"
    assert "Tạm nghỉ (nghỉ giải lao)" in page.text_content('#w-ops tr[data-operator="op-binh"]')
    assert page.text_content("#w-callbacks") == "1" and page.text_content("#w-calls-out") == "1"
    assert page.locator("#w-queue li").all_text_contents() == ["Gọi lại *******678 · chờ 42 giây",
                                                               "0987000111 · chờ 7 giây"]
    assert page.locator("#w-queue li.callback").count() == 1
    shot(page, "wallboard")
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.keys(f"{site['ctx'].settings.redis.live_channel}:*"))


def test_the_report_draws_its_chart(browser: Any, site: dict[str, Any]) -> None:
    page = signed_in(browser, site["url"], "binh")
    page.goto(site["url"] + "/reports/?from=2026-11-01&to=2026-11-30")
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart rect").count() >= 1
    shot(page, "report")


def test_the_transcript_follows_the_voicemail_as_it_plays(browser: Any, site: dict[str, Any]) -> None:
    from hotline.adapters.db.models import Voicemail
    svc, repo, tmp = site["svc"], site["repo"], site["tmp"]
    now = site["ctx"].clock.now()
    repo.start_call("hotline1-9", channel_id="hotline1-9", caller="0944555666", dialled="1022", started_at=now)
    path = write_wav(tmp / "rec" / "2026/11/25/hotline1-9.voicemail.wav", 6.0)
    voicemail = repo.add_voicemail("hotline1-9", audio_facts(path, tmp / "rec"), status=VoicemailStatus.PENDING,
                                   ended_by="pound", created_at=now)
    words = [{"word": "xin", "start": 0.4, "end": 1.2, "conf": 0.9}, {"word": "chào", "start": 1.2, "end": 2.4,
             "conf": 0.9}, {"word": "tổng", "start": 3.0, "end": 3.6, "conf": 0.8},
             {"word": "đài", "start": 3.6, "end": 4.4, "conf": 0.8}]
    with svc.sessions.begin() as s:
        vm = s.get(Voicemail, voicemail)
        vm.words, vm.transcript, vm.status = words, "xin chào tổng đài", VoicemailStatus.TRANSCRIBED
    ticket = svc.tickets.for_voicemail(voicemail)
    assert ticket is not None
    page = signed_in(browser, site["url"], "binh")
    page.goto(site["url"] + f"/tickets/{ticket['code']}")
    assert page.locator("#transcript span").all_text_contents() == ["xin", "chào", "tổng", "đài"]
    page.click("#transcript span:text('tổng')")                     # a click on a word plays from there
    page.wait_for_selector("#transcript span.spoken:text('tổng')")
    page.wait_for_selector("#transcript span.spoken:text('đài')", timeout=5_000)   # and it moves on as it plays
    assert page.locator("#transcript span.spoken").count() == 1
    shot(page, "ticket")


def test_the_call_card_shows_the_callers_earlier_tickets_and_calls(browser: Any, site: dict[str, Any]) -> None:
    """What phone.js shows when a call rings (``showHistory``), in the softphone page itself."""
    number, svc, repo = "0977000555", site["svc"], site["repo"]
    for call_id, caller, at, disposition in (
            ("hotline1-50", number, "2026-11-20T08:15:00+07:00", "answered"),
            ("hotline1-51", number, "2026-11-23T16:40:00+07:00", "voicemail"),
            ("hotline1-52", "0988000666", "2026-11-24T10:00:00+07:00", "abandoned_queue"),
            ("hotline1-53", number, "2026-11-25T09:00:00+07:00", "to_queue")):            # the one ringing
        repo.start_call(call_id, channel_id=call_id, caller=caller, dialled="1022",
                        started_at=datetime.fromisoformat(at), disposition=disposition)
    ticket = svc.tickets.create(channel="voicemail", caller=number, content="Hỏi tiến độ cấp phép xây dựng",
                                category="procedures", actor="worker", call_id="hotline1-51",
                                received_at=datetime.fromisoformat("2026-11-23T16:41:00+07:00"))
    svc.tickets.assign(ticket["code"], "department:03", actor="lan")
    page = signed_in(browser, site["url"], "lan")
    page.goto(site["url"] + "/phone/")
    page.wait_for_selector('#reg-state[data-state="failed"]')          # no Asterisk here: nothing rings
    assert "chưa gắn với máy tổng đài viên" in page.text_content("#reg-state")   # and the page says why
    page.evaluate("""async ([number, call]) => {
        const { showHistory } = await import("/static/history.js");
        document.getElementById("call-card").hidden = false;
        document.getElementById("caller").textContent = number;
        await showHistory(document.getElementById("history"), number, call);
    }""", [number, "hotline1-53"])
    page.wait_for_selector('#history[data-loaded="1"]')
    assert page.locator("#history h3").all_text_contents() == ["Phiếu trước đây", "Cuộc gọi trước đây"]
    assert page.locator('#history ul[data-kind="tickets"] li').all_text_contents() == [
        f"{ticket['code']} · Đã chuyển cơ quan có thẩm quyền · 23/11/2026 16:41 · Hỏi tiến độ cấp phép xây dựng"]
    assert page.locator('#history ul[data-kind="calls"] li').all_text_contents() == [
        "23/11/2026 16:40 · Để lại lời nhắn", "20/11/2026 08:15 · Tổng đài viên đã trả lời"]
    assert page.locator("#call-card").is_visible()
    shot(page, "call-card-history")
