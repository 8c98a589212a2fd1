"""Asterisk's user made one on the host and in its root (issue 13, item 1): the uid Debian unstable's root
gave it (101) is another user on a stock host (postgres), so Asterisk's recordings showed as theirs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.host import FakeHost
from tooling.system.asterisk_user import align, free_id
from tooling.system.shell import SetupError

HOST_PASSWD = "root:x:0:0::/root:/bin/sh\nmessagebus:x:100:102::/nonexistent:/usr/sbin/nologin\n" \
              "postgres:x:101:104::/var/lib/postgresql:/bin/bash\nredis:x:102:105::/var/lib/redis:/usr/sbin/nologin\n"
HOST_GROUP = "root:x:0:\nmessagebus:x:102:\npostgres:x:104:\nredis:x:105:\n"
ROOT_PASSWD = "root:x:0:0::/root:/bin/sh\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n" \
              "asterisk:x:101:101:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin\n"
ROOT_GROUP = "root:x:0:\ndialout:x:20:asterisk\nasterisk:x:101:\n"


def _host(tmp: Path) -> FakeHost:
    return FakeHost(tmp / "etc", HOST_PASSWD, HOST_GROUP)


def _root(tmp: Path) -> Path:
    root = tmp / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(ROOT_PASSWD)
    (root / "etc/group").write_text(ROOT_GROUP)
    for folder in ("var/lib/asterisk", "var/spool/asterisk", "usr/share/asterisk"):
        (root / folder).mkdir(parents=True)
    (root / "var/lib/asterisk/astdb.sqlite3").write_bytes(b"")
    if os.geteuid() == 0:
        os.chown(root / "var/lib/asterisk", 101, 101)
        os.chown(root / "var/lib/asterisk/astdb.sqlite3", 101, 101)
        os.chown(root / "var/spool/asterisk", 101, 101)
    return root


def test_a_host_without_an_asterisk_user_gets_one_that_no_one_else_holds_and_the_root_follows(tmp_path: Path) -> None:
    host, root = _host(tmp_path), _root(tmp_path)
    said: list[str] = []
    uid, gid = align(root, said.append, host.tables, host.run)
    assert uid not in (0, 100, 101, 102) and gid not in (0, 102, 104, 105)     # no host user's, nor group's
    assert [c[0] for c in host.commands] == ["groupadd", "useradd"]
    # gid 101 is free on the host: kept; uid 101 is postgres's: another one
    assert gid == 101 and uid == 999
    assert f"asterisk:x:{uid}:{gid}:Asterisk PBX daemon" in (root / "etc/passwd").read_text()
    group = (root / "etc/group").read_text()
    assert f"asterisk:x:{gid}:" in group and "dialout:x:20:asterisk" in group
    if os.geteuid() == 0:
        st = (root / "var/lib/asterisk/astdb.sqlite3").stat()
        assert (st.st_uid, st.st_gid) == (uid, gid)
        assert (root / "usr/share/asterisk").stat().st_uid == os.geteuid()     # not Asterisk's: untouched
    assert any("re-owned" in line for line in said)
    # Again: nothing to do, nothing created.
    again: list[str] = []
    assert align(root, again.append, host.tables, host.run) == (uid, gid)
    assert again == [] and len(host.commands) == 2


def test_an_existing_host_asterisk_user_is_the_one_used(tmp_path: Path) -> None:
    host, root = _host(tmp_path), _root(tmp_path)
    host.add_user("asterisk", 120, 130, home="/var/lib/asterisk")
    assert align(root, lambda _m: None, host.tables, host.run) == (120, 130)
    assert host.commands == []
    assert "asterisk:x:120:130:" in (root / "etc/passwd").read_text()


def test_a_host_id_another_root_user_holds_is_refused_with_what_to_do(tmp_path: Path) -> None:
    host, root = _host(tmp_path), _root(tmp_path)
    host.add_user("asterisk", 42, 130, home="/var/lib/asterisk")     # _apt's uid in the root
    with pytest.raises(SetupError, match="usermod -u"):
        align(root, lambda _m: None, host.tables, host.run)


def test_free_ids_skip_both_systems() -> None:
    assert free_id([], prefer=101) == 101
    assert free_id([]) == 999

