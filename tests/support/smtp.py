"""A real SMTP server of a test's own (aiosmtpd) on a free port, keeping what it receives."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller

from .redis_server import free_port


@dataclass
class Received:
    """One message the server took: the envelope's sender and recipients, the message, the real time."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    real_time: float


@dataclass
class SmtpSink:
    """aiosmtpd's handler: keeps every message; refuses them (451, counted) while ``refusing``."""

    port: int = 0
    refusing: bool = False
    refused: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default))
        with self.lock:
            if self.refusing:
                self.refused += 1
                return "451 4.3.0 Mailbox temporarily unavailable"
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, time.time()))
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    @property
    def recipients(self) -> list[list[str]]:
        with self.lock:
            return [r.rcpt_tos for r in self.received]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def about(self, code: str) -> list[Received]:
        """The messages whose subject names ``code`` (a ticket's)."""
        with self.lock:
            return [r for r in self.received if code in str(r.message["Subject"])]


@contextmanager
def smtp_sink(refusing: bool = False) -> Iterator[SmtpSink]:
    """The sink, listening on 127.0.0.1 at its ``port`` until the block ends."""
    handler = SmtpSink(port=free_port(), refusing=refusing)
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()
