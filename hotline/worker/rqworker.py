"""The RQ worker class `hotline up` runs: ``rq worker --with-scheduler --worker-class
hotline.worker.rqworker.HotlineWorker``.

A SimpleWorker (jobs run in this process, no fork per job), so the Vosk model is loaded
once, when the worker starts, and every job uses it. Between jobs it sweeps the database
for work Redis lost (``hotline.worker.sweep``), every [transcription] sweep_seconds.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

from rq.worker import SimpleWorker

from ..context import setup_logging
from . import runtime
from .sweep import sweep

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
