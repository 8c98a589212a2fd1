"""Asterisk's user, one on the host and in the Asterisk root.

Debian unstable's root gives its ``asterisk`` user whatever uid debootstrap came to (101 here), which
on the host is somebody else (``postgres`` on a stock Debian 12 with PostgreSQL): the recordings and
messages Asterisk writes then show, and are accessible, as that user's. The set-up makes a host
system user ``asterisk`` (created if missing, with ids free on the host and in the root) and gives the
root's ``asterisk`` the same uid and gid, re-owning the root's files that were the old ids'. Idempotent:
nothing is done when both already agree.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tooling.system.shell import Progress, SetupError

USER = "asterisk"
SYSTEM_IDS = range(100, 1000)       # Debian's dynamically allocated system ids (adduser.conf)


@dataclass(frozen=True)
class Tables:
    """The passwd and group files of a system (the host's /etc, or a root's)."""

    passwd: Path
    group: Path

    @classmethod
    def of(cls, etc: Path) -> Tables:
        return cls(etc / "passwd", etc / "group")


def entries(table: Path) -> list[list[str]]:
    try:
        lines = table.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def ids_of(table: Path, name: str) -> int | None:
    for parts in entries(table):
        if parts[0] == name and len(parts) > 2 and parts[2].isdigit():
            return int(parts[2])
    return None


def _taken(tables: Iterable[Path], but: str) -> set[int]:
    return {int(p[2]) for t in tables for p in entries(t) if len(p) > 2 and p[2].isdigit() and p[0] != but}


def free_id(tables: Iterable[Path], prefer: int | None = None) -> int:
    """A system id no entry of ``tables`` (other than asterisk's own) holds: ``prefer`` if free."""
    taken = _taken(list(tables), USER)
    if prefer is not None and prefer in SYSTEM_IDS and prefer not in taken:
        return prefer
    for candidate in reversed(SYSTEM_IDS):          # from the top, as adduser does for system users
        if candidate not in taken:
            return candidate
    raise SetupError("No system user id (100-999) is free on this machine for Asterisk's user: "
                     "create an 'asterisk' system user yourself (adduser --system --group asterisk).")


def _rewrite(table: Path, name: str, new_id: int, field: int) -> None:
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    out = []
    for line in lines:
        parts = line.rstrip("\n").split(":")
        if parts[0] == name and len(parts) > field:
            parts[field] = str(new_id)
            line = ":".join(parts) + "\n"
        out.append(line)
    table.write_text("".join(out), encoding="utf-8")


def reown(root: Path, old: tuple[int, int], new: tuple[int, int]) -> int:
    """Give ``new`` (uid, gid) the files under ``root`` that were ``old``'s, not leaving its filesystem or
    following links (mount points of a running Asterisk are skipped). Returns how many changed."""
    device = root.stat().st_dev
    changed = 0
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(top, d))
                   and os.lstat(os.path.join(top, d)).st_dev == device]
        for name in [*dirs, *files]:
            path = os.path.join(top, name)
            st = os.lstat(path)
            uid = new[0] if st.st_uid == old[0] else -1
            gid = new[1] if st.st_gid == old[1] else -1
            if uid != -1 or gid != -1:
                os.lchown(path, uid, gid)
                changed += 1
    return changed


Runner = Callable[[list[str]], None]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SetupError(f"Could not create Asterisk's user ({' '.join(argv)}): {done.stderr.strip()}. "
                         "Create it yourself (adduser --system --group asterisk) and run the set-up again.")


HOST = Tables.of(Path("/etc"))


def align(root: Path, progress: Progress, host: Tables = HOST, run: Runner = _run) -> tuple[int, int]:
    """The host's and the root's ``asterisk`` made one user; returns its (uid, gid)."""
    inside = Tables.of(root / "etc")
    old = ids_of(inside.passwd, USER), ids_of(inside.group, USER)
    if old[0] is None or old[1] is None:
        raise SetupError(f"The Asterisk root {root} has no 'asterisk' user: it is damaged. "
                         f"Delete it (rm -rf --one-file-system {root}) and run the set-up again.")
    uid, gid = ids_of(host.passwd, USER), ids_of(host.group, USER)
    if uid is None or gid is None:
        gid = gid if gid is not None else free_id([host.group, inside.group], prefer=old[1])
        if ids_of(host.group, USER) is None:
            run(["groupadd", "--system", "--gid", str(gid), USER])
        uid = free_id([host.passwd, inside.passwd], prefer=old[0])
        run(["useradd", "--system", "--uid", str(uid), "--gid", str(gid), "--no-create-home",
             "--home-dir", "/var/lib/asterisk", "--shell", "/usr/sbin/nologin", "--comment",
             "Asterisk PBX (hotline 1022)", USER])
        progress(f"[setup] Created the system user {USER} (uid {uid}, gid {gid}) for Asterisk's files")
    if (uid, gid) == old:
        return uid, gid
    clash = [p[0] for p in entries(inside.passwd) if len(p) > 2 and p[2] == str(uid) and p[0] != USER]
    clash += [p[0] for p in entries(inside.group) if len(p) > 2 and p[2] == str(gid) and p[0] != USER]
    if clash:
        raise SetupError(f"The host's user {USER} has uid {uid}/gid {gid}, which {', '.join(clash)} holds in the "
                         f"Asterisk root {root}: give the host's {USER} a free system id (usermod -u, groupmod -g) "
                         "and run the set-up again.")
    _rewrite(inside.passwd, USER, uid, 2)
    _rewrite(inside.passwd, USER, gid, 3)
    _rewrite(inside.group, USER, gid, 2)
    changed = reown(root, (old[0], old[1]), (uid, gid))
    progress(f"[setup] Asterisk's user in its root is now the host's {USER} (uid {old[0]} → {uid}, gid {old[1]} → "
             f"{gid}; {changed} files re-owned)")
    return uid, gid
