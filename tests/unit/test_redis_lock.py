"""The hotline's own Redis is locked (issue 13, item 2): started as `hotline up` starts it, on loopback, with the
password generated into secrets.toml; a client without it is refused, and every client the hotline builds from
its settings (the console and its sign-in counts, the checks of `hotline status`, the CLI's job queue, the
monitor) gets in. What the monitor publishes for the wallboard holds no whole caller number. (The worker and
the command lines: tests/unit/test_assembly.py.)"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from hotline.adapters.db.models import Role
from hotline.context import Context, load_context
from hotline.domain.redact import redact_url
from hotline.services.health import HealthProbe, check_redis
from monitor.publish import LivePublisher
from monitor.service import MonitorService
from monitor.state import LivePicture
from operator_console import create_app
from tests.support.redis_server import hotline_redis, locked_env, redis_server
from tests.support.stack import ROOT, wait_for
from tests.unit.test_monitor import MEMBER, T0, ami, caller_headers, live_messages
from tooling.system.assembly import command
from tooling.system.services import ensure_redis
from tooling.system.shell import SetupError

NUMBER = "0912345678"


@pytest.fixture()
def locked(tmp_path: Path) -> Iterator[tuple[Context, dict[str, str]]]:
    env = locked_env(tmp_path)
    ctx = load_context(env=env)
    with hotline_redis(ctx):
        yield ctx, env


def test_a_client_without_the_generated_password_is_refused(locked: tuple[Context, dict[str, str]]) -> None:
    ctx, _env = locked
    secrets_file = Path(ctx.settings.paths.state_dir) / "secrets.toml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) & 0o137 == 0          # 0640 or stricter
    assert re.search(r'^redis_password = "[A-Za-z0-9_-]{30,}"$', secrets_file.read_text(), re.M)
    url = urlsplit(ctx.redis_url)
    assert (url.hostname, url.port, url.password) == ("127.0.0.1", ctx.settings.redis.port,
                                                      ctx.secrets.redis_password)
    with socket.create_connection(("127.0.0.1", ctx.settings.redis.port), timeout=5) as raw:   # any client
        raw.sendall(b"PING\r\n")
        assert raw.recv(200).startswith(b"-NOAUTH")
    bare = redis.Redis(host="127.0.0.1", port=ctx.settings.redis.port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        bare.ping()
    wrong = redis.Redis(host="127.0.0.1", port=ctx.settings.redis.port, password="guessed", socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    client = redis.Redis.from_url(ctx.redis_url, socket_timeout=5)
    assert client.ping()
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    assert ctx.secrets.redis_password not in redact_url(ctx.redis_url)
    for c in (bare, wrong, client):
        c.close()


def test_the_console_its_sign_in_counts_the_checks_and_the_cli_connect_with_it(
        locked: tuple[Context, dict[str, str]]) -> None:
    ctx, _env = locked
    app = create_app(ctx, testing=True)
    svc = app.extensions["hotline"]
    assert svc.live.ping()                                   # the wallboard's stream
    svc.users.add("lan", "Người dùng lan", Role.OPERATOR, "mật-khẩu-đủ-dài")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    refused = client.post("/login", data={"username": "lan", "password": "sai", "csrf_token": token[1]})
    assert refused.status_code == 401
    counts = redis.Redis.from_url(ctx.redis_url).keys("*hotline:console:signin*")
    assert counts, "Flask-Limiter counted the failure in the hotline's Redis"
    probe = HealthProbe(ctx.settings, ctx.secrets, ctx.clock.now)          # hotline status, /healthz, watch
    checked = check_redis(probe.redis)
    assert not checked.problems and checked.facts["version"], checked
    tickets = ctx.tickets(jobs=True)                                       # the CLI's and the ARI app's queue
    assert tickets.jobs is not None and tickets.jobs.connection.ping()


def test_the_snapshot_the_monitor_publishes_holds_no_whole_caller_number(
        locked: tuple[Context, dict[str, str]]) -> None:
    import redis.asyncio as aioredis

    ctx, _env = locked
    live = ctx.settings.redis
    join = ami("Event: QueueCallerJoin\nPrivilege: agent,all\n" + caller_headers(number=NUMBER)
               + "Queue: hotline\nPosition: 1\nCount: 1")

    async def scenario() -> list[dict[str, Any]]:
        publisher = LivePublisher(aioredis.from_url(ctx.redis_url, socket_timeout=5), live.live_channel,
                                  ctx.settings.cluster.node)      # as monitor/main.py builds it
        service = MonitorService(LivePicture(), None, publisher, now=lambda: T0)
        task = asyncio.create_task(service.run_publisher())
        received = await live_messages(service, ctx.redis_url, ctx.settings.live_node_channel, [MEMBER, join])
        task.cancel()
        await publisher.close()
        return received

    received = asyncio.run(scenario())
    stored = redis.Redis.from_url(ctx.redis_url).get(ctx.settings.live_snapshot_key)
    assert stored is not None and NUMBER.encode() not in stored and NUMBER[1:-3].encode() not in stored
    snapshot = json.loads(stored)
    assert [w["caller"] for w in snapshot["waiting"]] == ["*******678"]      # what the wallboard lists
    assert received[1]["type"] == "caller_joined" and received[1]["caller"] == "*******678"
    assert NUMBER not in json.dumps(received)


def test_the_monitor_process_reaches_it_from_the_settings(locked: tuple[Context, dict[str, str]],
                                                         tmp_path: Path) -> None:
    ctx, env = locked
    client = redis.Redis.from_url(ctx.redis_url, socket_timeout=5)
    snapshot = ctx.settings.live_snapshot_key
    with (tmp_path / "monitor.log").open("wb") as log:
        proc = subprocess.Popen(command("monitor", ctx.redis_url, "q"), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert ctx.secrets.redis_password not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        wait_for(lambda: proc.poll() is not None or client.exists(snapshot), 30,
                 "the monitor's snapshot (its refresh, without Asterisk)")
        assert proc.poll() is None, (tmp_path / "monitor.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        client.close()
    text = (tmp_path / "monitor.log").read_text()
    assert "monitor starting" in text and ctx.secrets.redis_password not in text
    assert "Redis redis://:***@127.0.0.1:" in text


def test_a_provinces_own_redis_with_its_password_keeps_working(tmp_path: Path) -> None:
    env = locked_env(tmp_path)
    with redis_server(tmp_path / "province-redis", password="tinh-dong-thap-7Qx") as url:
        env["HOTLINE_REDIS_URL"] = url
        ctx = load_context(env=env)
        assert ctx.redis_url == url
        said: list[str] = []
        assert ensure_redis(ctx.settings.redis, ctx.secrets, tmp_path / "state", said.append) == url
        assert said == [] and not (tmp_path / "state" / "redis").exists()      # nothing of ours started
        probe = HealthProbe(ctx.settings, ctx.secrets, ctx.clock.now)
        assert not check_redis(probe.redis).problems
        assert create_app(ctx, testing=True).extensions["hotline"].live.ping()
    with pytest.raises(SetupError) as gone:          # never started by the hotline; its password never shown
        ensure_redis(ctx.settings.redis, ctx.secrets, tmp_path / "state", said.append)
    assert "tinh-dong-thap-7Qx" not in str(gone.value) and "redis://:***@127.0.0.1:" in str(gone.value)


def test_another_program_on_the_hotlines_port_stops_set_up(tmp_path: Path) -> None:
    with redis_server(tmp_path / "other") as other:
        env = {**locked_env(tmp_path), "HOTLINE_REDIS_PORT": str(urlsplit(other).port)}
        ctx = load_context(env=env)
        with pytest.raises(SetupError, match="HOTLINE_REDIS_PORT"):
            ensure_redis(ctx.settings.redis, ctx.secrets, tmp_path / "state", lambda _m: None)
