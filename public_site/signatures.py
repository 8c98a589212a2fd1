"""How each channel proves a webhook came from it: pure checks of the raw body against a shared secret, every
comparison in constant time. An empty secret (the credential not set yet) accepts nothing."""
from __future__ import annotations

import hashlib
import hmac


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def same_token(given: str, token: str) -> bool:
    """Whether ``given`` is the shared ``token`` (never when the token is not set)."""
    return bool(token) and hmac.compare_digest(given.strip().encode(), token.encode())


def sms(body: bytes, token: str, *, authorization: str = "", signature: str = "") -> bool:
    """The SMS gateway's text: ``Authorization: Bearer <token>``, or ``X-Signature: <hex HMAC-SHA256 of the raw
    body keyed with the token>``; either is enough (a gateway sends the one it can)."""
    if not token:
        return False
    if authorization:
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and same_token(given, token)
    return bool(signature) and _same(signature, hmac.new(token.encode(), body, hashlib.sha256).hexdigest())


def zalo_mac(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo OA's ``X-ZEvent-Signature`` value: ``mac=`` and the SHA-256 (a plain hash, not an HMAC) of the app's
    id, the raw JSON body, the event's ``timestamp`` (from that body) and the OA secret key, in that order.

    Source: the formula Zalo documents for OA webhooks, as restated in hainh.me/zalo-api-php-webhook-callback-
    official-account.html ("mã hash SHA256 của chuỗi kết hợp 4 thông tin sau theo thứ tự: ID của ứng dụng, chuỗi
    JSON trả về trong body, timestamp được lấy từ chuỗi JSON trên, mã bí mật của Official Account"; the OA
    secret key, not the app secret key) and checked the same way by chatwoot (app/jobs/webhooks/
    zalo_events_job.rb: "mac=" + the SHA-256 hex of the four). Zalo's own page was not read here.
    """
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return f"mac={digest}"


def zalo(header: str, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    """Whether ``header`` (X-ZEvent-Signature) signs this event of the OA."""
    if not (app_id and oa_secret_key and header):
        return False
    return _same(header, zalo_mac(app_id, body, timestamp, oa_secret_key))


def facebook(header: str, body: bytes, app_secret: str) -> bool:
    """Whether ``header`` (X-Hub-Signature-256: ``sha256=<hex HMAC-SHA256 of the raw body keyed with the app
    secret>``) signs this Messenger delivery."""
    if not (app_secret and header):
        return False
    return _same(header, "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest())
