"""Set-up plumbing that can be checked without installing, mounting or chrooting anything."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from hotline.cli.system import answering_banner, sip_uris
from tooling.system import apt, mounts, rootfs, supervisor
from tooling.system.asterisk import AsteriskInstall, check_version, parse_version
from tooling.system.asterisk_process import read_directories, untraversable
from tooling.system.services import is_postgres_url, libpq_url, redis_server_argv, redis_server_config
from tooling.system.shell import SetupError, wait_until

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_the_main_archive_is_read_from_a_deb822_sources_file() -> None:
    assert apt.parse_deb822(DEB822) == ["http://mirror.example/debian", "http://security.example/debian-security"]


def test_the_main_archive_is_read_from_a_one_line_sources_list() -> None:
    text = ("# deb http://commented.example/debian bookworm main\n"
            "deb http://security.example/debian-security bookworm-security main\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main\n")
    assert apt.parse_one_line(text)[0] == "http://mirror.example/debian"


def test_mirror_uri_prefers_the_main_archive_over_security(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(DEB822)
    assert apt.mirror_uri(tmp_path, tmp_path / "missing.list") == "http://mirror.example/debian"


def test_mirror_uri_says_what_to_do_without_sources(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="apt-get update"):
        apt.mirror_uri(tmp_path, tmp_path / "missing.list")


def test_apt_candidate_and_upstream_major() -> None:
    assert apt.parse_candidate("asterisk:\n  Installed: (none)\n  Candidate: (none)\n") is None
    assert apt.parse_candidate("asterisk:\n  Candidate: 1:22.10.1+dfsg-1\n") == "1:22.10.1+dfsg-1"
    assert apt.upstream_major("1:22.10.1+dfsg-1") == 22
    assert apt.upstream_major("20.5.0~dfsg-1") == 20


def test_the_mount_table_is_parsed_with_escaped_paths() -> None:
    table = mounts.parse_mounts("/dev/vda /srv/my\\040state ext4 rw 0 0\nproc /proc proc rw 0 0\n")
    assert table[0] == mounts.Mount("/dev/vda", "/srv/my state", "ext4")


def test_mounts_under_a_root_are_listed_deepest_first() -> None:
    table = mounts.parse_mounts("\n".join([
        "/dev/vda /r/work/var ext4 rw 0 0",
        "/dev/vda /r/work/var/recordings ext4 rw 0 0",
        "proc /r/proc proc rw 0 0",
        "/dev/vda /rather ext4 rw 0 0",
        "/dev/vda /r ext4 rw 0 0",
    ]))
    assert mounts.mounts_under(Path("/r"), table) == ["/r/work/var/recordings", "/r/work/var", "/r/proc"]


def test_a_bind_target_may_not_leave_the_root_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run").symlink_to("/run")
    assert mounts.target_in_root(tmp_path, Path("/srv/state")) == tmp_path / "srv" / "state"
    with pytest.raises(SetupError, match="symbolic link"):
        mounts.target_in_root(tmp_path, Path("/var/run/hotline"))


def test_asterisk_version_is_parsed_and_old_ones_refused() -> None:
    assert parse_version("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1\n") == (22, 10, 1)
    check_version((22, 0, 0), 22)
    with pytest.raises(SetupError) as refused:
        check_version((20, 5, 2), 22, AsteriskInstall(root=None))
    message = str(refused.value)
    assert "Asterisk 20.5.2" in message and "needs Asterisk 22 or newer" in message
    assert "apt-get remove asterisk" in message


def test_an_unknown_version_string_is_reported() -> None:
    with pytest.raises(SetupError, match="Cannot tell which Asterisk"):
        parse_version("Asterisk GIT-master-abc")


def test_the_chrooted_command_and_the_asterisk_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "asterisk:x:101:101::/var/lib/asterisk:/bin/false\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nasterisk:x:102:\n")
    install = AsteriskInstall(root=tmp_path)
    assert install.command("-V") == ["chroot", str(tmp_path), "/usr/sbin/asterisk", "-V"]
    assert install.user_ids() == (101, 102)
    assert AsteriskInstall(root=None).command("-rx", "core show version")[1:] == ["-rx", "core show version"]


def test_asterisk_directories_are_read_from_asterisk_conf(tmp_path: Path) -> None:
    conf = tmp_path / "asterisk.conf"
    conf.write_text("; comment\n[directories]\nastetcdir => /s/asterisk ; rendered\nastrundir=/s/run\n"
                    "[options]\nrunuser = asterisk\n")
    assert read_directories(conf) == {"astetcdir": "/s/asterisk", "astrundir": "/s/run"}


def test_a_directories_template_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "asterisk.conf"
    conf.write_text("[directories](!)\nastrundir => /s/run\n")
    with pytest.raises(SetupError, match=r"asterisk.conf:1: .*Write '\[directories\]' without"):
        read_directories(conf)


def test_a_directory_asterisk_cannot_enter_is_found() -> None:
    base = Path(tempfile.mkdtemp(prefix="hotline-test-", dir="/tmp"))   # pytest's tmp_path is itself 0700
    try:
        private = base / "private"
        (private / "state").mkdir(parents=True)
        os.chmod(base, 0o755)
        os.chmod(private, 0o700)
        assert untraversable(private / "state", uid=101, gid=101) == private
        os.chmod(private, 0o711)
        assert untraversable(private / "state", uid=101, gid=101) is None
    finally:
        shutil.rmtree(base)


def test_debootstrap_uses_the_given_mirror_and_unstable(tmp_path: Path) -> None:
    argv = rootfs.debootstrap_argv(tmp_path / "root.tmp", "http://mirror.example/debian")
    assert argv[-3:] == ["sid", str(tmp_path / "root.tmp"), "http://mirror.example/debian"]
    assert "--variant=minbase" in argv and any("asterisk-core-sounds-en-wav" in a for a in argv)
    assert not rootfs.is_complete(tmp_path)


def test_our_redis_listens_on_loopback_only(tmp_path: Path) -> None:
    argv = redis_server_argv(6390, tmp_path)
    assert argv[argv.index("--bind") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "6390"
    assert argv[argv.index("--dir") + 1] == str(tmp_path / "redis")
    assert argv[argv.index("--appendonly") + 1] == "yes"    # queued jobs survive a crash of Redis
    assert argv[1] == "-" and "requirepass" not in argv       # the password comes on standard input
    assert redis_server_config("abc_DEF-123") == 'requirepass "abc_DEF-123"\n'
    with pytest.raises(ValueError):
        redis_server_config('a" rename-command CONFIG ""')


def test_database_urls() -> None:
    assert is_postgres_url("postgresql+psycopg://root@127.0.0.1/hotline")
    assert not is_postgres_url("sqlite:////srv/hotline.db")
    assert libpq_url("postgresql+psycopg://u:p@h:5433/db") == "postgresql://u:p@h:5433/db"


def fake_settings(bind: str = "127.0.0.1") -> SimpleNamespace:
    return SimpleNamespace(sip=SimpleNamespace(bind=bind, port=5060),
                           province=SimpleNamespace(hotline_numbers=["1022", "02771022"]))


def test_where_the_hotline_answers() -> None:
    assert sip_uris(fake_settings("0.0.0.0")) == ["sip:1022@127.0.0.1:5060", "sip:02771022@127.0.0.1:5060"]
    assert answering_banner(fake_settings(), (22, 10, 1)) == (
        "Tổng đài 1022 đang trả lời: sip:1022@127.0.0.1:5060 và sip:02771022@127.0.0.1:5060 (UDP) — "
        "Asterisk 22.10.1")


def test_wait_until_returns_the_condition_or_says_what_it_waited_for() -> None:
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.1 and "done", 5, "the test") == "done"
    with pytest.raises(SetupError, match="Gave up waiting for the impossible"):
        wait_until(lambda: None, 0.2, "the impossible", interval=0.05)


def test_the_supervisor_restarts_a_child_that_exits_and_stops_all(tmp_path: Path) -> None:
    sup = supervisor.Supervisor(tmp_path, poll_interval=0.05, first_backoff=0.1)
    sup.start([
        supervisor.ProcessSpec("crashes", [sys.executable, "-c", "import os; print(os.environ['MARK'])"],
                               {"MARK": "hello"}),
        supervisor.ProcessSpec("sleeps", [sys.executable, "-c", "import time; time.sleep(60)"]),
    ])
    try:
        wait_until(lambda: sup.restarts()["crashes"] >= 2, 10, "two restarts")
        sleeper = sup.pids()["sleeps"]
        assert sleeper is not None
    finally:
        sup.stop(timeout=5)
    assert not Path(f"/proc/{sleeper}").exists() or "Z" in Path(f"/proc/{sleeper}/stat").read_text().split()[2]
    assert (tmp_path / "log" / "crashes.log").read_text().count("hello") >= 2


def test_a_child_left_by_a_killed_supervisor_is_stopped_first(tmp_path: Path) -> None:
    spec = supervisor.ProcessSpec("sleeps", [sys.executable, "-c", "import time; time.sleep(60)"])
    first = supervisor.Supervisor(tmp_path, poll_interval=0.05)
    first.start([spec])
    second = supervisor.Supervisor(tmp_path, poll_interval=0.05)
    try:
        orphan = first.pids()["sleeps"]
        second.start([spec])   # as if `first` had been killed without stopping its child
        assert orphan is not None and first._children[0].proc is not None
        assert first._children[0].proc.wait(10) is not None
        assert second.pids()["sleeps"] not in (None, orphan)
    finally:
        second.stop(timeout=5)
        first.stop(timeout=5)
