"""Running Asterisk (natively or in its chroot) as a child process, and stopping it cleanly.

In a chroot, Asterisk sees only its root: the directories it shares with the Python
processes are bind-mounted at the same absolute paths inside it. A previous run that
died is cleaned up on start: its Asterisk (same root, same asterisk.conf) is stopped
and, when nothing else runs in the root, its mounts are removed.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from tooling.system import mounts
from tooling.system.owners import chown_tree
from tooling.system.shell import SetupError, run, tail_file, terminate, wait_until

if TYPE_CHECKING:
    from tooling.system.asterisk import AsteriskInstall

log = logging.getLogger("hotline.asterisk")

#: Device nodes Asterisk opens: name -> (major, minor).
DEVICES = {"null": (1, 3), "zero": (1, 5), "random": (1, 8), "urandom": (1, 9)}
REMOTE_FLAGS = ("-r", "-R", "-rx", "-x")


def read_directories(conf_path: Path) -> dict[str, str]:
    """The ``[directories]`` section of an asterisk.conf (``astrundir`` -> path, ...).

    Raises SetupError for ``[directories](!)``: that marks a template, which Asterisk ignores.
    """
    found: dict[str, str] = {}
    section = ""
    for number, raw in enumerate(conf_path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        header = re.match(r"\[([^]]+)\]\s*(\([^)]*\))?", line)
        if header:
            section = header[1].strip().lower()
            if section == "directories" and header[2] and "!" in header[2]:
                raise SetupError(f"{conf_path}:{number}: '{line}' makes the section a template, so Asterisk "
                                 "ignores it and uses its built-in directories (and another Asterisk's control "
                                 "socket). Write '[directories]' without '(!)' (in asterisk_conf/asterisk.conf.j2).")
        elif section == "directories" and ("=>" in line or "=" in line):
            key, _, value = line.partition("=>") if "=>" in line else line.partition("=")
            found[key.strip().lower()] = value.strip()
    return found


def untraversable(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory on the way to ``path`` that user uid/gid may not enter, or None."""
    probe = Path("/")
    for part in (path.parts[1:] if path.is_absolute() else path.parts):
        try:
            st = probe.stat()
        except OSError:
            return None
        allowed = (st.st_mode & stat.S_IXOTH or (st.st_uid == uid and st.st_mode & stat.S_IXUSR)
                   or (st.st_gid == gid and st.st_mode & stat.S_IXGRP))
        if not allowed:
            return probe
        probe = probe / part
    return None


def writable_dirs(state_dir: Path, recordings_root: Path) -> list[Path]:
    """The directories of the hotline's that Asterisk writes to (asterisk.conf.j2 names them)."""
    return [state_dir / name for name in ("spool", "log", "run", "astdb")] + [recordings_root]


