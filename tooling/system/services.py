"""Redis and PostgreSQL: use the ones configured; otherwise install and start our own (Redis with a password)."""
from __future__ import annotations

import getpass
import glob
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hotline.config.redis_url import is_own, redis_url
from hotline.config.schema import RedisSettings
from hotline.config.secrets import Secrets
from hotline.domain.redact import redact_url
from tooling.system import apt
from tooling.system.owners import chown_tree
from tooling.system.shell import Progress, SetupError, is_alive, run, terminate, wait_until

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def redis_answers(url: str, timeout: float = 2.0) -> bool:
    """True when a Redis server answers PING at ``url`` within ``timeout`` seconds."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=min(1.0, timeout), socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()


def requires_password(host: str, port: int) -> bool:
    """True when the Redis at ``host``:``port`` refuses a client without a password (NOAUTH). A Redis without
    one accepts any password a client sends, so answering with the right one proves nothing."""
    import redis

    client = redis.Redis(host=host, port=port, protocol=2, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.AuthenticationError:
        return True
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()
    return False


def redis_server_argv(port: int, state_dir: Path, user: str | None = None) -> list[str]:
    """The command that starts the hotline's own Redis (loopback only, files in the state directory; the
    append-only file keeps queued jobs across a crash, at most a second of writes lost), as ``user`` (in that
    user's group alone) where given. Its password is read from standard input (redis_server_config), never
    from this command line: ``ps`` shows it to anyone."""
    data = state_dir / "redis"
    as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--",     # its files 0640
               "sh", "-c", 'umask 027 && exec "$0" "$@"'] if user else []
    return [*as_user, "redis-server", "-", "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes",
            "--dir", str(data), "--daemonize", "yes", "--pidfile", str(data / "redis.pid"),
            "--logfile", str(data / "redis.log"), "--save", "60 1000", "--appendonly", "yes",
            "--appendfsync", "everysec"]


def redis_server_config(password: str) -> str:
    """What ``redis-server -`` reads on standard input: the password every client must send."""
    if not password or any(c.isspace() or c in "\"'" for c in password):
        raise ValueError("a Redis password must be a non-empty token without spaces or quotes")
    return f'requirepass "{password}"\n'


def ensure_redis_installed(progress: Progress) -> None:
    """Debian's redis-server, the program the hotline's own Redis runs."""
    if shutil.which("redis-server") is None:
        apt.install(["redis-server"], progress)


def ensure_redis(redis: RedisSettings, secrets: Secrets, state_dir: Path, progress: Progress,
                 user: str | None = None) -> str:
    """Return the Redis URL every client uses (hotline.config.redis_url) once it answers: a province's own
    Redis as configured, or the hotline's own, started here on 127.0.0.1 with the generated password (as
    ``user``, who then owns its folder, where given)."""
    url = redis_url(redis, secrets)
    if redis_answers(url):
        if is_own(redis) and not requires_password("127.0.0.1", redis.port):   # it takes any password too
            raise SetupError(f"A Redis without a password holds port {redis.port} of 127.0.0.1: it is not the "
                             "hotline's own. Stop it, or choose a free [redis] port (env HOTLINE_REDIS_PORT).")
        parts = urlsplit(url)
        if not is_own(redis) and parts.password is None and "password=" not in parts.query:
            progress(f"[setup] Warning: Redis at {redact_url(url)} takes clients without a password: give it one "
                     "(requirepass) and put it in [redis] url, or leave url empty for the hotline's own Redis.")
        return url
    if not is_own(redis):
        raise SetupError(f"Redis does not answer at {redact_url(url)}. Start it, fix [redis] url in province.toml, "
                         "or leave url empty: the hotline then runs its own Redis.")
    port = redis.port
    if _port_open("127.0.0.1", port):
        raise SetupError(f"Port {port} of 127.0.0.1 is taken by a program that is not the hotline's Redis (or one "
                         "started with another password). Stop it, or choose a free [redis] port (env "
                         "HOTLINE_REDIS_PORT).")
    ensure_redis_installed(progress)
    progress(f"[setup] Starting the hotline's own Redis on 127.0.0.1:{port}, with its password from "
             f"{secrets.path} (files in {state_dir / 'redis'})")
    _redis_folder(state_dir, user)
    run(redis_server_argv(port, state_dir, user), "start Redis",
        f"See {state_dir / 'redis' / 'redis.log'}; is port {port} used by another program?",
        input_text=redis_server_config(secrets.redis_password))
    wait_until(lambda: redis_answers(url), 20, f"Redis to answer on 127.0.0.1:{port}",
               hint=f"See {state_dir / 'redis' / 'redis.log'}.")
    return url


def _redis_folder(state_dir: Path, user: str | None) -> None:
    """``<state_dir>/redis``, ``user``'s (its files too: a Redis started as root before may have made them)."""
    data = state_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    if data.is_symlink():
        raise SetupError(f"{data} is a symbolic link: Redis's folder is given to {user} only where it is. Replace "
                         "the link by a folder and run this again.")
    account = pwd.getpwnam(user)
    chown_tree(data, (account.pw_uid, account.pw_gid))


