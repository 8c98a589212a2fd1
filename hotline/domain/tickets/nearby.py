"""Tickets near each other: a caller's number in its usual forms, the place a request is about, a probable
duplicate of an open ticket, and hotspots (many reports of one category at one place). Pure code.

A new ticket is a probable duplicate of an open one received within ``[tickets] duplicate_days`` when the same
citizen sent both (the same number, whatever way it is written, or the same e-mail address), or when their texts
are alike (TF-IDF cosine over character n-grams of the text without diacritics, as hotline.domain.suggest reads
texts) and they are about the same place (the same address, or map points within ``metres``, or the same commune
or district named in the text). A flag is only ever shown: an operator merges, or not.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from hotline.domain.directory import fold
from hotline.domain.tickets.places import UNKNOWN, place_label

SIMILAR_TEXT = 0.45          # cosine at or above which two texts tell the same thing
NEAR_METRES = 150.0          # two map points at most this far apart are one place
MIN_TEXT_WORDS = 3           # fewer words than this: the text says too little to compare
_PLACE_PREFIXES = ("thanh pho", "thi xa", "thi tran", "huyen", "quan", "phuong", "xa")
_FILLERS = frozenset({"so", "duong", "nha", "tai", "dia", "chi", "o"})
_PUNCT = re.compile(r"[^\w]+")


class Reason:
    """Why a ticket is flagged as a probable duplicate (Ticket.duplicate_reason)."""

    CALLER = "caller"        # the same number or e-mail address
    TEXT_PLACE = "text_place"  # alike texts about the same place


def phone_forms(number: str | None) -> list[str]:
    """The ways a Vietnamese number may be stored (0912345678, 84912345678, +84912345678), or [] for what is no
    number (anonymous, a short code)."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    national = digits[2:] if digits.startswith("84") and len(digits) > 10 else digits.lstrip("0")
    if len(national) < 8:
        return []
    return sorted({"0" + national, "84" + national, "+84" + national})


def phone_key(number: str | None) -> str | None:
    """The one form a number is compared in (0912345678), or None."""
    forms = phone_forms(number)
    return next((f for f in forms if f.startswith("0")), None)


@dataclass(frozen=True)
class Place:
    """Where a request is about: ``key`` (its address, or a commune or district named in its text, folded), and
    its map point if the citizen gave one; ``label`` as anyone may read it: never the citizen's address, only its
    street, commune and district (hotline.domain.tickets.places), or "" when it names none of them."""

    key: str = ""
    label: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def known(self) -> bool:
        return bool(self.key) or self.latitude is not None


def place_key(text: str) -> str:
    """An address as it is compared: folded, punctuation gone ("Ấp 3, xã Mỹ Hiệp" -> "ap 3 xa my hiep")."""
    return " ".join(_PUNCT.sub(" ", fold(text)).split())


def place_names(names: Iterable[str]) -> list[tuple[str, str]]:
    """(folded name without its kind, name) of the communes and districts a text may name ("Huyện Lai Vung" ->
    "lai vung"), longest first, so that "cao lanh" of a city does not hide "thanh pho cao lanh"; two places of one
    name and two kinds (Thành phố and Huyện Cao Lãnh) are both there, the first listed first."""
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        folded = whole = place_key(name)
        for prefix in _PLACE_PREFIXES:
            if folded.startswith(prefix + " "):
                folded = folded[len(prefix) + 1:]
                break
        if len(folded) >= 4:
            out.setdefault(whole, (folded, name))
    return sorted(out.values(), key=lambda kv: -len(kv[0]))


def place_of(address: str | None, latitude: float | None, longitude: float | None, text: str = "",
             names: Sequence[tuple[str, str]] = ()) -> Place:
    """The place of a request: its address if written, else the first commune or district of ``names`` its text
    names; with its map point. Its label: the address's street, commune and district, else that commune."""
    padded = f" {place_key(text)} "
    named = next(((folded, name) for folded, name in names if f" {folded} " in padded), None)
    if address and place_key(address):
        return Place(place_key(address), place_label(address, names) or (named[1] if named else ""), latitude,
                     longitude)
    if named:
        return Place(f"~{named[0]}", named[1], latitude, longitude)
    return Place("", "", latitude, longitude)


def metres(a: Place, b: Place) -> float | None:
    """The distance between two places' map points (haversine), or None if either has none."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def same_place(a: Place, b: Place, near: float = NEAR_METRES) -> bool:
    """Map points within ``near`` metres, or the same address (the words of one, three at least, all in the
    other: "số 12 Nguyễn Huệ, phường 1" and "12 đường Nguyễn Huệ, phường 1, TP Cao Lãnh"), or the same commune
    or district named."""
    apart = metres(a, b)
    if apart is not None:
        return apart <= near
    if not a.key or not b.key:
        return False
    if a.key == b.key:
        return True
    if a.key.startswith("~") or b.key.startswith("~"):
        return False
    short, long = sorted((_address_words(a.key), _address_words(b.key)), key=len)
    return len(short) >= 3 and short <= long


def _address_words(key: str) -> frozenset[str]:
    """An address's words without the fillers people write or leave out ("số", "đường")."""
    return frozenset(w for w in key.split() if w not in _FILLERS)


