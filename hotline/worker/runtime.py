"""The worker process's composition root: what its jobs use, built once per process.

RQ jobs are plain module-level functions that take ids; they reach the process's
``Runtime`` through :func:`current`. The worker class builds it (and loads the speech
engine) before the first job, so no job ever loads a model.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.jobqueue import JobQueue, connect
from hotline.adapters.mail import Mailer
from hotline.adapters.speech.engines import Engine, EngineUnavailable, engine_problem, open_engine
from hotline.context import Context, load_context
from hotline.services.tickets import TicketService

log = logging.getLogger("hotline.worker")


@dataclass
class Runtime:
    ctx: Context
    sessions: sessionmaker[Session]
    tickets: TicketService
    jobs: JobQueue
    mailer: Mailer
    _engine: Engine | None = None
    engine_error: str | None = None    # why the engine is not loaded (the message waits, and says so)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    retention_ran_at: float | None = None   # monotonic: the retention pass runs at most once an hour

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
        """The engine is loaded, or loads now (the sweep asks: while it cannot, messages are not queued,
        so no attempt of theirs is spent on an engine that is missing or broken)."""
        if self._engine is None and engine_problem(self.ctx.settings.transcription) is not None:
            return False
        return self.engine() is not None

    def engine(self) -> Engine | None:
        """The process's one speech engine, loaded on first need; None (and ``engine_error``) while it
        cannot be: a later call tries again (a Vosk model installed meanwhile is picked up)."""
        with self._lock:
            if self._engine is None:
                t = self.ctx.settings.transcription
                try:
                    started = time.monotonic()
                    self._engine = open_engine(t)
                except EngineUnavailable as exc:
                    self.engine_error = str(exc)
                    return None
                self.engine_error = None
                log.info("speech engine %s loaded in %.1f s", self._engine.name, time.monotonic() - started)
            return self._engine


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
