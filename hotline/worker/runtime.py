"""What the worker's jobs use, built once per worker process by its composition root.

RQ jobs are plain module-level functions that take ids and an optional ``runtime``: the worker
class (``hotline.worker.rqworker.HotlineWorker``) builds one Runtime, loads the speech engine
before the first job, and hands the Runtime to every job it runs, so no job ever loads a model.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.jobqueue import JobQueue
from hotline.adapters.mail import Mailer
from hotline.adapters.speech.engines import Engine, EngineUnavailable, engine_problem, open_engine
from hotline.context import Context, load_context
from hotline.intake import Intake
from hotline.intake.outbox import Sender, senders
from hotline.services.callback_sweep import CallbackSweep
from hotline.services.suggest import SuggestService
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
    _intake: Intake | None = None
    _senders: dict[str, Sender] | None = None
    _suggest: SuggestService | None = None
    _callbacks: CallbackSweep | None = None

    @classmethod
    def build(cls, ctx: Context | None = None) -> Runtime:
        """Everything the jobs use, from ``ctx`` (default: loaded from the environment)."""
        ctx = ctx or load_context()
        sessions = ctx.sessions()
        tickets = ctx.tickets(sessions, jobs=True)
        assert tickets.jobs is not None
        return cls(ctx, sessions, tickets, tickets.jobs, Mailer(ctx.settings.notifications))

    def now(self) -> Any:
        return self.ctx.clock.now()

    @property
    def intake(self) -> Intake:
        """The written channels' door (its answers back to citizens)."""
        if self._intake is None:
            self._intake = self.ctx.intake(self.sessions, jobs=True)
        return self._intake

    @property
    def senders(self) -> dict[str, Sender]:
        """How each channel set up in the settings sends the hotline's messages."""
        if self._senders is None:
            self._senders = senders(self.ctx.settings, self.ctx.secrets, self.mailer)
        return self._senders

    @property
    def suggest(self) -> SuggestService:
        """The ticket suggestions (their model read or trained on first need, once per process)."""
        if self._suggest is None:
            self._suggest = self.ctx.suggestions(self.tickets)
        return self._suggest

    @property
    def callback_sweep(self) -> CallbackSweep:
        """Call-backs due for a retry or whose placeholder is gone, back in the queue (the worker's AMI account)."""
        if self._callbacks is None:
            from hotline.adapters.ami import node_amis
            from hotline.services.callbacks import Callbacks
            s = self.ctx.settings
            callbacks = Callbacks.configured(self.sessions, self.ctx.clock.now, s.callback)
            self._callbacks = CallbackSweep(callbacks, self.tickets, self.ctx.hours,
                                            node_amis(s, self.ctx.secrets.for_ami("worker")), s.callback.dial)
        return self._callbacks

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

