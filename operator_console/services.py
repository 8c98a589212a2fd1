"""What the console's views use: built once per application from the hotline's context."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import AccessLog
from hotline.context import Context
from hotline.services.tickets import TicketService
from hotline.services.users import UserService


@dataclass
class ConsoleServices:
    ctx: Context
    sessions: sessionmaker[Session]
    tickets: TicketService
    users: UserService

    @classmethod
    def build(cls, ctx: Context) -> ConsoleServices:
        sessions = ctx.sessions()
        return cls(ctx, sessions, ctx.tickets(sessions),
                   UserService(sessions, ctx.clock.now, lambda key: _agency_known(ctx, key)))

    @property
    def recordings_root(self) -> Path:
        return Path(self.ctx.settings.paths.recordings_root)

    def access(self, username: str, action: str, resource: str, *, call_id: str | None = None,
               remote_addr: str | None = None, **detail: Any) -> None:
        with self.sessions.begin() as s:
            s.add(AccessLog(at=self.ctx.clock.now(), username=username, action=action, resource=resource,
                            call_id=call_id, remote_addr=remote_addr, detail=detail))


def _agency_known(ctx: Context, key: str) -> bool:
    kind, _, code = key.partition(":")
    return ctx.directory.find(kind, code) is not None


def services() -> ConsoleServices:
    found: ConsoleServices = current_app.extensions["hotline"]
    return found
