"""E-mail to agencies' focal points and supervisors (SMTP, province.toml [notifications]).

Text only: no recording or other file ever leaves by e-mail (a ticket's mail links to its page in the
console, where a play is in the AccessLog). STARTTLS verifies the server's certificate and host name
against the system's CAs, or ``[notifications] ca_file`` for a province's own CA.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from hotline.config.settings import NotificationSettings

log = logging.getLogger("hotline.adapters.mail")
# Headers are not folded: Python's folding of a long Vietnamese subject into several encoded words drops
# the space where it folds ("Lời nhắnkhông lưu được" in every mail reader); one long encoded word keeps it.
_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


class Mailer:
    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    def send(self, mail: Mail) -> bool:
        """Send ``mail``; False when notifications are off or nobody is to receive it. SMTP errors raise."""
        if not self.settings.enabled or not mail.to:
            return False
        self.deliver(mail)
        return True

    def deliver(self, mail: Mail, *, sender: str | None = None, headers: dict[str, str] | None = None,
                msgid: str | None = None) -> str:
        """Send ``mail`` from ``sender`` (default: ``[notifications] sender``) with ``headers`` (a reply's
        In-Reply-To) and ``msgid`` (default: a new one); its Message-ID. SMTP errors raise."""
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = sender or self.settings.sender
        msg["To"] = ", ".join(mail.to)
        msg["Subject"] = mail.subject
        domain = (sender or self.settings.sender).rpartition("@")[2] or "localhost"
        msg["Message-ID"] = msgid or make_msgid(domain=domain)
        for name, value in (headers or {}).items():
            msg[name] = value
        msg.set_content(mail.body)
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=20) as smtp:
            if s.starttls:
                smtp.starttls(context=tls_context(s))
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg)
        log.info("mail to %s: %s", msg["To"], mail.subject)
        return str(msg["Message-ID"])


def tls_context(settings: NotificationSettings) -> ssl.SSLContext:
    """Certificate and host name verified: the system's CAs, or only the province's own (``ca_file``)."""
    return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
