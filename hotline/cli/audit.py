"""What the command line writes in the AccessLog: who ran a command that printed or exported personal data."""
from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.services.access_log import AccessLogService

#: loginuid of a process outside any login session (a service, a container's shell)
NO_LOGIN = 2**32 - 1


def who() -> str:
    """``cli:<account>``, the account that ran the command (what ``--by`` names goes in the row's detail)."""
    return f"cli:{account()}"


def account(loginuid: Path = Path("/proc/self/loginuid")) -> str:
    """Who ran the command. As root: the account of the login session (the kernel's loginuid: kept through sudo
    and su, and not one its user may change), else the one who ran sudo, else root. As any other user (the
    hotline's own processes): that user, whatever the session or the environment says."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid()).pw_name
    try:
        uid = int(loginuid.read_text().strip())
        if uid != NO_LOGIN:
            return pwd.getpwuid(uid).pw_name
    except (OSError, ValueError, KeyError):
        pass
    return os.environ.get("SUDO_USER") or pwd.getpwuid(0).pw_name


def log_read(ctx: Any, sessions: sessionmaker[Session], action: str, resource: str, *,
             call_id: str | None = None, **detail: Any) -> None:
    """The AccessLog row of what a command printed (no address: it ran on this machine)."""
    AccessLogService(sessions, ctx.clock.now).add(who(), action, resource, call_id=call_id, **detail)
