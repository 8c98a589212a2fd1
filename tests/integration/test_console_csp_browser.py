"""The console's Content-Security-Policy and framing in a real headless Chromium, as a province's security
officer checks them (issue 13): the real ``hotline console`` process on SQLite, no Asterisk, no Redis.

- The sign-in page and, signed in, the inbox, a ticket, the wallboard and the softphone load with no CSP
  violation reported by the browser, and each says ``frame-ancestors 'none'``; the pages' own scripts run
  (the inbox polls, the wallboard's stream answers, the softphone opens its SIP WebSocket: ``connect-src``).
- A script injected into any of them without the page's nonce (a stored XSS's, or Playwright's own
  ``add_script_tag``) is refused: the browser reports the violation and the script's side effect never happens.
- A page of another origin cannot show the console in a frame: Chromium refuses it (frame-ancestors), the
  frame holds no sign-in form, while the same page's frame of its own origin loads.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from hotline.adapters.db.models import Role
from tests.support.browser import MEDIA_ARGS, chromium_page, sign_in
from tests.support.cli import console_env, console_services, free_port, running_console

PASSWORD = "mật-khẩu-thử-nghiệm"
#: In every page before its own scripts (Playwright's init script, which CSP does not govern): each violation
#: the page reports goes to the browser's console, where the test reads it.
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
  console.log(`csp-violation ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"""
#: What an attacker's injected script would do; it must never happen.
INJECTED = "document.documentElement.dataset.injected = 'ran';"


def _violation(message: Any) -> bool:
    return str(message.text).startswith("csp-violation")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("console-csp")
    # the softphone's SIP WebSocket: a port of its own where nothing answers (never another stack's Asterisk)
    env = console_env(tmp, HOTLINE_SIP_WEBSOCKET_URL=f"ws://127.0.0.1:{free_port()}/ws")
    svc = console_services(env)
    svc.users.add("binh", "Lê Văn Bình", Role.SUPERVISOR, PASSWORD)
    svc.users.add("lan", "Trần Thị Lan", Role.OPERATOR, PASSWORD, operator="op-lan")
    ticket = svc.tickets.create(channel="phone", caller="0912345678", content="Hỏi thủ tục đăng ký khai sinh",
                                category="procedures", actor="lan")
    with running_console(env) as (url, _process):
        yield {"url": url, "ticket": ticket["code"], "websocket": env["HOTLINE_SIP_WEBSOCKET_URL"]}


@pytest.fixture()
def page() -> Iterator[Any]:
    with chromium_page("csp", *MEDIA_ARGS, permissions=("microphone",)) as p:
        p.add_init_script(REPORT_VIOLATIONS)
        yield p


def _check_page(page: Any, url: str, ready: str) -> None:
    """``url`` loads with frame-ancestors 'none' and no violation; a script injected into it is refused."""
    seen: list[str] = []

    def record(message: Any) -> None:
        seen.append(message.text)
    page.on("console", record)
    answer = page.goto(url)
    assert answer is not None and answer.ok, (url, answer and answer.status)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy, (url, policy)
    assert answer.headers["x-frame-options"] == "DENY"
    page.wait_for_selector(ready, state="attached")
    assert not [t for t in seen if t.startswith("csp-violation") or "Content Security Policy" in t], (url, seen)
    # an injected inline script (no nonce), as a stored XSS would place it: the browser refuses it
    with page.expect_console_message(_violation) as refused:
        page.evaluate("(code) => { const s = document.createElement('script'); s.text = code;"
                      " document.body.append(s); }", INJECTED)
    assert "script-src" in refused.value.text and " inline " in refused.value.text, refused.value.text
    assert page.evaluate("() => document.documentElement.dataset.injected") is None
    violations = [t for t in seen if t.startswith("csp-violation")]
    assert violations == [refused.value.text], (url, violations)
    page.remove_listener("console", record)


def test_the_sign_in_page_and_a_supervisors_pages_load_without_a_csp_violation(
        page: Any, console: dict[str, str]) -> None:
    url = console["url"]
    _check_page(page, url + "/login", "input[name=username]")
    sign_in(page, url, "binh", PASSWORD)
    with page.expect_request(lambda r: "/tickets/latest" in r.url):      # the inbox's own (nonced) script runs
        _check_page(page, url + "/tickets/", "#inbox")
    _check_page(page, url + f"/tickets/{console['ticket']}", "main h1")
    _check_page(page, url + "/wallboard/", '#live-state:not([data-state="connecting"])')   # its stream answered


def test_the_softphone_loads_and_reaches_its_sip_websocket_without_a_csp_violation(
        page: Any, console: dict[str, str]) -> None:
    url = console["url"]
    sign_in(page, url, "lan", PASSWORD)
    with page.expect_websocket(lambda ws: ws.url.startswith(console["websocket"])):   # connect-src lets it
        _check_page(page, url + "/phone/", "#reg-state")


def test_playwrights_own_script_tag_without_the_nonce_is_refused(page: Any, console: dict[str, str]) -> None:
    page.goto(console["url"] + "/login")
    with page.expect_console_message(_violation) as refused, pytest.raises(PlaywrightError) as failed:
        page.add_script_tag(content=INJECTED)
    assert "violates the following Content Security Policy directive 'script-src" in failed.value.message
    assert "script-src" in refused.value.text
    assert page.evaluate("() => document.documentElement.dataset.injected") is None


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:     # noqa: A002 - the base class's name
        pass


@pytest.fixture()
def other_origin(tmp_path: Path, console: dict[str, str]) -> Iterator[str]:
    """Another site (its own port: another origin) whose page frames the console's sign-in page."""
    (tmp_path / "own.html").write_text("<!doctype html><meta charset=\"utf-8\"><p id=own>trang của trang khác</p>")
    (tmp_path / "frame.html").write_text(
        "<!doctype html><meta charset=\"utf-8\"><title>Trang khác</title>"
        f'<iframe id="console" src="{console["url"]}/login"></iframe>'
        '<iframe id="own" src="/own.html"></iframe>')
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/frame.html"
    finally:
        server.shutdown()
        server.server_close()


def test_another_origins_page_cannot_frame_the_console(page: Any, console: dict[str, str], other_origin: str) -> None:
    with page.expect_console_message(lambda m: "frame-ancestors 'none'" in m.text) as refused:
        page.goto(other_origin)
    assert f"Framing '{console['url']}/' violates" in refused.value.text, refused.value.text
    page.wait_for_load_state("load")
    own = page.frame_locator("#own").locator("#own")
    assert own.text_content() == "trang của trang khác"           # this page's own frame loads
    framed = page.frame_locator("#console")
    assert framed.locator("input[name=username]").count() == 0
    frame = page.query_selector("#console").content_frame()
    assert frame is not None and not frame.url.startswith(console["url"]), frame.url
