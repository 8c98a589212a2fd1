"""The hotline's RQ worker (hotline.worker.rqworker.HotlineWorker) alone in a process of its own, for the tests
that take Redis away under it: ``python -m tests.support.rq_worker_proc REDIS_URL QUEUE``. Its Runtime is a
stand-in (no database, no speech engine: the database sweep does nothing here) and its one job is
:func:`touch_after`, which these tests enqueue to see the worker run a job, or be running one when Redis goes."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

JOB = "tests.support.rq_worker_proc.touch_after"       # by its import path, not __main__


def touch_after(path: str, release: str, runtime: Any = None) -> str:
    """Wait until the test creates ``release`` (60 s at most), then create ``path``: a job that is still running
    when a test stops Redis, for as long as the test wants."""
    from tests.support.stack import wait_for
    wait_for(Path(release).exists, 60, f"the test to create {release}")
    Path(path).touch()
    return path


def main(url: str, queue: str) -> None:
    import redis
    from rq import Queue

    from hotline.worker import rqworker
    rqworker.sweep = lambda rt: {}                             # no database here
    rqworker.ALLOWED_JOBS = frozenset({*rqworker.ALLOWED_JOBS, JOB})
    runtime: Any = SimpleNamespace(ctx=SimpleNamespace(settings=SimpleNamespace(
        transcription=SimpleNamespace(sweep_seconds=1))), engine=lambda: object())
    client = redis.Redis.from_url(url)
    worker = rqworker.HotlineWorker([Queue(queue, connection=client)], connection=client, runtime=runtime)
    worker.work(with_scheduler=True, logging_level="INFO")
    print("the worker's loop ended", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
