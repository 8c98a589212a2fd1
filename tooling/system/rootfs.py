"""The cached Debian-unstable root that carries Asterisk 22 where the distribution has none.

Built with debootstrap into ``<root>.tmp`` and renamed only when complete, so an
interrupted build is never taken for a good one.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tooling.system import apt
from tooling.system.mounts import mounts_under, unmount_all_under
from tooling.system.shell import Progress, SetupError, run

SUITE = "sid"
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav", "asterisk-moh-opsound-wav")
ASTERISK_DIRS = ("/etc/asterisk", "/var/lib/asterisk", "/var/spool/asterisk", "/var/log/asterisk", "/var/run/asterisk")
NEEDED_BYTES = 2 * 1024**3
MARKER = "etc/hotline-1022-root"


def debootstrap_argv(directory: Path, mirror: str) -> list[str]:
    """The debootstrap command that builds the root."""
    return ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(directory), mirror]


def is_complete(root: Path) -> bool:
    """True when ``root`` holds Asterisk (a build is renamed into place only once complete)."""
    return (root / "usr/sbin/asterisk").is_file()


def build_root(root: Path, progress: Progress) -> None:
    """Build the Asterisk root at ``root`` (about a minute and 600 MB) from this machine's Debian mirror."""
    tmp = root.with_name(root.name + ".tmp")
    root.parent.mkdir(parents=True, exist_ok=True)
    if tmp.exists():
        progress(f"[setup] Removing an unfinished Asterisk root from an earlier attempt ({tmp})")
        remove_tree(tmp)
    free = shutil.disk_usage(root.parent).free
    if free < NEEDED_BYTES:
        raise SetupError(f"Not enough disk space to build the Asterisk root in {root.parent}: "
                         f"{free // 1024**2} MB free, about {NEEDED_BYTES // 1024**2} MB needed. "
                         "Free some space or set [asterisk] root in province.toml to a larger disk.")
    apt.install(["debootstrap"], progress)
    mirror = apt.mirror_uri()
    progress(f"[setup] Building the Asterisk 22 root from Debian unstable in {root} (about a minute)")
    run(debootstrap_argv(tmp, mirror), "build the Asterisk root with debootstrap",
        f"Check that the Debian mirror {mirror} (from this machine's apt sources) carries '{SUITE}', "
        "then run the set-up again; the unfinished root is removed automatically.", timeout=3600)
    run(["chroot", tmp, "mkdir", "-p", *ASTERISK_DIRS], "create Asterisk's directories in its root")
    run(["chroot", tmp, "chown", "-R", "asterisk:asterisk", *ASTERISK_DIRS],
        "give Asterisk's directories to the asterisk user")
    (tmp / MARKER).write_text(f"debootstrap {SUITE} {' '.join(PACKAGES)}\n", encoding="utf-8")
    tmp.rename(root)


def remove_tree(path: Path) -> None:
    """Delete a directory tree, first unmounting anything mounted inside it (never follow a bind mount)."""
    unmount_all_under(path)
    left = mounts_under(path)
    if left:
        raise SetupError(f"Cannot remove {path}: still mounted inside it: {', '.join(left)}. "
                         "Stop whatever uses them (hotline up, tests) and unmount them with `umount -l`.")
    run(["rm", "-rf", "--one-file-system", path], f"remove {path}")
