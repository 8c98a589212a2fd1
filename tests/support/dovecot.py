"""A real Dovecot of a test's own (Debian's dovecot-imapd, installed by scripts/bootstrap for the tests): plain
IMAP on 127.0.0.1 at a free port, one mailbox user, a maildir in a folder of its own; run in the foreground
(``dovecot -F``) so the test owns the process, and stopped (or stopped and started again) by the test."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

from .redis_server import free_port

USER, PASSWORD = "tongdai1022", "mat-khau-hop-thu"
START_SECONDS = 15.0


@dataclass
class Dovecot:
    """One Dovecot: where it listens, its mailbox's user and password, its folder (config, mail, log)."""

    folder: Path
    port: int
    user: str = USER
    password: str = PASSWORD
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> str:
        try:
            return (self.folder / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> None:
        """Run Dovecot until it accepts IMAP connections."""
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.folder / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=open(self.folder / "stderr.log", "ab"),
                                        start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited {self.process.returncode}: "
                                   f"{(self.folder / 'stderr.log').read_text(errors='replace')}{self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port} within {START_SECONDS:.0f} s: {self.log}")

    def stop(self) -> None:
        """Stop Dovecot and every process of its own (an IMAP session left behind would keep its connection
        open, unlike a server that goes away)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """"Send" a mail to the mailbox: IMAP APPEND, as a mail server's delivery leaves it (unseen)."""
        client = self.client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> list[set[bytes]]:
        """Every message's flags, in order."""
        client = self.client()
        try:
            client.select_folder(folder, readonly=True)
            got = client.fetch(client.search(["ALL"]), ["FLAGS"])
            return [set(got[uid][b"FLAGS"]) for uid in sorted(got)]
        finally:
            client.logout()

    def mark_unseen(self, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.select_folder(folder)
            client.remove_flags(client.search(["ALL"]), [b"\\Seen"])
        finally:
            client.logout()


def _config(folder: Path, port: int, mail_user: str) -> str:
    uid, gid = pwd.getpwnam(mail_user).pw_uid, pwd.getpwnam(mail_user).pw_gid
    own = "" if os.getuid() == 0 else f"default_login_user = {mail_user}\ndefault_internal_user = {mail_user}\n"
    return f"""# A test's own Dovecot (tests/support/dovecot.py): plain IMAP on loopback, one user, nothing else.
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = hotline-test-{port}
log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
{own}mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


@contextmanager
def dovecot() -> Iterator[Dovecot]:
    """A running Dovecot for the block; stopped and its folder removed after it. As root its mail belongs to
    ``nobody`` in a folder under /tmp (a test's tmp_path is root's alone, and Dovecot gives no mail to root)."""
    if shutil.which("dovecot") is None:
        raise RuntimeError("dovecot is not installed: HOTLINE_SETUP_TESTS=1 scripts/bootstrap installs it")
    mail_user = "nobody" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    folder = Path(tempfile.mkdtemp(prefix="hotline-dovecot-"))
    folder.chmod(0o755)
    (folder / "mail").mkdir(mode=0o755)
    if os.getuid() == 0:
        entry = pwd.getpwnam(mail_user)
        os.chown(folder / "mail", entry.pw_uid, entry.pw_gid)
    server = Dovecot(folder, free_port())
    (folder / "passwd").write_text(f"{server.user}:{{PLAIN}}{server.password}::::::\n")
    (folder / "dovecot.conf").write_text(_config(folder, server.port, mail_user))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
