"""The hotline's messages to citizens, through the channel each wrote from: a receipt with the ticket's code,
the agency's answer, a voicemail caller's code by SMS. Each is an ``out`` IntakeMessage row first (written with
the ticket's change), then sent by the worker's job; one that fails keeps its error and is tried again by the
worker's sweep, a minute later and then less often, ``MAX_ATTEMPTS`` times at the most. A message sent is never
sent again."""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import IntakeMessage
from hotline.adapters.mail import Mail, Mailer
from hotline.config.secrets import Secrets
from hotline.config.settings import Settings
from hotline.domain.redact import redact_url

log = logging.getLogger("hotline.intake.outbox")

MAX_ATTEMPTS = 8
#: What a sender gets: the message's channel, address (to), subject, body and the citizen's message it answers
#: (its external id: an e-mail's Message-ID); it returns the channel's id of what it sent, or raises.
Sender = Callable[[IntakeMessage, str | None], str | None]


class SendError(Exception):
    """A channel refused or could not take a message (the error is kept on its row)."""


def send(sessions: sessionmaker[Session], message_id: int, senders: dict[str, Sender],
         now: Callable[[], datetime]) -> str:
    """Send one waiting message; returns ``sent``, ``done`` (sent before), ``waiting`` (its channel is not
    set up: kept for when it is) or ``failed`` (kept with its error for the sweep)."""
    with sessions() as s:
        msg = s.get(IntakeMessage, message_id)
        if msg is None or msg.direction != "out":
            return "done"
        if msg.sent_at is not None:
            return "done"
        sender = senders.get(msg.channel)
        if sender is None:
            msg.error = f"the {msg.channel} channel is not set up to send (README: Channels)"
            s.commit()
            return "waiting"
        first = s.scalar(select(IntakeMessage.external_id).where(
            IntakeMessage.ticket_id == msg.ticket_id, IntakeMessage.direction == "in").order_by(IntakeMessage.id))
        msg.attempts += 1
        try:
            sent_id = sender(msg, first)
        except Exception as e:
            msg.error = f"{e.__class__.__name__}: {e}"[:2000]
            s.commit()
            log.warning("message %s to the %s channel not sent (try %d): %s", message_id, msg.channel,
                        msg.attempts, msg.error)
            return "failed"
        msg.sent_at = now()
        msg.error = None
        if sent_id and not msg.external_id:
            msg.external_id = sent_id[:255]
        s.commit()
        log.info("message %s sent through %s", message_id, msg.channel)
        return "sent"


def due(sessions: sessionmaker[Session], now: datetime, limit: int = 200) -> list[int]:
    """Messages waiting to be sent whose next try has come: a minute after the last one, doubling each time."""
    with sessions() as s:
        rows = s.execute(select(IntakeMessage.id, IntakeMessage.attempts, IntakeMessage.at).where(
            IntakeMessage.direction == "out", IntakeMessage.sent_at.is_(None),
            IntakeMessage.attempts < MAX_ATTEMPTS).order_by(IntakeMessage.id).limit(limit)).all()
    return [r.id for r in rows if r.attempts == 0 or now - r.at >= timedelta(minutes=2 ** r.attempts - 1)]


def senders(settings: Settings, secrets: Secrets, mailer: Mailer | None = None) -> dict[str, Sender]:
    """The senders of the channels set up in ``settings`` (and their credentials in ``secrets``)."""
    out: dict[str, Sender] = {}
    if settings.mailbox.enabled and settings.mailbox.address and mailer is not None:
        out["email"] = _email(mailer, settings.mailbox.address)
    if settings.sms.enabled and settings.sms.send_url:
        out["sms"] = _sms(settings.sms.send_url, secrets.channel_secret("sms_send_token"), settings.sms.sender)
    if settings.zalo.enabled:
        out["zalo"] = _zalo(settings.zalo.api_url, secrets.channel_secret("zalo_access_token"))
    if settings.facebook.enabled:
        out["facebook"] = _facebook(settings.facebook.api_url, secrets.channel_secret("facebook_page_token"))
    return out


def message_id(code: str, sender: str) -> str:
    """The Message-ID of a mail the hotline sends about ticket ``code``: it names the code, so a reply to it
    joins that ticket (hotline.intake.service) instead of making one and being answered again."""
    return make_msgid(idstring=f"phieu{code}", domain=sender.rpartition("@")[2] or "localhost")


def _email(mailer: Mailer, sender: str) -> Sender:
    def send_mail(msg: IntakeMessage, answers: str | None) -> str | None:
        headers = {"In-Reply-To": answers, "References": answers} if answers and "@" in answers else {}
        if not (msg.external_id or "").startswith("answer:"):
            # a receipt answers the citizen's mail automatically (RFC 3834): their auto-responder stays quiet
            headers |= {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
        return mailer.deliver(Mail((msg.address,), msg.subject, msg.body), sender=sender, headers=headers,
                              msgid=message_id(msg.ticket.code, sender))
    return send_mail


def _sms(url: str, token: str, sender: str) -> Sender:
    def send_sms(msg: IntakeMessage, _answers: str | None) -> str | None:
        got = post_json(url, {"to": msg.address, "text": msg.body, "sender": sender},
                        {"Authorization": f"Bearer {token}"} if token else {})
        return str(got.get("id") or got.get("message_id") or "") or None
    return send_sms


def _zalo(url: str, token: str) -> Sender:
    def send_zalo(msg: IntakeMessage, _answers: str | None) -> str | None:
        got = post_json(url, {"recipient": {"user_id": msg.address}, "message": {"text": msg.body}},
                        {"access_token": token})
        if got.get("error", 0) != 0:      # Zalo answers 200 with {"error": <non-zero>, "message": ...}
            raise SendError(f"Zalo error {got.get('error')}: {got.get('message')}")
        return str((got.get("data") or {}).get("message_id") or "") or None
    return send_zalo


def _facebook(url: str, token: str) -> Sender:
    def send_facebook(msg: IntakeMessage, _answers: str | None) -> str | None:
        got = post_json(url, {"recipient": {"id": msg.address}, "messaging_type": "RESPONSE",
                              "message": {"text": msg.body}}, {"Authorization": f"Bearer {token}"})
        return str(got.get("message_id") or "") or None
    return send_facebook


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float = 15) -> dict[str, Any]:
    """POST ``body`` as JSON; the JSON answer (SendError on an HTTP error or none, naming the URL without its
    credentials or query)."""
    req = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8", **headers})
    shown = redact_url(url).split("?")[0]      # the error is kept and shown: never a password or key of the URL
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (the province's own URL)
            text = resp.read(1_000_000).decode(errors="replace")
    except urllib.error.HTTPError as e:
        raise SendError(f"{shown} answered {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise SendError(f"{shown} not reached: {getattr(e, 'reason', e)}") from None
    try:
        got = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}
