"""Secrets kept out of what the hotline prints, logs and publishes: the password of every URL in a text, a caller's
number where its reader may see only its end (agencies in the console; the wallboard's live picture in Redis), and
a citizen's personal data out of a published answer (``redact_personal``, below).

Database and Redis URLs carry their password (``postgresql://hotline:PASSWORD@host/db``,
``redis://:PASSWORD@127.0.0.1:6379/0``); set-up output, error messages and log lines show them as
``postgresql://hotline:***@host/db``. One function for all of them, so none is forgotten.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MASK = "***"
# scheme://[user]:password@ ... : the password ends at the last '@' before the host (it may hold '@' or ':'
# when a person typed it unencoded), never crossing a space, a quote or a '/' of the path.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@'\"]*:)[^\s/'\"]*@")


def redact_url(text: str) -> str:
    """``text`` (one URL, or any message holding URLs) with each URL's password replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


def masked_number(number: str | None) -> str:
    """A caller's number with only its last 3 digits shown (``*******678``); nothing else of it is recoverable."""
    if not number:
        return ""
    if len(number) <= 3:
        return "*" * len(number)
    return "*" * (len(number) - 3) + number[-3:]


# -- personal data out of a citizen's words (the published answers: public_site/figures.py) -----------------------
#
# What is taken out, each replaced by a bracketed Vietnamese word the reader understands ("[họ tên]"):
# e-mail addresses; phone numbers in every Vietnamese form (0912 345 678, 0912.345.678, +84 912 345 678,
# (0277) 3851 234); CMND and CCCD numbers (9 or 12 digits, grouped or not); an address with a house number ("số 12
# đường Lê Lợi", "12/3 hẻm 5 Trần Phú", "nhà số 7"): the house number and its street; a person's name after the
# usual cues (ông, bà, anh, chị, em, cô, chú, bác, tôi là, tên, họ tên) and a capitalised full name that starts
# with a Vietnamese family name. Kept: places without a house number (ấp 3, khu phố 2, phường 1, đường Lê Lợi),
# because they say where the problem is, not who; amounts (150.000.000 đồng), dates, ticket codes, 1022.
# A name the rules cannot see (a given name alone, without a cue) stays: a supervisor reads every text before it
# is published, and approval refuses a text where a number, an e-mail or an ID is still found (``hard_findings``).

PLACEHOLDER = {"email": "[thư điện tử]", "phone": "[số điện thoại]", "id": "[số giấy tờ]",
               "address": "[địa chỉ]", "name": "[họ tên]"}
#: What approval refuses while it is still in a text: nothing of these may be published.
HARD_KINDS = ("email", "phone", "id")
_UP = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
_WORD = rf"[{_UP}][^\W\d_]*"                                   # a capitalised word (Nguyễn, Lợi, Đ)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# digits in groups joined by one space, dot or dash, with an optional +84 and an area code in brackets
_NUMBER = re.compile(r"(?<![\w/.,])(?:\+\s?84[\s.-]?|\(0\d{2,3}\)[\s.-]?)?\d+(?:[\s.-]\d+)*(?![\w/]|[.,]\d)")
_MONEY = re.compile(r"\s*(?:đồng|đ\b|vnđ|vnd|triệu|tỷ|nghìn|ngàn|%)", re.IGNORECASE)
_STREET = r"(?:đường|phố|hẻm|ngõ|ngách|kiệt|quốc lộ|tỉnh lộ)"
_HOUSE_NO = r"\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*"                 # 12, 12A, 12/3, 45A/2
_HOUSE = rf"(?:(?:[Ss]ố\s+nhà|[Nn]hà\s+số|[Ss]ố)\s+{_HOUSE_NO}|{_HOUSE_NO})"
_STREET_NAME = rf"(?:\s+(?:{_WORD}|\d+[A-Za-z]?(?:/\d+)*))+"
_ADDRESS = re.compile(
    rf"(?<![\w/])(?:{_HOUSE}\s+{_STREET}{_STREET_NAME}"                     # 12 đường Lê Lợi, 12/3 hẻm 5 Trần Phú
    rf"|(?:[Ss]ố\s+nhà|[Nn]hà\s+số|[Ss]ố)\s+\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*(?:\s+{_WORD})+"    # số 12 Lê Lợi
    rf"|(?:[Ss]ố\s+nhà|[Nn]hà\s+số)\s+\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*"     # số nhà 45 (the street not named)
    rf"|\d+[A-Za-z]?(?:/\d+[A-Za-z]?)+(?:\s+{_WORD})+)")                   # 45/2 Nguyễn Huệ
_ALLEY_BEFORE = re.compile(rf"{_STREET}\s+$", re.IGNORECASE)
_CUES = r"(?:họ và tên|họ tên|tôi tên là|tôi tên|tôi là|tên là|tên|ông|bà|anh|chị|em|cô|chú|bác|cháu)"
# a cue in lower case (mid-sentence), or capitalised at a sentence's start; then 1 to 4 capitalised words
_NAME_AFTER_CUE = re.compile(
    rf"(?:(?<![\w])(?P<cue>{_CUES})|(?:(?<=^)|(?<=[.!?:;\n]\s))(?P<capcue>{_CUES.title()}))"
    rf"(?P<sep>\s*:?\s+)(?P<name>{_WORD}(?:\s+{_WORD}){{0,3}})")
_SURNAMES = ("Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đào Đoàn Vương Trịnh "
             "Trương Đinh Lâm Phùng Mai Tô Hà Tạ Châu Cao Lưu Lương Thái Quách Kiều Mạc Triệu Từ Thân Hứa").split()
