"""Supervision of `hotline up` with real processes: heartbeats (tooling/system/supervisor.py, hotline/heartbeat.py),
the Watchdog that restarts a service that died or stopped answering (tooling/system/watchdog.py), and the
hotline's own Redis under it (tooling/system/services.py OwnRedis), with its append-only file."""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.config.redis_url import own_redis_url
from hotline.heartbeat import ENV, Heartbeat
from tooling.system import supervisor
from tooling.system.services import OwnRedis, redis_server_argv, redis_server_config
from tooling.system.shell import SetupError, is_alive, wait_until
from tooling.system.watchdog import Watchdog

ROOT = Path(__file__).resolve().parents[2]
BEATS = ("import time\nfrom hotline.heartbeat import Heartbeat\nh = Heartbeat.from_env(every=0.1)\n"
         "while True:\n    h.beat()\n    time.sleep(0.05)\n")
HANGS = ("import time\nfrom hotline.heartbeat import Heartbeat\nh = Heartbeat.from_env(every=0.1)\n"
         "end = time.monotonic() + 0.5\nwhile time.monotonic() < end:\n    h.beat()\n    time.sleep(0.05)\n"
         "time.sleep(600)   # the main loop is stuck from here on\n")
ECHO = ("import socket, sys\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\n"
        "while True:\n    c, _ = s.accept()\n    c.sendall(b'pong')\n    c.close()\n")


def spec(name: str, code: str, heartbeat: float | None = 1.0) -> supervisor.ProcessSpec:
    return supervisor.ProcessSpec(name, [sys.executable, "-c", code], {"PYTHONPATH": str(ROOT)}, heartbeat)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_heartbeat_touches_its_file_at_most_every_period(tmp_path: Path) -> None:
    beat = Heartbeat.from_env({ENV: str(tmp_path / "hb" / "ari_app")}, every=60)
    beat.beat()
    first = (tmp_path / "hb" / "ari_app").stat().st_mtime_ns
    os.utime(tmp_path / "hb" / "ari_app", ns=(first - 10**9, first - 10**9))
    beat.beat()     # within the period: not touched again
    assert (tmp_path / "hb" / "ari_app").stat().st_mtime_ns == first - 10**9
    Heartbeat.from_env({}).beat()   # no file named (the test stack, a process run by hand): nothing written


def test_a_child_whose_loop_hangs_is_restarted_and_one_that_beats_is_left_alone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "hotline.supervisor")
    sup = supervisor.Supervisor(tmp_path, poll_interval=0.05, first_backoff=0.1, startup_grace=10)
    sup.start([spec("beats", BEATS), spec("hangs", HANGS)])
    try:
        healthy = wait_until(lambda: sup.pids()["beats"], 5, "the beating child")
        started = time.monotonic()
        wait_until(lambda: sup.restarts()["hangs"] >= 2, 20, "the hung child restarted twice")
        print(f"\nhung child: restarted twice in {time.monotonic() - started:.1f} s (deadline 1 s)")
        assert sup.restarts()["beats"] == 0 and sup.pids()["beats"] == healthy
    finally:
        sup.stop(timeout=5)
    assert "hangs stopped its heartbeat" in caplog.text
    assert (tmp_path / "heartbeat" / "beats").is_file()


def test_a_stopped_child_is_killed_and_restarted(tmp_path: Path) -> None:
    sup = supervisor.Supervisor(tmp_path, poll_interval=0.05, first_backoff=0.1, startup_grace=10)
    sup.start([spec("beats", BEATS)])
    try:
        pid = wait_until(lambda: (tmp_path / "heartbeat" / "beats").exists() and sup.pids()["beats"], 10,
                         "the child's first beat")
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        new = wait_until(lambda: sup.pids()["beats"] not in (None, pid) and sup.pids()["beats"], 10,
                         "a new child")
        print(f"\nstopped child: replaced after {time.monotonic() - stopped:.1f} s (deadline 1 s)")
        assert not is_alive(pid) and new != pid
    finally:
        sup.stop(timeout=5)


def test_a_child_gets_its_startup_grace_before_its_first_beat(tmp_path: Path) -> None:
    sup = supervisor.Supervisor(tmp_path, poll_interval=0.05, first_backoff=0.1, startup_grace=1.5)
    sup.start([spec("silent", "import time; time.sleep(600)", heartbeat=0.3),
               spec("unwatched", "import time; time.sleep(600)", heartbeat=None)])
    started = time.monotonic()
    try:
        wait_until(lambda: sup.restarts()["silent"] >= 1, 10, "the silent child restarted")
        assert time.monotonic() - started >= 1.4
        assert sup.restarts()["unwatched"] == 0
    finally:
        sup.stop(timeout=5)


