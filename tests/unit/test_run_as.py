"""Least privilege under `hotline up` without systemd (issue 13, item 1): the supervisor runs each child as
the user and groups its spec names (tooling/system/supervisor.py), and the default SQLite database has a
folder of its own that user may write (hotline/config/schema.py, tooling/system/production.py)."""
from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hotline.config.schema import default_database
from tooling.system import production, supervisor
from tooling.system.shell import SetupError, wait_until

#: A Python every user may run (the project's own may live in /root, which only root enters).
SYSTEM_PYTHON = "/usr/bin/python3"
#: Touches its heartbeat file (named by the supervisor) from its loop, as hotline/heartbeat.py does.
BEATS = ("import os, time\npath = os.environ['HOTLINE_HEARTBEAT_FILE']\n"
         "while True:\n    open(path, 'a').close()\n    os.utime(path)\n    time.sleep(0.1)\n")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK),
                                reason="running a child as another user needs root and the system's Python")


@pytest.fixture()
def open_tmp() -> Iterator[Path]:
    """A folder every user may enter (pytest's own base is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="hotline-run-as-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_a_child_runs_as_its_user_with_only_the_groups_named_and_its_beat_is_seen(open_tmp: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    daemon_gid = 1      # group daemon on Debian
    spec = supervisor.ProcessSpec("beats", [SYSTEM_PYTHON, "-c", BEATS], heartbeat=1.0, user="nobody",
                                  groups=("daemon",))
    root_child = supervisor.ProcessSpec("plain", [SYSTEM_PYTHON, "-c", "import time; time.sleep(600)"])
    sup = supervisor.Supervisor(open_tmp / "state", poll_interval=0.05)
    sup.start([spec, root_child])
    try:
        pids = sup.pids()
        beats, plain = _status(pids["beats"] or 0), _status(pids["plain"] or 0)
        # real, effective, saved and file-system ids all the user's; root's supplementary groups gone
        assert beats["Uid"].split() == [str(nobody.pw_uid)] * 4, beats["Uid"]
        assert beats["Gid"].split() == [str(nobody.pw_gid)] * 4, beats["Gid"]
        assert beats["Groups"].split() == [str(daemon_gid)], beats["Groups"]
        assert beats["Umask"] == "0027"                 # what it writes is not the world's (systemd's UMask=0027)
        assert plain["Uid"].split() == ["0"] * 4      # a spec without a user: the supervisor's own
        wait_until(lambda: sup.heartbeat_file("beats").exists(), 10, "the child's first beat")
        assert sup.heartbeat_file("beats").stat().st_uid == nobody.pw_uid
        time.sleep(2.5)     # more than the deadline: a child that beats is left alone
        assert sup.restarts() == {"beats": 0, "plain": 0}
        assert sup.pids()["beats"] == pids["beats"]
    finally:
        sup.stop()


def test_children_of_two_users_are_refused(open_tmp: Path) -> None:
    specs = [supervisor.ProcessSpec(n, [SYSTEM_PYTHON, "-c", "pass"], user=u)
             for n, u in (("a", "nobody"), ("b", "daemon"))]
    with pytest.raises(ValueError, match="one user"):
        supervisor.Supervisor(open_tmp / "state").start(specs)


class _Settings:
    """The two settings move_old_database reads."""

    def __init__(self, state: Path, url: str) -> None:
        self.paths = type("Paths", (), {"state_dir": state})()
        self.database = type("Database", (), {"url": url})()


def test_the_default_database_has_a_folder_of_its_own_and_an_old_one_is_moved_there_whole(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    assert default_database(state) == state / "db" / "hotline.db"
    old = state / "hotline.db"
    with closing(sqlite3.connect(old)) as db:   # an earlier version's database, in write-ahead-log mode
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE tickets (code TEXT)")
        db.execute("INSERT INTO tickets VALUES ('HL-1')")
        db.commit()
    assert default_database(state) == old   # used where it is until the set-up moves it
    settings = _Settings(state, f"sqlite:///{old}")
    said: list[str] = []
    production.move_old_database(settings, said.append)
    new = state / "db" / "hotline.db"
    assert settings.database.url == f"sqlite:///{new}" and default_database(state) == new
    assert not any(state.glob("hotline.db*")), sorted(state.iterdir())
    with closing(sqlite3.connect(new)) as db:
        assert db.execute("SELECT code FROM tickets").fetchall() == [("HL-1",)]
    assert str(old) in said[0] and str(new) in said[0]
    production.move_old_database(settings, said.append)     # again: nothing to do
    assert len(said) == 1


def test_an_old_database_still_open_elsewhere_is_not_moved(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    old = state / "hotline.db"
    other = sqlite3.connect(old)        # another process's connection, with a write in its log
    try:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("CREATE TABLE t (x)")
        other.commit()
        settings = _Settings(state, f"sqlite:///{old}")
        with pytest.raises(SetupError, match="stop every hotline process"):
            production.move_old_database(settings, lambda _line: None)
        assert old.exists() and settings.database.url == f"sqlite:///{old}"
    finally:
        other.close()


def test_a_database_the_settings_name_is_never_moved(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "hotline.db").write_bytes(b"")
    mine = tmp_path / "mine.db"
    settings = _Settings(state, f"sqlite:///{mine}")
    production.move_old_database(settings, lambda _line: None)
    assert (state / "hotline.db").exists() and settings.database.url == f"sqlite:///{mine}"


def test_the_supervisor_never_writes_a_child_s_log_through_a_link_planted_in_the_log_folder(open_tmp: Path) -> None:
    """The log folder is Asterisk's, writable by its group (the hotline's processes): a link planted as
    worker.log must not make root append to /etc/cron.d or any file of root's."""
    decoy = open_tmp / "roots_file"
    decoy.write_text("root's\n")
    (open_tmp / "state" / "log").mkdir(parents=True)
    (open_tmp / "state" / "log" / "worker.log").symlink_to(decoy)
    sup = supervisor.Supervisor(open_tmp / "state")
    with pytest.raises(OSError):
        sup.start([supervisor.ProcessSpec("worker", [SYSTEM_PYTHON, "-c", "print('into the log')"])])
    sup.stop()
    assert decoy.read_text() == "root's\n"