class AsteriskProcess:
    """One Asterisk started with our asterisk.conf; a context manager that always cleans up."""

    def __init__(self, install: AsteriskInstall, conf_path: Path, bind_paths: list[Path],
                 owned_paths: list[Path], log_path: Path | None = None, not_owned: list[Path] | None = None,
                 netns: list[str] | None = None) -> None:
        """``not_owned``: folders inside ``owned_paths`` that stay their owner's (the call-log spool inside
        Asterisk's spool belongs to the ARI app's user); ``netns``: the command that runs Asterisk in a network
        namespace of its own (a cluster's node, tooling/system/netns.py); its console commands need none."""
        self.install = install
        self.conf_path = Path(os.path.abspath(conf_path))
        self.bind_paths = sorted({Path(os.path.abspath(p)) for p in bind_paths}, key=lambda p: len(p.parts))
        self.owned_paths = [Path(os.path.abspath(p)) for p in owned_paths]
        self.not_owned = {Path(os.path.abspath(p)) for p in not_owned or []}
        self._log_path = log_path
        self.netns = list(netns or [])
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._mounted: list[Path] = []

    @property
    def log_path(self) -> Path:
        """Where Asterisk's own output goes (its logs go to astlogdir as logger.conf says)."""
        if self._log_path is None:
            logdir = read_directories(self.conf_path).get("astlogdir")
            self._log_path = Path(logdir or self.conf_path.parent) / "asterisk-console.log"
        return self._log_path

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def exited(self) -> str | None:
        """None while the Asterisk this object started runs (or none was started), else how it ended."""
        if self._proc is None or self._proc.poll() is None:
            return None
        code = self._proc.returncode
        return f"signal {-code}" if code < 0 else f"exit code {code}"

    def kill(self) -> None:
        """SIGKILL Asterisk (also a stopped or hung one) and reap it; its mounts stay for the next start."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def start(self, timeout: float = 60, walk_owned: bool = True) -> None:
        """Start Asterisk and return once it is fully booted (SetupError otherwise).

        ``walk_owned=False`` (a restart after a crash) gives Asterisk's user only the top directories it
        writes to, not every file under them: years of recordings would delay the restart.
        """
        if self.is_running():
            return
        if not self.conf_path.is_file():
            raise SetupError(f"Cannot start Asterisk: {self.conf_path} does not exist. Run `hotline up`, "
                             "which renders Asterisk's configuration first.")
        self._stop_leftovers()
        with self._root_lock():     # another Asterisk of this root may be starting or stopping
            self._prepare_locked(walk_owned)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
            argv = self.command()
            log.info("starting Asterisk: %s (output in %s)", " ".join(argv), self.log_path)
            # new recordings group-writable, as under systemd (UMask=0002): the hotline's processes, in group
            # asterisk, finish and delete them
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                          stderr=subprocess.STDOUT, start_new_session=True, umask=0o002)
            try:
                wait_until(self._booted, timeout, "Asterisk to finish starting",
                           hint=f"Its output is in {self.log_path}.", interval=0.3)
            except BaseException:
                self._stop_locked(20)
                raise
        log.info("Asterisk is up (pid %s)", self._proc.pid)

    def prepare(self, walk_owned: bool = True) -> None:
        """What comes before Asterisk's own command, as root: an Asterisk of an earlier run stopped, the shared
        directories mounted in its root, its directories its user's, its configuration readable by its group.
        ``start`` does it; the systemd unit runs it before ``command()`` (tooling/system/units.py)."""
        if not self.conf_path.is_file():
            raise SetupError(f"Cannot prepare Asterisk: {self.conf_path} does not exist. Run `hotline render-config`.")
        self._stop_leftovers()
        with self._root_lock():
            self._prepare_locked(walk_owned)

    def command(self) -> list[str]:
        """Asterisk's own command line, in the foreground (as ``start`` runs it, and the systemd unit)."""
        return [*self.netns, *self.install.command("-f", "-n", "-C", str(self.conf_path))]

    def wait_booted(self, timeout: float = 60) -> None:
        """Return once an Asterisk on this configuration has fully booted (SetupError at the deadline)."""
        argv = self.install.command("-C", str(self.conf_path), "-rx", "core waitfullybooted")

        def booted() -> bool:
            try:
                done = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return False
            return done.returncode == 0

        wait_until(booted, timeout, "Asterisk to finish starting", hint=f"See {self.log_path}.", interval=0.3)

    def release(self) -> None:
        """After Asterisk stopped (the systemd unit's ExecStopPost): its mounts removed unless another Asterisk
        runs in the root."""
        root = self.install.root
        if root is not None and not self._mounted:      # a process of its own: ours are the shared paths
            self._mounted = [mounts.target_in_root(root, path) for path in self.bind_paths]
        with self._root_lock():
            self._unmount_locked()

    def _prepare_locked(self, walk_owned: bool) -> None:
        uid, gid = self.install.user_ids()
        if self.install.root is not None:
            self._prepare_root(self.install.root)
        self._own(uid, gid, walk_owned)
        self._share_config(gid)
        self._check_reachable(uid, gid)

    @contextmanager
    def _root_lock(self) -> Iterator[None]:
        """Serialise mounting and unmounting in a shared root: one Asterisk at a time starts or stops."""
        root = self.install.root
        if root is None:
            yield
            return
        with open(Path(root).parent / f".{Path(root).name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def rx(self, command: str, timeout: float = 30) -> str:
        """Run one Asterisk CLI command and return what it printed."""
        return run(self.install.command("-C", str(self.conf_path), "-rx", command),
                   f"run the Asterisk command {command!r}", timeout=timeout,
                   hint=f"Is Asterisk running? Its output is in {self.log_path}.")

    def stop(self, timeout: float = 20) -> None:
        """Stop Asterisk (gently, then by force) and remove the mounts; safe to call twice."""
        with self._root_lock():
            self._stop_locked(timeout)

    def _stop_locked(self, timeout: float) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                self.rx("core stop now", timeout=min(5.0, timeout))
            except SetupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Asterisk did not stop within %.0f s; killing it", timeout)
                proc.kill()
                proc.wait(10)
        self._stop_leftovers()
        self._unmount_locked()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _unmount_locked(self) -> None:
        root = self.install.root
        if root is not None:
            if not mounts.processes_in_root(root):
                for target in mounts.unmount_all_under(root):
                    log.debug("unmounted %s", target)
            else:   # another Asterisk runs in the root: leave its mounts, remove ours
                table = mounts.read_mounts()
                for ours in reversed(self._mounted):
                    if mounts.is_mount_point(ours, table):
                        mounts.unmount(ours)
            self._mounted = []

    def __enter__(self) -> AsteriskProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _booted(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            code = self._proc.returncode if self._proc is not None else None
            raise SetupError(f"Asterisk stopped while starting (exit {code}). Its last words, from "
                             f"{self.log_path}:\n{tail_file(self.log_path)}")
        argv = self.install.command("-C", str(self.conf_path), "-rx", "core waitfullybooted")
        try:
            done = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0 and self._pid_file() == self._proc.pid

    def _pid_file(self) -> int | None:
        """The pid in astrundir/asterisk.pid: proves the Asterisk that answers is ours."""
        rundir = read_directories(self.conf_path).get("astrundir", "/var/run/asterisk")
        try:
            return int(Path(rundir, "asterisk.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _is_ours(self, pid: int) -> bool:
        """True for an Asterisk server (not a remote console) running our asterisk.conf in our root."""
        argv = mounts.process_argv(pid)
        if not argv or not Path(argv[0]).name.startswith("asterisk") or any(a in REMOTE_FLAGS for a in argv):
            return False
        if str(self.conf_path) not in argv:
            return False
        root = self.install.root
        return mounts.process_root(pid) == (str(root) if root is not None else "/")

    def _stop_leftovers(self) -> None:
        """Stop an Asterisk with our configuration that an earlier run left behind."""
        own = self._proc.pid if self._proc is not None and self._proc.poll() is None else None
        candidates = set(mounts.pids())
        try:
            rundir = read_directories(self.conf_path).get("astrundir") if self.conf_path.is_file() else None
        except SetupError:
            rundir = None
        if rundir:
            try:
                candidates.add(int(Path(rundir, "asterisk.pid").read_text().strip()))
            except (OSError, ValueError):
                pass
        for pid in sorted(candidates - {own}):
            if self._is_ours(pid):
                log.warning("stopping an Asterisk left running by an earlier run (pid %d)", pid)
                terminate(pid)

    def _prepare_root(self, root: Path) -> None:
        if not mounts.processes_in_root(root):
            for target in mounts.unmount_all_under(root):
                log.info("removed a mount left by an earlier run: %s", target)
        if not any(self.conf_path.is_relative_to(p) for p in self.bind_paths):
            raise SetupError(f"Asterisk in its root cannot see {self.conf_path}: it is outside the shared "
                             f"directories ({', '.join(map(str, self.bind_paths))}). Render the configuration "
                             "into the state directory.")
        old_umask = os.umask(0o022)
        try:
            for path in self.bind_paths:
                if mounts.bind(root, path):
                    log.debug("mounted %s inside %s", path, root)
                ours = mounts.target_in_root(root, path)
                if ours not in self._mounted:       # ours to remove, even if left by a dead run
                    self._mounted.append(ours)
            _ensure_devices(root)
        finally:
            os.umask(old_umask)

    def _own(self, uid: int, gid: int, walk: bool = True) -> None:
        """Give the directories Asterisk writes to its user (only entries not already its own)."""
        for top in self.owned_paths:
            top.mkdir(parents=True, exist_ok=True)
            _refuse_planted_link(top)     # a link left is root's own: followed, as before
            if not walk:
                if (top.stat().st_uid, top.stat().st_gid) != (uid, gid):
                    os.chown(top, uid, gid)
                continue
            # the recordings and the spool are written by others too (group asterisk): through handles only
            chown_tree(Path(os.path.realpath(top)), (uid, gid),      # a link left there is root's own
                       skip=[Path(os.path.realpath(p)) for p in self.not_owned])

    def _share_config(self, gid: int) -> None:
        """Let Asterisk's group read its configuration files (they may hold passwords: 0640, not 0644)."""
        etc = Path(read_directories(self.conf_path).get("astetcdir") or self.conf_path.parent)
        if not etc.is_dir():
            return
        for path in [etc, *etc.iterdir()]:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode) or st.st_mode & stat.S_IROTH:
                continue
            if st.st_gid != gid:
                os.lchown(path, -1, gid)
            wanted = st.st_mode | stat.S_IRGRP | (stat.S_IXGRP if stat.S_ISDIR(st.st_mode) else 0)
            if stat.S_IMODE(wanted) != stat.S_IMODE(st.st_mode):
                os.chmod(path, stat.S_IMODE(wanted))

    def _check_reachable(self, uid: int, gid: int) -> None:
        etc = read_directories(self.conf_path).get("astetcdir")
        for path in [self.conf_path.parent, *([Path(etc)] if etc else []), *self.owned_paths]:
            blocked = untraversable(path, uid, gid)
            if blocked is not None:
                raise SetupError(f"Asterisk runs as user 'asterisk' (uid {uid}) and cannot enter {blocked}, "
                                 f"so it cannot reach {path}. Run `chmod o+x {blocked}` or choose a state "
                                 "directory it can reach (HOTLINE_STATE_DIR).")


def _refuse_planted_link(path: Path) -> None:
    """Root gives ``path`` to Asterisk's user: a symbolic link there is followed only if root made it where
    no one else could (root's link in a folder of root's that only root writes); any other link may have been
    planted to have root give away a file of its own (/etc/shadow), so it is refused."""
    if not path.is_symlink():
        return
    link, parent = os.lstat(path), os.stat(path.parent)
    if link.st_uid == 0 and parent.st_uid == 0 and not parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return
    raise SetupError(f"{path} is a symbolic link that a user other than root could have made (in {path.parent}): "
                     "root does not give what it points to to Asterisk's user. Replace it by the folder itself "
                     "(or a link made by root in a folder only root writes) and start again.")


def _ensure_devices(root: Path) -> None:
    """Make /dev/null, /dev/urandom... exist inside the root (debootstrap usually made them)."""
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    for name, (major, minor) in DEVICES.items():
        node = dev / name
        if node.exists():
            continue
        try:
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(node, 0o666)
        except PermissionError:
            node.touch()
            run(["mount", "--bind", f"/dev/{name}", node], f"make /dev/{name} available to Asterisk")
