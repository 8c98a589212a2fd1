"""Console users: who signs in, with which role, their password (argon2id) and API token.

The console (operator_console/) and ``hotline users …`` use this service. Passwords are hashed
with argon2-cffi's defaults (argon2id, parameters in the PHC string, so they can be raised later
and old hashes are re-hashed at the next sign-in). An API token is shown once when issued; only
its SHA-256 is stored.

A new install has no account: ``hotline up`` (while no admin exists) and the sign-in page (while
there is no user at all) say the one command that makes the first admin, whose generated password
is printed once, to whoever runs it (README: The first sign-in).
"""
from __future__ import annotations

import hashlib
import re
import secrets
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Role, User
from hotline.domain.errors import HotlineError

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,62}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this keeps an unknown user name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
#: ``hotline …`` arguments that make the console's first admin.
FIRST_ADMIN_ARGS = ("users", "add", "admin", "--name", "Quản trị hệ thống", "--role", Role.ADMIN)
#: The environment that decides which settings and database a command uses (passed on in the command).
_SAME_HOTLINE = ("HOTLINE_SETTINGS", "HOTLINE_STATE_DIR")


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


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime],
                 agencies: Callable[[str], bool] | None = None) -> None:
        self.sessions, self.now = sessions, now
        self._agency_known = agencies or (lambda _key: True)

    def add(self, username: str, full_name: str, role: str, password: str, *, agency: str | None = None,
            operator: str | None = None) -> ConsoleUser:
        if not USERNAME_RE.match(username):
            raise UserError(f"user name {username!r}: use 2-63 lower-case letters, digits, '.', '_' or '-'")
        if role not in Role.ALL:
            raise UserError(f"role {role!r}: one of {', '.join(Role.ALL)}")
        if role == Role.AGENCY and not agency:
            raise UserError("an agency user needs --agency KIND:CODE (e.g. department:01)")
        if agency and not self._agency_known(agency):
            raise UserError(f"agency {agency!r} is not in the transfer directory (hotline directory list)")
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

    def by_token(self, token: str) -> ConsoleUser | None:
        if not token:
            return None
        with self.sessions() as s:
            user = s.scalar(select(User).where(User.token_hash == token_digest(token)))
            return ConsoleUser.of(user) if user is not None and user.active else None

    def issue_token(self, username: str) -> str:
        """A new API token for ``username`` (the old one stops working); shown once, stored hashed."""
        token = "h1022_" + secrets.token_urlsafe(32)
        with self.sessions.begin() as s:
            self._user(s, username).token_hash = token_digest(token)
        return token

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        with self.sessions.begin() as s:
            self._user(s, username).password_hash = _hasher.hash(password)

    def set_active(self, username: str, active: bool) -> None:
        with self.sessions.begin() as s:
            user = self._user(s, username)
            user.active = active
            if not active:
                user.token_hash = None

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

    @staticmethod
    def _user(s: Session, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user {username}")
        return user


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
