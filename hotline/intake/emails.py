"""An e-mail to the hotline's mailbox as a :class:`Request`: pure code, no IMAP, no database.

The sender (From: the reply goes there), the subject, the Message-ID (the request's id: one made from the
message's bytes when it has none), In-Reply-To and References (its thread), the text part decoded with its
declared charset (Vietnamese mail still comes as windows-1258 or iso-8859-1, and mislabelled: a wrong or unknown
charset falls back, never fails), an HTML-only mail as its text (scripts and styles dropped, nothing run, the
links' text kept), a quoted earlier message trimmed, photos, PDF and text files as uploads (anything else named
in the text as not taken). Mail the hotline must not answer (its own, bounces, auto-replies) is :class:`NotForUs`.
"""
from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import cast

from hotline.domain.vocabulary import Channel
from hotline.intake.files import DOCUMENT_TYPES, Upload
from hotline.intake.service import IntakeError, Request, normal_email

_IDS = re.compile(r"<[^<>\s]+>")
_ATTRIBUTION = re.compile(r"^(On .{0,200} wrote:|Vào .{0,200} đã viết:|-{2,} ?(Original Message|Thư gốc) ?-{2,})\s*$",
                          re.IGNORECASE)
_DROPPED = ("script", "style", "head", "noscript", "template", "iframe", "object", "embed", "svg")
_BLOCKS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table")
_BULK = ("bulk", "junk", "list", "auto_reply")
_TRUNCATED = "\n(… thư dài, phần sau đã được cắt bớt)"
FALLBACKS = ("windows-1258", "latin-1")     # no charset or an unknown one: the first that decodes


class NotForUs(Exception):
    """Mail the hotline does not answer (no loops): its own, a bounce, an auto-reply."""


@dataclass(frozen=True)
class Limits:
    """``[intake]``: a request's characters, files and each file's size."""

    max_chars: int = 5000
    max_files: int = 3
    max_file_bytes: int = 10_000_000


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(raw, policy=policy.default))


def to_request(raw: bytes, own_address: str, limits: Limits) -> Request:
    """The request of the mail ``raw`` (NotForUs when the hotline must not answer it)."""
    msg = parse(raw)
    sender = _sender(msg)
    not_ours(msg, sender, own_address)
    name = _header(msg, "From")
    display = parseaddr(name)[0]
    uploads, notes = attachments(msg, limits)
    text = trim_quotes(body_text(msg))
    subject = _header(msg, "Subject")
    content = "\n\n".join(p for p in (text or subject, *notes) if p)
    if len(content) > limits.max_chars:
        content = content[:limits.max_chars - len(_TRUNCATED)].rstrip() + _TRUNCATED
    return Request(channel=Channel.EMAIL, content=content, external_id=message_id(msg, raw), reply_to=sender,
                   thread=thread(msg), name=display, email=sender, subject=subject, files=tuple(uploads))


def message_id(msg: Message, raw: bytes) -> str:
    """The message's Message-ID, or one made from its bytes (the same mail read again has the same id)."""
    found = _IDS.search(_header(msg, "Message-ID"))
    return found.group(0)[:255] if found else f"<{hashlib.sha256(raw).hexdigest()}@hotline.invalid>"


def thread(msg: Message) -> tuple[str, ...]:
    """The ids of the earlier messages this one answers: In-Reply-To, then References (newest first)."""
    ids = _IDS.findall(_header(msg, "In-Reply-To")) + _IDS.findall(_header(msg, "References"))[::-1]
    return tuple(dict.fromkeys(i[:255] for i in ids))


