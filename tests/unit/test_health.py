"""Each health check against the real thing where it can run here (a Redis of the test's own, RQ workers
registered in it, SQLite, a listening socket, the disk), the deadline that keeps `hotline status` quick when
a part hangs, the cache that keeps /healthz cheap, and what /healthz may show to anyone."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from panoramisk.message import Message
from rq import Queue, Worker

from hotline.adapters.ami import AmiClient
from hotline.adapters.db.spool import Spool, SpooledWrite
from hotline.domain.vocabulary import live_beat_key
from hotline.heartbeat import LINK_STALE as STALE
from hotline.heartbeat import LinkBeat, link_file
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
    check_outbox,
    check_public,
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


def test_asterisk_and_the_app_are_down_together_when_ami_does_not_answer(tmp_path: Path) -> None:
    LinkBeat(link_file(tmp_path)).touch()       # the app says it is connected: AMI's silence still wins
    started = time.monotonic()
    found = check_asterisk_and_app(AmiClient("127.0.0.1", free_port(), "hotline", "x", timeout=1), "hotline",
                                   link_file(tmp_path))
    assert [(c.name, c.ok) for c in found] == [("asterisk", False), ("ari_app", False)]
    assert "does not answer on AMI" in found[0].problems[0] and time.monotonic() - started < 3


#: Where the fake Asterisk's root says it is (its /etc/localtime), unlike this machine and the province's clock.
ASTERISK_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ASTERISK_NOW = 1796623200      # 2026-12-07 06:00:00 UTC
STARTED = ASTERISK_NOW - 5000


def answer(text: str) -> Message:
    parsed = Message.from_line(text.strip().replace("\n", "\r\n"))
    assert parsed is not None
    return parsed


class Asterisk22(AmiClient):
    """An AmiClient answered as Asterisk 22's manager.c answers these actions, without a socket; ``sent``: the
    actions asked. Getvar evaluates STRPTIME in the fake's zone and EPOCH on its clock, as Asterisk does."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 5038, "hotline-watch", "x")
        self.sent: list[dict[str, Any]] = []

    async def connect(self) -> AmiClient:
        self.manager = object()
        return self

    async def close(self) -> None:
        self.manager = None

    async def _send(self, action: dict[str, Any], as_list: bool) -> Any:
        self.sent.append(action)
        started = datetime.fromtimestamp(STARTED, ASTERISK_ZONE)
        name = action["Action"]
        if name == "CoreSettings":
            return answer("Response: Success\nAMIversion: 11.0.0\nAsteriskVersion: 22.10.1\nSystemName: \n"
                          "CoreMaxCalls: 0\nCoreRunUser: asterisk\nCoreHTTPenabled: Yes")
        if name == "CoreStatus":
            return answer(f"Response: Success\nCoreStartupDate: {started:%Y-%m-%d}\n"
                          f"CoreStartupTime: {started:%H:%M:%S}\nCoreReloadDate: {started:%Y-%m-%d}\n"
                          f"CoreReloadTime: {started:%H:%M:%S}\n"
                          "CoreCurrentCalls: 2\nCoreProcessedCalls: 40")
        if name == "CoreShowChannels":
            return [answer("Response: Success\nEventList: start\nMessage: Channels will follow"),
                    answer("Event: CoreShowChannel\nChannel: PJSIP/anonymous-00000001\nUniqueid: c1"),
                    answer("Event: CoreShowChannel\nChannel: PJSIP/op-lan-00000002\nUniqueid: c2"),
                    answer("Event: CoreShowChannelsComplete\nEventList: Complete\nListItems: 2")]
        if name == "Getvar":
            return answer(f"Response: Success\nVariable: {action['Variable']}\nValue: {getvar(action['Variable'])}")
        return answer("Response: Error\nMessage: Permission denied")


def getvar(variable: str) -> str:
    if variable == "EPOCH":
        return str(ASTERISK_NOW)
    if variable.startswith("STRPTIME(") and variable.endswith(")"):
        when, zone, fmt = variable[len("STRPTIME("):-1].split(",")
        assert zone == ""           # Asterisk's own zone, the one CoreStatus wrote in
        return str(int(datetime.strptime(when, fmt).replace(tzinfo=ASTERISK_ZONE).timestamp()))
    return ""


