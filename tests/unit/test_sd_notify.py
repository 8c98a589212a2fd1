"""sd_notify (hotline/adapters/sd_notify.py, issue 13 item 1): under systemd the processes' heartbeat is
READY=1 once and WATCHDOG=1 on every beat, as datagrams to a real unix socket named in NOTIFY_SOCKET; without
NOTIFY_SOCKET nothing is sent (and nothing is said)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agi.server import FastAGIServer
from hotline.adapters.sd_notify import ENV, Notifier
from hotline.heartbeat import Heartbeat
from tests.support.stack import ROOT


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket standing where systemd's notify socket would, named in NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv(ENV, str(path))
    yield sock
    sock.close()


def _pythonpath() -> str:
    return os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])


def received(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(4096) for _ in range(count)]


def nothing_more(sock: socket.socket) -> bool:
    sock.settimeout(0.3)
    try:
        sock.recv(4096)
    except TimeoutError:
        return True
    return False


def test_the_first_beat_says_ready_and_every_beat_says_watchdog(listener: socket.socket) -> None:
    beat = Heartbeat.from_env(every=0)
    beat.beat()
    beat.beat()
    beat.beat()
    assert received(listener, 4) == [b"READY=1", b"WATCHDOG=1", b"WATCHDOG=1", b"WATCHDOG=1"]
    assert nothing_more(listener)


def test_beats_closer_than_every_send_one_datagram(listener: socket.socket) -> None:
    beat = Heartbeat.from_env(every=60)
    for _ in range(5):
        beat.beat()
    assert received(listener, 2) == [b"READY=1", b"WATCHDOG=1"]
    assert nothing_more(listener)


def test_an_abstract_socket_as_systemd_names_it_with_an_at_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"hotline-test-notify-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    monkeypatch.setenv(ENV, "@" + name)
    try:
        Notifier.from_env().ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_the_agi_servers_serve_loop_says_ready_then_beats(listener: socket.socket) -> None:
    server = FastAGIServer(("127.0.0.1", 0), {}, heartbeat=Heartbeat.from_env(every=0.05))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        assert received(listener, 3) == [b"READY=1", b"WATCHDOG=1", b"WATCHDOG=1"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_process_beating_from_its_event_loop_is_seen_until_it_stops(listener: socket.socket) -> None:
    code = ("import asyncio\nfrom hotline.heartbeat import Heartbeat\n"
            "async def main():\n    task = asyncio.create_task(Heartbeat.from_env(every=0.1).run())\n"
            "    await asyncio.sleep(0.5)\n    task.cancel()\n"
            "asyncio.run(main())\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": _pythonpath()})
    assert done.returncode == 0, done.stderr
    got = received(listener, 4)
    assert got[0] == b"READY=1" and set(got[1:]) == {b"WATCHDOG=1"}
    assert time.monotonic() - started < 60


def test_without_notify_socket_nothing_is_sent_said_or_even_imported(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    try:
        code = ("import sys\nfrom hotline.heartbeat import Heartbeat\nbeat = Heartbeat.from_env(every=0)\n"
                "beat.beat(); beat.beat()\nprint('cysystemd' in sys.modules)\n")
        env = {k: v for k, v in os.environ.items() if k != ENV} | {"PYTHONPATH": _pythonpath()}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "False" and done.stderr == ""
        assert nothing_more(sock)
    finally:
        sock.close()
    assert not Notifier.from_env({}).enabled
