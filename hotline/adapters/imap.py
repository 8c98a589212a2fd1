"""The hotline's mailbox over IMAP (IMAPClient; province.toml [mailbox]): the only module speaking IMAP.

IMAPS verifies the server's certificate and host name against the system's CAs; plain IMAP only when
``[mailbox] tls = false`` (a server on this machine). Messages are read with ``BODY.PEEK[]``, so reading one
marks nothing: the reader marks it ``\\Seen`` once its ticket is committed.
"""
from __future__ import annotations

import logging
import ssl
import threading
import time
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

log = logging.getLogger("hotline.adapters.imap")

TIMEOUT = 30.0      # seconds to connect and for each answer
#: What a broken connection, a refused login or a server gone away raise.
ERRORS: tuple[type[BaseException], ...] = (IMAPClientError, OSError)


class Mailbox:
    """One logged-in connection to ``folder``; close it with :meth:`close` (or ``with``).

    Args:
        host, port, tls, user, password, folder: ``[mailbox]`` and its password.
        context: TLS settings (default: the system's CAs, host name checked).
    """

    def __init__(self, host: str, port: int, tls: bool, user: str, password: str, folder: str, *,
                 context: ssl.SSLContext | None = None, timeout: float = TIMEOUT) -> None:
        self.client = IMAPClient(host, port, ssl=tls, ssl_context=(context or ssl.create_default_context())
                                 if tls else None, timeout=timeout)
        try:
            self.client.login(user, password)
            self.client.select_folder(folder)
        except BaseException:
            self.close()
            raise
        self.idles = bool(self.client.has_capability("IDLE"))

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def unseen(self) -> dict[int, int]:
        """The unseen messages: their UIDs and sizes in bytes."""
        uids = self.client.search(["UNSEEN"])
        if not uids:
            return {}
        sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        return {int(uid): int(data.get(b"RFC822.SIZE", 0)) for uid, data in sizes.items()}

    def raw(self, uid: int) -> bytes | None:
        """The message as it came (None when it is gone), read without marking it seen."""
        got = self.client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        data = got.get(b"BODY[]") if got else None
        return bytes(data) if data is not None else None

    def mark_seen(self, uid: int) -> None:
        self.client.add_flags([uid], [b"\\Seen"])

    def mark_refused(self, uid: int) -> None:
        """Seen and flagged: a person has to look at it; it stays in the mailbox."""
        self.client.add_flags([uid], [b"\\Seen", b"\\Flagged"])

    def wait(self, seconds: float, stop: threading.Event, step: float = 1.0) -> None:
        """Until the server says something changed (IDLE), ``seconds`` pass or ``stop`` is set; without IDLE a
        plain wait (the caller looks again after it)."""
        if not self.idles:
            stop.wait(seconds)
            self.client.noop()
            return
        deadline = time.monotonic() + seconds
        self.client.idle()
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                said: list[Any] = self.client.idle_check(timeout=min(step, max(0.01, deadline - started)))
                if said or time.monotonic() - started < step / 2:   # news, or the connection closed under us
                    break
        finally:
            self.client.idle_done()

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:        # already gone: nothing to say goodbye to
            try:
                self.client.shutdown()
            except Exception:    # noqa: S110 (the socket is closed either way)
                pass
