"""The console of a test stack in a real headless Chromium (Debian's, driven by Playwright).

`hotline console` runs as its own process on the stack's clock and database, as `hotline up`
runs it; the browser signs in through the login form like a person.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright  # part of requirements.lock: missing, the run fails

from .stack import Stack, wait_for

CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "console"
#: What a softphone page needs: a fake microphone, granted without asking.
MEDIA_ARGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--disable-features=WebRtcHideLocalIpsWithMdns")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def serve_console(stack: Stack) -> Iterator[str]:
    """`hotline console` of the stack on a free port; yields its URL."""
    port = _free_port()
    stack.start_proc("console", stack.app_env, argv=[sys.executable, "-m", "hotline.cli.main", "console", "--port",
                                                     str(port)])
    try:
        wait_for(lambda: _answers(port), 20, "the console to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        stack.kill("console")


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """A new headless Chromium (Debian's, through Playwright), closed on the way out."""
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"no Chromium at {CHROMIUM}: scripts/test installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=[*args, "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser
        finally:
            browser.close()


def serve_app(app: Any, threads: int = 8) -> tuple[str, Any]:
    """A Flask app served by waitress in a thread on a free port, as `hotline console` and `hotline public` serve
    theirs: (its URL, the server to close)."""
    from waitress.server import create_server
    server = create_server(app, host="127.0.0.1", port=_free_port(), threads=threads)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}", server


@contextmanager
def chromium_page(log_name: str, *args: str, permissions: tuple[str, ...] = ()) -> Iterator[Any]:
    """A page of a new headless Chromium at 1366×768, in Vietnamese; its console goes to ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium(*args) as browser, (ARTIFACTS / f"{log_name}-browser.log").open("a", encoding="utf-8") as log:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN",
                                      permissions=list(permissions))
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: _write(log, f"{m.type}: {m.text}\n"))
        try:
            yield page
        finally:
            context.close()


def _write(log: Any, line: str) -> None:
    log.write(line)


def sign_in(page: Any, url: str, username: str, password: str) -> None:
    """The login form, as a person fills it."""
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: not u.split("?")[0].endswith("/login"))


def shot(page: Any, name: str, folder: Path = ARTIFACTS) -> None:
    """A full-page screenshot ``name``.png in ``folder`` (default test-artifacts/console)."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@contextmanager
def console_and_public(ctx: Any, users: list[tuple[str, str, Any, str | None]]) -> Iterator[dict[str, Any]]:
    """The console and the public site of ``ctx`` served side by side, with ``users`` (username, full name, role,
    agency) added, each with PASSWORD: {"console": URL, "public": URL, "ctx": ctx, "svc": the console's services}."""
    from operator_console import create_app as console_app
    from public_site import create_app as public_app
    console = console_app(ctx)
    svc = console.extensions["hotline"]
    for username, full_name, role, agency in users:
        svc.users.add(username, full_name, role, PASSWORD, agency=agency)
    public_url, public = serve_app(public_app(ctx))
    console_url, console_server = serve_app(console)
    try:
        yield {"public": public_url, "console": console_url, "ctx": ctx, "svc": svc}
    finally:
        public.close()
        console_server.close()


@contextmanager
def console_served(ctx: Any, users: tuple[tuple[str, Any], ...]) -> Iterator[dict[str, Any]]:
    """The console of ``ctx`` served alone, with ``users`` (username, role) added as "Người dùng <username>",
    each with PASSWORD: {"url": its URL, "svc": its services, "ctx": ctx}."""
    from operator_console import create_app
    app = create_app(ctx)
    svc = app.extensions["hotline"]
    for username, role in users:
        svc.users.add(username, f"Người dùng {username}", role, PASSWORD)
    url, server = serve_app(app)
    try:
        yield {"url": url, "svc": svc, "ctx": ctx}
    finally:
        server.close()


#: the password of the users the browser tests add
PASSWORD = "mật-khẩu-thử-nghiệm"


def signed_in(browser: Any, url: str, username: str, password: str = PASSWORD) -> Any:
    """A new page of its own (1366×768, Vietnamese) in ``browser``, signed in to the console at ``url``."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN").new_page()
    page.set_default_timeout(15_000)
    sign_in(page, url, username, password)
    return page


#: the machine's Redis (database 13), which the browser tests without a stack share
REDIS_URL = "redis://127.0.0.1:6379/13"


def site_context(tmp: Path, now: str = "2026-11-25T09:00:00+07:00") -> Any:
    """The settings of a console or public site served in a browser test: its state and recordings under
    ``tmp``, the machine's Redis, the clock at ``now``, a live channel of its own (others run beside it)."""
    import uuid
    from datetime import datetime

    from hotline.context import load_context
    from hotline.domain.clock import fake_clock_env
    ctx = load_context(env={"HOTLINE_STATE_DIR": str(tmp / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp / "rec"),
                            "HOTLINE_REDIS_URL": REDIS_URL, **fake_clock_env(datetime.fromisoformat(now))})
    ctx.settings.redis.live_channel = f"test:live:{uuid.uuid4().hex}"
    return ctx
