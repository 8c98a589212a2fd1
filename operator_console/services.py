"""What the console's views use: built once per application (``create_app``) from the hotline's context."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import redis
from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.ami import SyncAmi, ami_client
from hotline.adapters.db.repository import CallRepository
from hotline.context import Context
from hotline.services.access_log import AccessLogService
from hotline.services.console_sessions import ConsoleSessions
from hotline.services.health import CachedHealth, HealthProbe
from hotline.services.knowledge import KnowledgeBase
from hotline.services.operators import OperatorService, operator_service
from hotline.services.outbound import OutboundCalls
from hotline.services.publishing import Publishing
from hotline.services.suggest import SuggestService
from hotline.services.tickets import TicketService
from hotline.services.transfers import TransferService, transfer_service
from hotline.services.users import UserService

HEALTH_TTL = 2.0    # seconds /healthz answers from the last run of the checks


@dataclass
class ConsoleServices:
    """The services, repositories and clients of one console application, shared by its requests.

    Args:
        ctx: the hotline's context (settings, clock, directory, categories, secrets).
        sessions: the database.
        tickets: tickets (the same service as ``hotline tickets``).
        users: console users and their tokens.
        console_sessions: the sign-in sessions every request loads its user through.
        operators: operators' states in the queue, over AMI (the softphone page).
        transfers: blind and attended transfers over AMI.
        knowledge: the knowledge base.
        calls: the call log (calls, recordings, voicemails, transfers).
        ami: one AMI conversation at a time (the supervisor's ChanSpy call).
        access_log: the AccessLog (every read of personal data; the admins' page).
        publishing: the answers approved for the public figures page.
    """

    ctx: Context
    sessions: sessionmaker[Session]
    tickets: TicketService
    users: UserService
    console_sessions: ConsoleSessions
    operators: OperatorService
    transfers: TransferService
    knowledge: KnowledgeBase
    calls: CallRepository
    ami: SyncAmi
    access_log: AccessLogService
    publishing: Publishing

    @classmethod
    def build(cls, ctx: Context) -> ConsoleServices:
        """Everything from ``ctx``: the database opened once; AMI connects per action, Redis on first use."""
        sessions = ctx.sessions()
        c = ctx.settings

        def agency_known(key: str) -> bool:
            kind, _, code = key.partition(":")
            return ctx.directory.find(kind, code) is not None
        users = UserService(sessions, ctx.clock.now, agency_known, token_days=c.console.token_days)
        console_sessions = ConsoleSessions(sessions, ctx.clock.now, lifetime=timedelta(hours=c.console.session_hours),
                                           idle=timedelta(minutes=c.console.session_idle_minutes))
        return cls(ctx, sessions, ctx.tickets(sessions, jobs=True), users, console_sessions,
                   operator_service(c, ctx.secrets, ctx.clock, ctx.directory, sessions),
                   transfer_service(c, ctx.secrets, ctx.directory, sessions),
                   KnowledgeBase(sessions, ctx.clock.now, ctx.categories, agency_known),
                   CallRepository(sessions), SyncAmi(lambda: ami_client(c, ctx.secrets)),
                   AccessLogService(sessions, ctx.clock.now), Publishing(sessions, ctx.clock.now))

    @cached_property
    def outbound(self) -> OutboundCalls:
        """Click-to-call: the operator's phone rung, then the citizen through the outbound route."""
        c = self.ctx.settings
        return OutboundCalls(self.ami, self.tickets, c.callback.dial, c.callback_caller_id)

    @cached_property
    def suggest(self) -> SuggestService:
        """The suggested category and agency of a ticket (its model read or trained at first use)."""
        return self.ctx.suggestions(self.tickets)

    @cached_property
    def live(self) -> redis.Redis:
        """The Redis the monitor publishes the floor to (the wallboard), made on first use."""
        return redis.Redis.from_url(self.ctx.redis_url, socket_connect_timeout=2, socket_timeout=5)

    @cached_property
    def health(self) -> CachedHealth:
        """Every part's health for ``/healthz``, checked at most every HEALTH_TTL seconds."""
        probe = HealthProbe(self.ctx.settings, self.ctx.secrets, self.ctx.clock.now)
        return CachedHealth(probe, HEALTH_TTL)

    def alerts_banner(self) -> list[dict[str, str]]:
        """The alerts ``hotline watch`` told the supervisors of and that are not resolved (Vietnamese lines)."""
        from hotline.services.alerts import AlertStore, alerts_dir, banner
        return banner(AlertStore(alerts_dir(self.ctx.settings.paths.state_dir)).read(), self.ctx.settings.tz)

    @property
    def recordings_root(self) -> Path:
        return Path(self.ctx.settings.paths.recordings_root)

    def access(self, username: str, action: str, resource: str, *, call_id: str | None = None,
               remote_addr: str | None = None, **detail: Any) -> None:
        """One AccessLog row: who played, downloaded, listened to or read what (hotline.services.access_log)."""
        self.access_log.add(username, action, resource, call_id=call_id, remote_addr=remote_addr, **detail)


def log_read(action: str, resource: str, *, call_id: str | None = None, **detail: Any) -> None:
    """The AccessLog row of what the signed-in user is shown now, with the client's address (ProxyFix's, behind
    the configured proxy: operator_console/hardening.py)."""
    services().access_log.add(current_user.name, action, resource, call_id=call_id, remote_addr=request.remote_addr,
                              **detail)


def services() -> ConsoleServices:
    """The current application's services."""
    found: ConsoleServices = current_app.extensions["hotline"]
    return found