def not_ours(msg: Message, sender: str, own_address: str) -> None:
    """NotForUs for the hotline's own mail, bounces and automatic answers (RFC 3834)."""
    auto = _header(msg, "Auto-Submitted").lower()
    local = sender.partition("@")[0].lower()
    why = ("the hotline's own address" if own_address and sender.lower() == own_address.strip().lower() else
           "no sender" if not sender else
           "a bounce" if local in ("mailer-daemon", "postmaster") or msg.get_content_type() == "multipart/report"
           or _header(msg, "Return-Path").strip() == "<>" else
           f"Auto-Submitted: {auto}" if auto and auto != "no" else
           "an automatic reply" if _header(msg, "Precedence").lower() in _BULK
           or any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response")) else "")
    if why:
        raise NotForUs(why)


def body_text(msg: EmailMessage) -> str:
    """The text the citizen wrote: the text/plain part, else the HTML part's text, else ""."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = decoded(part)
    if part.get_content_subtype() == "html":
        text = html_text(text)
    return text.strip()


def decoded(part: Message) -> str:
    """A text part's bytes as text, in Unicode's composed form (windows-1258 sends the tone marks apart).

    UTF-8 first whatever the label says (mail labelled iso-8859-1 is often UTF-8, and valid UTF-8 is seldom
    anything else), then the declared charset; UTF-8 with a few bad bytes has them replaced; no charset, or one
    Python does not know: the first of FALLBACKS that decodes."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    declared = _known(part.get_content_charset())
    text = None
    for charset in ["utf-8", *([declared] if declared and declared != "utf-8" else [])]:
        try:
            text = data.decode(charset)
            break
        except UnicodeDecodeError:
            continue
    if text is None and declared == "utf-8":
        text = data.decode("utf-8", errors="replace")
    for charset in FALLBACKS if text is None else ():
        try:
            text = data.decode(charset)
            break
        except UnicodeDecodeError:
            continue
    return unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n"))


def html_text(html: str) -> str:
    """What a reader of the HTML sees: scripts, styles and the head dropped, nothing run, links' text kept."""
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_quotes(text: str) -> str:
    """The text without the earlier message it quotes ("> " lines and the "On … wrote:" line above them); the
    text as it is when nothing else would be left."""
    lines = text.splitlines()
    # where the quoted tail begins: after the last line that is neither blank, quoted nor an attribution (one
    # pass from the end: a mail of 100,000 lines costs no more than reading it)
    tail = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if line.strip() and not line.startswith(">") and not _ATTRIBUTION.match(line.strip()):
            break
        if _ATTRIBUTION.match(line.strip()):
            tail = i
    kept = [line for line in lines[:tail] if not line.startswith(">")]
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()


def attachments(msg: EmailMessage, limits: Limits) -> tuple[list[Upload], list[str]]:
    """The files the hotline takes (photos, PDF, text files; at most ``max_files``, each within its size) and a
    line for each one it does not."""
    body = msg.get_body(preferencelist=("plain", "html"))
    uploads: list[Upload] = []
    notes: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part is body or part.get_content_maintype() == "message":
            continue
        filename = _text(part.get_filename() or "")
        if not filename and part.get_content_maintype() == "text":
            continue            # the other form of the body (text/html beside text/plain)
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or not data:
            continue
        kind = _kind(part.get_content_type(), filename)
        shown = filename or f"tệp {kind}"
        if not (kind.startswith("image/") or kind in DOCUMENT_TYPES):
            notes.append(f"(Tệp «{shown}» không được nhận: chỉ nhận ảnh, PDF hoặc văn bản.)")
        elif len(data) > limits.max_file_bytes:
            notes.append(f"(Tệp «{shown}» không được nhận: lớn quá {limits.max_file_bytes // 1_000_000} MB.)")
        elif len(uploads) >= limits.max_files:
            notes.append(f"(Tệp «{shown}» không được nhận: chỉ nhận tối đa {limits.max_files} tệp.)")
        else:
            uploads.append(Upload(filename or f"tep{mimetypes.guess_extension(kind) or ''}", kind, data))
    return uploads, notes


def _kind(declared: str, filename: str) -> str:
    """The file's type: as declared, or from its name when the sender said only application/octet-stream."""
    if declared in ("application/octet-stream", "") and filename:
        return mimetypes.guess_type(filename)[0] or declared
    return declared


def _sender(msg: Message) -> str:
    for _name, address in getaddresses([_header(msg, "From")]):
        try:
            return normal_email(address)
        except IntakeError:
            continue
    return ""


def _header(msg: Message, name: str) -> str:
    """A header as text: "" when absent or unreadable; a wrong charset's bytes replaced, never raised."""
    try:
        value = msg.get(name)
        return _text(str(value)) if value is not None else ""
    except (LookupError, ValueError, TypeError, IndexError):
        return ""


def _text(value: str) -> str:
    """``value`` without the undecoded bytes the parser carries as surrogates (8-bit headers read as UTF-8)."""
    try:
        cleaned = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        cleaned = value.encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFC", " ".join(cleaned.split()))


def _known(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None
