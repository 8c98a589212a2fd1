"""Root changing owners and modes under folders another user writes (tooling/system/owners.py), with that user
swapping folders and files for links to root's files while the walk runs (the security review's attacks)."""
from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tooling.system.owners import chown_tree, share_with_group
from tooling.system.shell import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
NOBODY = pwd.getpwnam("nobody")
OWNER = (NOBODY.pw_uid, NOBODY.pw_gid)
SECONDS = 3.0       # the old code (os.walk, then lchown or chmod by path) lost within a second here


@pytest.fixture()
def decoy(tmp_path: Path) -> Path:
    """Root's file outside the tree, as /etc/shadow or /bin/bash would be."""
    path = tmp_path / "outside" / "roots_file"
    path.parent.mkdir()
    path.write_text("root's")
    path.chmod(0o755)
    return path


SWAPPER = """
import os, sys
folder, target, kind = sys.argv[1:]
entry, aside = os.path.join(folder, "x"), os.path.join(folder, "y")
while True:
    try:
        if kind == "dir":
            os.mkdir(entry)
            open(os.path.join(entry, "roots_file"), "w").close()
        else:
            open(entry, "w").close()
            os.chmod(entry, 0o4707)
        os.rename(entry, aside)         # gone from the place the walk listed...
        os.symlink(target, entry)       # ...and a link there instead
        os.unlink(entry)
        os.rename(aside, entry)
        if kind == "dir":
            os.unlink(os.path.join(entry, "roots_file"))
            os.rmdir(entry)
        else:
            os.unlink(entry)
    except OSError:
        pass
"""


def walks(seconds: float) -> Iterator[int]:
    """Walk after walk for ``seconds`` (the swap must land between a listing and a change at least once)."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n += 1
        yield n


@contextmanager
def swapping(folder: Path, target: Path, kind: str) -> Iterator[None]:
    """While the block runs, another process swaps ``folder/x`` again and again between a real folder or
    set-uid file (``kind``) and a link to ``target``, as fast as it can (what the other user does)."""
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(folder), str(target), kind])
    try:
        wait_until(lambda: os.path.lexists(folder / "x") or os.path.lexists(folder / "y"), 10, "the swapper to run")
        yield
    finally:
        swapper.kill()
        swapper.wait()

def test_chown_tree_re_owns_links_themselves_and_refuses_a_link_at_the_top(tmp_path: Path, decoy: Path) -> None:
    top = tmp_path / "redis"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "appendonly.aof").write_text("")
    (top / "link").symlink_to(decoy)
    chown_tree(top, OWNER)
    for path in (top, top / "sub", top / "sub" / "appendonly.aof", top / "link"):
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == OWNER, path
    assert decoy.stat().st_uid == 0
    (tmp_path / "planted").symlink_to(tmp_path / "outside")
    with pytest.raises(OSError):
        chown_tree(tmp_path / "planted", OWNER)
    assert (tmp_path / "outside").stat().st_uid == 0


def test_chown_tree_gives_away_nothing_outside_while_folders_are_swapped_for_links(tmp_path: Path,
                                                                                  decoy: Path) -> None:
    top = tmp_path / "spool"
    top.mkdir()
    for i in range(30):         # a listing long enough for the swap to land between a listing and a change
        (top / f"f{i}").write_text("")
    with swapping(top, decoy.parent, "dir"):
        for _ in walks(SECONDS):
            chown_tree(top, OWNER)
    assert decoy.stat().st_uid == 0 and decoy.parent.stat().st_uid == 0


def test_sharing_with_the_group_never_follows_a_link_nor_keeps_a_set_uid_bit(tmp_path: Path, decoy: Path) -> None:
    top = tmp_path / "recordings"
    (top / "2026" / "12").mkdir(parents=True)
    wav = top / "2026" / "12" / "a.wav"
    wav.write_text("")
    wav.chmod(0o4707)                       # a file made set-uid by the other user
    (top / "2026" / "link.wav").symlink_to(decoy)
    share_with_group(top, NOBODY.pw_gid)
    assert stat.S_IMODE(wav.stat().st_mode) == 0o767 and wav.stat().st_gid == NOBODY.pw_gid
    for folder in (top, top / "2026", top / "2026" / "12"):
        assert folder.stat().st_mode & (stat.S_IRWXG | stat.S_ISGID) == stat.S_IRWXG | stat.S_ISGID
    assert stat.S_IMODE(decoy.stat().st_mode) == 0o755 and decoy.stat().st_gid == 0


def test_sharing_with_the_group_leaves_root_s_file_alone_while_files_are_swapped_for_links(tmp_path: Path,
                                                                                          decoy: Path) -> None:
    top = tmp_path / "recordings"
    top.mkdir()
    for i in range(30):
        (top / f"r{i}.wav").write_text("")
    with swapping(top, decoy, "file"):
        for _ in walks(SECONDS):
            share_with_group(top, NOBODY.pw_gid)
    assert stat.S_IMODE(decoy.stat().st_mode) == 0o755 and decoy.stat().st_gid == 0
