"""Generated credentials, created once and kept in ``<state_dir>/secrets.toml`` (mode 0600).

Nobody types these passwords: the ARI/AMI/Redis clients and the generated Asterisk
configuration (and the hotline's own Redis) read them from here, and a desk's SIP password is generated the
first time it is asked for. Writes are atomic and serialised with a lock file,
so several processes can share one state directory.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hotline.domain.errors import ConfigError

FILE_NAME = "secrets.toml"
#: The file's tables besides [endpoints], with what each holds (every other table is kept too, uncommented).
TABLES = {"ami": "   # one AMI account per process (hotline.adapters.ami.accounts)",
          "kamailio": "   # Kamailio's PostgreSQL role (hotline cluster)",
          "channels": "   # what the province's SMS gateway, Zalo OA, Facebook Page and mailbox gave it (hotline "
                      "channels secret)",
          "open311": "   # one API key per Open311 client (hotline channels open311-key)"}
_TOKEN_BYTES = 24
_ENDPOINT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Secrets:
    """The credentials of one installation; ``endpoint_password`` and ``ami_password_of`` create missing ones
    on first ask. ``ami_account``: the AMI account this process logs in with (``for_ami`` chooses another)."""

    def __init__(self, path: Path, values: dict[str, Any], ami_account: str = "cli") -> None:
        self.path = path
        self._values = values
        self.ami_account = ami_account

    def for_ami(self, account: str) -> Secrets:
        """The same credentials, logging in to AMI as ``account`` (a process's composition root chooses it)."""
        return Secrets(self.path, self._values, account)

    def ami_password_of(self, account: str) -> str:
        """The password of AMI account ``account`` (hotline.adapters.ami.accounts), generated the first time."""
        return self._generated("ami", account)

    @property
    def own_ami_password(self) -> str:
        """The password of this process's AMI account."""
        return self.ami_password_of(self.ami_account)

    @property
    def ari_password(self) -> str:
        return str(self._values["ari_password"])

    @property
    def ami_password(self) -> str:
        return str(self._values["ami_password"])

    @property
    def redis_password(self) -> str:
        """The password of the hotline's own Redis (``[redis] url`` empty): every client sends it."""
        return str(self._values["redis_password"])

    @property
    def console_secret_key(self) -> str:
        """Signs the console's session cookies and CSRF tokens."""
        return str(self._values["console_secret_key"])

    @property
    def public_secret_key(self) -> str:
        """Signs the public site's CSRF tokens and the status links of the receipts (its own: nothing it signs
        opens the console)."""
        return str(self._values["public_secret_key"])

    @property
    def kamailio_db_password(self) -> str:
        """The password of Kamailio's own PostgreSQL role (its registrar tables only), generated the first time."""
        return self._generated("kamailio", "database")

    def endpoint_password(self, name: str) -> str:
        """The SIP password of endpoint ``name``, generated and saved the first time."""
        if not _ENDPOINT_RE.match(name):
            raise ValueError(f"{name!r} is not an endpoint name")
        return self._generated("endpoints", name)

    def _generated(self, table: str, name: str) -> str:
        """``name``'s password in ``table`` of the file, generated and saved the first time."""
        known = self._values.get(table, {}).get(name)
        if known:
            return str(known)
        with _locked(self.path):
            self._values.update(_read(self.path) or {})
            if name not in self._values.setdefault(table, {}):
                self._values[table][name] = secrets.token_urlsafe(_TOKEN_BYTES)
                _write(self.path, self._values)
        return str(self._values[table][name])

    def channel_secret(self, name: str) -> str:
        """A credential a channel's provider gave the province (``hotline channels secret NAME``); empty when it
        has not been set."""
        return str(self._values.get("channels", {}).get(name, ""))

    def set_channel_secret(self, name: str, value: str) -> None:
        """Keep ``value`` as channel credential ``name`` (replacing the one before)."""
        with _locked(self.path):
            self._values.update(_read(self.path) or {})
            self._values.setdefault("channels", {})[name] = value
            _write(self.path, self._values)

    def open311_key(self, client: str) -> str:
        """The Open311 API key of ``client``, generated the first time."""
        if not _ENDPOINT_RE.match(client):
            raise ValueError(f"{client!r} is not a client name (letters, digits, . _ -)")
        return self._generated("open311", client)

    def open311_client(self, key: str) -> str | None:
        """The Open311 client whose API key ``key`` is (compared in constant time), or None. The file is read
        again for a key not known yet (one made by ``hotline channels open311-key`` since this process began)."""
        for values in (self._values, _read(self.path) or {}):
            found = None
            for client, known in values.get("open311", {}).items():
                if secrets.compare_digest(str(known).encode(), key.encode()):
                    found = client
            if found is not None:
                return found
        return None

    def endpoint_names(self) -> list[str]:
        """Endpoints that have a password so far."""
        return sorted(self._values["endpoints"])

    def __repr__(self) -> str:   # never print the passwords
        return f"Secrets({self.path})"


def load_or_create_secrets(state_dir: Path) -> Secrets:
    """Read ``<state_dir>/secrets.toml``, creating it (and state_dir) with new passwords if missing."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE_NAME
    values = _read(path)
    if values is None or not _complete(values):
        with _locked(path):
            values = _read(path) or {}
            if not _complete(values):
                values.setdefault("ari_password", secrets.token_urlsafe(_TOKEN_BYTES))
                values.setdefault("ami_password", secrets.token_urlsafe(_TOKEN_BYTES))
                values.setdefault("endpoints", {})
                values.setdefault("console_secret_key", secrets.token_urlsafe(32))
                values.setdefault("public_secret_key", secrets.token_urlsafe(32))
                values.setdefault("redis_password", secrets.token_urlsafe(_TOKEN_BYTES))
                _write(path, values)
    _tighten(path)
    return Secrets(path, values)


def _tighten(path: Path) -> None:
    """Keep the file 0600, or 0640 where ``hotline setup --systemd`` let the hotline's group read it (root's,
    group ``hotline``); a file of another user's is left as it is (its owner alone may change it)."""
    st = path.stat()
    if stat.S_IMODE(st.st_mode) & 0o077 not in (0, 0o040) and st.st_uid == os.geteuid():
        os.chmod(path, 0o600)


