"""The RQ worker class `hotline up` runs: ``rq worker --with-scheduler --worker-class
hotline.worker.rqworker.HotlineWorker``.

A SimpleWorker (jobs run in this process, no fork per job), so the speech engine is loaded
once, when the worker starts, and every job uses it: the worker builds the process's Runtime
in its constructor and passes it to each job it runs (``runtime=``; see :class:`RuntimeJob`).
Redis going away never stops it: RQ's own wait for a job retries a lost connection, but not what
it writes to Redis around that wait (the worker's state, its heartbeat, the check for `rq suspend`,
a job's start and result); those are retried or skipped here (seen: a worker that quit when Redis
stopped a second after it started, and one that quit when Redis stopped while it ran a job).
Between jobs it sweeps the database for work Redis lost (``hotline.worker.sweep``), every
[transcription] sweep_seconds.
It runs only the hotline's own jobs (``hotline.worker.jobs.JOB_FUNCTIONS``): whoever can write to Redis
must not be able to name ``os.system``; any other job is refused before its function is even imported.
Jobs are JSON (``JOB_SERIALIZER``), never pickle: reading a pickled job would already run what it names.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import redis
from rq import worker_registration
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from hotline.context import setup_logging
from hotline.domain.redact import redact_url
from hotline.worker.jobs import JOB_FUNCTIONS
from hotline.worker.runtime import Runtime
from hotline.worker.sweep import sweep

log = logging.getLogger("hotline.worker")
#: the only functions a job may name: the hotline's own jobs, by their import path
ALLOWED_JOBS = frozenset(f"{f.__module__}.{f.__name__}" for f in JOB_FUNCTIONS)
#: what redis-py raises when Redis is away (stopped, restarting, the network gone)
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _allowed(job: Job) -> bool:
    """Whether ``job`` names one of the hotline's job functions (and can be read as JSON at all)."""
    try:
        return isinstance(job, RuntimeJob) and job.instance is None and job.func_name in ALLOWED_JOBS
    except DeserializationError:
        return False


class JobRefused(Exception):
    """A job names a function that is not one of the hotline's jobs."""


class RuntimeJob(Job):
    """A job whose function is called with the worker's Runtime (``runtime=``). The Runtime lives on
    this in-memory object only: what is stored in Redis (the function's path and its ids) is unchanged.
    Only the hotline's own job functions are ever resolved (:data:`ALLOWED_JOBS`)."""

    runtime: Runtime | None = None

    @property
    def func(self) -> Any:
        if not _allowed(self):
            raise JobRefused(f"job {self.id} names {self.func_name!r}, not one of the hotline's jobs: refused")
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
        kwargs["serializer"] = JSONSerializer     # as JobQueue writes them; a pickled job is never unpickled
        super().__init__(*args, **kwargs)
        if self.runtime.engine() is None:   # the engine, once, before the first job
            log.warning("no speech engine: %s; messages wait for transcription", self.runtime.engine_error)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run ``job`` here, with this worker's Runtime; a job that is not one of the hotline's fails unrun.
        Redis going away around it (RQ writes the job's start and its result there) does not end the worker:
        what the job did is in the database; a job that never started is put back by RQ's maintenance (from its
        intermediate queue, when Redis kept its data) or queued again by the database sweep (when it did not)."""
        if isinstance(job, RuntimeJob):
            job.runtime = self.runtime
        if not _allowed(job):
            log.error("job %s is not one of the hotline's jobs: refused, not run", job.id)
        try:
            super().execute_job(job, queue)     # a refused job fails in RuntimeJob.func, before anything runs
        except _REDIS_DOWN as exc:
            log.warning("Redis went away during job %s (%s): what the job wrote to the database stays; a job that "
                        "did not run is queued again by RQ's maintenance (Redis kept it) or the database sweep "
                        "(Redis lost it)", job.id, exc)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's refresh of this worker's entry in Redis; Redis away: the next one (RQ calls it between jobs,
        outside its own retries)."""
        try:
            super().heartbeat(timeout, pipeline)
        except _REDIS_DOWN as exc:
            log.warning("Redis does not answer (%s): heartbeat skipped", exc)

    def _until_redis_answers(self, call: Callable[[], Any]) -> Any:
        """``call()`` again and again while Redis does not answer (backing off to 2 s); None once a stop is
        requested meanwhile."""
        wait = 0.5
        while True:
            try:
                return call()
            except _REDIS_DOWN as exc:
                if self._stop_requested:
                    return None
                log.warning("Redis does not answer (%s); trying again in %.1f s", exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, self.max_connection_wait_time)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check for `rq suspend`, which it makes before each job outside its own retries: while Redis
        does not answer, wait for it instead of ending the worker."""
        self._until_redis_answers(lambda: super(HotlineWorker, self).check_for_suspension(burst))

    def teardown(self) -> None:
        """RQ's farewell in Redis (stop the scheduler, unregister): with Redis away, a stop is still a clean one."""
        try:
            super().teardown()
        except _REDIS_DOWN as exc:
            log.warning("Redis does not answer (%s): this worker stays listed there until its entry expires", exc)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's wait for a job, again and again while Redis does not answer (backing off to 2 s)."""
        while True:
            try:
                return self._until_redis_answers(
                    lambda: super(HotlineWorker, self).dequeue_job_and_maintain_ttl(timeout, max_idle_time))
            except Exception as exc:    # a job that is not JSON (pickled by someone else): refused, never read
                if getattr(exc, "job_id", None) is None:
                    raise
                log.error("job %s cannot be read as one of the hotline's jobs (%s): refused, not run",
                          exc.job_id, type(exc).__name__)   # type: ignore[attr-defined]

    @property
    def dequeue_timeout(self) -> int:
        """Wake up at least every sweep interval, even with no job, so the sweep runs."""
        return self._sweep_interval

    def run_maintenance_tasks(self) -> None:
        try:    # RQ's registries' cleaning: Redis away must not end the worker (the sweep below needs no Redis)
            super().run_maintenance_tasks()
        except _REDIS_DOWN as exc:
            log.warning("Redis does not answer (%s): its registries are cleaned next time", exc)
        self.register_again()
        try:
            sweep(self.runtime)
        except Exception:   # the database may be down too: next time
            log.exception("sweep failed; retrying in %d s", self._sweep_interval)


    def register_again(self) -> None:
        """Register in Redis again if Redis lost this worker (restarted without its data): RQ only refreshes
        a registration, so `hotline status` (and `rq info`) would see no worker while this one works."""
        try:
            if self.connection.sismember(worker_registration.REDIS_WORKER_KEYS, self.key):
                return
            self.connection.delete(self.key)     # what heartbeats wrote since: a hash without the registration
            self.register_birth()
        except redis.exceptions.RedisError as exc:
            log.warning("could not register again in Redis (%s); next time", exc)
            return
        log.info("registered again in Redis (it had lost this worker)")


def worker_command(redis_url: str, queue: str) -> list[str]:
    """The command line of one worker process (``hotline up`` and the test stack run it). A Redis URL with a
    password is left out (anyone may read a command line in ``ps``): the worker then reads it from
    ``RQ_REDIS_URL`` in its environment (worker_env)."""
    url = ["--url", redis_url] if redact_url(redis_url) == redis_url else []
    return [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class",
            f"{__name__}.HotlineWorker", *url, "--logging_level", "INFO", queue]


def worker_env(redis_url: str) -> dict[str, str]:
    """The environment a worker started by worker_command needs beside the hotline's own."""
    return {"RQ_REDIS_URL": redis_url}