def test_uptime_is_asterisks_own_count_from_corestatus_in_its_zone_without_any_cli_command(tmp_path: Path) -> None:
    ami = Asterisk22()
    LinkBeat(link_file(tmp_path)).touch()
    asterisk, app = check_asterisk_and_app(ami, "hotline", link_file(tmp_path))
    assert asterisk.ok and asterisk.facts == {"version": "22.10.1", "calls": 2, "channels": 2, "uptime_seconds": 5000}
    assert app.ok and app.facts == {"app": "hotline"}
    assert [a["Action"] for a in ami.sent] == ["CoreSettings", "CoreStatus", "CoreShowChannels", "Getvar", "Getvar"]
    assert ami.sent[3]["Variable"] == "STRPTIME(2026-12-07 11:36:40,,%Y-%m-%d %H:%M:%S)"    # its local time, +07
    naive = int(datetime(2026, 12, 7, 11, 36, 40, tzinfo=UTC).timestamp())
    assert ASTERISK_NOW - naive < 0       # read in UTC here, its start would be in the future


def test_uptime_is_none_when_corestatus_has_no_readable_start() -> None:
    class Older(Asterisk22):
        async def _send(self, action: dict[str, Any], as_list: bool) -> Any:
            if action["Action"] == "CoreStatus":       # before Asterisk 12: no date, only the time of day
                self.sent.append(action)
                return answer("Response: Success\nCoreStartupTime: 11:36:40\nCoreCurrentCalls: 0")
            return await super()._send(action, as_list)
    ami = Older()
    facts = asyncio.run(health._asterisk_facts(ami))
    assert facts["uptime_seconds"] is None and "Getvar" not in [a["Action"] for a in ami.sent]


def test_the_app_is_connected_while_its_link_file_is_fresh(tmp_path: Path) -> None:
    link = link_file(tmp_path)
    (tmp_path / "file").write_text("")          # a folder that is a file: not FileNotFoundError, any OSError
    never = check_asterisk_and_app(Asterisk22(), "hotline", link)[1]
    assert not never.ok and never.problems[0].startswith("the ARI app 'hotline' holds no WebSocket to Asterisk:")
    LinkBeat(link).touch()
    said = link.stat().st_mtime
    assert check_asterisk_and_app(Asterisk22(), "hotline", link, lambda: said + STALE)[1].ok
    stale = check_asterisk_and_app(Asterisk22(), "hotline", link, lambda: said + STALE + 1)[1]
    assert not stale.ok and "it last said so 4 s ago: killed or stuck?" in stale.problems[0]
    LinkBeat(link).clear()          # the app's WebSocket closed
    assert not check_asterisk_and_app(Asterisk22(), "hotline", link)[1].ok
    unreadable = check_asterisk_and_app(Asterisk22(), "hotline", link_file(tmp_path / "file") / "x")
    assert unreadable[0].ok and unreadable[1].problems[0].startswith("unknown: cannot read")


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


def test_the_public_site_is_up_while_its_port_accepts_and_its_refusals_are_counted(client: redis.Redis) -> None:
    from hotline.config.schema import PublicSettings
    from hotline.domain.vocabulary import PUBLIC_REFUSALS_KEY
    client.delete(PUBLIC_REFUSALS_KEY)
    client.hincrby(PUBLIC_REFUSALS_KEY, "rate", 3)
    client.hincrby(PUBLIC_REFUSALS_KEY, "zalo_signature", 1)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        up = check_public(PublicSettings(port=server.getsockname()[1]), client)
    assert up.ok and up.public() == {"ok": True, "refused_rate": 3, "refused_zalo_signature": 1}
    down = check_public(PublicSettings(port=free_port()), client)
    assert not down.ok and "hotline public" in down.problems[0]
    assert check_public(PublicSettings(enabled=False), nowhere()).ok         # off: nothing to check


def test_messages_to_citizens_unsent_for_an_hour_or_given_up_are_a_problem(tmp_path: Path) -> None:
    from hotline.adapters.db import open_database
    from hotline.adapters.db.models import IntakeMessage, Ticket
    url = f"sqlite:///{tmp_path}/hotline.db"
    sessions = open_database(url)
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with sessions.begin() as s:
        ticket = Ticket(code="1234567", channel="sms", category="procedures", received_at=now, deadline_hours=8,
                        due_at=now, status="new")
        s.add(ticket)
        s.add(IntakeMessage(ticket=ticket, channel="sms", direction="out", address="0912345678", body="Mã phiếu",
                            at=now - timedelta(minutes=5), attempts=1, error="500"))
    fresh = check_outbox(health_engine(url), now)
    assert fresh.ok and fresh.facts == {"waiting": 1, "failing": 1, "given_up": 0}
    late = check_outbox(health_engine(url), now + timedelta(hours=1))
    assert not late.ok and "unsent for over 60 min (sms)" in late.problems[0]
    with sessions.begin() as s:
        s.execute(IntakeMessage.__table__.update().values(attempts=8, at=now))
    given_up = check_outbox(health_engine(url), now)
    assert not given_up.ok and "given up after 8 tries" in given_up.problems[0]
