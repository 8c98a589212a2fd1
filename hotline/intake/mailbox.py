"""The hotline's mailbox read over IMAP (``hotline mailbox``; province.toml [mailbox], README: Channels).

Each unseen message is read without marking it (``BODY.PEEK[]``), turned into a request (hotline.intake.emails)
and taken by the intake; only once its ticket is committed is it marked ``\\Seen``, so nothing is lost when the
process dies in between (the message is read again, and its Message-ID makes it the same ticket). Mail the
hotline must not answer (its own, bounces, auto-replies) is marked seen and left; a message the intake refuses
is marked seen and ``\\Flagged`` for a person, and stays in the mailbox. The reader waits for news with IDLE when
the server has it (re-issued every ``poll_seconds``, at most 29 minutes as RFC 2177 asks), else looks every
``poll_seconds``. An unreachable server or a refused login is tried again after 1 s, doubling to 60 s, each
failure logged; its state is in a small file the health check ``mailbox`` reads (down after five minutes of
failure: ``hotline watch`` alerts the supervisors).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.adapters.imap import ERRORS, Mailbox
from hotline.intake import emails
from hotline.intake.files import FileRefused
from hotline.intake.service import Intake, IntakeError, Receipt, Request

log = logging.getLogger("hotline.intake.mailbox")

IDLE_MAX = 29 * 60.0    # RFC 2177: IDLE again at least this often
FIRST_RETRY = 1.0       # seconds before trying again after a failure, doubling ...
LAST_RETRY = 60.0       # ... up to this
FAILING_ALERT = 300.0   # failing this long, the health check says the mailbox is down


def status_file(state_dir: Path) -> Path:
    """Where the reader says how it is doing (read by the health check)."""
    return Path(state_dir) / "mailbox" / "status.json"


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class MailboxReader:
    """Reads ``[mailbox]`` into the intake until stopped.

    Args:
        intake: the door every request goes through.
        connect: a logged-in :class:`Mailbox` on ``[mailbox] folder``.
        address: the hotline's own address (its mail is never read as a request).
        poll_seconds: ``[mailbox] poll_seconds``.
        limits: ``[intake]``'s.
        status: the status file (status_file(state_dir)); None: none written.
    """

    def __init__(self, intake: Intake, connect: Callable[[], Mailbox], *, address: str, poll_seconds: float,
                 limits: emails.Limits, status: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.intake, self.connect, self.address = intake, connect, address
        self.poll_seconds = min(poll_seconds, IDLE_MAX)
        self.limits, self.status, self.clock = limits, status, clock
        # the largest message worth reading: its files (base64 is 4/3 of them) and text
        self.max_bytes = limits.max_files * limits.max_file_bytes * 4 // 3 + 2_000_000
        self.failing_since: float | None = None

    def run(self, stop: threading.Event) -> None:
        """Read the mailbox until ``stop`` is set; a failure is logged and tried again, never raised."""
        delay = FIRST_RETRY
        while not stop.is_set():
            try:
                with self.connect() as box:
                    log.info("mailbox open: %s", "IDLE" if box.idles else f"a look every {self.poll_seconds:g} s")
                    delay = FIRST_RETRY
                    self.failing_since = None
                    while not stop.is_set():
                        self.read(box, stop)
                        self._say(None)
                        box.wait(self.poll_seconds, stop)
            except Exception as e:     # the server, the login, the database: all tried again
                self._failed(e, delay)
                stop.wait(delay)
                delay = min(delay * 2, LAST_RETRY)

    def read(self, box: Mailbox, stop: threading.Event | None = None) -> int:
        """Take every unseen message; how many became or joined tickets."""
        taken = 0
        for uid, size in sorted(box.unseen().items()):
            if stop is not None and stop.is_set():
                break
            taken += self._one(box, uid, size)
        return taken

    def _one(self, box: Mailbox, uid: int, size: int) -> int:
        if size > self.max_bytes:
            log.warning("mail uid=%s refused: %d bytes, more than %d; flagged in the mailbox", uid, size,
                        self.max_bytes)
            box.mark_refused(uid)
            return 0
        raw = box.raw(uid)
        if raw is None:
            return 0
        try:
            req = emails.to_request(raw, self.address, self.limits)
        except emails.NotForUs as e:
            log.info("mail uid=%s skipped (%s): not answered", uid, e)
            box.mark_seen(uid)
            return 0
        except Exception:       # a message the parser cannot read must not stop the others
            log.exception("mail uid=%s unreadable; flagged in the mailbox", uid)
            box.mark_refused(uid)
            return 0
        try:
            receipt = self._receive(req)
        except (IntakeError, FileRefused) as e:
            log.warning("mail uid=%s %s refused (%s); flagged in the mailbox", uid, req.external_id, e)
            box.mark_refused(uid)
            return 0
        box.mark_seen(uid)
        log.info("mail uid=%s %s %s ticket %s", uid, req.external_id,
                 "made" if receipt.new else "joined" if receipt.joined else "was already", receipt.code)
        return 1

    def _receive(self, req: Request) -> Receipt:
        """The request taken; a file the intake refuses (a "photo" that is not one) is left out and named in the
        text instead of refusing the whole mail."""
        try:
            return self.intake.receive(req)
        except FileRefused:
            refused = {i: self.intake.refusal(f) for i, f in enumerate(req.files)}
            notes = [f"(Tệp «{req.files[i].filename}» không được nhận: {e.vi or e})"
                     for i, e in refused.items() if e is not None]
            kept = tuple(f for i, f in enumerate(req.files) if refused[i] is None)
            return self.intake.receive(Request(**{**req.__dict__, "files": kept,
                                                  "content": "\n\n".join([req.content, *notes])}))

    def _failed(self, error: BaseException, delay: float) -> None:
        now = self.clock()
        if self.failing_since is None:
            self.failing_since = now
        why = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
        if isinstance(error, ERRORS):
            log.warning("mailbox not read (%s); trying again in %.0f s", why, delay)
        else:
            log.exception("mailbox not read (%s); trying again in %.0f s", why, delay)
        self._say(why)

    def _say(self, error: str | None) -> None:
        """The status file, written whole (a reader never sees half of it)."""
        if self.status is None:
            return
        body = {"at": self.clock(), "ok": error is None, "failing_since": self.failing_since, "error": error}
        self.status.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status.with_name(f".{self.status.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, self.status)


def reader(ctx: Any, intake: Intake) -> MailboxReader:
    """The reader of ``ctx``'s ``[mailbox]`` (its password: secrets.toml [channels] mailbox_password)."""
    m, i = ctx.settings.mailbox, ctx.settings.intake
    password = ctx.secrets.channel_secret("mailbox_password")

    def connect() -> Mailbox:
        return Mailbox(m.host, m.port, m.tls, m.user, password, m.folder)
    return MailboxReader(intake, connect, address=m.address, poll_seconds=m.poll_seconds,
                         limits=emails.Limits(i.max_chars, i.max_files, int(i.max_file_mb * 1_000_000)),
                         status=status_file(ctx.settings.paths.state_dir))
