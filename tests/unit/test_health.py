"""Each health check against the real thing where it can run here (a Redis of the test's own, RQ workers
registered in it, SQLite, a listening socket, the disk), the deadline that keeps `hotline status` quick when
a part hangs, the cache that keeps /healthz cheap, and what /healthz may show to anyone."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue, Worker

from hotline.adapters.ami import AmiClient
from hotline.adapters.db.spool import Spool, SpooledWrite
from hotline.domain.vocabulary import live_beat_key
from hotline.services import health
from hotline.services.health import (
    CachedHealth,
    Check,
    HealthProbe,
    Report,
    check_agi,
    check_asterisk_and_app,
    check_database,
    check_disk,
    check_monitor,
    check_redis,
    check_spool,
    check_worker,
    health_engine,
)
from tests.support.redis_server import free_port, redis_server


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        found = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        yield found
        found.close()


def nowhere() -> redis.Redis:
    return redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5)


def test_agi_is_up_while_its_port_accepts(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert check_agi("127.0.0.1", server.getsockname()[1]).ok
    down = check_agi("127.0.0.1", free_port())
    assert not down.ok and "nothing accepts" in down.problems[0]


def test_asterisk_and_the_app_are_down_together_when_ami_does_not_answer() -> None:
    started = time.monotonic()
    found = check_asterisk_and_app(AmiClient("127.0.0.1", free_port(), "hotline", "x", timeout=1), "hotline")
    assert [(c.name, c.ok) for c in found] == [("asterisk", False), ("ari_app", False)]
    assert "does not answer on AMI" in found[0].problems[0] and time.monotonic() - started < 3


def test_the_app_is_connected_while_asterisk_lists_its_websocket_session_up() -> None:
    sessions = ("Connection ID                         Type            RemoteAddr                       State Apps\n"
                "------------------------------------- --------------- -------------------------------- ----- ----\n"
                "3528b588-71b4-4dbb-a347-44ac052bc12a  inbound         127.0.0.1:60660                  Up    {apps}")
    assert health.app_connected(sessions.format(apps="hotline"), "hotline")
    assert health.app_connected(sessions.format(apps="bench,hotline"), "hotline")
    assert not health.app_connected(sessions.format(apps="hotline-bench"), "hotline")
    assert not health.app_connected(sessions.format(apps="hotline").replace(" Up ", " Down "), "hotline")
    assert not health.app_connected(sessions.splitlines()[0], "hotline")


def test_the_monitor_is_alive_while_its_beat_is_fresh(client: redis.Redis) -> None:
    channel = "test:health:live"
    assert not check_monitor(client, channel, time.time()).ok                      # never written
    client.set(live_beat_key(channel), f"{time.time() - 3:.3f}")
    fresh = check_monitor(client, channel, time.time())
    assert fresh.ok and 2 <= fresh.facts["snapshot_age_seconds"] <= 5
    stale = check_monitor(client, channel, time.time() + health.MONITOR_STALE)
    assert not stale.ok and "last written" in stale.problems[0]
    assert not check_monitor(nowhere(), channel, time.time()).ok


def register(client: redis.Redis, queue: str, name: str, pid: int) -> Worker:
    worker = Worker([Queue(queue, connection=client)], connection=client, name=name)
    worker.register_birth()
    client.hset(worker.key, "pid", pid)
    return worker


def test_a_worker_counts_while_its_process_lives_and_the_queue_depth_is_read(client: redis.Redis) -> None:
    queue = "test-health-q"
    assert check_worker(client, queue).facts == {"workers": 0, "queued_jobs": 0}
    assert not check_worker(client, queue).ok
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    register(client, queue, "killed", dead.pid)          # SIGKILLed: still registered in Redis, no process
    assert check_worker(client, queue).facts["workers"] == 0
    register(client, queue, "alive", os.getpid())
    Queue(queue, connection=client).enqueue("os.getcwd")
    found = check_worker(client, queue)
    assert found.ok and found.facts == {"workers": 1, "queued_jobs": 1}
    assert not check_worker(nowhere(), queue).ok


def test_redis_answers_with_its_version(client: redis.Redis) -> None:
    assert check_redis(client).ok and check_redis(client).facts["version"]
    assert not check_redis(nowhere()).ok


def test_the_database_answers_select_1_or_is_down_within_its_timeout(tmp_path: Path) -> None:
    assert check_database(health_engine(f"sqlite:///{tmp_path}/hotline.db")).ok
    started = time.monotonic()
    down = check_database(health_engine(f"postgresql://hotline@127.0.0.1:{free_port()}/hotline", timeout=1))
    assert not down.ok and "does not answer" in down.problems[0] and time.monotonic() - started < 3


def test_disk_below_min_free_mb_is_a_problem(tmp_path: Path) -> None:
    assert check_disk(tmp_path, 0).ok
    low = check_disk(tmp_path, 10 ** 9)
    assert not low.ok and "no message can be taken" in low.problems[0] and low.facts["free_mb"] > 0
    assert not check_disk(tmp_path / "missing", 0).ok


def test_the_call_log_spool_depth_its_oldest_write_and_refused_writes(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    assert check_spool(tmp_path, now).facts == {"depth": 0, "oldest_seconds": None, "rejected": 0}
    spool = Spool(tmp_path)
    for call in ("hotline1-1", "hotline1-2", "hotline1-3"):
        spool.append(SpooledWrite(spool.reserve(), "update", (call,), {"disposition": "voicemail"}, call))
    found = check_spool(tmp_path, datetime.now(UTC))
    assert found.ok and found.facts["depth"] == 3 and found.facts["oldest_seconds"] < 5
    late = check_spool(tmp_path, datetime.now(UTC) + timedelta(seconds=health.SPOOL_STALE + 1))
    assert not late.ok and "wait for the database" in late.problems[0]
    first = spool.first()
    assert first is not None
    spool.reject(first, "a value the database refuses")
    refused = check_spool(tmp_path, datetime.now(UTC))
    assert not refused.ok and refused.facts["rejected"] == 1 and "refused by the database" in refused.problems[0]
    spool.close()


def test_a_check_that_hangs_is_down_at_the_deadline_and_the_others_answer(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.context import load_context
    ctx = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_RECORDINGS_ROOT": str(tmp_path),
                            "HOTLINE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                            "HOTLINE_AMI_PORT": str(free_port()), "HOTLINE_AGI_PORT": str(free_port())})

    def hangs(_engine: Any) -> Check:
        time.sleep(5)
        return Check("database", True)
    monkeypatch.setattr(health, "check_database", hangs)
    started = time.monotonic()
    report = HealthProbe(ctx.settings, ctx.secrets, ctx.clock.now, deadline=1.0).run()
    assert time.monotonic() - started < 2.0
    assert list(report.checks) == list(health.COMPONENTS) and not report.ok
    assert report.checks["database"].problems == ("no answer within 1 s",)
    assert report.checks["disk"].ok and not report.checks["redis"].ok


def test_healthz_shows_only_numbers_and_the_cache_runs_the_checks_once_per_ttl() -> None:
    report = Report({"asterisk": Check("asterisk", True, {"version": "22.10.1", "channels": 4, "uptime_seconds": 9}),
                     "disk": Check("disk", False, {"free_mb": 12.5, "min_free_mb": 500},
                                   ("only 12 MB free under /srv/hotline/recordings",))}, datetime.now(UTC))
    public = report.public()
    assert public["components"] == {"asterisk": {"ok": True, "channels": 4, "uptime_seconds": 9},
                                    "disk": {"ok": False, "free_mb": 12.5, "min_free_mb": 500}}
    assert "22.10" not in str(public) and "/srv" not in str(public) and public["ok"] is False

    class Probe:
        runs = 0

        def run(self) -> Report:
            Probe.runs += 1
            return report
    now = [0.0]
    cached = CachedHealth(Probe(), ttl=2.0, clock=lambda: now[0])
    for _ in range(50):
        cached.get()
    now[0] = 2.5
    cached.get()
    assert Probe.runs == 2
