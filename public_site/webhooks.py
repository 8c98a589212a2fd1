"""The channels' webhooks (README: Channels): the province's SMS gateway, its Zalo Official Account and its
Facebook Page call these with each message a citizen sends; each call is signed by its sender
(public_site.signatures) and a forged one is refused (401) and counted. A message becomes a ticket through
``hotline.intake`` (the same message id again is the same ticket) whose receipt, with the code, the worker sends
back through the same channel (hotline.intake.outbox); nothing here calls out.

Each message is a ticket of its own: a second text from the same sender is not joined to their open ticket
(only a replay of the same message id is). One sender may send ``[public] messages_per_hour`` messages an hour,
counted after the signature so a forger spends nobody's share. Zalo and Facebook want a quick 200 to every
signed event: a message refused there (empty, too long, over the limit) is answered 200 with the reason, makes
no ticket and is counted; nothing is sent back to the citizen about it.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from limits import parse

from hotline.intake import FileRefused, IntakeError, Receipt, Request, normal_phone

from . import limiter, services, signatures

log = logging.getLogger("hotline.public.webhooks")
bp = Blueprint("webhooks", __name__)

ZALO_EVENTS = ("user_send_text", "user_send_image")
FORGED = "Chữ ký không hợp lệ: yêu cầu không đến từ kênh đã đăng ký với đường dây nóng 1022."
OFF = "Kênh này chưa được bật trên đường dây nóng 1022."
Answer = tuple[Response, int]


class Refusal(Exception):
    """A message that makes no ticket: ``why`` is counted (``<channel>_<why>``), ``vi`` says why."""

    def __init__(self, why: str, vi: str) -> None:
        super().__init__(vi)
        self.why, self.vi = why, vi


def _json(status: int, **body: Any) -> Answer:
    return jsonify(body), status


def _refused(channel: str, why: str, status: int, vi: str) -> Answer:
    services().refused(f"{channel}_{why}")
    return _json(status, error=vi)


# -- SMS ----------------------------------------------------------------------------------
@bp.post("/sms/inbound")
def sms_inbound() -> Answer:
    """A text to the hotline's number: JSON or form fields ``from``, ``text``, ``id`` (the gateway's message id),
    optional ``to`` and ``received_at`` (ISO 8601). The gateway proves it is itself either way it can: the header
    ``Authorization: Bearer <sms_token>``, or ``X-Signature: <hex HMAC-SHA256 of the raw body keyed with
    sms_token>``. The answer holds the ticket's code and the receipt the worker texts back."""
    svc = services()
    if not svc.ctx.settings.sms.enabled:
        return _json(404, error=OFF)
    raw = request.get_data(cache=True)      # kept: the form is parsed from it below
    if not signatures.sms(raw, svc.ctx.secrets.channel_secret("sms_token"),
                          authorization=request.headers.get("Authorization", ""),
                          signature=request.headers.get("X-Signature", "")):
        return _refused("sms", "signature", 401, FORGED)
    fields = (request.get_json(silent=True) if request.is_json else request.form.to_dict()) or {}
    try:
        if not str(fields.get("id") or "").strip():
            raise Refusal("invalid", "Thiếu mã tin nhắn (id) của tổng đài SMS.")
        phone = normal_phone(str(fields.get("from") or ""))
        receipt = _take(Request(channel="sms", content=str(fields.get("text") or ""), phone=phone, reply_to=phone,
                                external_id=str(fields["id"]).strip()[:255],
                                received_at=_when(fields.get("received_at"))), phone)
    except IntakeError as e:
        return _refused("sms", "invalid", 400, e.vi or str(e))
    except Refusal as r:
        return _refused("sms", r.why, 429 if r.why == "rate" else 400, r.vi)
    return _json(200, code=receipt.code, reply=receipt.reply, new=receipt.new)


# -- Zalo ---------------------------------------------------------------------------------
@bp.post("/zalo/webhook")
def zalo_webhook() -> Answer:
    """An event of the Zalo OA, signed ``X-ZEvent-Signature: mac=<sha256 of app_id + raw body + timestamp + OA
    secret key>`` (signatures.zalo_mac). ``user_send_text`` and ``user_send_image`` make tickets; an image is
    never fetched from here: its URL is a line ``Ảnh: <url>`` of the ticket's text. Other events: 200, ignored."""
    svc = services()
    z = svc.ctx.settings.zalo
    if not z.enabled:
        return _json(404, error=OFF)
    raw = request.get_data(cache=True)
    event = _parsed(raw)
    if event is None or not signatures.zalo(request.headers.get("X-ZEvent-Signature", ""), z.app_id, raw,
                                            str(event.get("timestamp", "")),
                                            svc.ctx.secrets.channel_secret("zalo_secret_key")):
        return _refused("zalo", "signature", 401, FORGED)
    if event.get("event_name") not in ZALO_EVENTS:
        return _json(200, ignored=str(event.get("event_name", "")))
    message = _dict(event.get("message"))
    sender = str(_dict(event.get("sender")).get("id") or "")
    return _chat("zalo", sender, str(message.get("msg_id") or ""), _content(message))


