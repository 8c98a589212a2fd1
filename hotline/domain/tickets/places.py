"""The place of a hotspot as everyone who sees the wallboard or a report may read it: the commune or ward (and the
district of an address written the old way, with quận/huyện), and the street where one is named, never the
citizen's address. Pure code.

A citizen's address is personal data (Law 91/2025): "Số 12 hẻm 5/3 đường Lê Lợi, ấp Mỹ Hòa, xã Mỹ Hiệp, huyện Cao
Lãnh" becomes "Đường Lê Lợi, Xã Mỹ Hiệp, Huyện Cao Lãnh". What is kept is allowed, not what is taken out: after a
street's keyword (đường, phố, quốc lộ…) its name only, up to four words of letters in the case of the first, ended
by a digit, a word of a house, a flat, a phone or a person in any case (nhà, căn hộ, sđt, zalo, ông, bà, anh,
chị…), a family name after its first word or the next keyword; or a road's number ("Quốc lộ 30", "Đường số 5");
after a commune's or district's keyword the directory's place it starts with, else its number ("Phường 3") or its
name as a street's ("Phường Hải Châu 1": a ward's own digit when nothing follows); nothing else. Without a street's
keyword there is no street ("12 Nguyễn Văn A" may be a person), and the house, alley, hamlet and province are never
shown. Addresses written without diacritics or with the usual abbreviations (P.1, Q3, TP., TX, Đ.) are read too; a
commune or district of the transfer directory is written with the directory's name. An address with none of these
has no label: the caller falls back to a commune the text names, or to ``UNKNOWN``.
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
#: the number a numbered ward or district has ("Phường 3", "Quận 10"), a numbered road ("Quốc lộ 30", "Quốc lộ
#: 1A", "Tỉnh lộ 279") or street ("Đường số 5"), never starting with 0 (a phone number does)
_WARD_NUMBER = re.compile(r"^[1-9]\d?$")
_ROAD_NUMBER = re.compile(r"^[1-9]\d{0,2}[A-Za-z]?$")
_STREET_NUMBER = re.compile(r"^[1-9]\d?[A-Za-z]?$")
#: at most this many words of a street's, commune's or district's name ("Nguyễn Thị Minh Khai", "Bình Trị Đông")
_NAME_WORDS = 4
#: words after which nothing more belongs to a place's name: a house, a flat, a phone, a person (in any case:
#: "Xã An Bình Ông Nguyễn Văn A"); written without diacritics only those that are no place's word too
_CUES = frozenset("nhà căn hộ phòng lầu tầng cạnh gần đối trước sau sđt đt điện thoại zalo số liên hệ email gặp "
                  "ông bà anh chị em cô chú bác cháu con cụ dì cậu mợ thím dượng".split())
_CUES_PLAIN = frozenset("sdt dt zalo email so ong".split())
#: places named with a word of a person (Hai Bà Trưng, Bà Rịa, Cầu Ông Lãnh, Anh Sơn, Cô Tô): such a word is kept
#: as a name's first word, or inside one of these
_NAMES_WITH_CUES = (("hai", "bà", "trưng"), ("cầu", "ông", "lãnh"), ("cầu", "bà", "chiểu"))
#: family names, which start a person's name written after a place's ("Xã An Bình Nguyễn Văn A"): the name stops
#: there, as at a middle name (Văn, Thị) after its second word
_FAMILY_NAMES = frozenset("nguyễn trần lê phạm phan vũ võ đặng bùi đỗ ngô huỳnh trương đinh".split())
_MIDDLE_NAMES = frozenset("văn thị".split())
_ROADS = frozenset({"quốc lộ", "tỉnh lộ", "hương lộ"})
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
    listed = {fold(name): name for _, name in names}
    parts = [p for segment in _segments(address or "") for p in _parts(segment, listed)]
    street = next((p for p in parts if p.kind == STREET and p.words), None)
    commune = next((p for p in parts if p.kind == COMMUNE and p.words), None)
    district = next((p for p in parts if p.kind == DISTRICT and p.words and not _is_province(p)
                     and (commune is None or parts.index(p) > parts.index(commune))), None)
    shown = [listed.get(fold(f"{p.keyword} {' '.join(p.words)}")) or _shown(p)
             for p in (commune, district) if p is not None]
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


def _parts(segment: str, listed: dict[str, str]) -> list[_Part]:
    """The streets, communes, districts and provinces of a segment, each with its name only; what is written
    before any keyword, or after a house's, an alley's or a hamlet's, is no part: without a street's keyword, no
    street ("12 Nguyễn Văn A" may be a person)."""
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
    return [_Part(p.kind, p.keyword, _name(p, listed)) for p in parts if p.kind in (STREET, COMMUNE, DISTRICT,
                                                                                       PROVINCE)]


def _name(part: _Part, listed: dict[str, str]) -> tuple[str, ...]:
    """The name of a place part, nothing after it: the directory's place it starts with ("xã Mỹ Hiệp Nguyễn Văn
    A"); a numbered ward, district, road or street's number ("Phường 3", "Quốc lộ 1A", "Đường số 5"); else up to
    ``_NAME_WORDS`` words of letters written in the case of the first, up to a digit, a cue of a house, a phone or
    a person, or a family name; a ward's own number after its name ("Phường Hải Châu 1") when nothing follows."""
    words = [w.strip(".:") for w in part.words]
    for n in range(min(len(words), _NAME_WORDS + 2), 0, -1):
        if fold(f"{part.keyword} {' '.join(words[:n])}") in listed:
            return tuple(words[:n])
    if part.kind == STREET:
        numbered = _street_number(part.keyword, words)
        if numbered is not None:
            return numbered
    elif words and _WARD_NUMBER.match(words[0]):
        return (words[0],)
    name = _letters(words)
    if name and len(name) == len(words) - 1 and part.kind in (COMMUNE, DISTRICT) and re.fullmatch("[1-9]",
                                                                                               words[-1]):
        return (*name, words[-1])
    return name


