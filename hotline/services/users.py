"""Console users: who signs in, with which role, their password (argon2id) and API token.

The console (operator_console/) and ``hotline users …`` use this service. Passwords are hashed
with argon2-cffi's defaults (argon2id, parameters in the PHC string, so they can be raised later
and old hashes are re-hashed at the next sign-in). An API token is shown once when issued; only
its SHA-256 is stored, with its expiry (``[console] token_days``) and its last use (to the minute).
A password change revokes the token and ends the user's console sessions (all but the one that made
the change); disabling an account does both; a role change ends the sessions.

A new install has no account: ``hotline up`` (while no admin exists) and the sign-in page (while
there is no user at all) say the one command that makes the first admin, whose generated password
is printed once, to whoever runs it (README: The first sign-in).
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.console_models import EndReason, end_user_sessions
from hotline.adapters.db.models import Role, User
from hotline.domain.errors import HotlineError

log = logging.getLogger("hotline.users")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,62}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this keeps an unknown user name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
#: ``hotline …`` arguments that make the console's first admin.
FIRST_ADMIN_ARGS = ("users", "add", "admin", "--name", "Quản trị hệ thống", "--role", Role.ADMIN)
#: The environment that decides which settings and database a command uses (passed on in the command).
_SAME_HOTLINE = ("HOTLINE_SETTINGS", "HOTLINE_STATE_DIR")
TOKEN_TOUCH = timedelta(minutes=1)     # token_used_at is written at most this often


class UserError(HotlineError):
    """A user command that cannot be done (unknown name, weak password, bad role...)."""


@dataclass(frozen=True)
class ConsoleUser:
    """What the console keeps of a signed-in user."""

    id: int
    username: str
    full_name: str
    role: str
    agency: str | None
    operator: str | None
    active: bool

    @classmethod
    def of(cls, u: User) -> ConsoleUser:
        return cls(u.id, u.username, u.full_name, u.role, u.agency, u.operator, u.active)

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "full_name": self.full_name, "role": self.role,
                "agency": self.agency, "operator": self.operator, "active": self.active}


@dataclass(frozen=True)
class TokenUse:
    """What an API request's token gets: its user, or why it is refused."""

    user: ConsoleUser | None
    refused: str | None = None            # "missing", "unknown" (wrong, revoked, disabled) or "expired"
    expired_at: datetime | None = None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    """Console users, their passwords and API tokens.

    Args:
        sessions: the database.
        now: the hotline's clock.
        agencies: whether an agency key (``department:01``) is in the transfer directory.
        token_days: how long an API token lasts (``[console] token_days``).
    """

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime],
                 agencies: Callable[[str], bool] | None = None, *, token_days: float = 90.0) -> None:
        self.sessions, self.now = sessions, now
        self._agency_known = agencies or (lambda _key: True)
        self.token_life = timedelta(days=token_days)

    def add(self, username: str, full_name: str, role: str, password: str, *, agency: str | None = None,
            operator: str | None = None) -> ConsoleUser:
        if not USERNAME_RE.match(username):
            raise UserError(f"user name {username!r}: use 2-63 lower-case letters, digits, '.', '_' or '-'")
        self._check_role(role, agency)
        _check_password(password)
        with self.sessions.begin() as s:
            if s.scalar(select(User).where(User.username == username)) is not None:
                raise UserError(f"user {username} already exists")
            user = User(username=username, full_name=full_name, role=role, agency=agency if role == Role.AGENCY
                        else None, operator=operator, password_hash=_hasher.hash(password), active=True,
                        created_at=self.now())
            s.add(user)
            s.flush()
            return ConsoleUser.of(user)

    def authenticate(self, username: str, password: str) -> ConsoleUser | None:
        """The user, if the name and password match an active account; re-hashes old parameters."""
        with self.sessions.begin() as s:
            user = s.scalar(select(User).where(User.username == username.strip().lower()))
            try:
                _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return None
            if user is None or not user.active:
                return None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.last_login_at = self.now()
            return ConsoleUser.of(user)

    def get(self, user_id: int) -> ConsoleUser | None:
        with self.sessions() as s:
            user = s.get(User, user_id)
            return ConsoleUser.of(user) if user is not None and user.active else None

    def by_name(self, username: str) -> ConsoleUser:
        with self.sessions() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"no user {username}")
            return ConsoleUser.of(user)

    def use_token(self, token: str) -> TokenUse:
        """The user of an API request's ``token``, if it is theirs, unexpired and they are active; notes its use."""
        if not token:
            return TokenUse(None, "missing")
        now = self.now()
        with self.sessions.begin() as s:
            user = s.scalar(select(User).where(User.token_hash == token_digest(token)))
            if user is None or not user.active:
                return TokenUse(None, "unknown")
            if user.token_expires_at is None or now >= user.token_expires_at:
                return TokenUse(None, "expired", user.token_expires_at)
            if user.token_used_at is None or now - user.token_used_at >= TOKEN_TOUCH:
                user.token_used_at = now
            return TokenUse(ConsoleUser.of(user))

    def issue_token(self, username: str) -> str:
        """A new API token for ``username`` (the old one stops working); shown once, stored hashed."""
        token = "h1022_" + secrets.token_urlsafe(32)
        with self.sessions.begin() as s:
            user = self._user(s, username)
            user.token_hash, user.token_expires_at, user.token_used_at = token_digest(token), \
                self.now() + self.token_life, None
        return token

    def token_expiry(self, username: str) -> datetime | None:
        """When ``username``'s API token expires (None: they have none)."""
        with self.sessions() as s:
            user = self._user(s, username)
            return user.token_expires_at if user.token_hash else None

    def check_password(self, user_id: int, password: str) -> bool:
        """Whether ``password`` is the active user ``user_id``'s (as slow for an unknown id)."""
        with self.sessions() as s:
            user = s.get(User, user_id)
            try:
                _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
            return user is not None and user.active

    def set_password(self, username: str, password: str, *, keep_session: str | None = None) -> int:
        """Set the password; revokes the API token and ends every console session but ``keep_session`` (the
        hash of the one that made the change); returns how many sessions ended."""
        _check_password(password)
        with self.sessions.begin() as s:
            user = self._user(s, username)
            user.password_hash = _hasher.hash(password)
            _revoke_token(user)
            ended = end_user_sessions(s, user.id, EndReason.PASSWORD, self.now(), keep=keep_session)
        log.info("password of %s changed: API token revoked, %d console sessions ended", username, ended)
        return ended

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable an account; disabling revokes the API token and ends every console session."""
        with self.sessions.begin() as s:
            user = self._user(s, username)
            user.active = active
            if not active:
                _revoke_token(user)
                ended = end_user_sessions(s, user.id, EndReason.DISABLED, self.now())
                log.info("%s disabled: API token revoked, %d console sessions ended", username, ended)

    def set_role(self, username: str, role: str, *, agency: str | None = None) -> int:
        """Give ``username`` another role (an agency's with ``agency``); ends their console sessions, so they
        sign in again into what the new role sees; returns how many ended."""
        self._check_role(role, agency)
        with self.sessions.begin() as s:
            user = self._user(s, username)
            user.role, user.agency = role, agency if role == Role.AGENCY else None
            ended = end_user_sessions(s, user.id, EndReason.ROLE, self.now())
        log.info("role of %s is now %s: %d console sessions ended", username, role, ended)
        return ended

    def count(self, role: str | None = None, *, active_only: bool = True) -> int:
        """How many users (of ``role``; active ones only unless ``active_only`` is False)."""
        q = select(func.count(User.id))
        if role is not None:
            q = q.where(User.role == role)
        if active_only:
            q = q.where(User.active.is_(True))
        with self.sessions() as s:
            return int(s.scalar(q) or 0)

    def list(self) -> list[ConsoleUser]:
        with self.sessions() as s:
            return [ConsoleUser.of(u) for u in s.scalars(select(User).order_by(User.username))]

    def _check_role(self, role: str, agency: str | None) -> None:
        if role not in Role.ALL:
            raise UserError(f"role {role!r}: one of {', '.join(Role.ALL)}")
        if role == Role.AGENCY and not agency:
            raise UserError("an agency user needs --agency KIND:CODE (e.g. department:01)")
        if agency and not self._agency_known(agency):
            raise UserError(f"agency {agency!r} is not in the transfer directory (hotline directory list)")

    @staticmethod
    def _user(s: Session, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user {username}")
        return user


def _revoke_token(user: User) -> None:
    user.token_hash = user.token_expires_at = user.token_used_at = None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def first_admin_command(program: str = ".venv/bin/hotline", env: Mapping[str, str] | None = None) -> str:
    """The shell command that makes the first admin, with the settings and state ``env`` chose."""
    chosen = [f"{k}={shlex.quote(v)}" for k in _SAME_HOTLINE if (v := (env or {}).get(k))]
    return " ".join([*chosen, shlex.quote(program), *map(shlex.quote, FIRST_ADMIN_ARGS)])


def first_admin_hint(users: UserService, program: str, env: Mapping[str, str], console_url: str) -> list[str]:
    """What ``hotline up`` prints while no admin account exists (the command that makes one); [] once one does.

    No account is made here and no password printed: the person who runs the command sees it, once.
    """
    if users.count(Role.ADMIN, active_only=False):
        return []
    same_db = (["    (với cùng HOTLINE_DATABASE_URL như khi chạy hotline up)"]
               if env.get("HOTLINE_DATABASE_URL") else [])
    return ["Bảng điều khiển chưa có tài khoản quản trị nào (no console admin yet). Tạo tài khoản đầu tiên "
            "ở một cửa sổ khác, với quyền root; mật khẩu được in ra một lần (printed once):",
            "    " + first_admin_command(program, env), *same_db,
            f"rồi đăng nhập {console_url} với tên admin và mật khẩu đó (then sign in as admin)."]