# -- Facebook -----------------------------------------------------------------------------
@bp.get("/facebook/webhook")
def facebook_verify() -> Response | Answer:
    """Facebook's check when the webhook is set up: ``hub.challenge`` echoed when ``hub.verify_token`` is
    secrets.toml [channels] facebook_verify_token; 403 otherwise."""
    svc = services()
    if not svc.ctx.settings.facebook.enabled:
        return _json(404, error=OFF)
    if request.args.get("hub.mode") == "subscribe" and signatures.same_token(
            request.args.get("hub.verify_token", ""), svc.ctx.secrets.channel_secret("facebook_verify_token")):
        return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
    return _refused("facebook", "verify", 403, "Mã xác minh webhook không đúng.")


@bp.post("/facebook/webhook")
def facebook_webhook() -> Answer:
    """Messenger's deliveries to the Page (``object: "page"``, ``entry[].messaging[]``), signed
    ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with facebook_app_secret>``. Each
    citizen's message is a ticket (its ``mid`` the message id); the Page's own echoes and other events are
    ignored. A delivery may hold several messages: the answer lists what came of each."""
    svc = services()
    if not svc.ctx.settings.facebook.enabled:
        return _json(404, error=OFF)
    raw = request.get_data(cache=True)
    if not signatures.facebook(request.headers.get("X-Hub-Signature-256", ""), raw,
                               svc.ctx.secrets.channel_secret("facebook_app_secret")):
        return _refused("facebook", "signature", 401, FORGED)
    event = _parsed(raw) or {}
    if event.get("object") != "page":
        return _json(200, ignored=str(event.get("object", "")))
    got = []
    for item in _messenger_messages(event):
        message = _dict(item.get("message"))
        answer, _status = _chat("facebook", str(_dict(item.get("sender")).get("id") or ""),
                                str(message.get("mid") or ""), _content(message))
        got.append(answer.get_json())
    return _json(200, messages=got)


# -- shared -------------------------------------------------------------------------------
def _chat(channel: str, sender: str, message_id: str, content: str) -> Answer:
    """A chat platform's message as a ticket; always 200 (the platform wants it), a refusal said and counted."""
    if not sender or not message_id:
        return _refused(channel, "invalid", 200, "Sự kiện thiếu người gửi hoặc mã tin nhắn.")
    try:
        receipt = _take(Request(channel=channel, content=content, reply_to=sender[:254],
                                external_id=message_id[:255]), sender)
    except Refusal as r:
        return _refused(channel, r.why, 200, r.vi)
    return _json(200, code=receipt.code, new=receipt.new)


def _take(req: Request, sender: str) -> Receipt:
    """The request's ticket; Refusal when its sender is over the hourly limit or the intake cannot take it."""
    if _over_limit(req.channel, sender):
        per_hour = services().ctx.settings.public.messages_per_hour
        raise Refusal("rate", f"Bạn đã gửi quá {per_hour} tin nhắn trong một giờ. Hãy gửi lại sau, hoặc gọi "
                              "1022.")
    try:
        return services().intake.receive(req)
    except (IntakeError, FileRefused) as e:
        raise Refusal("invalid", e.vi or str(e)) from None


def _over_limit(channel: str, sender: str) -> bool:
    """Whether ``sender`` has sent more than [public] messages_per_hour messages through ``channel`` within the
    hour (counted in the site's limits storage); never fails: a storage that cannot count lets it through."""
    per_hour = services().ctx.settings.public.messages_per_hour
    try:
        return not limiter.limiter.hit(parse(f"{per_hour} per hour"), "webhook", channel, sender)
    except Exception:
        log.warning("the %s limit of a sender not counted: the limits storage failed", channel)
        return False


def _content(message: dict[str, Any]) -> str:
    """A chat message's text, and a line ``Ảnh: <url>`` for each picture sent with it (never fetched)."""
    urls = [str(_dict(a.get("payload")).get("url") or "") for a in message.get("attachments") or []
            if isinstance(a, dict) and a.get("type", "image") == "image"]
    lines = [str(message.get("text") or "").strip()] + [f"Ảnh: {u}" for u in urls if u]
    return "\n".join(line for line in lines if line)


def _messenger_messages(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The citizens' messages of a Messenger delivery (not the Page's own echoes, nor reads and deliveries)."""
    return [item for entry in event.get("entry") or [] if isinstance(entry, dict)
            for item in entry.get("messaging") or [] if isinstance(item, dict)
            and isinstance(item.get("message"), dict) and not item["message"].get("is_echo")]


def _parsed(raw: bytes) -> dict[str, Any] | None:
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _when(value: Any) -> datetime | None:
    """The gateway's ``received_at`` (ISO 8601; without an offset: the province's time); None (now) when it is
    missing, unreadable or ahead of the hotline's clock."""
    try:
        at = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if at is None:
        return None
    svc = services()
    at = at if at.tzinfo else at.replace(tzinfo=svc.ctx.settings.tz)
    return at if at <= svc.intake.tickets.now() else None
