"""A Redis server of a test's own on a free port (the machine's one on 6379 is never touched): a bare one, or
the hotline's own as `hotline up` starts it, locked with the generated password."""
from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from unittest.mock import patch

import redis

from .stack import wait_for

if TYPE_CHECKING:
    from hotline.context import Context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(workdir: Path, password: str = "", port: int | None = None) -> Iterator[str]:
    """Start ``redis-server`` keeping nothing on disk (requiring ``password``, if given, as a province's own
    Redis would) on ``port`` (default: a free one; the same port again: a Redis restarted empty); yields its
    URL, stops it on exit."""
    if shutil.which("redis-server") is None:
        raise AssertionError("redis-server is missing: scripts/bootstrap installs it")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
    with (workdir / "redis.log").open("ab") as log:
        proc = subprocess.Popen(["redis-server", "-", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                 "--appendonly", "no", "--dir", str(workdir)],
                                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(f'requirepass "{password}"\n'.encode() if password else b"")
    proc.stdin.close()
    client = redis.Redis.from_url(url, socket_connect_timeout=1)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"redis-server exited: see {workdir / 'redis.log'}")
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        wait_for(answers, 15, f"Redis on port {port}")
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=15)


@contextmanager
def hotline_redis(ctx: Context) -> Iterator[str]:
    """The hotline's own Redis as ``hotline up`` starts it for ``ctx`` (``[redis] url`` empty): ensure_redis,
    the generated password on standard input, daemonized, keeping nothing on disk here. Yields the URL every
    client builds (``ctx.redis_url``); stops the server on exit."""
    from tooling.system import services

    assert not ctx.settings.redis.url, "the settings name a Redis of their own"
    state_dir = Path(ctx.settings.paths.state_dir)
    production = services.redis_server_argv

    def no_files(port: int, state: Path, user: str | None = None) -> list[str]:
        return [*production(port, state, user), "--save", "", "--appendonly", "no"]

    with patch.object(services, "redis_server_argv", no_files):
        url = services.ensure_redis(ctx.settings.redis, ctx.secrets, state_dir, lambda _m: None)
    try:
        yield url
    finally:
        own = services.OwnRedis.find(url, state_dir)
        if own is not None:
            own.kill()


def locked_env(tmp: Path) -> dict[str, str]:
    """The environment of a hotline on the shipped settings with its own Redis (``[redis] url`` empty) on a free
    port, its state under ``tmp``, AMI on a closed port, and a speech engine that loads nothing."""
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_STATE_DIR": str(tmp / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp / "recordings"),
                "HOTLINE_DATABASE_URL": f"sqlite:///{tmp}/hotline.db", "HOTLINE_REDIS_PORT": str(free_port()),
                "HOTLINE_AMI_PORT": str(free_port()), "HOTLINE_TRANSCRIPTION_ENGINE": "vosk",
                "HOTLINE_VOSK_MODEL": str(tmp / "no-model"), "PYTHONUNBUFFERED": "1"})
    return env