def _street_number(keyword: str, words: list[str]) -> tuple[str, ...] | None:
    """A road's or street's number as its name ("Quốc lộ 30", "Đường số 5"), None when it has none; a number
    followed by another (a phone: "quốc lộ 912 345 678") is no name."""
    if keyword in _ROADS and words and _ROAD_NUMBER.match(words[0]):
        name = tuple(words[:1])
    elif len(words) > 1 and words[0].lower() in ("số", "so") and _STREET_NUMBER.match(words[1]):
        name = (words[0].lower(), words[1])
    else:
        return None
    following = words[len(name)] if len(words) > len(name) else ""
    return () if following[:1].isdigit() or following[:1] == "+" else name


def _letters(words: list[str]) -> tuple[str, ...]:
    """The first words that make a place's name (see ``_name``)."""
    out: list[str] = []
    for i, w in enumerate(words[:_NAME_WORDS]):
        low = w.lower()
        if not w.isalpha() or (i and w[:1].isupper() != words[0][:1].isupper()):
            break
        if (low in _CUES or (low.isascii() and low in _CUES_PLAIN)) and not (i == 0 and w[:1].isupper()
                                                                          or _inside_a_name(words, i)):
            break
        if i and (low in _FAMILY_NAMES or (i > 1 and low in _MIDDLE_NAMES)):
            break
        out.append(w)
    return tuple(out)


def _inside_a_name(words: list[str], i: int) -> bool:
    low = [w.lower() for w in words]
    return any(tuple(low[j:j + len(n)]) == n for n in _NAMES_WITH_CUES for j in range(max(0, i - len(n) + 1), i + 1))


def _is_province(p: _Part) -> bool:
    return p.keyword == "thành phố" and fold(" ".join(p.words)).replace(".", "") in _PROVINCE_CITIES


def _shown(p: _Part) -> str:
    name = " ".join(p.words)
    if name.islower() and not name.startswith("số "):
        name = name.title()
    return f"{p.keyword[:1].upper()}{p.keyword[1:]} {name}".strip()