def _complete(values: dict[str, Any]) -> bool:
    return all(k in values for k in ("ari_password", "ami_password", "endpoints", "console_secret_key",
                                     "redis_password", "public_secret_key"))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"the generated secrets file is damaged ({exc})",
                          "delete it to generate new passwords (desks must then be re-provisioned)") from exc
    bad = [k for k in ("ari_password", "ami_password", "redis_password")
           if k in values and not isinstance(values[k], str)]
    if bad or not isinstance(values.get("endpoints", {}), dict):
        raise ConfigError(path, None, f"the generated secrets file has unexpected values ({', '.join(bad)})",
                          "delete it to generate new passwords (desks must then be re-provisioned)")
    return values


def _write(path: Path, values: dict[str, Any]) -> None:
    lines = ["# Generated by the hotline: keep private, do not edit by hand.",
             f"ari_password = {json.dumps(values['ari_password'])}",
             f"ami_password = {json.dumps(values['ami_password'])}",
             *([f"console_secret_key = {json.dumps(values['console_secret_key'])}"]
               if "console_secret_key" in values else []),
             *([f"redis_password = {json.dumps(values['redis_password'])}"] if "redis_password" in values else []),
             *([f"public_secret_key = {json.dumps(values['public_secret_key'])}"]
               if "public_secret_key" in values else []),
             "", "[endpoints]"]
    lines += [f"{json.dumps(name)} = {json.dumps(pw)}" for name, pw in sorted(values["endpoints"].items())]
    for table, comment in sorted({**{t: "" for t, v in values.items() if isinstance(v, dict)}, **TABLES}.items()):
        if table != "endpoints" and values.get(table):
            lines += ["", f"[{table}]{comment}"]
            lines += [f"{json.dumps(name)} = {json.dumps(pw)}" for name, pw in sorted(values[table].items())]
    fd, tmp = tempfile.mkstemp(prefix=".secrets-", suffix=".tmp", dir=path.parent)   # created 0600
    try:
        _keep_group(fd, path)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _keep_group(fd: int, path: Path) -> None:
    """The new file keeps the group read the old one gave (0640 root:hotline under systemd): root's CLI
    adding an endpoint must not take the file from the hotline's processes."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if stat.S_IMODE(st.st_mode) & 0o077 == 0o040:
        if st.st_gid != os.getegid():
            os.fchown(fd, -1, st.st_gid)
        os.fchmod(fd, 0o640)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (between processes sharing the state directory)."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
