"""200 sign-ins at once against the real ``hotline console`` process (waitress, as served in production):
its memory stays within argon2's slots, every browser gets an answer, and those that found no slot are told
in Vietnamese to try again. Each argon2id check takes 64 MiB; without the slots, 32 parallel POSTs took
~2 GiB and both cores Asterisk needs (issue 13)."""
from __future__ import annotations

import html
import http.client
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from hotline.adapters.db.models import Role
from hotline.context import load_context
from operator_console.signin import BUSY_VI
from tests.support.cli import console_env, console_services, running_console
from tests.unit.test_console import PASSWORD

pytestmark = pytest.mark.real_password_hashing      # its user's hash must cost what production's does
CLIENTS = 200
ARGON2_MIB = 64
#: Beyond the slots' argon2 memory: 200 sockets, the request threads' work, the allocator's slack.
OVERHEAD_MIB = 64


def _status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    assert found, f"{field} in /proc/{pid}/status"
    return int(found.group(1))


def _login_form(port: int) -> tuple[str, str]:
    """The session cookie and the CSRF token of a fresh sign-in page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    body = page.read().decode()
    conn.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', body)
    cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
    assert page.status == 200 and token and cookie.startswith("session="), (page.status, cookie)
    return cookie, token.group(1)


def _sign_in(port: int, cookie: str, token: str, username: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/login", body=urlencode({"username": username, "password": PASSWORD, "csrf_token": token}),
                 headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    body = answer.read().decode()
    conn.close()
    return answer.status, body


def test_200_parallel_sign_ins_keep_the_consoles_memory_within_its_argon2_slots(tmp_path: Path) -> None:
    env = console_env(tmp_path)
    slots = load_context(env=env).settings.console.hashing_slots
    console_services(env).users.add("qt.admin", "Quản trị viên", Role.ADMIN, PASSWORD)
    with running_console(env) as (url, console):
        port = int(url.rsplit(":", 1)[1])
        status, _ = _sign_in(port, *_login_form(port), "qt.admin")      # one argon2 check: its memory is known
        assert status == 302
        before = _status_kib(console.pid, "VmHWM")

        forms = [_login_form(port) for _ in range(CLIENTS)]
        answers: list[tuple[int, str] | BaseException] = []
        start = threading.Barrier(CLIENTS)

        def client(cookie: str, token: str) -> None:
            start.wait()
            try:
                answers.append(_sign_in(port, cookie, token, "qt.admin"))
            except BaseException as exc:     # noqa: BLE001 - a refused or reset connection is the finding
                answers.append(exc)
        threads = [threading.Thread(target=client, args=form) for form in forms]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        took = time.monotonic() - began
        peak = _status_kib(console.pid, "VmHWM")
    failed = [a for a in answers if isinstance(a, BaseException)]
    assert len(answers) == CLIENTS and not failed, failed[:3]
    statuses = [a[0] for a in answers if not isinstance(a, BaseException)]
    signed_in, busy = statuses.count(302), statuses.count(503)
    assert signed_in + busy == CLIENTS, sorted(set(statuses))
    assert signed_in >= slots and busy > 0
    assert all(html.escape(BUSY_VI) in body or BUSY_VI in body
               for code, body in (a for a in answers if not isinstance(a, BaseException)) if code == 503)
    grown_mib = (peak - before) / 1024
    bound = slots * ARGON2_MIB + OVERHEAD_MIB
    print(f"\n{CLIENTS} sign-ins at once in {took:.1f} s: {signed_in} signed in, {busy} told to try again; "
          f"peak memory {before / 1024:.0f} → {peak / 1024:.0f} MiB (+{grown_mib:.0f}, bound {bound} MiB)")
    assert grown_mib <= bound
