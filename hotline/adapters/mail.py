"""E-mail to agencies' focal points and supervisors (SMTP, province.toml [notifications])."""
from __future__ import annotations

import logging
import mimetypes
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from hotline.config.settings import NotificationSettings

log = logging.getLogger("hotline.adapters.mail")


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Path, ...] = ()


class Mailer:
    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    def send(self, mail: Mail) -> bool:
        """Send ``mail``; False when notifications are off or nobody is to receive it. SMTP errors raise."""
        if not self.settings.enabled or not mail.to:
            return False
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(mail.to)
        msg["Subject"] = mail.subject
        msg.set_content(mail.body)
        for path in mail.attachments:
            if not path.is_file():
                log.warning("attachment %s is missing; sending without it", path)
                continue
            kind, _ = mimetypes.guess_type(path.name)
            main, sub = (kind or "application/octet-stream").split("/", 1)
            msg.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=20) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg)
        log.info("mail to %s: %s", msg["To"], mail.subject)
        return True