_FULL_NAME = re.compile(rf"(?<![\w])(?:{'|'.join(_SURNAMES)})(?:\s+{_WORD}){{1,3}}(?![\w])")
#: Words before a capitalised name that make it a place's or an institution's name, kept.
_PLACE_BEFORE = re.compile(r"(?:đường|phố|phường|xã|quận|huyện|tỉnh|thành phố|tp\.?|trường|thpt|thcs|tiểu học|cầu|"
                           r"chợ|hẻm|ngõ|kiệt|khu|ấp|thôn|bản|công viên|bệnh viện|bến|sông|núi|đền|chùa|tượng đài|"
                           r"quảng trường|nhà văn hoá|nhà văn hóa|đại lộ|lăng|tư tưởng|bác)"
                           r"(?:\s+\d+[A-Za-z]?(?:/\d+)*)?\s*$",
                           re.IGNORECASE)
#: Capitalised words that end a name (an office, a place): "chị Lan Sở Tư pháp" keeps "Sở Tư pháp".
_NOT_NAME = {"Sở", "Phòng", "Ban", "Ủy", "Uỷ", "UBND", "Phường", "Xã", "Huyện", "Quận", "Tỉnh", "Thành", "Trung",
             "Công", "Bộ", "Cục", "Chi", "Tổ", "Ấp", "Khu", "Thôn", "Đội", "Trường", "Bệnh", "Chợ", "Đường", "Hẻm",
             "Tôi", "Em", "Anh", "Chị", "Ông", "Bà", "Xin", "Cảm", "Đề", "Nhờ", "Mong", "Hiện", "Khi", "Nay",
             "Hôm", "Sáng", "Chiều", "Tối", "Ngày", "Tháng", "Năm", "Đến", "Tại", "Ở", "Gia", "Đình"}
_KEPT_NAMES = {"Hồ Chí Minh", "Bà Rịa", "Bà Chiểu", "Bà Điểm", "Bà Đen", "Ông Lãnh", "Cô Tô", "Chú Ía"}


@dataclass(frozen=True)
class Removed:
    """One thing taken out of a text: its kind (a key of ``PLACEHOLDER``) and the words it was."""

    kind: str
    text: str


@dataclass(frozen=True)
class Redacted:
    """A text with its personal data taken out, and what was taken."""

    text: str
    removed: tuple[Removed, ...]


def redact_personal(text: str) -> Redacted:
    """``text`` with e-mails, phone and ID numbers, house-numbered addresses and people's names replaced by
    bracketed words (the rules above); ``removed`` lists them in the order they were found."""
    out, removed = unicodedata.normalize("NFC", text), list[Removed]()
    for step in (_emails, _numbers, _addresses, _cued_names, _full_names):
        out = step(out, removed)
    return Redacted(out, tuple(removed))


def hard_findings(text: str) -> tuple[Removed, ...]:
    """The e-mails, phone numbers and ID numbers still in ``text`` (what approval refuses)."""
    return tuple(r for r in redact_personal(text).removed if r.kind in HARD_KINDS)


def _swap(kind: str, found: str, removed: list[Removed]) -> str:
    removed.append(Removed(kind, found))
    return PLACEHOLDER[kind]


def _emails(text: str, removed: list[Removed]) -> str:
    return _EMAIL.sub(lambda m: _swap("email", m[0], removed), text)


def number_kind(found: str) -> str | None:
    """"phone", "id" or None (an amount, a date, a code) for a run of digits as written."""
    digits = re.sub(r"\D", "", found)
    if found.lstrip().startswith("+") or (digits.startswith("84") and len(digits) in (11, 12)
                                           and not found.startswith("0")):
        return "phone" if len(digits) in (11, 12) else None
    if digits.startswith("0") and (len(digits) == 10 or (len(digits) == 11 and digits.startswith("02"))):
        return "phone"
    if len(digits) in (9, 12):
        return "id"
    return None


def _numbers(text: str, removed: list[Removed]) -> str:
    def one(m: re.Match[str]) -> str:
        kind = number_kind(m[0])
        if kind is None or _MONEY.match(text, m.end()):
            return m[0]
        return _swap(kind, m[0], removed)
    return _NUMBER.sub(one, text)


def _addresses(text: str, removed: list[Removed]) -> str:
    def one(m: re.Match[str]) -> str:
        if _ALLEY_BEFORE.search(text[:m.start()]):      # "hẻm 12/3 Trần Phú": an alley, a place of many houses
            return m[0]
        return _swap("address", m[0], removed)
    return _ADDRESS.sub(one, text)


def _name_words(name: str) -> str:
    """The leading words of ``name`` that can be a person's (up to an office's or a place's word)."""
    words = name.split()
    for i, word in enumerate(words):
        if word in _NOT_NAME:
            return " ".join(words[:i])
    return " ".join(words)


def _cued_names(text: str, removed: list[Removed]) -> str:
    def one(m: re.Match[str]) -> str:
        cue = m["cue"] or m["capcue"]
        name = _name_words(m["name"])
        if not name or f"{cue} {name}".title() in {k.title() for k in _KEPT_NAMES} or name in _KEPT_NAMES:
            return m[0]
        return cue + m["sep"] + _swap("name", name, removed) + m["name"][len(name):]
    return _NAME_AFTER_CUE.sub(one, text)


def _full_names(text: str, removed: list[Removed]) -> str:
    def one(m: re.Match[str]) -> str:
        name = _name_words(m[0])
        if len(name.split()) < 2 or name in _KEPT_NAMES or _PLACE_BEFORE.search(text[:m.start()]):
            return m[0]
        return _swap("name", name, removed) + m[0][len(name):]
    return _FULL_NAME.sub(one, text)
