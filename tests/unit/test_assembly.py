"""tooling/system/assembly.py: the one description of the hotline's processes."""
from __future__ import annotations

import sys

import pytest

from hotline.worker.rqworker import worker_command
from tooling.system.assembly import PROCESSES, command, process_specs


def test_every_process_has_its_command() -> None:
    assert command("ari_app", "redis://r", "q") == [sys.executable, "-m", "ari_app"]
    assert command("agi", "redis://r", "q") == [sys.executable, "-m", "agi"]
    assert command("monitor", "redis://r", "q") == [sys.executable, "-m", "monitor"]
    assert command("console", "redis://r", "q") == [sys.executable, "-m", "hotline.cli.main", "console"]
    assert command("watch", "redis://r", "q") == [sys.executable, "-m", "hotline.cli.main", "watch"]
    assert command("worker", "redis://r", "q") == worker_command("redis://r", "q")


def test_process_specs_are_the_processes_in_order_with_the_environment() -> None:
    specs = process_specs({"HOTLINE_REDIS_URL": "redis://r"}, "redis://r", "q")
    assert tuple(s.name for s in specs) == PROCESSES == ("ari_app", "agi", "monitor", "worker", "console",
                                                              "watch")
    assert all(s.env == {"HOTLINE_REDIS_URL": "redis://r"} for s in specs if s.name != "worker")
    assert dict(specs[3].env) == {"HOTLINE_REDIS_URL": "redis://r", "RQ_REDIS_URL": "redis://r"}
    # the processes whose main loop beats are restarted on a missed heartbeat; the worker and console are not
    assert {s.name: s.heartbeat for s in specs} == {"ari_app": 20.0, "agi": 20.0, "monitor": 20.0, "worker": None,
                                                    "console": None, "watch": None}


def test_an_unknown_process_is_refused() -> None:
    with pytest.raises(ValueError):
        command("something", "redis://r", "q")


def test_a_redis_password_stays_off_the_workers_command_line() -> None:
    url = "redis://:s3cret@127.0.0.1:6379/0"
    worker = process_specs({}, url, "q", names=("worker",))[0]
    assert "s3cret" not in " ".join(worker.argv)
    assert worker.env["RQ_REDIS_URL"] == url          # rq's own variable for --url
    assert "--url" in worker_command("redis://127.0.0.1:6379/0", "q")
