"""A PostgreSQL server of a test's own (Debian's binaries, a temporary data directory, its own port),
for tests that stop and start the database: never the machine's, which others use."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class OwnPostgres:
    """``initdb`` in a temporary directory; :meth:`start` and :meth:`stop` as often as a test likes."""

    def __init__(self) -> None:
        # Reachable by the postgres user (pytest's own temporary directories are root's alone).
        self.base = Path(tempfile.mkdtemp(prefix="hotline-pg-", dir="/var/tmp"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.data, "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _pg(self, tool: str, *args: str) -> None:
        argv = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:       # PostgreSQL refuses to run as root
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "log"), "-w", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass            # already stopped
        shutil.rmtree(self.base, ignore_errors=True)