class EchoService:
    """A real TCP server process that answers "pong": what a Watchdog watches in these tests."""

    name = "echo"

    def __init__(self, port: int, failing_starts: int = 0) -> None:
        self.port, self.failing_starts = port, failing_starts
        self.proc: subprocess.Popen[bytes] | None = None

    def exited(self) -> str | None:
        code = self.proc.poll() if self.proc is not None else 0
        return None if code is None else f"signal {-code}" if code < 0 else f"exit code {code}"

    def answers(self, timeout: float) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                return sock.recv(4) == b"pong"
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def start(self) -> None:
        if self.failing_starts:
            self.failing_starts -= 1
            raise SetupError("cannot start (as the test asks)")
        self.proc = subprocess.Popen([sys.executable, "-c", ECHO, str(self.port)])
        wait_until(lambda: self.answers(0.5), 10, "the echo server")


@pytest.fixture()
def echo() -> Iterator[EchoService]:
    service = EchoService(free_port())
    service.start()
    yield service
    service.kill()


def test_the_watchdog_restarts_a_service_that_died(echo: EchoService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "hotline.watchdog")
    restored = threading.Event()
    steps: list[str] = []

    def before() -> None:      # as a cluster leaves the node out of Kamailio's list: found dead, not yet restarted
        steps.append(f"before restart: answers {echo.answers(0.2)}")

    def after() -> None:
        steps.append(f"after restart: answers {echo.answers(1.0)}")
        restored.set()
    dog = Watchdog(echo, after_restart=after, before_restart=before, poll=0.05, interval=0.2, timeout=0.3, misses=3,
                   retry=0.2)
    dog.start()
    try:
        assert echo.proc is not None
        old = echo.proc.pid
        os.kill(old, signal.SIGKILL)
        assert restored.wait(10)
        assert echo.proc.pid != old and echo.answers(1.0) and dog.restarts == 1
        assert steps == ["before restart: answers False", "after restart: answers True"]
    finally:
        dog.stop()
    detected, back = dog.recoveries[0]
    print(f"\ndied: answered again {back:.2f} s after it was found dead")
    assert "echo died (signal 9); restarting" in caplog.text and "echo answered again after" in caplog.text


def test_the_watchdog_kills_and_restarts_a_service_that_stopped_answering(
        echo: EchoService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "hotline.watchdog")
    echo.failing_starts = 1     # and its first start again fails: tried again
    dog = Watchdog(echo, poll=0.05, interval=0.2, timeout=0.3, misses=3, retry=0.2)
    dog.start()
    try:
        assert echo.proc is not None
        old = echo.proc.pid
        os.kill(old, signal.SIGSTOP)
        stopped = time.monotonic()
        wait_until(lambda: dog.restarts == 1, 10, "the watchdog to restart the stopped service")
        assert echo.proc.pid != old and echo.answers(1.0) and not is_alive(old)
    finally:
        dog.stop()
    detected, back = dog.recoveries[0]
    print(f"\nstopped: detected {detected:.2f} s after its last answer, answering again {back:.2f} s later "
          f"({time.monotonic() - stopped:.2f} s in all)")
    assert 0.5 <= detected <= 3.0
    assert "has not answered for" in caplog.text and "could not be started again" in caplog.text


@pytest.fixture()
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/test installs it)")
    port = free_port()
    (tmp_path / "redis").mkdir()
    password = secrets.token_urlsafe(24)
    subprocess.run(redis_server_argv(port, tmp_path), input=redis_server_config(password), text=True, check=True)
    redis = OwnRedis(own_redis_url(port, password), tmp_path)
    wait_until(lambda: redis.answers(1.0), 20, "our Redis")
    yield redis
    redis.kill()


def test_our_redis_is_found_restarted_when_killed_and_keeps_its_data(own_redis: OwnRedis, tmp_path: Path) -> None:
    import redis as redis_lib

    assert OwnRedis.find(own_redis.url, tmp_path) is not None
    assert OwnRedis.find(own_redis.url, tmp_path / "elsewhere") is None   # a Redis we did not start: not ours
    client = redis_lib.Redis.from_url(own_redis.url)
    client.set("hotline:test:kept", "yes")
    aof = tmp_path / "redis" / "appendonlydir"
    wait_until(lambda: any(b"hotline:test:kept" in f.read_bytes() for f in aof.glob("*.aof")), 10,
               "the write in the append-only file")
    dog = Watchdog(own_redis, poll=0.05, interval=0.2, timeout=0.5, misses=3)
    dog.start()
    try:
        old = own_redis.pid()
        assert old is not None
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: dog.restarts == 1, 20, "our Redis restarted")
        assert own_redis.pid() not in (None, old)
        assert client.get("hotline:test:kept") == b"yes"
        with pytest.raises(redis_lib.AuthenticationError):      # started again with its password
            redis_lib.Redis(host="127.0.0.1", port=own_redis.port).ping()
    finally:
        dog.stop()
        client.close()
    print(f"\nRedis: answered again {dog.recoveries[0][1]:.2f} s after it was found dead")
