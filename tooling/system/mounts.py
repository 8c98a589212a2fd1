"""Bind mounts into the Asterisk root and the processes running inside it."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tooling.system.shell import SetupError, run

PROC_MOUNTS = Path("/proc/mounts")


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    source: str
    target: str
    fstype: str


def _unescape(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in mount paths as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    """Parse the text of /proc/mounts."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return mounts


def read_mounts(table: Path = PROC_MOUNTS) -> list[Mount]:
    """The current mount table."""
    return parse_mounts(table.read_text(encoding="utf-8", errors="surrogateescape"))


def mounts_under(root: Path, mounts: list[Mount] | None = None) -> list[str]:
    """Mount points strictly inside ``root``, deepest first (the order to unmount them)."""
    prefix = str(root).rstrip("/") + "/"
    table = read_mounts() if mounts is None else mounts
    targets = {m.target for m in table if m.target.startswith(prefix)}
    return sorted(targets, key=lambda t: (t.count("/"), t), reverse=True)


def is_mount_point(path: Path, mounts: list[Mount] | None = None) -> bool:
    table = read_mounts() if mounts is None else mounts
    return any(m.target == str(path) for m in table)


def target_in_root(root: Path, path: Path) -> Path:
    """``path`` seen from inside ``root``, refusing a path that would leave the root through a symlink."""
    target = root / str(path).lstrip("/")
    probe = root
    for part in target.relative_to(root).parts:
        probe = probe / part
        if probe.is_symlink():
            raise SetupError(f"Cannot make {path} visible to Asterisk: {probe} is a symbolic link inside the "
                             f"Asterisk root. Choose a directory outside {path.parent} for it in province.toml.")
    return target


def bind(root: Path, path: Path) -> bool:
    """Bind-mount ``path`` at the same absolute path inside ``root``; False when already there."""
    path.mkdir(parents=True, exist_ok=True)
    target = target_in_root(root, path)
    if is_mount_point(target):
        if _same_directory(path, target):
            return False
        unmount(target)   # a stale mount of a directory that was since deleted and made again
    target.mkdir(parents=True, exist_ok=True)
    run(["mount", "--bind", path, target], f"make {path} visible inside the Asterisk root",
        "Bind mounts need root; run the hotline as root.")
    return True


def _same_directory(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def unmount(target: Path | str) -> None:
    """Lazily unmount one mount point (it goes as soon as nothing uses it)."""
    run(["umount", "-l", target], f"unmount {target}")


def unmount_all_under(root: Path) -> list[str]:
    """Unmount everything mounted inside ``root``; return what was unmounted."""
    done = []
    for target in mounts_under(root):
        unmount(target)
        done.append(target)
    return done


def process_root(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def process_argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0") if part]


def pids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def processes_in_root(root: Path) -> list[int]:
    """Every process whose root directory is ``root`` (i.e. running in that chroot)."""
    wanted = str(root)
    return [pid for pid in pids() if pid != os.getpid() and process_root(pid) == wanted]
