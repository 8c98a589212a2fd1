"""The hotline that helps (issue 16), in a real headless Chromium against the console and the public site as
`hotline console` and `hotline public` serve them (waitress), on one real database and the machine's Redis; no
Asterisk needed.

- An operator opens a voicemail ticket: before its transcript there is nothing to suggest; once transcribed, the
  page suggests a category and an agency with their confidence; one click confirms both (never applied silently),
  the ticket is assigned and the confirmation is in its timeline (the training signal).
- The public figures page for a month shows what `hotline report --json` (run as IT staff run it) gives for that
  month; an answer appears only once a supervisor approved it in the console, where a text that still holds a
  phone number is refused; what the citizen wrote about themselves never reaches the page.
Screenshots go to test-artifacts/help/."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pytest

from ari_app.audio import audio_facts
from hotline.adapters.db.models import Role, VoicemailStatus
from hotline.adapters.db.repository import CallRepository
from hotline.domain.clock import fake_clock_env
from hotline.domain.suggest import train
from hotline.services.suggest import CONFIRMED
from tests.support.audio import write_wav
from tests.support.browser import console_and_public, signed_in, site_context
from tests.support.browser import shot as shot_in
from tests.support.stack import ROOT
from tests.unit.test_public_figures import NOW, QUESTION, a_month
from tests.unit.test_suggest import requests, seeds

ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "help"
TRANSCRIPT = "Tôi muốn đăng ký thẻ bảo hiểm y tế hộ gia đình cho cả nhà thì nộp hồ sơ ở đâu"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("help")
    ctx = site_context(tmp, now=NOW.isoformat())
    models = ctx.settings.paths.models
    models.mkdir(parents=True, exist_ok=True)
    # the model the worker's nightly job would have written after the fixture's requests were answered
    joblib.dump(train(seeds() + requests(), NOW), models / "suggest.joblib")
    with console_and_public(ctx, [("lan", "Tổng đài viên Lan", Role.OPERATOR, None),
                                  ("binh", "Giám sát viên Bình", Role.SUPERVISOR, None)]) as served:
        yield served


def shot(page: Any, name: str) -> None:
    shot_in(page, name, ARTIFACTS)


def voicemail_ticket(sites: dict[str, Any]) -> dict[str, Any]:
    """A caller's 4 s message left at night, its ticket made as the ARI app makes it, not yet transcribed."""
    svc, ctx, rec = sites["svc"], sites["ctx"], sites["ctx"].settings.paths.recordings_root
    repo = CallRepository(svc.sessions)
    now = ctx.clock.now()
    repo.start_call("hotline1-77", channel_id="hotline1-77", caller="0913555777", dialled="1022", started_at=now)
    path = rec / "2026/12/07/hotline1-77.voicemail.wav"
    write_wav(path, 4.0)
    vm = repo.add_voicemail("hotline1-77", audio_facts(path, rec), status=VoicemailStatus.PENDING,
                            ended_by="pound", created_at=now)
    ticket = svc.tickets.for_voicemail(vm)
    assert ticket is not None
    return dict(ticket)


def test_an_operator_confirms_the_suggestion_on_a_voicemail_ticket(browser: Any, sites: dict[str, Any]) -> None:
    svc = sites["svc"]
    t = voicemail_ticket(sites)
    operator = signed_in(browser, sites["console"], "lan")
    operator.goto(f"{sites['console']}/tickets/{t['code']}")
    assert operator.locator("#suggestion").count() == 0        # no words yet: nothing to suggest
    svc.tickets.record(t["id"], "worker", "transcribed", {}, content=TRANSCRIPT)    # what the worker's job does
    operator.reload()
    shown = operator.inner_text("#suggestion")
    assert "Bảo hiểm xã hội tỉnh" in shown and "độ tin cậy" in shown, shown
    assert svc.tickets.get(t["code"])["agency"] is None        # shown, never applied silently
    shot(operator, "suggestion")
    operator.click("form.suggestion button[type=submit]")
    operator.wait_for_selector("text=Xác nhận gợi ý phân loại")   # the timeline's line
    assert operator.locator("#suggestion").count() == 0
    after = svc.tickets.get(t["code"])
    assert after["agency"] and after["status"] == "assigned"
    assert svc.tickets.agency(after["agency"]).name in shown
    [event] = [e for e in after["events"] if e["action"] == CONFIRMED]
    assert event["actor"] == "lan" and event["detail"]["agency"] == after["agency"]
    shot(operator, "suggestion-confirmed")