def _read_small(path: Path, limit: int = 32) -> str:
    """A small regular file another user may have written (Redis's pid file, when it runs as the hotline's
    user), read without following a link or waiting on a pipe, ``limit`` bytes at most."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        return os.read(fd, limit).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


class OwnRedis:
    """The Redis ``ensure_redis`` started for the hotline (its pid file in ``<state_dir>/redis``), as a
    Watchdog (tooling/system/watchdog.py) sees it: PING as the probe, the same command to start it again.
    ``url``: the one its clients use, with the generated password (it is started again with that one)."""

    name = "Redis"

    def __init__(self, url: str, state_dir: Path, user: str | None = None) -> None:
        self.url, self.state_dir, self.user = url, state_dir, user
        self.port = urlsplit(url).port or 6379
        self.pid_file = state_dir / "redis" / "redis.pid"

    @classmethod
    def find(cls, url: str, state_dir: Path, user: str | None = None) -> OwnRedis | None:
        """Our Redis when the server at ``url`` is the one ``ensure_redis`` started, else None (not ours to watch);
        started again as ``user``."""
        own = cls(url, state_dir, user)
        return own if own.pid() is not None else None

    def pid(self) -> int | None:
        """The pid of our redis-server, from its pid file, if that process runs."""
        try:
            pid = int(_read_small(self.pid_file))
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"redis-server" in argv and f":{self.port}".encode() in argv and is_alive(pid) else None

    def persist(self) -> None:
        """Turn the append-only file on in a server an earlier version started without it."""
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.config_set("appendonly", "yes")
        except (redis.exceptions.RedisError, OSError):
            pass
        finally:
            client.close()

    def exited(self) -> str | None:
        return None if self.pid() is not None else "its process is gone"

    def answers(self, timeout: float) -> bool:
        return redis_answers(self.url, timeout)

    def kill(self) -> None:
        pid = self.pid()
        if pid is not None:
            terminate(pid, timeout=0)

    def start(self) -> None:
        """Start it again from its files in the state directory; return once it answers."""
        _redis_folder(self.state_dir, self.user)
        run(redis_server_argv(self.port, self.state_dir, self.user), "start Redis again",
            f"See {self.state_dir / 'redis' / 'redis.log'}; is port {self.port} used by another program?",
            input_text=redis_server_config(unquote(urlsplit(self.url).password or "")))
        wait_until(lambda: self.answers(2.0), 20, f"Redis to answer on 127.0.0.1:{self.port}",
                   hint=f"See {self.state_dir / 'redis' / 'redis.log'}.")


def is_postgres_url(url: str) -> bool:
    return re.match(r"postgres(?:ql)?(?:\+\w+)?://", url) is not None


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL ("postgresql+psycopg://...") as libpq takes it ("postgresql://...")."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


def _connect_error(url: str, dbname: str | None = None) -> str | None:
    """None when PostgreSQL accepts a connection to ``url`` (or to ``dbname`` on its server), else why not."""
    import psycopg

    kwargs = {"dbname": dbname} if dbname else {}
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3, **kwargs):  # type: ignore[arg-type]
            return None
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__


def ensure_postgres(url: str, progress: Progress) -> None:
    """Make the PostgreSQL database of ``url`` exist and answer; other databases (SQLite) need nothing."""
    if not is_postgres_url(url) or _connect_error(url) is None:
        return
    parts = urlsplit(libpq_url(url))
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    user = unquote(parts.username or "") or getpass.getuser()
    dbname = unquote(parts.path.lstrip("/")) or user
    local = parts.hostname in LOCAL_HOSTS
    if not _port_open(host, port):
        if not local:
            raise SetupError(f"PostgreSQL does not answer at {host}:{port}. Start it, or fix [database] url "
                             "in province.toml.")
        _start_local_cluster(port, progress)
        _create_role(user, unquote(parts.password or ""), port, progress)
        if _psql(port, f"SELECT 1 FROM pg_database WHERE datname = {_literal(dbname)}") != "1":
            progress(f"[setup] Creating the PostgreSQL database {dbname!r}")
            _psql(port, f"CREATE DATABASE {_ident(dbname)} OWNER {_ident(user)}")
    problem = _connect_error(url) or ""
    if f'role "{user}" does not exist' in problem and local:
        _create_role(user, unquote(parts.password or ""), port, progress)
        problem = _connect_error(url) or ""
    if f'database "{dbname}" does not exist' in problem:
        progress(f"[setup] Creating the PostgreSQL database {dbname!r}")
        _create_database(url, dbname, user, port, local)
        problem = _connect_error(url) or ""
    if problem:
        raise SetupError(f"PostgreSQL refuses {redact_url(url)}: {redact_url(problem)}. Check the user and "
                         "password in [database] url, and that pg_hba.conf lets that user in from this machine.")


def _port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def _clusters() -> list[tuple[str, str, int, str]]:
    """(version, name, port, status) of each local cluster, from pg_lsclusters."""
    out = run(["pg_lsclusters", "--no-header"], "list the PostgreSQL clusters")
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2].isdigit():
            found.append((fields[0], fields[1], int(fields[2]), fields[3]))
    return found


def _start_local_cluster(port: int, progress: Progress) -> None:
    if shutil.which("pg_lsclusters") is None or not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        apt.install(["postgresql"], progress)
    clusters = [c for c in _clusters() if c[2] == port]
    if not clusters:
        version = sorted(Path(p).parent.parent.name for p in glob.glob("/usr/lib/postgresql/*/bin/postgres"))[-1]
        taken = {c[1] for c in _clusters() if c[0] == version}
        name = "main" if "main" not in taken else f"hotline{port}"
        progress(f"[setup] Creating a PostgreSQL {version} cluster {name!r} on port {port}")
        run(["pg_createcluster", "--port", str(port), version, name], "create a PostgreSQL cluster")
        clusters = [c for c in _clusters() if c[2] == port]
    version, name, _, status = clusters[0]
    if status != "online":
        progress(f"[setup] Starting PostgreSQL {version}/{name} on port {port}")
        run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], "start PostgreSQL",
            f"See /var/log/postgresql/postgresql-{version}-{name}.log.")
    wait_until(lambda: _psql(port, "SELECT 1", check=False) == "1", 30, f"PostgreSQL to answer on port {port}")


def _psql(port: int, sql: str, check: bool = True) -> str:
    """Run SQL as the postgres superuser over the local socket; return the output."""
    argv = ["runuser", "-u", "postgres", "--", "psql", "-p", str(port), "-XAtq", "-v", "ON_ERROR_STOP=1"]
    # On standard input, never the command line: a role's password must not show in `ps` or an error.
    if not check:
        done = subprocess.run(argv, capture_output=True, text=True, input=sql)
        return done.stdout.strip() if done.returncode == 0 else ""
    return run(argv, "run SQL as PostgreSQL's superuser", input_text=sql).strip()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _create_role(user: str, password: str, port: int, progress: Progress) -> None:
    if _psql(port, f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(user)}") == "1":
        return
    progress(f"[setup] Creating the PostgreSQL user {user!r}")
    secret = f" PASSWORD {_literal(password)}" if password else ""
    _psql(port, f"CREATE ROLE {_ident(user)} LOGIN CREATEDB{secret}")


def _create_database(url: str, dbname: str, user: str, port: int, local: bool) -> None:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(libpq_url(url), dbname="postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return
    except psycopg.Error as exc:
        if not local:
            raise SetupError(f"Cannot create the PostgreSQL database {dbname!r}: {exc}. Ask the database "
                             f"administrator to create it for user {user!r}.") from None
    _psql(port, f"CREATE DATABASE {_ident(dbname)} OWNER {_ident(user)}")
