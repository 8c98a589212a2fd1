"""The wallboard's live streams under waitress, configured as ``hotline console`` configures it: capped per user
and in all while sign-in still answers, ended when the user is disabled or may no longer see the floor, and
idle connections closed while streams go on. Real sockets, a real database (SQLite and PostgreSQL); the
monitor's Redis is unreachable here, so every stream says so every ~2 s (as in production while it is away).
"""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from hotline.adapters.db.models import Role, User
from hotline.config.schema import ConsoleSettings
from operator_console import create_app
from operator_console.serving import REQUEST_THREADS, waitress_options
from operator_console.wallboard import ENDED_VI, NOT_ALLOWED_VI, PER_USER_VI, TOTAL_VI, StreamSlots
from tests.unit.test_console import PASSWORD, console_context, console_env, sign_in

IDLE = 5          # [console] idle_seconds for these servers (the least allowed; 60 by default)


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)


@dataclass
class Served:
    app: Flask
    svc: Any
    port: int
    slots: StreamSlots
    cookies: dict[str, str] = field(default_factory=dict)
    opened: list[tuple[http.client.HTTPConnection, http.client.HTTPResponse]] = field(default_factory=list)

    def supervisor(self, name: str) -> str:
        """The Cookie header of ``name``, a supervisor signed in through the sign-in form."""
        if name not in self.cookies:
            self.svc.users.add(name, f"Giám sát viên {name}", Role.SUPERVISOR, PASSWORD)
            cookie = sign_in(self.app, name).get_cookie("session")
            assert cookie is not None
            self.cookies[name] = f"session={cookie.value}"
        return self.cookies[name]

    def get(self, path: str, cookie: str = "", keep: bool = False) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        if keep:                  # the response holds the socket once http.client lets go of it: keep both
            self.opened.append((conn, response))
        else:
            response.read()
            conn.close()
        return response

    def stream(self, name: str) -> http.client.HTTPResponse:
        """Open a wallboard stream of ``name``; a 200 is held open (its first line read), a refusal read."""
        response = self.get("/wallboard/stream", self.supervisor(name), keep=True)
        if response.status == 200:
            assert response.readline() == b"retry: 2000\n"
        return response


@pytest.fixture()
def served(tmp_path: Path, database_url: str) -> Iterator[Served]:
    from waitress.server import create_server
    env = console_env(tmp_path, database_url)
    ctx = console_context(env)
    ctx.settings.console.idle_seconds = IDLE
    app = create_app(ctx)
    server = create_server(app, host="127.0.0.1", port=0, **waitress_options(ctx.settings.console))
    threading.Thread(target=server.run, daemon=True).start()
    site = Served(app, app.extensions["hotline"], int(server.effective_port),
                  app.extensions["hotline.streams"])
    try:
        yield site
    finally:
        for conn, response in site.opened:
            response.close()
            conn.close()
        wait_until(lambda: site.slots.open_count() == 0, 20, "every stream noticed its closed connection")
        server.close()


def read_events(response: http.client.HTTPResponse, seconds: float) -> tuple[list[tuple[str, Any]], float]:
    """The stream's events until the server ends it (or ``seconds`` pass), and when it ended (monotonic)."""
    events: list[tuple[str, Any]] = []
    kind = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = response.readline().decode()
        if not line:
            return events, time.monotonic()
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[6:])))
    return events, float("inf")


def test_hotline_console_gives_waitress_threads_for_the_streams_and_closes_idle_sockets_after_a_minute() -> None:
    options = waitress_options(ConsoleSettings())
    assert options["threads"] == 32 + REQUEST_THREADS and REQUEST_THREADS >= 8
    assert options["channel_timeout"] == 60 and options["cleanup_interval"] <= 10


def test_a_users_fourth_stream_and_the_33rd_in_all_are_refused_while_sign_in_answers(served: Served) -> None:
    for _ in range(3):
        assert served.stream("gs00").status == 200
    fourth = served.stream("gs00")
    assert fourth.status == 429 and fourth.getheader("Retry-After") == "30"
    assert json.loads(fourth.read())["message"] == PER_USER_VI.format(n=3)
    names = [f"gs{n:02d}" for n in range(1, 11)]
    for n in range(29):                                   # 3 + 29 = 32 streams, at most 3 per user
        assert served.stream(names[n // 3]).status == 200, n
    assert served.slots.open_count() == 32
    started = time.monotonic()
    refused = served.stream("gs10")                       # gs10 has 2: refused for the total, not for gs10
    assert refused.status == 503
    assert json.loads(refused.read()) == {"error": "busy", "message": TOTAL_VI.format(n=32)}
    login = served.get("/login")
    assert login.status == 200 and time.monotonic() - started < 5
    assert served.get("/tickets/", served.supervisor("gs00")).status == 200     # pages too, while 32 stream
    for closing in served.opened[0]:                      # a screen closed: its slot comes back
        closing.close()
    wait_until(lambda: served.slots.open_count() == 31, 10, "the closed stream gave its slot back")
    assert served.stream("gs10").status == 200


def test_a_stream_ends_within_10_s_when_its_user_is_disabled_or_may_no_longer_see_the_floor(
        served: Served) -> None:
    disabled, demoted = served.stream("gs00"), served.stream("gs01")
    served.svc.users.set_active("gs00", False)
    started = time.monotonic()
    events, ended = read_events(disabled, 15)
    assert ended - started < 10, events
    assert events[-1] == ("end", {"message": ENDED_VI})
    with served.svc.sessions.begin() as s:               # the role changed without the sessions ending
        s.execute(update(User).where(User.username == "gs01").values(role=Role.OPERATOR))
    started = time.monotonic()
    events, ended = read_events(demoted, 15)
    assert ended - started < 10 and events[-1] == ("end", {"message": NOT_ALLOWED_VI})
    wait_until(lambda: served.slots.open_count() == 0, 5, "the ended streams gave their slots back")
    assert served.stream("gs00").status == 302          # the disabled supervisor's cookie signs nobody in


def test_an_idle_connection_is_closed_while_a_stream_goes_on(served: Served) -> None:
    stream = served.stream("gs00")
    idle = socket.create_connection(("127.0.0.1", served.port), timeout=20)
    started = time.monotonic()
    assert idle.recv(1) == b""                            # closed by the server, nothing sent
    closed = time.monotonic() - started
    idle.close()
    assert IDLE - 0.5 <= closed < IDLE + 5, closed
    events, ended = read_events(stream, 3)               # the stream, older than that, still sends
    assert ended == float("inf") and ("status", {"redis": "down"}) in [(k, {"redis": d.get("redis")})
                                                                        for k, d in events]


def test_a_stream_whose_access_log_row_fails_gives_its_slot_back(tmp_path: Path, database_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    env = console_env(tmp_path, database_url)
    ctx = console_context(env)
    app = create_app(ctx)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    svc, slots = app.extensions["hotline"], app.extensions["hotline.streams"]
    svc.users.add("gs-log", "Giám sát viên", Role.SUPERVISOR, PASSWORD)
    client = sign_in(app, "gs-log")

    def down(*_: Any, **__: Any) -> None:
        raise RuntimeError("the database is down")
    monkeypatch.setattr(svc, "access", down)
    for _ in range(slots.per_user + 1):     # more than the user's slots: none was kept by a failed open
        assert client.get("/wallboard/stream").status_code == 500
    assert slots.open_count() == 0