def similarities(text: str, others: Sequence[str]) -> list[float]:
    """The cosine of ``text`` with each of ``others`` (0 for a text too short to compare)."""
    if not others or len(fold(text).split()) < MIN_TEXT_WORDS:
        return [0.0] * len(others)
    docs = [fold(text), *(fold(o) for o in others)]
    try:
        matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit_transform(docs)
    except ValueError:        # nothing but punctuation
        return [0.0] * len(others)
    sims = cosine_similarity(matrix[0:1], matrix[1:])[0]
    return [0.0 if len(fold(o).split()) < MIN_TEXT_WORDS else float(v) for o, v in zip(others, sims, strict=True)]


@dataclass(frozen=True)
class Nearby:
    """A ticket as duplicates are looked for: who sent it, what it says, where, when."""

    id: int
    code: str
    received_at: datetime
    text: str = ""
    phone: str | None = None         # phone_key of its caller
    email: str | None = None         # lower case
    place: Place = field(default_factory=Place)
    category: str = ""


@dataclass(frozen=True)
class Match:
    """The open ticket a new one probably duplicates, why, and how alike their texts are (0 to 1)."""

    ticket: Nearby
    reason: str
    score: float


def probable_duplicate(new: Nearby, open_ones: Sequence[Nearby], *, similar: float = SIMILAR_TEXT,
                       near: float = NEAR_METRES) -> Match | None:
    """The open ticket ``new`` probably duplicates: the same citizen's first (the newest of them), else the one of
    the same place whose text is likeliest, at or above ``similar``; None."""
    others = [o for o in open_ones if o.id != new.id]
    sims = similarities(new.text, [o.text for o in others])
    same = [(o, s) for o, s in zip(others, sims, strict=True)
            if (new.phone and o.phone == new.phone) or (new.email and o.email == new.email)]
    if same:
        o, s = max(same, key=lambda os: (os[1], os[0].received_at))
        return Match(o, Reason.CALLER, round(s, 3))
    alike = [(o, s) for o, s in zip(others, sims, strict=True)
             if s >= similar and new.place.known and same_place(new.place, o.place, near)]
    if not alike:
        return None
    o, s = max(alike, key=lambda os: (os[1], os[0].received_at))
    return Match(o, Reason.TEXT_PLACE, round(s, 3))


@dataclass(frozen=True)
class Hotspot:
    """Many reports of one category at one place: the tickets' codes (newest first) and the place's label (what the
    wallboard and the reports show: never a citizen's address)."""

    category: str
    place: str
    codes: tuple[str, ...]
    first_at: datetime
    last_at: datetime

    @property
    def count(self) -> int:
        return len(self.codes)


def hotspots(tickets: Sequence[Nearby], min_count: int, near: float = NEAR_METRES) -> list[Hotspot]:
    """Clusters of tickets of the same category at the same place (linked pairwise: same_place), those of at
    least ``min_count`` tickets, the biggest first. Tickets of one category at one written place are one bucket
    first: the pairs compared are the places', not the tickets'."""
    buckets: dict[tuple[str, Place], list[Nearby]] = {}
    for t in tickets:
        if t.place.known:
            buckets.setdefault((t.category, t.place), []).append(t)
    keys = list(buckets)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (cat_a, place_a) in enumerate(keys):
        for j in range(i + 1, len(keys)):
            cat_b, place_b = keys[j]
            if cat_a == cat_b and same_place(place_a, place_b, near):
                parent[root(j)] = root(i)
    groups: dict[int, list[Nearby]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(root(i), []).extend(buckets[key])
    out = []
    for members in groups.values():
        if len(members) < min_count:
            continue
        members.sort(key=lambda t: (t.received_at, t.id), reverse=True)
        out.append(Hotspot(members[0].category, _label(members), tuple(m.code for m in members),
                           members[-1].received_at, members[0].received_at))
    return sorted(out, key=lambda h: (-h.count, -h.last_at.timestamp(), h.category))


def _label(members: Sequence[Nearby]) -> str:
    """A cluster's place as anyone may read it: the label its tickets give most (the shortest of those given as
    often: the one that says least), else the area of its newest map point (about 100 m: three decimals), else
    ``UNKNOWN``."""
    labels = Counter(m.place.label for m in members if m.place.label)
    if labels:
        return max(labels.items(), key=lambda kv: (kv[1], -len(kv[0]), kv[0]))[0]
    p = next((m.place for m in members if m.place.latitude is not None and m.place.longitude is not None), None)
    if p is not None and p.latitude is not None and p.longitude is not None:
        return f"Khu vực quanh {p.latitude:.3f}, {p.longitude:.3f}"
    return UNKNOWN
