"""``hotline setup --systemd`` (tooling/system/production.py, issue 13 item 1): the ``hotline`` system user,
the folders it writes, the units' secrets and the units, and what it says where systemd does not run.

No system user is created on this machine: useradd and groupadd write to a passwd and group file of the
test's own, as the real ones would (tests/support/host.py)."""
from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.config.settings import load_settings
from tests.support.host import FakeHost
from tooling.system import production
from tooling.system.asterisk import AsteriskInstall
from tooling.system.asterisk_process import AsteriskProcess, untraversable
from tooling.system.asterisk_user import ids_of
from tooling.system.shell import SetupError

ASTERISK_IDS = (4101, 4102)     # the root's (and host's) asterisk, ids no one holds here
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder every user may enter (pytest's own base is root's alone: the hotline user would be refused)."""
    path = Path(tempfile.mkdtemp(prefix="hotline-production-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _host(etc: Path) -> FakeHost:
    """The host's /etc of the test's own: the hotline user created there gets uid 4991, gid 4990."""
    return FakeHost(etc, "root:x:0:0::/root:/bin/sh\npostgres:x:101:104::/var/lib/postgresql:/bin/bash\n",
                    "root:x:0:\npostgres:x:104:\n", new_uid=4991, new_gid=4990)


def _asterisk_root(tmp: Path) -> AsteriskInstall:
    root = tmp / "asterisk-root"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text(f"asterisk:x:{ASTERISK_IDS[0]}:{ASTERISK_IDS[1]}::/var/lib/asterisk:/bin/false\n")
    (root / "etc/group").write_text(f"asterisk:x:{ASTERISK_IDS[1]}:\n")
    return AsteriskInstall(root=root)


def test_the_hotline_user_is_a_system_user_without_a_login_shell_whose_home_is_the_state_dir(tmp_path: Path) -> None:
    host, said = _host(tmp_path / "etc"), []
    assert production.ensure_user(tmp_path / "state", said.append, host.tables, host.run) == (4991, 4990)
    assert host.commands == [["groupadd", "--system", "hotline"],
                             ["useradd", "--system", "--gid", "hotline", "--home-dir", str(tmp_path / "state"),
                              "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment",
                              "Hotline 1022 services", "hotline"]]
    assert "Created the system user hotline (uid 4991" in said[0]
    host.commands.clear()
    assert production.ensure_user(tmp_path / "state", said.append, host.tables, host.run) == (4991, 4990)
    assert host.commands == [] and len(said) == 1       # the second set-up changes nothing


@as_root
def test_setup_systemd_gives_the_hotline_user_its_folders_and_writes_units_and_secrets(
        open_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = open_tmp
    state, recordings, units_dir, etc = tmp_path / "state", tmp_path / "rec", tmp_path / "units", tmp_path / "etc-h"
    (recordings / "2026/11/25").mkdir(parents=True)
    (recordings / "2026/11/25/call.wav").write_bytes(b"RIFF")
    (state / "spool/calllog").mkdir(parents=True)
    (state / "spool/calllog/spool.sqlite").write_bytes(b"")
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(state), "HOTLINE_RECORDINGS_ROOT": str(recordings),
                                  "HOTLINE_DATABASE_URL": f"sqlite:///{state}/db/hotline.db"})
    from hotline.config.secrets import load_or_create_secrets
    secrets = load_or_create_secrets(state)
    host, said = _host(tmp_path / "host-etc"), []
    blocked = untraversable(Path(os.path.realpath(sys.executable)), 4991, 4990)
    if blocked is not None:     # this machine's venv runs pyenv's Python in /root: the set-up says so and stops
        with pytest.raises(SetupError, match=f"cannot enter {blocked}"):
            production.install(settings, _asterisk_root(tmp_path), "redis://:pw@127.0.0.1:6380/0", said.append,
                               units_dir=units_dir, etc_dir=etc, host=host.tables, run_=host.run, running=False)
        monkeypatch.setattr(production, "check_reachable", lambda *_: None)
    rendered = production.install(settings, _asterisk_root(tmp_path), "redis://:pw@127.0.0.1:6380/0", said.append,
                                  units_dir=units_dir, etc_dir=etc, host=host.tables, run_=host.run, running=False)
    hotline = (4991, 4990)
    for path in (state / "db", state / "db/hotline.db", state / "spool/calllog", state / "spool/calllog/spool.sqlite",
                 state / "alerts", state / "redis"):
        assert (path.stat().st_uid, path.stat().st_gid) == hotline, path
    # the state directory stays root's: root-run steps read fail2ban's and Asterisk's configuration there
    assert (state.stat().st_uid, state.stat().st_gid, stat.S_IMODE(state.stat().st_mode)) == (0, 0, 0o755)
    secret = (state / "secrets.toml").stat()
    assert (secret.st_uid, secret.st_gid, stat.S_IMODE(secret.st_mode)) == (0, 4990, 0o640)
    # root's CLI writing the secrets (a new operator's password) keeps them the hotline's to read
    assert load_or_create_secrets(state).endpoint_password("op-new")
    secret = (state / "secrets.toml").stat()
    assert (secret.st_uid, secret.st_gid, stat.S_IMODE(secret.st_mode)) == (0, 4990, 0o640)
    for path in (recordings, recordings / "2026/11/25"):
        mode = path.stat().st_mode
        assert path.stat().st_gid == ASTERISK_IDS[1] and mode & stat.S_IWGRP and mode & stat.S_ISGID, path
    wav = (recordings / "2026/11/25/call.wav").stat()
    assert wav.st_gid == ASTERISK_IDS[1] and wav.st_mode & stat.S_IWGRP
    assert stat.S_IMODE(etc.stat().st_mode) == 0o700
    for name in ("hotline.env", "redis.conf"):
        assert stat.S_IMODE((etc / name).stat().st_mode) == 0o600 and (etc / name).stat().st_uid == 0
    assert (etc / "redis.conf").read_text() == f'requirepass "{secrets.redis_password}"\n'
    assert sorted(p.name for p in units_dir.iterdir()) == sorted(rendered)
    assert any("systemd is not running on this machine" in line and "systemctl daemon-reload" in line
               for line in said)
    # a second set-up changes nothing
    said.clear()
    production.install(settings, _asterisk_root(tmp_path), "redis://:pw@127.0.0.1:6380/0", said.append,
                       units_dir=units_dir, etc_dir=etc, host=host.tables, run_=host.run, running=False)
    assert any("(0 written, the others unchanged)" in line for line in said)
    assert ids_of(host.tables.passwd, "hotline") == 4991


@as_root
def test_an_earlier_set_up_s_state_directory_is_taken_back_and_a_planted_link_refused(open_tmp: Path) -> None:
    state = open_tmp / "state"
    state.mkdir()
    os.chown(state, 4991, 4990)     # as the earlier set-up left it: the hotline user could rename root's folders
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(state), "HOTLINE_RECORDINGS_ROOT": str(open_tmp / "rec"),
                                  "HOTLINE_DATABASE_URL": f"sqlite:///{state}/db/hotline.db"})
    (state / "alerts").symlink_to("/etc")
    with pytest.raises(SetupError, match="alerts is a symbolic link"):
        production.give_folders(settings, (4991, 4990), ASTERISK_IDS[1], [].append)
    assert Path("/etc").stat().st_uid == 0
    (state / "alerts").unlink()
    production.give_folders(settings, (4991, 4990), ASTERISK_IDS[1], [].append)
    assert (state.stat().st_uid, stat.S_IMODE(state.stat().st_mode)) == (0, 0o755)
    assert (state / "alerts").stat().st_uid == 4991


def test_sqlite_in_the_state_directory_itself_is_refused_under_systemd(tmp_path: Path) -> None:
    state = tmp_path / "state"
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(state), "HOTLINE_RECORDINGS_ROOT": str(tmp_path),
                                  "HOTLINE_DATABASE_URL": f"sqlite:///{state}/mine.db"})
    with pytest.raises(SetupError, match=r"is in the state directory itself.*\[database\] url"):
        production.hotline_writable(settings)
    default = load_settings(env={"HOTLINE_STATE_DIR": str(state), "HOTLINE_RECORDINGS_ROOT": str(tmp_path)})
    assert default.database.url == f"sqlite:///{state}/db/hotline.db"      # the default has its own folder
    assert state / "db" in production.hotline_writable(default)
    assert state not in production.hotline_writable(default)


def test_this_machine_without_systemd_is_told_so_and_nothing_is_enabled(tmp_path: Path) -> None:
    said: list[str] = []
    running = production.systemd_running()
    if running:
        pytest.skip("systemd runs here: enabling is for a real server")
    assert production.enable(tmp_path, said.append) is False
    assert "systemd is not running on this machine" in said[0] and "not loaded, enabled or started" in said[0]


def test_a_unit_no_longer_part_of_the_hotline_is_removed(tmp_path: Path) -> None:
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path / "s"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path),
                                  "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/s/db/hotline.db"})
    plan = production.plan(settings, "redis://:pw@127.0.0.1:6380/0", AsteriskInstall(root=None), {}, tmp_path)
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / "hotline-old.service").write_text("[Service]\n")
    (tmp_path / "units" / "other.service").write_text("[Service]\n")
    said: list[str] = []
    production.write_units(plan, tmp_path / "units", said.append)
    assert not (tmp_path / "units" / "hotline-old.service").exists()
    assert (tmp_path / "units" / "other.service").exists()


def test_a_folder_the_hotline_user_cannot_enter_is_found(open_tmp: Path) -> None:
    closed = open_tmp / "closed"
    closed.mkdir(mode=0o700)
    (closed / "state").mkdir()
    hotline = (4991, 4990)
    assert production.first_unreachable([open_tmp, closed / "state"], hotline) == (closed / "state", closed)
    assert production.first_unreachable([open_tmp], hotline) is None


@as_root
def test_asterisk_leaves_the_call_log_spool_inside_its_spool_to_its_owner(tmp_path: Path) -> None:
    spool = tmp_path / "state/spool"
    (spool / "calllog").mkdir(parents=True)
    (spool / "calllog/spool.sqlite").write_bytes(b"")
    (spool / "voicemail").mkdir()
    os.chown(spool / "calllog", 4991, 4990)
    os.chown(spool / "calllog/spool.sqlite", 4991, 4990)
    process = AsteriskProcess(_asterisk_root(tmp_path), tmp_path / "asterisk.conf", [tmp_path / "state"], [spool],
                              not_owned=[spool / "calllog"])
    process._own(*ASTERISK_IDS)
    assert (spool / "voicemail").stat().st_uid == ASTERISK_IDS[0]
    assert (spool / "calllog").stat().st_uid == 4991 and (spool / "calllog/spool.sqlite").stat().st_uid == 4991


@as_root
def test_asterisk_is_not_given_what_a_link_planted_in_a_folder_others_write_points_to(open_tmp: Path) -> None:
    state = open_tmp / "state"
    state.mkdir()
    os.chown(state, 4991, 4990)     # a folder another user writes
    secret = open_tmp / "root-secret"
    secret.mkdir()
    (state / "spool").symlink_to(secret)
    process = AsteriskProcess(_asterisk_root(open_tmp), open_tmp / "asterisk.conf", [state], [state / "spool"])
    with pytest.raises(SetupError, match="symbolic link that a user other than root could have made"):
        process._own(*ASTERISK_IDS)
    with pytest.raises(SetupError, match="symbolic link"):
        process._own(*ASTERISK_IDS, walk=False)
    assert secret.stat().st_uid == 0
    os.chown(state, 0, 0)           # root's own link in a folder of root's: followed as before
    process._own(*ASTERISK_IDS)
    assert secret.stat().st_uid == ASTERISK_IDS[0]
