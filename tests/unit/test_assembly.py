"""tooling/system/assembly.py: the one description of the hotline's processes; no command line holds a password
(the hotline's own Redis and a real worker on it, seen as `ps` shows them)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from hotline.context import Context
from hotline.worker.rqworker import worker_command
from tests.support.stack import ROOT, wait_for
from tests.unit.test_redis_lock import locked as locked  # noqa: F401  (the same fixture, re-used)
from tooling.system.assembly import PROCESSES, command, process_specs, switched_on
from tooling.system.services import OwnRedis


def test_every_process_has_its_command() -> None:
    assert command("ari_app", "redis://r", "q") == [sys.executable, "-m", "ari_app"]
    assert command("agi", "redis://r", "q") == [sys.executable, "-m", "agi"]
    assert command("monitor", "redis://r", "q") == [sys.executable, "-m", "monitor"]
    assert command("console", "redis://r", "q") == [sys.executable, "-m", "hotline.cli.main", "console"]
    assert command("public", "redis://r", "q") == [sys.executable, "-m", "hotline.cli.main", "public"]
    assert command("mailbox", "redis://r", "q") == [sys.executable, "-m", "hotline.cli.main", "mailbox"]
    assert command("watch", "redis://r", "q") == [sys.executable, "-m", "hotline.cli.main", "watch"]
    assert command("worker", "redis://r", "q") == worker_command("redis://r", "q")


def test_process_specs_are_the_processes_in_order_with_the_environment() -> None:
    specs = process_specs({"HOTLINE_REDIS_URL": "redis://r"}, "redis://r", "q")
    assert tuple(s.name for s in specs) == PROCESSES == ("ari_app", "agi", "monitor", "worker", "console",
                                                              "public", "mailbox", "watch")
    assert all(s.env == {"HOTLINE_REDIS_URL": "redis://r"} for s in specs if s.name != "worker")
    assert dict(specs[3].env) == {"HOTLINE_REDIS_URL": "redis://r", "RQ_REDIS_URL": "redis://r"}
    # the processes whose main loop beats are restarted on a missed heartbeat; the worker and console are not
    assert {s.name: s.heartbeat for s in specs} == {"ari_app": 20.0, "agi": 20.0, "monitor": 20.0, "worker": None,
                                                    "console": None, "public": None, "mailbox": None,
                                                    "watch": None}


def test_the_public_site_and_the_mailbox_run_only_when_switched_on() -> None:
    from hotline.config.settings import load_settings
    s = load_settings(env={})
    assert (switched_on("public", s), switched_on("mailbox", s), switched_on("worker", s)) == (True, False, True)
    on = s.model_copy(update={"mailbox": s.mailbox.model_copy(update={"enabled": True}),
                              "public": s.public.model_copy(update={"enabled": False})})
    assert (switched_on("public", on), switched_on("mailbox", on)) == (False, True)


def test_an_unknown_process_is_refused() -> None:
    with pytest.raises(ValueError):
        command("something", "redis://r", "q")


def test_a_redis_password_stays_off_the_workers_command_line() -> None:
    url = "redis://:s3cret@127.0.0.1:6379/0"
    worker = process_specs({}, url, "q", names=("worker",))[0]
    assert "s3cret" not in " ".join(worker.argv)
    assert worker.env["RQ_REDIS_URL"] == url          # rq's own variable for --url
    assert "--url" in worker_command("redis://127.0.0.1:6379/0", "q")


def _command_lines() -> str:
    """Every process's command line, as `ps -eo args` shows them to any user of the machine."""
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout


def test_no_command_line_holds_the_generated_redis_password(locked: tuple[Context, dict[str, str]],
                                                            tmp_path: Path) -> None:
    ctx, env = locked
    password = ctx.secrets.redis_password
    specs = process_specs({}, ctx.redis_url, ctx.settings.transcription.queue)
    assert all(password not in " ".join(s.argv) for s in specs)
    assert [s.name for s in specs if password in "".join(s.env.values())] == ["worker"]    # RQ_REDIS_URL
    own = OwnRedis.find(ctx.redis_url, Path(ctx.settings.paths.state_dir))
    assert own is not None and (pid := own.pid()) is not None
    assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()         # read on standard input
    worker = specs[PROCESSES.index("worker")]
    with (tmp_path / "worker.log").open("wb") as log:
        proc = subprocess.Popen(worker.argv, cwd=ROOT, env={**env, **worker.env}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis.from_url(ctx.redis_url, socket_timeout=5)

    def registered() -> bool:
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
        return any(client.hget(key, "pid") == str(proc.pid).encode() for key in client.smembers("rq:workers"))
    try:
        wait_for(registered, 60, "the worker to register in the locked Redis")
        assert password not in _command_lines()
        assert password.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:   # a SIGTERM during the worker's first sweep is not always heeded
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        client.close()
    assert password not in (tmp_path / "worker.log").read_text()
