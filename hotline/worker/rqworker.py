"""The RQ worker class `hotline up` runs: ``rq worker --with-scheduler --worker-class
hotline.worker.rqworker.HotlineWorker``.

A SimpleWorker (jobs run in this process, no fork per job), so the speech engine is loaded
once, when the worker starts, and every job uses it: the worker builds the process's Runtime
in its constructor and passes it to each job it runs (``runtime=``; see :class:`RuntimeJob`).
Redis going away never stops it: RQ's own wait for a job retries a lost connection, but not
the state it writes before waiting; that write is retried here (seen: a worker that quit when
Redis stopped a second after it started).
Between jobs it sweeps the database for work Redis lost (``hotline.worker.sweep``), every
[transcription] sweep_seconds.
"""
from __future__ import annotations

import logging
import sys
import time
from functools import partial
from typing import Any

import redis
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker

from hotline.context import setup_logging
from hotline.worker.runtime import Runtime
from hotline.worker.sweep import sweep

log = logging.getLogger("hotline.worker")


class RuntimeJob(Job):
    """A job whose function is called with the worker's Runtime (``runtime=``). The Runtime lives on
    this in-memory object only: what is stored in Redis (the function's path and its ids) is unchanged."""

    runtime: Runtime | None = None

    @property
    def func(self) -> Any:
        func = super().func
        return func if self.runtime is None or func is None else partial(func, runtime=self.runtime)


class HotlineWorker(SimpleWorker):
    #: after Redis comes back, reconnect within this many seconds (RQ's default backs off to 60)
    max_connection_wait_time = 2.0

    def __init__(self, *args: Any, runtime: Runtime | None = None, **kwargs: Any) -> None:
        """``runtime``: what the jobs use (default: built from the environment, as `rq worker` runs it)."""
        setup_logging("worker")     # the hotline.worker.* lines; `rq worker` configures only rq's own
        self.runtime = runtime or Runtime.build()
        interval = max(1, int(self.runtime.ctx.settings.transcription.sweep_seconds))
        self._sweep_interval = interval
        # `rq worker` always passes its own --maintenance-interval (600 s by default) and job class: ours win
        kwargs["maintenance_interval"] = interval
        kwargs["job_class"] = RuntimeJob
        super().__init__(*args, **kwargs)
        if self.runtime.engine() is None:   # the engine, once, before the first job
            log.warning("no speech engine: %s; messages wait for transcription", self.runtime.engine_error)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run ``job`` here, with this worker's Runtime."""
        if isinstance(job, RuntimeJob):
            job.runtime = self.runtime
        super().execute_job(job, queue)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's wait for a job, again and again while Redis does not answer (backing off to 2 s)."""
        wait = 0.5
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("Redis does not answer (%s); trying again in %.1f s", exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, self.max_connection_wait_time)

    @property
    def dequeue_timeout(self) -> int:
        """Wake up at least every sweep interval, even with no job, so the sweep runs."""
        return self._sweep_interval

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            sweep(self.runtime)
        except Exception:   # the database may be down too: next time
            log.exception("sweep failed; retrying in %d s", self._sweep_interval)


def worker_command(redis_url: str, queue: str) -> list[str]:
    """The command line of one worker process (``hotline up`` and the test stack run it)."""
    return [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class",
            f"{__name__}.HotlineWorker", "--url", redis_url, "--logging_level", "INFO", queue]
