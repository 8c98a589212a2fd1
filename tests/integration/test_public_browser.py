"""A citizen's request through the public site's web form, in a real headless Chromium on a phone-sized screen,
to its answer (issue 15): the citizen writes, attaches a photo, sends, sees the code and opens the status page;
an operator finds the ticket in the console's inbox with its channel and the photo, and forwards it; the agency
answers in the console; the citizen's status page shows the answer. The public site and the console are served
by waitress as `hotline public` and `hotline console` serve them, on one real database and the machine's Redis;
no Asterisk needed. Screenshots go to test-artifacts/public/."""
from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hotline.adapters.db.models import Role
from hotline.domain.tickets import codes
from tests.support.browser import console_and_public, signed_in, site_context
from tests.support.browser import shot as shot_in

ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "public"
AGENCY = "department:03"
REQUEST = "Cây xanh trên đường Nguyễn Huệ bị gãy cành, đè lên vỉa hè trước trường tiểu học."
ANSWER = "Công ty Công viên cây xanh đã cắt tỉa và dọn cành gãy sáng 26/11."


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("public")
    ctx = site_context(tmp)
    ctx.settings.public.form_per_hour = 1000      # every test run on this machine shares 127.0.0.1's count
    with console_and_public(ctx, [("lan", "Tổng đài viên Lan", Role.OPERATOR, None),
                                  ("xd", "Đầu mối Sở Xây dựng", Role.AGENCY, AGENCY)]) as served:
        yield {**served, "tmp": tmp}


def shot(page: Any, name: str) -> None:
    shot_in(page, name, ARTIFACTS)


def test_a_citizen_s_web_request_with_a_photo_to_its_answer(browser: Any, sites: dict[str, Any]) -> None:
    photo = sites["tmp"] / "cay-gay.jpg"
    Image.new("RGB", (1600, 1200), (40, 120, 40)).save(photo, "JPEG")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="vi-VN")
    citizen = phone.new_page()
    citizen.set_default_timeout(15_000)
    problems: list[str] = []
    citizen.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    citizen.goto(sites["public"] + "/")
    assert citizen.evaluate("document.documentElement.scrollWidth <= window.innerWidth")    # no sideways scroll
    citizen.fill("#noi_dung", REQUEST)
    citizen.select_option("#linh_vuc", "infrastructure")
    citizen.fill("#dia_chi", "Đường Nguyễn Huệ, phường 1")
    citizen.set_input_files("#anh", str(photo))
    citizen.fill("#dien_thoai", "0918 222 333")
    shot(citizen, "form")
    citizen.click("button[type=submit]")
    code = citizen.wait_for_selector("#ma-phieu").inner_text()
    assert codes.is_valid(code, 7)
    shot(citizen, "receipt")
    citizen.click("#tra-cuu")
    citizen.wait_for_url(f"**/tra-cuu/{code}?k=*")        # the receipt's own link: it shows the answer later
    assert citizen.inner_text("#tinh-trang") == "Mới tiếp nhận"
    assert "0918222333" not in citizen.content() and REQUEST not in citizen.content()
    assert not problems, problems      # no script refused by the CSP, no error

    operator = signed_in(browser, sites["console"], "lan")
    operator.goto(sites["console"] + "/tickets/?channel=web")
    row = operator.wait_for_selector(f"text={code}")
    assert "Cổng thông tin" in operator.inner_text("main")
    row.click()
    operator.wait_for_url(f"**/tickets/{code}")
    files = operator.eval_on_selector_all(f"a[href*='/tickets/{code}/files/'], img[src*='/tickets/{code}/files/']",
                                          "els => els.map(e => e.href || e.src)")
    assert files, "the ticket page shows no photo"
    got = operator.request.get(files[0])
    assert got.status == 200 and got.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(got.body())).size == (1600, 1200)
    assert "Người dân qua Cổng thông tin" in operator.inner_text("main")      # who made it, in the timeline
    shot(operator, "ticket")
    operator.select_option("select[name=agency]", AGENCY)
    operator.click("form[action$='/assign'] button[type=submit]")
    operator.wait_for_selector("text=Đã chuyển cơ quan có thẩm quyền")

    agency = signed_in(browser, sites["console"], "xd")
    agency.goto(f"{sites['console']}/tickets/{code}")
    agency.fill("textarea[name=text]", ANSWER)
    agency.click("form[action$='/answer'] button[type=submit]")
    agency.wait_for_selector("text=Đã có kết quả trả lời")

    citizen.reload()
    assert citizen.inner_text("#tinh-trang") == "Đã có kết quả trả lời"
    assert citizen.inner_text("#tra-loi") == ANSWER
    assert re.search(r"Sở Xây dựng", citizen.inner_text("#co-quan")), citizen.inner_text("#co-quan")
    shot(citizen, "status-answered")
