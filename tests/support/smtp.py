"""A real SMTP server of a test's own (aiosmtpd) on a free port, keeping what it receives."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller

from .redis_server import free_port


@dataclass
class SmtpSink:
    """aiosmtpd's handler: keeps every message; refuses them (451) while ``refusing``."""

    port: int = 0
    refusing: bool = False
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refusing:
                return "451 4.3.0 Mailbox temporarily unavailable"
            self.messages.append(cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default)))
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    handler = SmtpSink(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()
