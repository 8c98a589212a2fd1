"""The worker process's composition root: what its jobs use, built once per process.

RQ jobs are plain module-level functions that take ids; they reach the process's
``Runtime`` through :func:`current`. The worker class builds it (and loads the Vosk
model) before the first job, so no job ever loads a model.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ..context import Context, load_context
from ..tickets.service import TicketService
from .mail import Mailer
from .queue import JobQueue, connect
from .transcribe import Transcriber, model_present

log = logging.getLogger("hotline.worker")


@dataclass
class Runtime:
    ctx: Context
    sessions: sessionmaker[Session]
    tickets: TicketService
    jobs: JobQueue
    mailer: Mailer
    _transcriber: Transcriber | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    retention_ran_at: float = 0.0      # monotonic: the retention pass runs at most once an hour

    @classmethod
    def build(cls, ctx: Context) -> Runtime:
        s = ctx.settings
        sessions = ctx.sessions()
        tickets = ctx.tickets(sessions)
        jobs = JobQueue(connect(s.redis.url), s.transcription.queue, sessions, ctx.clock.offset_seconds,
                        tickets.deadlines)
        return cls(ctx, sessions, tickets, jobs, Mailer(s.notifications))

    def now(self) -> Any:
        return self.ctx.clock.now()

    def model_available(self) -> bool:
        return self._transcriber is not None or model_present(self.ctx.settings.transcription.model_dir)

    def transcriber(self) -> Transcriber | None:
        """The process's one Vosk model, loaded on first need; None while no model is installed."""
        with self._lock:
            if self._transcriber is None:
                model_dir = self.ctx.settings.transcription.model_dir
                if not model_present(model_dir):
                    return None
                log.info("loading the Vosk model %s", model_dir)
                self._transcriber = Transcriber(model_dir)
                log.info("Vosk model %s loaded (%d Hz)", self._transcriber.name, self._transcriber.sample_rate)
            return self._transcriber


_current: Runtime | None = None


def current() -> Runtime:
    """This process's Runtime (built from the environment on first use)."""
    global _current
    if _current is None:
        _current = Runtime.build(load_context())
    return _current


def install(runtime: Runtime) -> None:
    """Use ``runtime`` for this process's jobs (the worker class and tests)."""
    global _current
    _current = runtime
