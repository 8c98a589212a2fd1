"""The RQ worker class `hotline up` runs: ``rq worker --with-scheduler --worker-class
hotline.worker.rqworker.HotlineWorker``.

A SimpleWorker (jobs run in this process, no fork per job), so the speech engine is loaded
once, when the worker starts, and every job uses it. Redis going away never stops it: RQ's own
wait for a job retries a lost connection, but not the state it writes before waiting; that write
is retried here (seen: a worker that quit when Redis stopped a second after it started).
Between jobs it sweeps the database for work Redis lost (``hotline.worker.sweep``), every
[transcription] sweep_seconds.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

import redis
from rq.worker import SimpleWorker

from hotline.context import setup_logging
from hotline.worker import runtime
from hotline.worker.sweep import sweep

log = logging.getLogger("hotline.worker")


class HotlineWorker(SimpleWorker):
    #: after Redis comes back, reconnect within this many seconds (RQ's default backs off to 60)
    max_connection_wait_time = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        setup_logging("worker")     # the hotline.worker.* lines; `rq worker` configures only rq's own
        self.runtime = runtime.current()
        interval = max(1, int(self.runtime.ctx.settings.transcription.sweep_seconds))
        self._sweep_interval = interval
        # `rq worker` always passes its own --maintenance-interval (600 s by default): ours wins
        kwargs["maintenance_interval"] = interval
        super().__init__(*args, **kwargs)
        if self.runtime.engine() is None:   # the engine, once, before the first job
            log.warning("no speech engine: %s; messages wait for transcription", self.runtime.engine_error)

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
