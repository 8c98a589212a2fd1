"""What every process loads at start: settings, clock, directory, flow, database.

Each process's composition root (the ARI app's ``main``, the AGI server's, the
command line) calls :func:`load_context` once; nothing is loaded at import time.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.config.secrets import Secrets, load_or_create_secrets
from hotline.config.settings import Settings, load_settings
from hotline.domain.calendar import HolidayCalendar, HotlineHours
from hotline.domain.clock import Clock, clock_from_env
from hotline.domain.directory import Directory, load_directory
from hotline.domain.errors import HotlineError
from hotline.domain.flows.loader import load_flow
from hotline.domain.flows.model import Flow
from hotline.domain.redact import redact_url
from hotline.domain.tickets.categories import Categories, load_categories

if TYPE_CHECKING:
    from hotline.intake import Intake
    from hotline.services.nearby import NearbyRules
    from hotline.services.suggest import SuggestService
    from hotline.services.tickets import TicketService


@dataclass
class Context:
    settings: Settings
    clock: Clock
    directory: Directory
    flow: Flow
    hours: HotlineHours
    secrets: Secrets
    categories: Categories

    @property
    def redis_url(self) -> str:
        """The Redis every client uses: the settings' URL, or the hotline's own with its generated password."""
        from hotline.config.redis_url import redis_url
        return redis_url(self.settings.redis, self.secrets)

    def sessions(self, migrate: bool = True, *, tolerate_outage: bool = False) -> sessionmaker[Session]:
        """The database's session factory (``tolerate_outage``: see open_database)."""
        from hotline.adapters.db import open_database
        return open_database(self.settings.database.url, migrate=migrate, tolerate_outage=tolerate_outage)

    def tickets(self, sessions: sessionmaker[Session] | None = None, *, jobs: bool = False) -> TicketService:
        """The ticket service on ``sessions`` (default: a new migrated session factory); ``jobs``: it
        schedules its follow-up jobs on the worker's queue (Redis is reached on first use)."""
        from hotline.adapters.jobqueue import JobQueue, connect
        from hotline.domain.tickets.deadlines import DeadlineClock
        from hotline.services.tickets import TicketService
        s, sessions = self.settings, sessions or self.sessions()
        deadlines = DeadlineClock(s.agency_hours, self.hours.calendar, s.tz)
        queue = JobQueue(connect(self.redis_url), s.transcription.queue, sessions, self.clock.offset_seconds,
                         deadlines) if jobs else None
        return TicketService(sessions, self.clock.now, deadlines, self.categories, self.directory,
                             s.tickets.code_digits, queue, self.nearby_rules())

    def nearby_rules(self) -> NearbyRules:
        """[tickets]' rules of duplicates and hotspots, with the directory's communes and districts."""
        from hotline.domain.tickets.nearby import place_names
        from hotline.services.nearby import NearbyRules
        t = self.settings.tickets
        names = place_names(a.name for a in self.directory.entries if a.kind in ("commune", "district"))
        return NearbyRules(t.duplicate_days, t.similar_text, t.near_metres, t.hotspot_min, t.hotspot_days,
                           tuple(names))

    def suggestions(self, tickets: TicketService) -> SuggestService:
        """The suggested category and agency of ``tickets``' tickets ([suggest]; the model under the state dir)."""
        from hotline.services.suggest import SuggestService
        return SuggestService(tickets, self.settings.paths.models, self.settings.suggest.min_confidence)

    def intake(self, sessions: sessionmaker[Session] | None = None, *, jobs: bool = False) -> Intake:
        """The door of every written request (hotline.intake) on ``sessions``; ``jobs``: its tickets' follow-up
        jobs and its replies are queued on the worker's queue."""
        from hotline.intake import Intake
        sessions = sessions or self.sessions()
        tickets = self.tickets(sessions, jobs=jobs)
        i, sms = self.settings.intake, self.settings.sms
        return Intake(tickets, sessions, self.settings.paths.attachments, max_chars=i.max_chars,
                      max_files=i.max_files, max_file_bytes=int(i.max_file_mb * 1_000_000),
                      photo_max_side=i.photo_max_side, public_url=i.public_url,
                      sms_codes=sms.enabled and bool(sms.send_url) and sms.voicemail_code,
                      sms_notices=sms.enabled and bool(sms.send_url) and sms.answered_notice,
                      link_key=self.secrets.public_secret_key,
                      send=tickets.jobs.send_message if tickets.jobs is not None else None)


def load_context(settings_path: Path | None = None, env: Mapping[str, str] | None = None) -> Context:
    """Load and validate everything a process needs; raises ConfigError(s) on a mistake."""
    env = os.environ if env is None else env
    settings = load_settings(settings_path, env)
    clock = clock_from_env(settings.tz, env)
    directory = load_directory(settings.paths.directory)
    categories = load_categories(settings.paths.categories)
    flow = load_flow(settings.paths.flow, directory=directory, recorded_prompts_dir=settings.paths.prompts_dir,
                     categories=[c.code for c in categories.entries])
    hours = HotlineHours(settings.staffed_hours, HolidayCalendar(settings.holidays), settings.tz)
    secrets = load_or_create_secrets(settings.paths.state_dir)
    return Context(settings, clock, directory, flow, hours, secrets, categories)


class RedactingFormatter(logging.Formatter):
    """Log lines with every URL's password masked (hotline.domain.redact), tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url(super().format(record))


def setup_logging(name: str, level: str | None = None) -> None:
    """One line per event, greppable: time, process, logger, message; no URL's password."""
    logging.basicConfig(
        level=(level or os.environ.get("HOTLINE_LOG_LEVEL", "INFO")).upper(),
        format=f"%(asctime)s {name} %(name)s %(levelname)s %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(handler.formatter._fmt if handler.formatter else None))


def run_service(name: str, amain: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """An asyncio process's entry point: its logging, then ``amain()``; a configuration or start-up error
    (HotlineError) is one line on stderr and exit status 2."""
    setup_logging(name)
    try:
        asyncio.run(amain())
    except HotlineError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)
