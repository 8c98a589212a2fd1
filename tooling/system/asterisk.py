"""Which Asterisk the hotline runs, and making sure it is there.

The distribution's ``asterisk`` package where apt offers a recent enough one; otherwise
Asterisk 22 from a cached Debian-unstable root (see ``rootfs``), run in a chroot.
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling.system import apt, asterisk_user, rootfs
from tooling.system.asterisk_process import AsteriskProcess
from tooling.system.shell import Progress, SetupError

__all__ = ["AsteriskInstall", "AsteriskProcess", "asterisk_version", "check_version", "ensure_asterisk",
           "parse_version"]

ASTERISK_USER = "asterisk"


@dataclass(frozen=True)
class AsteriskInstall:
    """An Asterisk installation: native (root None) or inside a chroot directory."""

    root: Path | None
    binary: str = "/usr/sbin/asterisk"

    def command(self, *args: str) -> list[str]:
        """The argv that runs the asterisk binary with ``args`` (through chroot when needed)."""
        if self.root is None:
            return [self.binary, *args]
        return ["chroot", str(self.root), self.binary, *args]

    def user_ids(self) -> tuple[int, int]:
        """uid and gid of the ``asterisk`` user Asterisk runs as (the root's own user in a chroot)."""
        if self.root is None:
            try:
                return pwd.getpwnam(ASTERISK_USER).pw_uid, grp.getgrnam(ASTERISK_USER).gr_gid
            except KeyError:
                raise SetupError("There is no 'asterisk' user on this machine. Reinstall the asterisk "
                                 "package (apt-get install --reinstall asterisk).") from None
        uid = _lookup(self.root / "etc/passwd", ASTERISK_USER, 2)
        gid = _lookup(self.root / "etc/group", ASTERISK_USER, 2)
        if uid is None or gid is None:
            raise SetupError(f"The Asterisk root {self.root} has no 'asterisk' user: it is damaged. "
                             f"Delete it (rm -rf --one-file-system {self.root}) and run the set-up again.")
        return uid, gid

    def describe(self) -> str:
        return "the distribution's package" if self.root is None else f"Debian unstable root at {self.root}"


def _lookup(table: Path, name: str, field: int) -> int | None:
    """A numeric field of the ``name`` entry of an /etc/passwd- or /etc/group-style file."""
    try:
        lines = table.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":")
        if parts[0] == name and len(parts) > field and parts[field].isdigit():
            return int(parts[field])
    return None


def parse_version(text: str) -> tuple[int, int, int]:
    """(22, 10, 1) from ``asterisk -V`` output such as "Asterisk 22.10.1+dfsg+~cs6-1"."""
    found = re.search(r"Asterisk\s+(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not found:
        raise SetupError(f"Cannot tell which Asterisk this is: `asterisk -V` said {text.strip()!r}. "
                         "Install a released Asterisk 22 (Debian's package).")
    return int(found[1]), int(found[2]), int(found[3] or 0)


def asterisk_version(install: AsteriskInstall) -> tuple[int, int, int]:
    """The version of the installed Asterisk, from ``asterisk -V``."""
    try:
        done = subprocess.run(install.command("-V"), capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"Cannot run Asterisk ({' '.join(install.command('-V'))}): {exc}. "
                         "Run scripts/bootstrap to install it again.") from None
    return parse_version(done.stdout + done.stderr)


def check_version(version: tuple[int, int, int], min_major: int, install: AsteriskInstall | None = None) -> None:
    """Refuse an Asterisk older than ``min_major`` with a message that says what to do."""
    if version[0] >= min_major:
        return
    where = f" ({install.describe()})" if install is not None else ""
    raise SetupError(f"Asterisk {'.'.join(map(str, version))}{where} is too old: the hotline needs Asterisk "
                     f"{min_major} or newer. Remove it (apt-get remove asterisk) so that the set-up uses "
                     "Asterisk from Debian unstable, or set [asterisk] min_version only if you have tested it.")


def ensure_asterisk(settings: Any, progress: Progress) -> AsteriskInstall:
    """Make sure a recent enough Asterisk is installed; build the cached root if needed."""
    min_major = int(settings.asterisk.min_version)
    offered = apt.candidate("asterisk")
    major = apt.upstream_major(offered) if offered else None
    if offered and major is not None and major >= min_major:
        install = _native(progress)
    else:
        if offered:
            progress(f"[setup] This machine's Debian offers Asterisk {offered}, older than {min_major}; "
                     "using Asterisk from Debian unstable instead")
        root = Path(os.path.abspath(settings.asterisk.root))
        if not rootfs.is_complete(root):
            if root.exists():
                progress(f"[setup] The Asterisk root {root} is incomplete; building it again")
                rootfs.remove_tree(root)
            rootfs.build_root(root, progress)
        # The root's own `asterisk` made the host's (a uid of its own, not another host user's).
        asterisk_user.align(root, progress)
        install = AsteriskInstall(root=root)
    check_version(asterisk_version(install), min_major, install)
    return install


def _native(progress: Progress) -> AsteriskInstall:
    was_installed = apt.is_installed("asterisk")
    apt.install(["asterisk"], progress)
    if not was_installed and Path("/run/systemd/system").is_dir():
        # The package starts its own Asterisk on /etc/asterisk; the hotline runs its own instead.
        subprocess.run(["systemctl", "disable", "--now", "asterisk.service"], capture_output=True,
                       stdin=subprocess.DEVNULL)
    return AsteriskInstall(root=None, binary=shutil.which("asterisk") or "/usr/sbin/asterisk")
