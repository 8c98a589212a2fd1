"""The place of a hotspot as everyone who sees the wallboard or a report may read it: the commune or ward (and the
district of an address written the old way, with quận/huyện), and the street where one is named, never the
citizen's address. Pure code.

A citizen's address is personal data (Law 91/2025): "Số 12 hẻm 5/3 đường Lê Lợi, ấp Mỹ Hòa, xã Mỹ Hiệp, huyện Cao
Lãnh" becomes "Đường Lê Lợi, Xã Mỹ Hiệp, Huyện Cao Lãnh". Taken out: the house number (số, số nhà, 12, 12A/3), the
alley and its number (hẻm, ngõ, ngách, kiệt), the hamlet or block (thôn, ấp, tổ, khu phố, khóm, xóm), anything
written before the street that is not a street (a landmark, "nhà ông Ba"), the province, and any word after a cue of
a house or a person (nhà, gần, cạnh, sđt…) or a run of five digits or more (a phone number). Addresses written
without diacritics or with the usual abbreviations (P.1, Q3, TP., TX, Đ.) are read too; a commune or district of the
transfer directory is written with the directory's name. An address with none of these has no label: the caller
falls back to a commune the text names, or to ``UNKNOWN``.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from hotline.domain.directory import fold

UNKNOWN = "(không rõ địa điểm)"

STREET, COMMUNE, DISTRICT, PROVINCE, ALLEY, HAMLET, HOUSE = ("street", "commune", "district", "province", "alley",
                                                            "hamlet", "house")
#: the words that start a part of an address, as written with diacritics, and the part they start
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("đường", STREET), ("phố", STREET), ("đại lộ", STREET), ("quốc lộ", STREET), ("tỉnh lộ", STREET),
    ("xa lộ", STREET), ("hương lộ", STREET),
    ("phường", COMMUNE), ("xã", COMMUNE), ("thị trấn", COMMUNE), ("đặc khu", COMMUNE),
    ("quận", DISTRICT), ("huyện", DISTRICT), ("thị xã", DISTRICT), ("thành phố", DISTRICT),
    ("tỉnh", PROVINCE),
    ("hẻm", ALLEY), ("ngõ", ALLEY), ("ngách", ALLEY), ("kiệt", ALLEY),
    ("thôn", HAMLET), ("ấp", HAMLET), ("tổ", HAMLET), ("tổ dân phố", HAMLET), ("khu phố", HAMLET),
    ("khu", HAMLET), ("khóm", HAMLET), ("xóm", HAMLET), ("bản", HAMLET), ("đội", HAMLET),
    ("số nhà", HOUSE), ("nhà số", HOUSE), ("số", HOUSE))
#: longest first, so that "thành phố" is not "phố", nor "tổ dân phố" "tổ"
_BY_LENGTH = sorted(((tuple(k.split()), tuple(fold(k).split()), kind) for k, kind in _KEYWORDS),
                    key=lambda k: -len(k[0]))
#: parts that only start at the head of a segment or before a number ("tổ 5", but "đường Tô Hiến Thành")
_NEED_HEAD = (ALLEY, HAMLET, HOUSE)
_ABBREVIATIONS = (
    (re.compile(r"(?<!\w)[Pp]\.?\s*(?=\d)|(?<!\w)P\.\s*"), "phường "),
    (re.compile(r"(?<!\w)[Qq]\.?\s*(?=\d)|(?<!\w)Q\.\s*"), "quận "),
    (re.compile(r"(?<!\w)[HX]\.\s*"), lambda m: "huyện " if m[0][0] == "H" else "xã "),
    (re.compile(r"(?<!\w)(?:TP|Tp|tp)\.?\s*"), "thành phố "),
    (re.compile(r"(?<!\w)(?:TX|Tx|tx)\.?\s+|(?<!\w)TX\.\s*"), "thị xã "),
    (re.compile(r"(?<!\w)(?:TT|Tt|tt)\.?\s+|(?<!\w)TT\.\s*"), "thị trấn "),
    (re.compile(r"(?<!\w)(?:KP|Kp|kp)\.?\s*"), "khu phố "),
    (re.compile(r"(?<!\w)(?:QL|ql)\.?\s*(?=\d)"), "quốc lộ "),
    (re.compile(r"(?<!\w)(?:TL|tl)\.?\s*(?=\d)"), "tỉnh lộ "),
    (re.compile(r"(?<!\w)[ĐđDd]\.\s*"), "đường "),
)
_SEGMENTS = re.compile(r"[,;\n|()]+|\s[-–—]\s")
_NUMBER = re.compile(r"^(?:số)?\d+[A-Za-z]?(?:[/-]\d+[A-Za-z]?)*[.:]?$", re.IGNORECASE)
_PHONE_LIKE = re.compile(r"\d{5,}|@")
#: words after which nothing more belongs to a place's name (a house, a person, a phone); a person's cue only in
#: lower case ("phường 2 ông Ba"), as places write it with a capital (Hai Bà Trưng, Bà Rịa, Ông Lãnh)
_CUES = frozenset("nhà cạnh gần đối trước sau sđt đt điện số".split())
_CUES_PLAIN = frozenset("nha sdt dt gan canh so".split())
_PERSON_CUES = frozenset("ông bà anh chị em cô chú bác cháu".split())
#: cities of the province level: named after a ward, they are the province, not a district
_PROVINCE_CITIES = frozenset({"ho chi minh", "hcm", "ha noi", "hai phong", "da nang", "can tho", "hue"})


@dataclass(frozen=True)
class _Part:
    kind: str
    keyword: str            # as it is shown ("Phường"), "" for what came before any keyword
    words: tuple[str, ...]  # the name


def place_label(address: str | None, names: Sequence[tuple[str, str]] = ()) -> str:
    """The label of ``address`` that names no one: "Đường X, Phường Y[, Quận Z]", "Xã Y", or "" when it names
    neither a street nor a commune nor a district; ``names``: the directory's communes and districts, as
    hotline.domain.tickets.nearby.place_names gives them, to write those with their own names."""
    parts = [p for segment in _segments(address or "") for p in _parts(segment)]
    street = next((p for p in parts if p.kind == STREET and p.words), None)
    commune = next((p for p in parts if p.kind == COMMUNE and p.words), None)
    district = next((p for p in parts if p.kind == DISTRICT and p.words and not _is_province(p)
                     and (commune is None or parts.index(p) > parts.index(commune))), None)
    shown = [_named(p, names) for p in (commune, district) if p is not None]
    if not shown:
        padded = f" {' '.join(fold(address or '').replace(',', ' ').split())} "
        shown = [name for folded, name in names if f" {folded} " in padded][:1]
    if street is not None:
        shown.insert(0, _shown(street))
    return ", ".join(shown)


def _segments(address: str) -> list[str]:
    text = unicodedata.normalize("NFC", address)
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return [s.strip() for s in _SEGMENTS.split(text) if s.strip()]


def _keyword_at(words: list[str], i: int, after_street: bool = False) -> tuple[int, str, str] | None:
    """(how many words, the keyword, its kind) of the keyword starting at ``words[i]``, or None; ``after_street``:
    right after a street's keyword ("đường số 5" is a street's name, not a house number)."""
    for written, plain, kind in _BY_LENGTH:
        n = len(written)
        got = [w.lower().strip(".:") for w in words[i:i + n]]
        if len(got) < n or not all(_same_word(g, w, p) for g, w, p in zip(got, written, plain, strict=True)):
            continue
        following = words[i + n][:1] if i + n < len(words) else ""
        if kind in _NEED_HEAD and (i > 0 or kind == HOUSE) and not following.isdigit():
            continue
        if kind == HOUSE and after_street:
            continue
        return n, " ".join(written), kind
    return None


def _same_word(got: str, written: str, plain: str) -> bool:
    """A keyword as written with its diacritics, or without any ("phuong" for "phường", not "Quán" for "quận")."""
    return got == written or (got == plain and got.isascii())


def _parts(segment: str) -> list[_Part]:
    words = segment.split()
    parts: list[_Part] = []
    kind, keyword, start, i = "", "", 0, 0
    while i < len(words):
        found = _keyword_at(words, i, kind == STREET and start == i)
        if found is None:
            i += 1
            continue
        parts.append(_Part(kind, keyword, tuple(words[start:i])))
        n, keyword, kind = found
        start = i = i + n
    parts.append(_Part(kind, keyword, tuple(words[start:])))
    return [p for p in (_street_in(p) for p in parts) if p is not None]


def _street_in(part: _Part) -> _Part | None:
    """A part as it counts: the street named after a house or alley number ("12 Nguyễn Huệ", "hẻm 12/3 Trần Phú")
    or a part of a place's kind, its name cut before a person or a phone; None for the rest."""
    words = list(part.words)
    if part.kind in ("", HOUSE, ALLEY):
        if part.kind == "" and not (words and _NUMBER.match(words[0])):
            return None           # a landmark or a person written before the street: not shown
        while words and _NUMBER.match(words[0]):
            words.pop(0)
        return _Part(STREET, "Đường", _cut(words)) if words else None
    if part.kind == HAMLET or not words and part.kind != STREET:
        return None
    return _Part(part.kind, part.keyword, _cut(words))


def _cut(words: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for i, w in enumerate(words):
        low = w.lower().strip(".:")
        if _PHONE_LIKE.search(w) or (i > 0 and (low in _CUES or w in _PERSON_CUES
                                                or (low.isascii() and low in _CUES_PLAIN))):
            break
        out.append(w.strip(".:"))
    return tuple(out[:6])


def _is_province(p: _Part) -> bool:
    return p.keyword == "thành phố" and fold(" ".join(p.words)).replace(".", "") in _PROVINCE_CITIES


def _shown(p: _Part) -> str:
    name = " ".join(p.words)
    if name.islower() and name.isascii():
        name = name.title()
    return f"{p.keyword[:1].upper()}{p.keyword[1:]} {name}".strip()


def _named(p: _Part, names: Sequence[tuple[str, str]]) -> str:
    """``p`` as the directory writes it when it lists a place of that kind and name ("xa my hiep" -> "Xã Mỹ
    Hiệp"), else as the citizen wrote it."""
    folded = fold(f"{p.keyword} {' '.join(p.words)}")
    return next((name for _, name in names if fold(name) == folded), None) or _shown(p)
