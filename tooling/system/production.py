"""``hotline setup --systemd``: the hotline's system user, the folders it writes, the units, systemd told.

Every Python process of the hotline (and its own Redis) runs under systemd as the system user ``hotline``
(no login shell, its home the state directory; the worker in group ``asterisk`` besides its own so that it
may delete recordings on time). The state directory stays root's: root-run steps read fail2ban's and
Asterisk's configuration there; ``hotline`` owns only the folders its processes write. Asterisk starts as
root in its root and drops to its own user, as under ``hotline up``. Only this set-up needs root.
Idempotent: a second run changes nothing that is already so.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hotline.config.files import ENV_OVERRIDES
from hotline.config.redis_url import is_own
from hotline.config.schema import REPO_ROOT, old_default_database
from tooling.system import units
from tooling.system.assembly import asterisk_process
from tooling.system.asterisk import AsteriskInstall
from tooling.system.asterisk_process import untraversable
from tooling.system.asterisk_user import HOST, Tables, ids_of
from tooling.system.owners import chown_tree, share_with_group
from tooling.system.services import redis_server_config
from tooling.system.shell import Progress, SetupError, run
from tooling.system.sip_guard import Guard, fail2ban_command

USER = units.USER
UNITS_DIR = Path("/etc/systemd/system")
ETC_DIR = Path("/etc/hotline")
#: The variables of the set-up's environment the processes are given too (where the settings are).
PASSED_ENV = (*ENV_OVERRIDES, "HOTLINE_LOG_LEVEL")

Runner = Callable[[list[str]], None]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SetupError(f"Could not create the hotline's system user ({' '.join(argv)}): {done.stderr.strip()}. "
                         f"Create it yourself (adduser --system --group --home {argv[-1]} {USER}) and run the "
                         "set-up again.")


def ensure_user(home: Path, progress: Progress, host: Tables = HOST, run_: Runner = _run) -> tuple[int, int]:
    """The system user and group ``hotline`` (created if missing: no login shell, home ``home``); (uid, gid)."""
    if ids_of(host.group, USER) is None:
        run_(["groupadd", "--system", USER])
    uid = ids_of(host.passwd, USER)
    if uid is None:
        run_(["useradd", "--system", "--gid", USER, "--home-dir", str(home), "--no-create-home",
              "--shell", "/usr/sbin/nologin", "--comment", "Hotline 1022 services", USER])
        uid = ids_of(host.passwd, USER)
        progress(f"[setup] Created the system user {USER} (uid {uid}, no login shell, home {home}): "
                 "the hotline's processes run as this user")
    gid = ids_of(host.group, USER)
    if uid is None or gid is None:
        raise SetupError(f"The system user {USER} is still missing after useradd: create it yourself "
                         f"(adduser --system --group --home {home} {USER}) and run the set-up again.")
    return uid, gid


def hotline_writable(settings: Any, redis: bool = True) -> list[Path]:
    """The folders of the state directory the hotline's processes write, each of them its own (the state
    directory itself stays root's: root-run steps read what is in it, fail2ban's and Asterisk's configuration):
    the call-log spool, ``alerts/``, the citizens' files (``attachments/``), the suggestions' model
    (``models/``), the mailbox reader's state (``mailbox/``), the SQLite database's folder, ``redis/`` for its own
    Redis (``redis``)."""
    state = Path(os.path.abspath(settings.paths.state_dir))
    folders = [Path(settings.call_log_spool), state / "alerts", Path(settings.paths.attachments),
               Path(settings.paths.models), state / "mailbox"]
    if redis and is_own(settings.redis):
        folders.append(state / "redis")
    database = _sqlite_file(settings.database.url)
    if database is not None:
        folder = Path(os.path.abspath(database.parent))
        if state.is_relative_to(folder):
            raise SetupError(
                f"The SQLite database {database} is in the state directory itself ({folder}): SQLite writes "
                f"beside it, and under systemd the user {USER} may not write there (root-run steps read that "
                f"folder). Move it into a folder of its own: `mkdir {state / 'db'} && mv {database}* "
                f"{state / 'db'}/`, set [database] url = \"sqlite:///{state / 'db' / database.name}\" in "
                "province.toml (or use PostgreSQL), and run the set-up again.")
        folders.append(folder)
    folders = [Path(os.path.abspath(f)) for f in folders]
    for folder in folders:
        if state.is_relative_to(folder):
            raise SetupError(f"{folder}, written by the hotline's processes, is the state directory {state} or "
                             f"holds it: under systemd the user {USER} may not write there (root-run steps read "
                             "that folder). Choose a folder of its own inside it and run the set-up again.")
    return folders


def move_old_database(settings: Any, progress: Progress) -> None:
    """The default SQLite database of an earlier version (``<state>/hotline.db``, beside root's files) moved
    into ``<state>/db/``, where the hotline's user may write, with its journal files; ``settings`` then name it
    there. Nothing is done for a database the settings name themselves, or when ``db/`` already holds one."""
    state = Path(settings.paths.state_dir)
    old, new = old_default_database(state), state / "db" / "hotline.db"
    if settings.database.url != f"sqlite:///{old}" or not old.exists() or new.exists():
        return
    _refuse_link(old)
    connection = sqlite3.connect(old)
    try:        # the write-ahead log into the file, so that one file holds it all
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    left = [p for p in (old.with_name(old.name + s) for s in ("-wal", "-journal")) if p.exists()]
    if left:    # the last connection removes them: another process still has the database open
        raise SetupError(f"{old} is still open ({left[0]} exists): stop every hotline process (hotline up, the "
                         "console, a command running) and run this again, to move it into a folder of its own.")
    new.parent.mkdir(mode=0o755, exist_ok=True)
    os.replace(old, new)
    old.with_name(old.name + "-shm").unlink(missing_ok=True)
    settings.database.url = f"sqlite:///{new}"
    progress(f"[setup] The SQLite database moved from {old} to {new} (a folder of its own, which the "
             f"hotline's user {USER} may write)")


def give_folders(settings: Any, owner: tuple[int, int], asterisk_gid: int, progress: Progress) -> None:
    """The state directory stays root's (0755); the folders the processes write in it become ``owner``'s and
    ``secrets.toml`` readable by its group (0640 root:hotline); the recordings stay Asterisk's, writable by its
    group (the hotline's worker deletes them on time)."""
    state = Path(settings.paths.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    _keep_roots(state)
    _share_log_folder(state / "log", asterisk_gid)
    for top in hotline_writable(settings):
        top.mkdir(parents=True, exist_ok=True)
        _chown_tree(top, owner)
    give_database(settings, owner)
    secrets = state / "secrets.toml"
    if secrets.exists() or secrets.is_symlink():
        _refuse_link(secrets)
        os.lchown(secrets, 0, owner[1])
        os.chmod(secrets, 0o640)
    recordings = Path(settings.paths.recordings_root)
    recordings.mkdir(parents=True, exist_ok=True)
    share_with_group(recordings, asterisk_gid)
    progress(f"[setup] {state} stays root's; what the processes write there belongs to {USER}, secrets.toml is "
             f"readable by its group; the recordings in {recordings} stay Asterisk's, writable by its group")


def _share_log_folder(folder: Path, asterisk_gid: int) -> None:
    """Asterisk's log folder (asterisk-prepare gives it to Asterisk) writable by its group (2775): the worker,
    in that group, rotates messages.log there by making the day's copy."""
    folder.mkdir(exist_ok=True)
    _refuse_link(folder)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        if st.st_gid != asterisk_gid:
            os.fchown(fd, -1, asterisk_gid)
        if stat.S_IMODE(st.st_mode) != 0o2775:
            os.fchmod(fd, 0o2775)
    finally:
        os.close(fd)


def give_database(settings: Any, owner: tuple[int, int]) -> None:
    """The SQLite database's files ``owner``'s: a root-run step that opened it may have made its journal."""
    database = _sqlite_file(settings.database.url)
    if database is None:
        return
    for path in [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]:
        if path.exists() or path.is_symlink():
            _refuse_link(path)
            os.lchown(path, *owner)


def _keep_roots(state: Path) -> None:
    """The state directory root:root 0755 (an earlier set-up gave it to the hotline user)."""
    _refuse_link(state)
    st = os.lstat(state)
    if (st.st_uid, st.st_gid) != (0, 0):
        os.lchown(state, 0, 0)
    if stat.S_IMODE(st.st_mode) != 0o755:
        os.chmod(state, 0o755)


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise SetupError(f"{path} is a symbolic link: the set-up gives files to the user {USER} only where they "
                         "are. Replace the link by the folder or file itself and run the set-up again.")


def _sqlite_file(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _chown_tree(top: Path, owner: tuple[int, int]) -> None:
    """``top`` and everything in it ``owner``'s, no link followed; ``top`` itself a link refused."""
    _refuse_link(top)
    chown_tree(top, owner)


def check_reachable(settings: Any, owner: tuple[int, int]) -> None:
    """Refuse a checkout, Python, settings or state the hotline user cannot even enter (a clone in /root)."""
    p = settings.paths
    python = Path(os.path.realpath(sys.executable))     # a venv's interpreter may live elsewhere (pyenv in /root)
    found = first_unreachable([REPO_ROOT, Path(sys.executable).parent, python, Path(sys.base_prefix),
                               settings.source, p.flow, p.directory, p.prompts_dir, p.categories, p.state_dir,
                               p.recordings_root], owner)
    if found is not None:
        path, blocked = found
        raise SetupError(f"The system user {USER} cannot enter {blocked}, so it cannot reach {path}. Run "
                         f"`chmod o+x {blocked}`, or keep the checkout, its Python and the hotline's files where "
                         "every user may enter (/opt, /srv, /usr), and run the set-up again.")


def first_unreachable(paths: list[Path], owner: tuple[int, int]) -> tuple[Path, Path] | None:
    """The first of ``paths`` that user ``owner`` cannot reach, with the folder that stops it."""
    for path in paths:
        blocked = untraversable(Path(os.path.abspath(path)), *owner)
        if blocked is not None:
            return path, blocked
    return None


def plan(settings: Any, redis_url: str, install: AsteriskInstall, env: Mapping[str, str],
         etc_dir: Path = ETC_DIR) -> units.Plan:
    """What the units of this install are made of."""
    state, recordings = Path(settings.paths.state_dir), Path(settings.paths.recordings_root)
    asterisk = asterisk_process(install, state / "asterisk" / "asterisk.conf", state, recordings,
                                settings.call_log_spool)
    passed = {k: env[k] for k in PASSED_ENV if env.get(k)}
    return units.Plan(
        python=Path(sys.executable), workdir=REPO_ROOT, state_dir=state, recordings_root=recordings,
        writable=units.python_writable(state, recordings, hotline_writable(settings, redis=False)), redis_url=redis_url,
        queue=settings.transcription.queue, asterisk=asterisk.command(), asterisk_root=install.root,
        env={"HOTLINE_SETTINGS": str(settings.source), **passed},
        own_redis=units.redis_command(settings.redis.port, state) if is_own(settings.redis) else None,
        sip_guard=fail2ban_command(Guard.from_settings(settings, state)) if settings.security.sip_guard else None,
        env_file=etc_dir / "hotline.env", redis_auth_file=etc_dir / "redis.conf")


def write_secrets(the_plan: units.Plan, redis_password: str) -> None:
    """The environment file and the Redis password file: root's alone (0600 in a 0700 folder); systemd reads
    them before it drops to the hotline's user."""
    folder = the_plan.env_file.parent
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    files = {the_plan.env_file: units.env_file_text(the_plan)}
    if the_plan.own_redis is not None:
        files[the_plan.redis_auth_file] = redis_server_config(redis_password)
    for path, text in files.items():
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)


def write_units(the_plan: units.Plan, units_dir: Path, progress: Progress) -> dict[str, str]:
    """The units written into ``units_dir``; a hotline unit no longer part of the hotline removed."""
    rendered = units.render(the_plan)
    changed = units.write(rendered, units_dir)
    for old in units_dir.glob("hotline-*.service"):
        if old.name not in rendered:
            old.unlink()
            progress(f"[setup] Removed {old} (no longer part of the hotline)")
    progress(f"[setup] systemd units in {units_dir}: {', '.join(sorted(rendered))} "
             f"({len(changed)} written, the others unchanged)")
    return rendered


def systemd_running() -> bool:
    """True when systemd is the machine's init (sd_booted's test)."""
    return Path("/run/systemd/system").is_dir()


def enable(units_dir: Path, progress: Progress, running: bool | None = None) -> bool:
    """``systemctl daemon-reload`` and ``enable hotline.target`` where systemd runs; else say what to do."""
    if not (systemd_running() if running is None else running):
        progress(f"[setup] systemd is not running on this machine (its first process is not systemd), so the "
                 f"units in {units_dir} were written but not loaded, enabled or started. On a server booted with "
                 "systemd, run: systemctl daemon-reload && systemctl enable --now hotline.target")
        return False
    run(["systemctl", "daemon-reload"], "reload systemd's units")
    run(["systemctl", "enable", units.TARGET], "enable the hotline's units at boot")
    progress(f"[setup] {units.TARGET} enabled: the hotline starts at boot. Start it now with "
             "`systemctl start hotline.target` (stop `hotline up` first: both use the same ports)")
    return True


def install(settings: Any, asterisk: AsteriskInstall, redis_url: str, progress: Progress, *,
            units_dir: Path = UNITS_DIR, etc_dir: Path = ETC_DIR, host: Tables = HOST, run_: Runner = _run,
            running: bool | None = None) -> dict[str, str]:
    """All of ``hotline setup --systemd`` after the common set-up; returns the units written."""
    from hotline.adapters.db import open_database
    from hotline.config.secrets import load_or_create_secrets

    state = Path(settings.paths.state_dir)
    owner = ensure_user(state, progress, host, run_)
    check_reachable(settings, owner)
    open_database(settings.database.url)    # the schema made now: the database file is the hotline's from the start
    give_folders(settings, owner, asterisk.user_ids()[1], progress)
    the_plan = plan(settings, redis_url, asterisk, os.environ, etc_dir)
    write_secrets(the_plan, load_or_create_secrets(state).redis_password)
    progress(f"[setup] The units' secrets are in {etc_dir} (readable by root alone); no unit holds one")
    rendered = write_units(the_plan, units_dir, progress)
    enable(units_dir, progress, running)
    return rendered
