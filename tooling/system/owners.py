"""Owners and modes changed by root under folders another user may write (the hotline user's folders, the
recordings that Asterisk's group writes), without ever following a link planted there.

Every step goes through an open handle of a folder (``os.fwalk``, which checks that each folder it enters is
the one it listed) and names one entry in it, never a path that could be swapped meanwhile: an entry made a
link in between is re-owned itself (``follow_symlinks=False``) or not opened at all (``O_NOFOLLOW``)."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

#: A file's mode bits root never copies back when it widens a mode: a file made set-uid by another user and
#: swapped for a link at the right moment would otherwise make a root shell.
_NEVER = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def chown_tree(top: Path, owner: tuple[int, int], skip: Iterable[Path] = ()) -> None:
    """``top`` and everything in it ``owner``'s (uid, gid; -1 leaves one as it is), no link followed; the
    folders of ``skip`` (and what is in them) left as they are. A link at ``top`` itself is refused (OSError)."""
    uid, gid = owner
    skipped = {os.path.abspath(p) for p in skip}
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if _differs(os.fstat(fd), uid, gid):
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
    for folder, dirs, files, dir_fd in os.fwalk(top, follow_symlinks=False):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(folder, d)) not in skipped]
        for name in [*dirs, *files]:
            try:
                if _differs(os.stat(name, dir_fd=dir_fd, follow_symlinks=False), uid, gid):
                    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:   # removed meanwhile
                continue


def share_with_group(top: Path, gid: int) -> None:
    """Group ``gid`` may read and write everything under ``top``; folders set-gid, so new ones inherit it.
    Only folders and regular files are changed, each through its own handle (a link, a pipe or a socket is
    left alone), and no file keeps a set-uid, set-gid or sticky bit."""
    for _folder, _dirs, files, dir_fd in os.fwalk(top, follow_symlinks=False):
        _widen(dir_fd, gid, stat.S_IRWXG | stat.S_ISGID)
        for name in files:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
            except OSError:         # a link (ELOOP), or gone meanwhile
                continue
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    _widen(fd, gid, stat.S_IRGRP | stat.S_IWGRP)
            finally:
                os.close(fd)


def _differs(st: os.stat_result, uid: int, gid: int) -> bool:
    return (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)


def _widen(fd: int, gid: int, extra: int) -> None:
    st = os.fstat(fd)
    if st.st_gid != gid:
        os.fchown(fd, -1, gid)
    keep = stat.S_IMODE(st.st_mode) & ~(_NEVER if not stat.S_ISDIR(st.st_mode) else stat.S_ISUID | stat.S_ISVTX)
    if keep | extra != stat.S_IMODE(st.st_mode):
        os.fchmod(fd, keep | extra)
