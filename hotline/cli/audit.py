"""What the command line writes in the AccessLog: who ran a command that printed or exported personal data."""
from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.services.access_log import AccessLogService


def who(by: str | None = None) -> str:
    """``by`` if given, else the account that ran the command (through sudo: the one who ran sudo)."""
    return by or f"cli:{os.environ.get('SUDO_USER') or getpass.getuser()}"


def log_read(ctx: Any, sessions: sessionmaker[Session], action: str, resource: str, *,
             call_id: str | None = None, **detail: Any) -> None:
    """The AccessLog row of what a command printed (no address: it ran on this machine)."""
    AccessLogService(sessions, ctx.clock.now).add(who(), action, resource, call_id=call_id, **detail)