def hotline_report(ctx: Any, first: str, last: str) -> dict[str, Any]:
    """`hotline report --json` as IT staff run it, on the sites' state folder and clock."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "HOTLINE_STATE_DIR": str(ctx.settings.paths.state_dir), "HOTLINE_REDIS_URL": ctx.redis_url,
           **fake_clock_env(NOW)}
    argv = ["report", "--from", first, "--to", last, "--json", "--by", "month"]
    done = subprocess.run([sys.executable, "-c", "from hotline.cli.main import main; main()", *argv], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_the_public_page_gives_the_report_s_figures_and_only_approved_answers(browser: Any,
                                                                              sites: dict[str, Any]) -> None:
    ctx = sites["ctx"]
    codes = a_month(ctx)
    report = hotline_report(ctx, "2026-11-01", "2026-11-30")
    tickets, calls = report["tickets"], report["total"]
    assert tickets["received"] == 7 and calls["surveys"] == 5

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="vi-VN").new_page()
    phone.set_default_timeout(15_000)
    phone.goto(sites["public"] + "/so-lieu?thang=2026-11")
    assert phone.inner_text("#tiep-nhan") == str(tickets["received"])
    assert phone.inner_text("#qua-han") == str(tickets["overdue_open"])
    by_channel = phone.inner_text("#theo-kenh table")
    for key, n in tickets["by_channel"].items():
        assert f"{report['names']['by_channel'][key]}\t{n}" in by_channel, by_channel
    by_agency = phone.inner_text("#theo-co-quan table")
    for a in tickets["agencies"]:
        rate = "—" if a["on_time_rate"] is None else f"{a['on_time_rate'] * 100:.1f}%"
        assert f"{report['names']['agencies'][a['agency']]}\t{a['assigned']}\t{a['answered']}\t{a['on_time']}" \
               f"\t{rate}\t{a['overdue']}" in by_agency, by_agency
    assert f"Hài lòng\t{calls['satisfied_share'] * 100:.1f}%" in phone.inner_text("#hai-long table")
    assert "Chưa có câu trả lời nào được công bố" in phone.inner_text("#tra-loi-cong-khai")
    shot(phone, "figures")

    supervisor = signed_in(browser, sites["console"], "binh")
    supervisor.goto(sites["console"] + "/publishing/")
    card = supervisor.locator(f"#phieu-{codes[0]}")
    assert "Đã lược bỏ:" in card.inner_text() and "0912 345 678" in card.inner_text()     # what was removed, shown
    card.locator("textarea[name=question]").fill(QUESTION)          # the citizen's own words, number and all
    card.locator("button[type=submit]").click()
    supervisor.wait_for_selector("text=Chưa công bố: nội dung vẫn còn số điện thoại")
    shot(supervisor, "publishing-refused")
    phone.reload()
    assert "khai sinh" not in phone.inner_text("#tra-loi-cong-khai")    # refused: still nothing published

    supervisor.goto(sites["console"] + "/publishing/")                # the redacted text, as proposed
    supervisor.locator(f"#phieu-{codes[0]} button[type=submit]").click()
    supervisor.wait_for_selector("text=Đang công bố (1)")
    phone.reload()                  # as a citizen does: the page is kept a minute, a reload asks again
    published = phone.inner_text("#tra-loi-cong-khai")
    assert "hỏi thủ tục đăng ký khai sinh cho con" in published and "[số điện thoại]" in published
    assert "Nguyễn Văn An" not in phone.content() and "0912" not in phone.content()
    shot(phone, "figures-answer")
