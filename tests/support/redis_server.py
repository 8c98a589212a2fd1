"""A Redis server of a test's own on a free port (the machine's one on 6379 is never touched)."""
from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from .stack import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Start ``redis-server`` keeping nothing on disk; yields its URL, stops it on exit."""
    if shutil.which("redis-server") is None:
        raise AssertionError("redis-server is missing: scripts/bootstrap installs it")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with (workdir / "redis.log").open("ab") as log:
        proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                 "--appendonly", "no", "--dir", str(workdir)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
